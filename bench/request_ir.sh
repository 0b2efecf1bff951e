#!/usr/bin/env bash
# Steady-state instructions per request of the filter built natively (BM_FilterTransaction in
# leakscope_bench), counted by callgrind: two runs of different lengths, and the difference of
# OneRequest's inclusive cost divided by the difference of its calls. Dividing one run's cost by
# its calls also divides in what its first requests pay once (the shared known-text tables and
# regex caches filling up), by however many requests the benchmark happened to run: between two
# builds that alone moved a 1 KiB request by ~1 k instructions.
#
#   bench/request_ir.sh [SIZE...]        LEAKSCOPE_BENCH=build/leakscope_bench (default); SIZE: 0 1024 16384
#
# Deterministic but for the requests each run chose to make; repeat a figure to see its spread.
set -euo pipefail
bench=${LEAKSCOPE_BENCH:-build/leakscope_bench}
command -v valgrind >/dev/null || { echo "request_ir.sh: needs valgrind (apt install valgrind)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() {  # SIZE MIN_TIME -> "Ir calls" of OneRequest
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bench" \
    --benchmark_filter="BM_FilterTransaction/size:$1/chunk:0\$" --benchmark_min_time="$2" >/dev/null 2>&1
  callgrind_annotate --inclusive=yes --tree=calling "$out/cg" | grep -m1 '> .*OneRequest' |
    sed -E 's/^ *([0-9,]+) .*\(([0-9,]+)x\).*/\1 \2/' | tr -d ,
}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(0 1024)
for size in "${sizes[@]}"; do
  read -r short_ir short_calls < <(count "$size" 0.2)
  read -r long_ir long_calls < <(count "$size" 1.0)
  awk -v s="$size" -v a="$short_ir" -v b="$long_ir" -v c="$short_calls" -v d="$long_calls" \
    'BEGIN { printf "size %s: %.2f k instructions per request, steady state (%d and %d requests)\n", s, (b - a) / (d - c) / 1000, c, d }'
done
