#!/usr/bin/env bash
# Runs every Bazel test of nsm-cpp, offline, with Debian 12's bazel-bootstrap 4.2.3 and system
# libraries (install them with tools/setup.sh). The secondary build; CMake + ctest is primary.
#
#   tools/bazel-test.sh                      # bazel test //...
#   tools/bazel-test.sh //core/...           # only some targets
#   tools/bazel-test.sh --config=asan        # ASan + UBSan (see .bazelrc)
#
# Settings live in the project's .bazelrc (read automatically from the workspace root) and
# WORKSPACE; Bazel never downloads anything (--experimental_repository_disable_download).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
command -v bazel >/dev/null 2>&1 || missing+=(bazel-bootstrap)
[ -f /usr/share/bazel/rules/java/java/defs.bzl ] || missing+=(bazel-rules-java)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
command -v grpc_cpp_plugin >/dev/null 2>&1 || missing+=(protobuf-compiler-grpc)
if [ ${#missing[@]} -ne 0 ]; then
  echo "bazel-test: missing ${missing[*]}; run tools/setup.sh" >&2
  exit 2
fi

# Target patterns given? Otherwise test everything.
targets=()
flags=()
for a in "$@"; do
  case "$a" in
    -*) flags+=("$a") ;;
    *) targets+=("$a") ;;
  esac
done
[ ${#targets[@]} -ne 0 ] || targets=(//...)

# Convenience symlinks (bazel-bin, bazel-<dir>, ...) left by another output base (another user,
# HOME or container on the same checkout) are not recognised as Bazel's own, and //... would then
# descend into bazel-<dir>/external/bazel_tools and fail. Drop them; this run recreates them.
output_base="$(bazel info output_base 2>/dev/null)"
for link in bazel-*; do
  [ -L "$link" ] || continue
  case "$(readlink "$link")" in
    "$output_base"/*) ;;
    *) echo "bazel-test: removing stale symlink $link -> $(readlink "$link")" >&2; rm -f "$link" ;;
  esac
done

exec bazel test --test_output=errors --keep_going "${flags[@]}" -- "${targets[@]}"
