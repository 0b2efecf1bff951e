#!/usr/bin/env bash
# Sets up, builds, and runs the main job on the bundled sample traffic: every sample API
# transaction in examples/traffic is scanned with the reference policy and its report printed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
POLICY=examples/policies/default.yaml
./build/leakscope policy check "$POLICY"
echo
while IFS=$'\t' read -r file content_type target direction; do
  case "$file" in ''|'#'*) continue ;; esac
  echo "== $file ($direction of $target, $content_type)"
  ./build/leakscope scan --policy "$POLICY" --content-type "$content_type" --path "$target" \
    --direction "$direction" --format table "examples/traffic/$file"
  echo
done < examples/traffic/manifest.tsv
echo "payment.json as it leaves the proxy (the policy redacts card numbers on */api/payments/**):"
./build/leakscope scan --policy "$POLICY" --content-type application/json \
  --path shop.example.com/api/payments/pay_8841 --output-body - examples/traffic/payment.json
echo
echo "JSON report of one transaction (what a host exports):"
./build/leakscope scan --policy "$POLICY" --content-type application/json \
  --path shop.example.com/api/customers examples/traffic/customers.json
