#!/usr/bin/env bash
# The one command that runs every test on a fresh Debian 12 machine: installs the packages, then
#   1. CMake + Ninja build and ctest,
#   2. install into a prefix and build the examples/custom_chain consumer against it,
#   3. Bazel build and test of the same targets (offline) under AddressSanitizer +
#      UndefinedBehaviorSanitizer (--config=asan): the second build and the sanitizer run at once,
#      so CI compiles everything twice, not three times.
# Stages can be picked: tools/test.sh cmake install bazel (default) and, on request, sanitize
# (the CMake ASan + UBSan build and ctest) or bazel-plain (Bazel without sanitizers).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${NSM_JOBS:-$(nproc)}
STAGES=("$@")
[ ${#STAGES[@]} -eq 0 ] && STAGES=(cmake install bazel)

stage() { printf '\n=== %s (%s) ===\n' "$1" "$(date -u +%H:%M:%S)"; }
want() { local s; for s in "${STAGES[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

stage "dependencies"
bash tools/setup.sh

if want cmake || want install; then
  stage "cmake build"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_INSTALL_PREFIX="$ROOT/build/_install"
  ninja -C build -j "$JOBS"
fi

if want cmake; then
  stage "ctest"
  (cd build && ctest -j "$JOBS" --output-on-failure --timeout 300)
fi

if want install; then
  stage "install + custom_chain consumer"
  rm -rf build/_install build/custom_chain
  cmake --install build > /dev/null
  cmake -S examples/custom_chain -B build/custom_chain -G Ninja -DCMAKE_PREFIX_PATH="$ROOT/build/_install"
  ninja -C build/custom_chain
  ./build/custom_chain/custom_chain
  # The same consumer built with only the pkg-config file.
  # shellcheck disable=SC2046
  g++ examples/custom_chain/main.cc -o build/custom_chain/custom_chain_pc \
    $(PKG_CONFIG_PATH="$ROOT/build/_install/lib/pkgconfig" pkg-config --cflags --libs nsm)
  ./build/custom_chain/custom_chain_pc
fi

if want bazel; then
  stage "bazel test (ASan + UBSan)"
  bash tools/bazel-test.sh --config=asan
fi

if want bazel-plain; then
  stage "bazel test"
  bash tools/bazel-test.sh
fi

if want sanitize; then
  stage "sanitizer build (ASan + UBSan) and ctest"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DNSM_SANITIZE=ON
  ninja -C build-asan -j "$JOBS"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest -j "$JOBS" --output-on-failure --timeout 600)
fi

stage "all requested stages passed: ${STAGES[*]}"
