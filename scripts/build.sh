#!/usr/bin/env bash
# Configures and builds LeakScope into ./build (two parallel jobs: the reference machine has 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
"$PWD/scripts/install-deps.sh"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "${JOBS:-2}"
