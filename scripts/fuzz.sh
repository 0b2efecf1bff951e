#!/usr/bin/env bash
# Fuzzes the engine (tests/fuzz/README.md): builds the libFuzzer targets into ./build-fuzz with
# clang, ASan and UBSan, then runs each one over a copy of its corpus.
#
#   scripts/fuzz.sh [body|headers|json|grpc|decoder|policy|filter_input]...        FUZZ_SECONDS per target (default 60)
#   FUZZ_RUNS=3000 scripts/fuzz.sh          a fixed number of inputs from a fixed seed instead:
#                                           deterministic, as scripts/test.sh runs it
# An input that fails is written to build-fuzz/artifacts/ and the script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
"$PWD/scripts/install-deps.sh"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(body headers json grpc decoder policy filter_input); fi
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 \
  -DCMAKE_CXX_COMPILER=clang++-14 -DLEAKSCOPE_FUZZ=ON -DLEAKSCOPE_BUILD_WASM=OFF \
  -DLEAKSCOPE_BUILD_TESTS=OFF -DLEAKSCOPE_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j "${JOBS:-2}" --target "${targets[@]/%/_fuzz}"
mkdir -p build-fuzz/artifacts
for t in "${targets[@]}"; do
  # libFuzzer adds what it finds to the first directory: a scratch copy, not the repository's.
  work="build-fuzz/corpus-$t"
  rm -rf "$work" && mkdir -p "$work"
  cp tests/fuzz/corpus/"$t"/* "$work"/
  extra=()
  if [ "$t" = policy ]; then
    extra+=(examples/policies)
    if [ -d ../shared/conformance/leaksignal-examples ]; then extra+=(../shared/conformance/leaksignal-examples); fi
  fi
  if [ -n "${FUZZ_RUNS:-}" ]; then
    budget=(-seed=1 -runs="$FUZZ_RUNS")
  else
    budget=(-max_total_time="${FUZZ_SECONDS:-60}")
  fi
  echo "fuzzing $t: ${budget[*]}"
  # -timeout: an input that takes seconds is a hang for an inline proxy filter.
  log="build-fuzz/$t.log"
  rc=0
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "build-fuzz/${t}_fuzz" "${budget[@]}" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 "$work" "${extra[@]}" >"$log" 2>&1 || rc=$?
  grep -E "^(Done|stat::number_of_executed_units|stat::new_units_added)|ERROR|SUMMARY|differ|Test unit written" "$log" || true
  if [ "$rc" -ne 0 ]; then
    echo "fuzzing $t failed (exit $rc): the input is in build-fuzz/artifacts/, the log in $log" >&2
    exit 1
  fi
done
