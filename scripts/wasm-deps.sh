#!/usr/bin/env bash
# Builds the engine's third-party C/C++ dependencies (re2, pcre2, libyaml, libsodium, zlib and
# brotli's decoder) as static wasm32-wasi libraries + headers + pkg-config files, from Debian
# *source* packages, with Debian's clang-14 / wasm-ld-14 / wasi-libc / libc++-14 for wasm32
# (see ../shared/DESIGN.md, "The wasm32 build").
#
#   scripts/wasm-deps.sh [--refresh] [--force] [LIB...]
#     --refresh   re-run `apt-get update` on the private source lists (otherwise only when absent)
#     --force     rebuild even when the stamp says the same source version is already installed
#     LIB...      restrict to some of: re2 pcre2 libyaml libsodium zlib brotli
#
# Output prefix: ${LEAKSCOPE_WASM_DEPS:-<repo>/.cache/wasm-deps}   (include/, lib/, lib/pkgconfig/,
#                sysroot/, stamps/). Use it with cmake -DCMAKE_TOOLCHAIN_FILE=cmake/wasm32-wasi.cmake.
# Work dir:      ${LEAKSCOPE_WASM_CACHE:-<repo>/.cache/wasm-src}  (private apt config + lists,
#                downloaded source packages, build trees).
#
# Sources: the machine's own `deb` entries (one-line *.list and deb822 *.sources) are turned into
# `deb-src` entries at run time and given to apt through a private configuration, so no registry
# host name is ever written into this repository and the machine's apt state is not touched.
# Integrity: apt checks every downloaded file against the hashes of the signed Sources index
# (the normal secure-apt chain); nothing here disables signature checks.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=${LEAKSCOPE_WASM_DEPS:-$REPO/.cache/wasm-deps}
CACHE=${LEAKSCOPE_WASM_CACHE:-$REPO/.cache/wasm-src}
PATCHES=$REPO/scripts/wasm-patches
TOOLCHAIN_FILE=$REPO/cmake/wasm32-wasi.cmake
JOBS=${JOBS:-2}
ALL_LIBS=(re2 pcre2 libyaml libsodium zlib brotli)

REFRESH=0
FORCE=0
LIBS=()
for a in "$@"; do
  case "$a" in
    --refresh) REFRESH=1 ;;
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    re2|pcre2|libyaml|libsodium|zlib|brotli) LIBS+=("$a") ;;
    *) echo "wasm-deps: unknown argument: $a" >&2; exit 2 ;;
  esac
