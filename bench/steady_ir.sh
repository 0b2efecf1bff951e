#!/usr/bin/env bash
# Steady-state instructions per body byte of `leakscope bench`, counted by callgrind: a run of 3
# iterations minus a run of 1, divided by 2 x the body's size. Counting a single run divides the
# process's start-up (dynamic linking, policy compilation: ~30 M instructions with the reference
# policy) into the figure too; for a 1 MiB body that added ~15 instructions per byte.
#
#   bench/steady_ir.sh BODY [CONTENT_TYPE]     LEAKSCOPE=build/leakscope POLICY=... (defaults below)
#                                              LAYOUTS=N: under N heap layouts (default 1; see below)
#
# Deterministic for one binary and one body path; between two builds, differences under ~1 % can
# come from the compiler's inlining of code the change did not touch (see BENCHMARKS.md, tenth
# session), and for one binary the body file's name moves the figure by up to ~1 % too: its
# length shifts heap addresses, which seed the known-text tables' hashes (fourteenth session:
# 51.68 and 51.10 for one binary). LAYOUTS=3 counts the body under three names of different
# lengths (links to it); compare builds by those ranges.
set -euo pipefail
body=${1:?usage: bench/steady_ir.sh BODY [CONTENT_TYPE]}
content_type=${2:-application/json}
cli=${LEAKSCOPE:-build/leakscope}
policy=${POLICY:-../shared/conformance/reference-policy.yaml}
command -v valgrind >/dev/null || { echo "steady_ir.sh: needs valgrind (apt install valgrind)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() {  # ITERATIONS PATH
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1" "$cli" bench --policy "$policy" \
    --content-type "$content_type" --path api.example.com/api/customers --iterations "$1" "$2" \
    >/dev/null 2>"$out/log.$1"
  grep -oE 'Collected : [0-9]+' "$out/log.$1" | grep -oE '[0-9]+$'
}
size=$(stat -c %s "$body")
layouts=${LAYOUTS:-1}
for ((layout = 0; layout < layouts; ++layout)); do
  path=$body
  if [ "$layout" -gt 0 ]; then
    path="$out/body$(printf '%*s' $((layout * 48)) '' | tr ' ' x)"
    ln -s "$(realpath "$body")" "$path"
  fi
  one=$(count 1 "$path")
  three=$(count 3 "$path")
  awk -v a="$one" -v b="$three" -v n="$size" -v f="$(basename "$body")" -v l="$layout" -v k="$layouts" \
    'BEGIN { printf "%s: %.2f instructions per byte, steady state (start-up and one pass: %d)%s\n", f, (b - a) / (2 * n), a, (k > 1 ? sprintf(", layout %d", l) : "") }'
done
