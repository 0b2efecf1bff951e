#!/usr/bin/env bash
# Builds LeakScope and runs the whole test suite (unit, conformance and CLI end-to-end tests).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
cd build
ctest --output-on-failure -j "${JOBS:-2}" --timeout 600
