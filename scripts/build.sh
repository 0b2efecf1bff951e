#!/usr/bin/env bash
# Configures and builds LeakScope into ./build — the CLI, the tests, the benchmarks,
# build/leakscope.wasm and build/leakscope-baseline.wasm (without SIMD) — with two parallel jobs
# (the reference machine has 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
"$PWD/scripts/install-deps.sh"
# wasm32 builds of the engine's C/C++ libraries, from Debian source packages (cached in .cache/).
"$PWD/scripts/wasm-deps.sh"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "${JOBS:-2}"
