#!/usr/bin/env bash
# sh_test helper: expect_output.sh <program> <extended regex> [args...]
# Runs the program (from runfiles) and passes when it exits 0 and its stdout+stderr match the
# regex, like CTest's PASS_REGULAR_EXPRESSION (but also requiring a zero exit status).
set -uo pipefail
prog="$1"
regex="$2"
shift 2
out="$("$prog" "$@" 2>&1)"
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ]; then
  echo "expect_output: $prog exited with $rc" >&2
  exit 1
fi
if ! grep -Eq -- "$regex" <<<"$out"; then
  echo "expect_output: output of $prog does not match: $regex" >&2
  exit 1
fi
