#!/usr/bin/env bash
# Steady-state instructions per body byte of `leakscope bench`, counted by callgrind: a run of 3
# iterations minus a run of 1, divided by 2 x the body's size. Counting a single run divides the
# process's start-up (dynamic linking, policy compilation: ~30 M instructions with the reference
# policy) into the figure too; for a 1 MiB body that added ~15 instructions per byte.
#
#   bench/steady_ir.sh BODY [CONTENT_TYPE]     LEAKSCOPE=build/leakscope POLICY=... (defaults below)
#
# Deterministic for one binary and one body path; between two builds, differences under ~1 % can
# come from the compiler's inlining of code the change did not touch (see BENCHMARKS.md, tenth
# session), and for one binary the body file's name moves the figure by up to ~1 % too: its
# length shifts heap addresses, which seed the known-text tables' hashes (fourteenth session:
# 51.68 and 51.10 for one binary). Compare builds on two or more paths of the same body.
set -euo pipefail
body=${1:?usage: bench/steady_ir.sh BODY [CONTENT_TYPE]}
content_type=${2:-application/json}
cli=${LEAKSCOPE:-build/leakscope}
policy=${POLICY:-../shared/conformance/reference-policy.yaml}
command -v valgrind >/dev/null || { echo "steady_ir.sh: needs valgrind (apt install valgrind)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() {
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1" "$cli" bench --policy "$policy" \
    --content-type "$content_type" --path api.example.com/api/customers --iterations "$1" "$body" \
    >/dev/null 2>"$out/log.$1"
  grep -oE 'Collected : [0-9]+' "$out/log.$1" | grep -oE '[0-9]+$'
}
one=$(count 1)
three=$(count 3)
size=$(stat -c %s "$body")
awk -v a="$one" -v b="$three" -v n="$size" -v f="$(basename "$body")" \
  'BEGIN { printf "%s: %.2f instructions per byte, steady state (start-up and one pass: %d)\n", f, (b - a) / (2 * n), a }'
