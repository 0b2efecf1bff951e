#!/usr/bin/env bash
# Builds LeakScope and runs the whole test suite (unit, conformance and CLI end-to-end tests),
# then a short fuzzing pass under ASan and UBSan (tests/fuzz/README.md): a fixed seed and number
# of inputs, so it is as deterministic as the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
(cd build && ctest --output-on-failure -j "${JOBS:-2}" --timeout 600)
FUZZ_RUNS="${FUZZ_RUNS:-20000}" ./scripts/fuzz.sh
