#!/usr/bin/env bash
# Installs the Debian 12 packages LeakScope builds and tests with. Idempotent and quiet when
# everything is already present.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libre2-dev libpcre2-dev libyaml-dev libsodium-dev libphonenumber-dev zlib1g-dev libbrotli-dev
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev
  binaryen   # wasm-opt for leakscope.wasm (the wasm32 toolchain comes with scripts/wasm-deps.sh)
  clang-14 libclang-rt-14-dev   # libFuzzer, ASan and UBSan for scripts/fuzz.sh (tests/fuzz)
)
# Node.js runs leakscope.wasm in V8 for the filter's tests; any packaged version >= 18 will do.
if ! command -v node >/dev/null 2>&1; then PACKAGES+=(nodejs); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
