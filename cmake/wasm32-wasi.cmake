# CMake toolchain for wasm32-wasi with Debian's clang-14 / wasm-ld-14 / wasi-libc / libc++-14-dev-wasm32.
#
#   scripts/wasm-deps.sh                       # once: re2, pcre2, libyaml, libsodium for wasm32
#   cmake -S . -B build-wasm -DCMAKE_TOOLCHAIN_FILE=cmake/wasm32-wasi.cmake [-DLEAKSCOPE_WASM_DEPS=DIR]
#
# Dependencies are looked up only in the prefix scripts/wasm-deps.sh installs into
# (LEAKSCOPE_WASM_DEPS: cache variable, else the environment variable, else <repo>/.cache/wasm-deps),
# with find_* and pkg-config confined to it: the host's native libraries are never picked up.
#
# Not set here, per target instead: a Proxy-WASM filter links with `-mexec-model=reactor` (no
# _start; Envoy calls _initialize) and wants SUFFIX ".wasm"; plain executables (tests, smoke
# programs) default to WASI commands. Static libraries only (the Generic platform has no shared libs).
set(CMAKE_SYSTEM_NAME Generic)     # CMake 3.25 ships no Platform/WASI module
set(CMAKE_SYSTEM_PROCESSOR wasm32)
set(CMAKE_SYSTEM_VERSION 1)
set(WASI TRUE)                     # the variable WASI-SDK's Platform/WASI.cmake sets, for if(WASI)

set(CMAKE_C_COMPILER /usr/bin/clang-14)
set(CMAKE_CXX_COMPILER /usr/bin/clang++-14)
set(CMAKE_C_COMPILER_TARGET wasm32-wasi)     # -> --target=wasm32-wasi
set(CMAKE_CXX_COMPILER_TARGET wasm32-wasi)
set(CMAKE_AR /usr/bin/llvm-ar-14 CACHE FILEPATH "wasm-aware archiver (GNU ar writes no symbol index for wasm objects)")
set(CMAKE_RANLIB /usr/bin/llvm-ranlib-14 CACHE FILEPATH "wasm-aware ranlib")
set(CMAKE_NM /usr/bin/llvm-nm-14 CACHE FILEPATH "wasm-aware nm")

# No exceptions (the engine is built without them; wasm32 EH is not usable with clang-14 + Envoy).
# No threads: Debian's libc++ for wasm32 is built with _LIBCPP_HAS_NO_THREADS, and a Proxy-WASM VM is
# single-threaded anyway.
# Optimisation comes from the build type (RelWithDebInfo: -O2 -g; MinSizeRel: -Os). Note that clang
# runs binaryen's wasm-opt on every optimised link when /usr/bin/wasm-opt exists (seconds per link).
set(CMAKE_C_FLAGS_INIT "")
set(CMAKE_CXX_FLAGS_INIT "-fno-exceptions")

# --- dependency prefix -------------------------------------------------------------------------
if(NOT LEAKSCOPE_WASM_DEPS)
  if(DEFINED ENV{LEAKSCOPE_WASM_DEPS} AND NOT "$ENV{LEAKSCOPE_WASM_DEPS}" STREQUAL "")
    set(LEAKSCOPE_WASM_DEPS "$ENV{LEAKSCOPE_WASM_DEPS}")
  else()
    set(LEAKSCOPE_WASM_DEPS "${CMAKE_CURRENT_LIST_DIR}/../.cache/wasm-deps")
  endif()
endif()
get_filename_component(LEAKSCOPE_WASM_DEPS "${LEAKSCOPE_WASM_DEPS}" ABSOLUTE)
set(LEAKSCOPE_WASM_DEPS "${LEAKSCOPE_WASM_DEPS}" CACHE PATH "wasm32-wasi dependency prefix (scripts/wasm-deps.sh)")
# try_compile() projects re-read this file in a fresh cache: hand the prefix over.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES LEAKSCOPE_WASM_DEPS)

# --- sysroot -----------------------------------------------------------------------------------
# Debian installs wasi-libc multiarch-style into /usr (/usr/include/wasm32-wasi, /usr/lib/wasm32-wasi,
# libc++ headers under /usr/include/wasm32-wasi/c++/v1); there is no /usr/share/wasi-sysroot. A sysroot
# of "/" or "/usr" would also put the host's /usr/include on the include path, so we use a private one
# made of two symlinks (scripts/wasm-deps.sh creates the same).
set(LEAKSCOPE_WASI_SYSROOT "${LEAKSCOPE_WASM_DEPS}/sysroot")
if(NOT EXISTS "${LEAKSCOPE_WASI_SYSROOT}/lib/wasm32-wasi/libc.a")
  if(NOT EXISTS /usr/lib/wasm32-wasi/libc.a)
    message(FATAL_ERROR "wasi-libc is not installed (run scripts/wasm-deps.sh)")
  endif()
  file(MAKE_DIRECTORY "${LEAKSCOPE_WASI_SYSROOT}/include" "${LEAKSCOPE_WASI_SYSROOT}/lib")
  file(CREATE_LINK /usr/include/wasm32-wasi "${LEAKSCOPE_WASI_SYSROOT}/include/wasm32-wasi" SYMBOLIC)
  file(CREATE_LINK /usr/lib/wasm32-wasi "${LEAKSCOPE_WASI_SYSROOT}/lib/wasm32-wasi" SYMBOLIC)
endif()
set(CMAKE_SYSROOT "${LEAKSCOPE_WASI_SYSROOT}")   # -> --sysroot=...

# --- where find_* and pkg-config look ------------------------------------------------------------
set(CMAKE_FIND_ROOT_PATH "${LEAKSCOPE_WASM_DEPS}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(ENV{PKG_CONFIG_LIBDIR} "${LEAKSCOPE_WASM_DEPS}/lib/pkgconfig:${LEAKSCOPE_WASM_DEPS}/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")   # the .pc files carry absolute paths into the prefix