done
[ ${#LIBS[@]} -gt 0 ] || LIBS=("${ALL_LIBS[@]}")

log() { printf '[wasm-deps] %s\n' "$*" >&2; }
die() { printf '[wasm-deps] ERROR: %s\n' "$*" >&2; exit 1; }
T0=$(date +%s)

# ---------------------------------------------------------------------------------------------
# 1. Toolchain packages (installed like install-deps.sh does: quiet, sudo only when not root).
# ---------------------------------------------------------------------------------------------
PACKAGES=(
  clang-14 lld-14 llvm-14 wasi-libc
  libc++-14-dev-wasm32 libc++abi-14-dev-wasm32 libclang-rt-14-dev-wasm32
  dpkg-dev cmake make patch pkg-config
  perl python3 python3-six unicode-data   # to regenerate RE2's Unicode tables, as Debian does
  autoconf automake libtool               # libsodium's Debian source has no generated configure
)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  log "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

CC_BIN=/usr/bin/clang-14
CXX_BIN=/usr/bin/clang++-14
AR_BIN=/usr/bin/llvm-ar-14
RANLIB_BIN=/usr/bin/llvm-ranlib-14
NM_BIN=/usr/bin/llvm-nm-14
for t in "$CC_BIN" "$CXX_BIN" "$AR_BIN" "$RANLIB_BIN" "$NM_BIN" /usr/bin/wasm-ld-14; do
  [ -x "$t" ] || die "missing tool $t"
done

# Debian's wasi-libc is multiarch-installed into /usr (headers /usr/include/wasm32-wasi, libs
# /usr/lib/wasm32-wasi; libc++ headers are linked into /usr/include/wasm32-wasi/c++/v1), i.e. its
# sysroot is "/" -- there is no /usr/share/wasi-sysroot. Pointing clang at "/" (its default) or at
# /usr would also put the *host's* /usr/include and /usr/local/include on the wasm include path
# (glibc's pthread.h, the native re2/sodium/yaml headers, ...). So we give clang a private sysroot
# that holds only the wasm32-wasi pieces, as symlinks. cmake/wasm32-wasi.cmake creates the same one.
SYSROOT=$PREFIX/sysroot
[ -f /usr/include/wasm32-wasi/stdio.h ] || die "wasi-libc headers not found in /usr/include/wasm32-wasi"
[ -f /usr/lib/wasm32-wasi/libc.a ] || die "wasi-libc not found in /usr/lib/wasm32-wasi"
mkdir -p "$SYSROOT/include" "$SYSROOT/lib"
ln -sfn /usr/include/wasm32-wasi "$SYSROOT/include/wasm32-wasi"
ln -sfn /usr/lib/wasm32-wasi "$SYSROOT/lib/wasm32-wasi"

TARGET_FLAGS="--target=wasm32-wasi --sysroot=$SYSROOT"
OPT_FLAGS="-O2"
CXX_EXTRA_FLAGS="-fno-exceptions"

# ---------------------------------------------------------------------------------------------
# 2. Private apt configuration with deb-src entries derived from the machine's deb entries.
# ---------------------------------------------------------------------------------------------
APTDIR=$CACHE/apt
mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/sources.list.d"

# One-line format: /etc/apt/sources.list and /etc/apt/sources.list.d/*.list.
# "deb [opts] uri suite comps" -> "deb-src [opts] uri suite comps" (options kept verbatim).
{
  echo "# generated by scripts/wasm-deps.sh from this machine's deb entries; do not edit"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -nE 's/^[[:space:]]*deb[[:space:]]+/deb-src /p' "$f"
  done
} >"$APTDIR/sources.list.new"
mv "$APTDIR/sources.list.new" "$APTDIR/sources.list"

# deb822 format: /etc/apt/sources.list.d/*.sources. Stanzas whose Types include "deb" are
# re-emitted with "Types: deb-src"; comments and other stanzas are dropped.
rm -f "$APTDIR/sources.list.d/"*.sources
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  awk '
    function flush() {
      if (n > 0 && isdeb) { for (i = 1; i <= n; i++) print buf[i]; print "" }
      n = 0; isdeb = 0
    }
    /^[[:space:]]*#/ { next }
    /^[[:space:]]*$/ { flush(); next }
    /^[Tt]ypes:/ {
      t = $0; sub(/^[Tt]ypes:[[:space:]]*/, "", t)
      if ((" " t " ") ~ /[[:space:]]deb[[:space:]]/) isdeb = 1
      buf[++n] = "Types: deb-src"; next
    }
    { buf[++n] = $0 }
    END { flush() }
  ' "$f" >"$APTDIR/sources.list.d/$(basename "$f")"
  [ -s "$APTDIR/sources.list.d/$(basename "$f")" ] || rm -f "$APTDIR/sources.list.d/$(basename "$f")"
done

# Dir::Etc::sourcelist takes one file in one format, so the one-line entries go there and the
# deb822 ones into a private sourceparts directory; the machine's own sourceparts is never read.
APT_OPTS=(
  -o "Dir::Etc::sourcelist=$APTDIR/sources.list"
  -o "Dir::Etc::sourceparts=$APTDIR/sources.list.d"
  -o "Dir::State::Lists=$APTDIR/lists"
  -o "Dir::Cache=$APTDIR/cache"
  -o "Dir::Cache::pkgcache="
  -o "Dir::Cache::srcpkgcache="
)
if ! grep -qs '^deb-src' "$APTDIR/sources.list" && [ -z "$(ls -A "$APTDIR/sources.list.d")" ]; then
  die "no deb entries found in /etc/apt/sources.list{,.d} to derive deb-src entries from"
fi

# Fingerprint of the derived source entries: a change (new mirror/suite) forces an update.
SRC_FP=$(cat "$APTDIR/sources.list" "$APTDIR/sources.list.d/"* 2>/dev/null | sha256sum | cut -c1-16)
if [ "$REFRESH" = 1 ] || [ "$(cat "$APTDIR/lists.fp" 2>/dev/null)" != "$SRC_FP" ] \
   || ! ls "$APTDIR/lists/"*Sources* >/dev/null 2>&1; then
  log "apt-get update (private deb-src lists in $APTDIR/lists)"
  rm -f "$CACHE/src/unavailable"
  # A third-party repository without sources makes update exit non-zero; that is fine as long as
  # the Debian Sources indices we need arrive, which apt-cache showsrc checks below.
  if ! apt-get "${APT_OPTS[@]}" update -qq 2>&1 | sed 's/^/    /' >&2; then :; fi
  echo "$SRC_FP" >"$APTDIR/lists.fp"
fi

# All source versions of a package in the private lists, highest first.
src_versions() {
  local vs=() t i j
  mapfile -t vs < <(apt-cache "${APT_OPTS[@]}" showsrc --only-source "$1" 2>/dev/null \
                      | sed -n 's/^Version: //p' | sort -u)
  for ((i = 0; i < ${#vs[@]}; i++)); do   # a handful of versions: a selection sort will do
    for ((j = i + 1; j < ${#vs[@]}; j++)); do
      if dpkg --compare-versions "${vs[j]}" gt "${vs[i]}"; then t=${vs[i]}; vs[i]=${vs[j]}; vs[j]=$t; fi
    done
  done
  [ ${#vs[@]} -eq 0 ] || printf '%s\n' "${vs[@]}"
}

dsc_path() { echo "$CACHE/src/${1}_${2#*:}.dsc"; }

# Downloads NAME=VERSION with apt-get source --download-only into $CACHE/src unless already there.
# apt checks each file against the hashes of the signed Sources index (no signature is disabled).
download_source() {
  local name=$1 ver=$2 dl=$CACHE/src dsc
  dsc=$(dsc_path "$name" "$ver")
  [ -f "$dsc" ] && return 0
  mkdir -p "$dl"
  log "$name: apt-get source --download-only $name=$ver"
  # apt downloads as the unprivileged _apt user when run as root: give it a directory it may
  # write to (otherwise apt falls back to downloading unsandboxed as root, with a warning).
  local inc=$dl/.incoming
  rm -rf "$inc"; mkdir -p "$inc"
  if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$inc"; fi
  if ! (cd "$inc" && apt-get "${APT_OPTS[@]}" source --download-only -qq "$name=$ver" 2>&1 \
          | sed 's/^/    /' >&2) || [ ! -f "$inc/$(basename "$dsc")" ]; then
    rm -rf "$inc"
    return 1
  fi
  if [ "$(id -u)" -eq 0 ]; then chown -R 0:0 "$inc"; fi
  mv "$inc"/* "$dl/" && rmdir "$inc"
}

# Picks the highest version whose source can be had (already downloaded, or downloadable now):
# an index can list a version (typically a fresh security update) that the mirror cannot serve.
# Versions that failed are remembered in $CACHE/src/unavailable (retried after --refresh).
resolve_source() {
  local name=$1 v bad=$CACHE/src/unavailable
  while read -r v; do
    [ -n "$v" ] || continue
    if [ ! -f "$(dsc_path "$name" "$v")" ] && grep -qxF "$name=$v" "$bad" 2>/dev/null; then continue; fi
    if download_source "$name" "$v"; then echo "$v"; return 0; fi
    log "$name: version $v could not be downloaded; trying the next lower one"
    echo "$name=$v" >>"$bad"
  done < <(src_versions "$name")
  return 1
}

# Unpacks with dpkg-source -x (Debian's own patches applied) into a fresh directory. dpkg-source
# also checks the uploader's signature on the .dsc when debian-keyring is installed and otherwise
# only warns (see DEST.dpkg-source.log); the files' authenticity already rests on apt's hash check
# against the Release-signed Sources index, so no keyring is required and nothing is disabled.
unpack_source() {
  local name=$1 ver=$2 dest=$3
  rm -rf "$dest"
  dpkg-source --no-copy -x "$(dsc_path "$name" "$ver")" "$dest" >/dev/null 2>"$dest.dpkg-source.log" || {
    cat "$dest.dpkg-source.log" >&2; die "$name: dpkg-source -x failed"; }
}

apply_patches() {
  local name=$1 dir=$2 p
  for p in "$PATCHES/$name"/*.patch; do
    [ -f "$p" ] || continue
    log "$name: applying $(basename "$p")"
    patch -d "$dir" -p1 --forward --quiet <"$p" || die "$name: patch $p failed"
  done
}

export PKG_CONFIG_LIBDIR=$PREFIX/lib/pkgconfig
unset PKG_CONFIG_PATH

# Environment for autotools builds.
autotools_env() {
  export CC="$CC_BIN $TARGET_FLAGS" CXX="$CXX_BIN $TARGET_FLAGS"
  export AR=$AR_BIN RANLIB=$RANLIB_BIN NM=$NM_BIN
  export CFLAGS="$OPT_FLAGS" CXXFLAGS="$OPT_FLAGS $CXX_EXTRA_FLAGS" CPPFLAGS="" LDFLAGS=""
}

cmake_build() {  # src build extra-args...
  local src=$1 bld=$2; shift 2
  LEAKSCOPE_WASM_DEPS=$PREFIX cmake -S "$src" -B "$bld" -G "Unix Makefiles" --no-warn-unused-cli \
    -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN_FILE" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS_RELEASE="$OPT_FLAGS -DNDEBUG" -DCMAKE_CXX_FLAGS_RELEASE="$OPT_FLAGS -DNDEBUG" \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_SHARED_LIBS=OFF "$@" >"$bld.configure.log" 2>&1 \
    || { tail -40 "$bld.configure.log" >&2; return 1; }
  cmake --build "$bld" -j "$JOBS" >"$bld.build.log" 2>&1 || { tail -40 "$bld.build.log" >&2; return 1; }
  cmake --install "$bld" >"$bld.install.log" 2>&1 || { tail -20 "$bld.install.log" >&2; return 1; }
}

# ---------------------------------------------------------------------------------------------
# 3. Per-library recipes. Each is called as build_NAME SRC BUILD and installs into $PREFIX.
# ---------------------------------------------------------------------------------------------
build_re2() {
  # Debian strips the generated Unicode/Perl class tables (+dfsg) and regenerates them at build
  # time from the unicode-data package (debian/rules: REBUILD_TABLES=1); do the same.
  (cd "$1" && perl re2/make_perl_groups.pl >re2/perl_groups.cc \
     && python3 re2/make_unicode_casefold.py >re2/unicode_casefold.cc \
     && python3 re2/make_unicode_groups.py >re2/unicode_groups.cc) || return 1
  # RE2's CMake build links Threads only if(UNIX), which the Generic (WASI) platform is not; the
  # lock itself is made a no-op by wasm-patches/re2. No tests, no shared library.
  cmake_build "$1" "$2" -DRE2_BUILD_TESTING=OFF || return 1
  # Only RE2's Makefile installs re2.pc; write it without the -pthread of the template (on wasm32
  # -pthread would turn on shared memory + atomics).
  mkdir -p "$PREFIX/lib/pkgconfig"
  sed -e "s|@includedir@|$PREFIX/include|; s|@libdir@|$PREFIX/lib|; s|-pthread ||g" \
      "$1/re2.pc" >"$PREFIX/lib/pkgconfig/re2.pc"
}

build_pcre2() {
  cmake_build "$1" "$2" -DPCRE2_BUILD_PCRE2_8=ON -DPCRE2_BUILD_PCRE2_16=OFF -DPCRE2_BUILD_PCRE2_32=OFF \
    -DPCRE2_SUPPORT_JIT=OFF -DPCRE2_SUPPORT_UNICODE=ON -DPCRE2_BUILD_PCRE2GREP=OFF -DPCRE2_BUILD_TESTS=OFF \
    -DPCRE2_SUPPORT_LIBBZ2=OFF -DPCRE2_SUPPORT_LIBZ=OFF -DPCRE2_SUPPORT_LIBEDIT=OFF \
    -DPCRE2_SUPPORT_LIBREADLINE=OFF
}

build_libyaml() {
  # Debian's libyaml is the upstream git tarball (no generated configure): use its CMake build,
  # which installs no pkg-config file, so write yaml-0.1.pc from its template.
  cmake_build "$1" "$2" -DBUILD_TESTING=OFF -DINSTALL_CMAKE_DIR=lib/cmake/yaml || return 1
  local v
  v=$(sed -nE 's/^set \(YAML_VERSION_(MAJOR|MINOR|PATCH) ([0-9]+)\)/\2/p' "$1/CMakeLists.txt" | paste -sd.)
  mkdir -p "$PREFIX/lib/pkgconfig"
  sed -e "s|@prefix@|$PREFIX|; s|@exec_prefix@|\${prefix}|; s|@includedir@|\${prefix}/include|" \
      -e "s|@libdir@|\${exec_prefix}/lib|; s|@PACKAGE_VERSION@|$v|" \
      "$1/yaml-0.1.pc.in" >"$PREFIX/lib/pkgconfig/yaml-0.1.pc"
}

build_libsodium() {
  # Debian's libsodium source is the upstream git tree without a generated configure; Debian runs
  # `dh --with autoreconf`, so do the same (not autogen.sh, which may download config.sub).
  # libsodium's configure knows wasm32-wasi (flags as in upstream's dist-build/wasm32-wasi.sh).
  # Full (not --enable-minimal) build: the engine needs crypto_hash_sha256.
  local src=$1 bld=$2
  mkdir -p "$bld"
  (cd "$src" && autoreconf -fi >"$bld/../libsodium.autoreconf.log" 2>&1) \
    || { tail -20 "$bld/../libsodium.autoreconf.log" >&2; return 1; }
  # config.sub copied from automake may predate "wasi" as an OS name: add it the way upstream's
  # dist-build/wasm32-wasi.sh does.
  grep -q -F -- 'wasi' "$src/build-aux/config.sub" \
    || sed -i -e 's/-nacl\*)/-nacl*|-wasi)/' "$src/build-aux/config.sub"
  (
    autotools_env
    # sodium/utils.c includes <signal.h> unconditionally but calls raise() only #ifndef __wasm__;
    # current wasi-libc's signal.h #errors unless signal emulation is requested. Defining the macro
    # only lets the header through: nothing from libwasi-emulated-signal ends up referenced.
    export CPPFLAGS="-D_WASI_EMULATED_SIGNAL"
    # configure adds -fPIC on every non-Windows host; for a static wasm library that only routes
    # global accesses through a GOT. ax_cv_check_cflags___fPIC=no (passed below) skips it.
    # ac_cv_func_nanosleep=no: sodium_crit_enter() would nanosleep() while its spin lock is
    # contended (never, single-threaded), and nanosleep pulls in the WASI import poll_oneoff,
    # which Envoy's WASI (before late 2024) does not provide (../shared/proxy-wasm-abi.md).
    cd "$bld"
    "$src/configure" --host=wasm32-wasi --prefix="$PREFIX" --libdir="$PREFIX/lib" \
      --disable-shared --enable-static --disable-ssp --without-pthreads --disable-pie \
      ax_cv_check_cflags___fPIC=no ac_cv_func_nanosleep=no \
      >"$bld/../libsodium.configure.log" 2>&1 || { tail -40 "$bld/../libsodium.configure.log" >&2; exit 1; }
    make -j "$JOBS" >"$bld/../libsodium.build.log" 2>&1 || { tail -40 "$bld/../libsodium.build.log" >&2; exit 1; }
    make install >"$bld/../libsodium.install.log" 2>&1 || { tail -20 "$bld/../libsodium.install.log" >&2; exit 1; }
  )
}

build_zlib() {
  # zlib's own configure script (hand-written, not autotools) rather than its CMake build: the
  # latter always adds a shared library and names the archive libzlibstatic.a on platforms that
  # are not UNIX, which the Generic (WASI) platform is not. --static: libz.a only. --uname keeps
  # the host's `uname -s` (Linux) from selecting Linux-only shared-library flags. Only libz.a is
  # built (not the example/minigzip test programs); `make install` then copies it, the headers
  # and zlib.pc.
  local src=$1 bld=$2
  mkdir -p "$bld"
  (
    autotools_env
    cd "$bld"
    "$src/configure" --static --uname=wasi --prefix="$PREFIX" --libdir="$PREFIX/lib" \
      >"$bld/../zlib.configure.log" 2>&1 || { tail -40 "$bld/../zlib.configure.log" >&2; exit 1; }
    make -j "$JOBS" libz.a >"$bld/../zlib.build.log" 2>&1 || { tail -40 "$bld/../zlib.build.log" >&2; exit 1; }
    make install >"$bld/../zlib.install.log" 2>&1 || { tail -20 "$bld/../zlib.install.log" >&2; exit 1; }
  )
}

build_brotli() {
  # The engine only decodes: build brotlicommon + brotlidec, not the encoder nor the `brotli` tool
  # (which needs chown/utime, absent from WASI). BROTLI_BUNDLED_MODE turns off brotli's install
  # rules (they would install the shared-library targets and the tool), so install by hand, naming
  # the archives as Debian does (debian/rename-static-libs.sh drops the "-static" suffix) so that
  # the pkg-config files brotli generates at configure time (-lbrotlidec, -lbrotlicommon) hold.
  local src=$1 bld=$2 f
  LEAKSCOPE_WASM_DEPS=$PREFIX cmake -S "$src" -B "$bld" -G "Unix Makefiles" --no-warn-unused-cli \
    -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN_FILE" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS_RELEASE="$OPT_FLAGS -DNDEBUG" -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_SHARED_LIBS=OFF -DBROTLI_DISABLE_TESTS=ON \
    -DBROTLI_BUNDLED_MODE=ON >"$bld.configure.log" 2>&1 || { tail -40 "$bld.configure.log" >&2; return 1; }
  cmake --build "$bld" -j "$JOBS" --target brotlicommon-static brotlidec-static >"$bld.build.log" 2>&1 \
    || { tail -40 "$bld.build.log" >&2; return 1; }
  mkdir -p "$PREFIX/lib/pkgconfig" "$PREFIX/include/brotli"
  for f in brotlicommon brotlidec; do
    install -m 644 "$bld/lib$f-static.a" "$PREFIX/lib/lib$f.a"
    install -m 644 "$bld/lib$f.pc" "$PREFIX/lib/pkgconfig/lib$f.pc"
  done
  for f in decode.h port.h types.h; do
    install -m 644 "$src/c/include/brotli/$f" "$PREFIX/include/brotli/$f"
  done
}

# ---------------------------------------------------------------------------------------------
# 4. Drive: per library, skip when the stamp matches (source version + recipe + patches + flags).
# ---------------------------------------------------------------------------------------------
mkdir -p "$PREFIX/stamps" "$CACHE/build"
recipe_hash() {
  {
    declare -f "build_$1" cmake_build autotools_env
    echo "$TARGET_FLAGS $OPT_FLAGS $CXX_EXTRA_FLAGS"
    "$CC_BIN" --version | sed -n 1p
    dpkg-query -W -f='${Package} ${Version}\n' wasi-libc libc++-14-dev-wasm32 unicode-data
    cat "$TOOLCHAIN_FILE"
    cat "$PATCHES/$1"/*.patch 2>/dev/null || true
  } | sha256sum | cut -c1-16
}

declare -A RESULT VERSION LATEST
for lib in "${LIBS[@]}"; do
  LATEST[$lib]=$(src_versions "$lib" | sed -n 1p)
  [ -n "${LATEST[$lib]}" ] || die "$lib: no source package in the derived deb-src lists (see $APTDIR)"
  ver=$(resolve_source "$lib") || die "$lib: no listed version could be downloaded"
  VERSION[$lib]=$ver
  want="$lib $ver $(recipe_hash "$lib")"
  stamp=$PREFIX/stamps/$lib.stamp
  if [ "$FORCE" = 0 ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    RESULT[$lib]="cached"
    continue
  fi
  t=$(date +%s)
  work=$CACHE/build/$lib
  rm -rf "$work"; mkdir -p "$work"
  unpack_source "$lib" "$ver" "$work/src"
  apply_patches "$lib" "$work/src"
  log "$lib $ver: building"
  rm -f "$stamp"
  "build_$lib" "$work/src" "$work/build" || die "$lib: build failed (logs in $work)"
  echo "$want" >"$stamp"
  RESULT[$lib]="built in $(( $(date +%s) - t ))s"
done

# ---------------------------------------------------------------------------------------------
# 5. Summary.
# ---------------------------------------------------------------------------------------------
echo
echo "wasm32-wasi dependencies in $PREFIX (total $(( $(date +%s) - T0 ))s):"
for lib in "${LIBS[@]}"; do
  note=""
  [ "${VERSION[$lib]}" = "${LATEST[$lib]}" ] || note=" (newest listed ${LATEST[$lib]} not downloadable)"
  printf '  %-10s %-24s %s%s\n' "$lib" "${VERSION[$lib]}" "${RESULT[$lib]}" "$note"
done
echo "  libraries: $(cd "$PREFIX/lib" && ls -1 ./*.a | sed 's|^\./||' | tr '\n' ' ')"
echo "  headers:   $PREFIX/include"
echo "  pkgconfig: $PREFIX/lib/pkgconfig ($(ls -1 "$PREFIX/lib/pkgconfig" 2>/dev/null | tr '\n' ' '))"
echo "  sysroot:   $SYSROOT"
echo "  use:       cmake -DCMAKE_TOOLCHAIN_FILE=$TOOLCHAIN_FILE -DLEAKSCOPE_WASM_DEPS=$PREFIX ..."
