#!/usr/bin/env bash
# Steady-state instructions per request of the filter built natively (BM_FilterTransaction in
# leakscope_bench), counted by callgrind: two runs of different lengths, and the difference of
# OneRequest's inclusive cost divided by the difference of its calls. Dividing one run's cost by
# its calls also divides in what its first requests pay once (the shared known-text tables and
# regex caches filling up), by however many requests the benchmark happened to run: between two
# builds that alone moved a 1 KiB request by ~1 k instructions.
#
#   bench/request_ir.sh [SIZE...]        LEAKSCOPE_BENCH=build/leakscope_bench (default); SIZE: 0 1024 16384
#                                        LAYOUTS=N: measure under N heap layouts (default 1)
#
# Deterministic but for the requests each run chose to make, and for the heap layout: the
# known-text tables' hashes are seeded with their addresses, so a shift of the heap (a longer
# argument, a benchmark more or less in the binary) moves a 1 KiB request by up to ~2.5 % (the
# fourteenth session saw 60.1 k to 62.7 k for one build). LAYOUTS=3 measures each size under
# three layouts (the benchmark filter padded with an alternative that matches nothing); compare
# builds by those ranges, not by one figure.
set -euo pipefail
bench=${LEAKSCOPE_BENCH:-build/leakscope_bench}
command -v valgrind >/dev/null || { echo "request_ir.sh: needs valgrind (apt install valgrind)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() {  # SIZE MIN_TIME PAD -> "Ir calls" of OneRequest
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bench" \
    --benchmark_filter="BM_FilterTransaction/size:$1/chunk:0\$|$3" --benchmark_min_time="$2" >/dev/null 2>&1
  callgrind_annotate --inclusive=yes --tree=calling "$out/cg" | grep -m1 '> .*OneRequest' |
    sed -E 's/^ *([0-9,]+) .*\(([0-9,]+)x\).*/\1 \2/' | tr -d ,
}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(0 1024)
layouts=${LAYOUTS:-1}
for size in "${sizes[@]}"; do
  for ((layout = 0; layout < layouts; ++layout)); do
    pad="^none$(printf '%*s' $((layout * 48)) '' | tr ' ' x)"  # names no benchmark
    read -r short_ir short_calls < <(count "$size" 0.2 "$pad")
    read -r long_ir long_calls < <(count "$size" 1.0 "$pad")
    awk -v s="$size" -v a="$short_ir" -v b="$long_ir" -v c="$short_calls" -v d="$long_calls" -v l="$layout" -v n="$layouts" \
      'BEGIN { printf "size %s: %.2f k instructions per request, steady state (%d and %d requests)%s\n", s, (b - a) / (d - c) / 1000, c, d, (n > 1 ? sprintf(", layout %d", l) : "") }'
  done
done
