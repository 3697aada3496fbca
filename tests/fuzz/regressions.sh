#!/usr/bin/env bash
# The inputs the fuzzers found (tests/fuzz/regressions/*.onnx), each through
# `onnx-tqt --no-quantize IN OUT` and `onnx-tqt info IN`: the exit status that
# regressions/expect.txt gives ("NAME STATUS", 1 when not listed), one line on stderr when it
# fails and nothing left in OUT's folder, no signal, no sanitizer report, at most 20 s.
#
# usage: regressions.sh ONNX_TQT REGRESSIONS_DIR
# Prints "ok - NAME" or "not ok - NAME: why" per input, then "fuzz-regressions: N passed, N failed".
set -u
if [ $# -ne 2 ]; then
  echo "usage: regressions.sh ONNX_TQT REGRESSIONS_DIR" >&2
  exit 2
fi
TQT=$1
DIR=$2
T=$(mktemp -d "${TMPDIR:-/tmp}/tqt-fuzzreg.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
passed=0
failed=0

# problem RC STDERR: what is wrong with a run that had to end with a status of its own, or "".
problem() {
  if grep -Eq 'Sanitizer|runtime error:' "$2"; then
    echo "sanitizer report: $(grep -Em 1 'Sanitizer|runtime error:' "$2")"
  elif [ "$1" -eq 137 ]; then
    echo "no answer within 20 s"
  elif [ "$1" -gt 128 ]; then
    echo "killed by signal $(($1 - 128))"
  fi
}

for model in "$DIR"/*.onnx; do
  name=$(basename "$model")
  want=$(awk -v n="$name" '$1 == n { print $2 }' "$DIR/expect.txt" 2>/dev/null)
  want=${want:-1}
  why=""
  rm -rf "$T/out" && mkdir "$T/out"
  timeout -s KILL 20 "$TQT" --no-quantize -q "$model" "$T/out/out.onnx" >/dev/null 2>"$T/err" </dev/null
  rc=$?
  why=$(problem "$rc" "$T/err")
  if [ -z "$why" ] && [ "$rc" -ne "$want" ]; then
    why="exit $rc, expected $want: $(head -n 1 "$T/err")"
  elif [ -z "$why" ] && [ "$rc" -ne 0 ]; then
    [ "$(awk 'END { print NR }' "$T/err")" -eq 1 ] || why="more than one line on stderr"
    [ -z "$(ls -A "$T/out")" ] || why="a failed run left $(ls -A "$T/out")"
  fi
  if [ -z "$why" ]; then
    timeout -s KILL 20 "$TQT" info "$model" >/dev/null 2>"$T/err" </dev/null
    rc=$?
    why=$(problem "$rc" "$T/err")
    [ -n "$why" ] || [ "$rc" -le 1 ] || why="info: exit $rc"
  fi
  if [ -z "$why" ]; then
    echo "ok - $name"
    passed=$((passed + 1))
  else
    echo "not ok - $name: $why"
    failed=$((failed + 1))
  fi
done
echo "fuzz-regressions: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
