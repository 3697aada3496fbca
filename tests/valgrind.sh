#!/usr/bin/env bash
# The command line's main paths under valgrind (memcheck): quantizing LeNet, `run`, `info`, a
# model that fails to load and one that fails validation. Each must end with no error (invalid
# reads or writes, uses of uninitialised values) and no leak (definite, indirect or possible).
#
# usage: valgrind.sh ONNX_TQT REPO_ROOT
# Prints "ok - NAME" or "not ok - NAME" (with valgrind's summary) per run, then
# "valgrind: N passed, N failed". Skips (exit 77) when valgrind is not installed.
set -u
if [ $# -ne 2 ]; then
  echo "usage: valgrind.sh ONNX_TQT REPO_ROOT" >&2
  exit 2
fi
TQT=$1
ROOT=$2
command -v valgrind >/dev/null || { echo "valgrind: not installed"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/tqt-valgrind.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
MNIST=$ROOT/examples/mnist
passed=0
failed=0

# vg NAME WANT_STATUS ARGS...: onnx-tqt ARGS under memcheck; OpenBLAS runs on one thread (its
# thread pool would only slow valgrind down).
vg() {
  local name=$1 want=$2
  shift 2
  OPENBLAS_NUM_THREADS=1 valgrind --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
    --log-file="$T/vg.log" "$TQT" "$@" >"$T/stdout" 2>"$T/stderr" </dev/null
  local rc=$?
  if [ "$rc" -eq "$want" ] && grep -q 'ERROR SUMMARY: 0 errors' "$T/vg.log"; then
    echo "ok - $name"
    passed=$((passed + 1))
  else
    echo "not ok - $name (exit $rc, expected $want)"
    grep -E 'ERROR SUMMARY|definitely|indirectly|possibly|Invalid|uninitialised' "$T/vg.log" |
      head -n 20 | sed 's/^/#   /'
    sed 's/^/#   stderr: /' "$T/stderr" | head -n 5
    failed=$((failed + 1))
  fi
}

head -c 100 "$MNIST/lenet.onnx" >"$T/truncated.onnx"
printf 'not a model' >"$T/garbage.onnx"
vg "quantize lenet" 0 -q "$MNIST/lenet.onnx" "$T/lenet-int8.onnx" --calib "$MNIST/calib.npy" \
  --calib-count 16
vg "run the quantized lenet" 0 run -q -o "$T/run" "$T/lenet-int8.onnx" "$MNIST/test_data_set_0"
vg "run lenet" 0 run -q -o "$T/run-float" "$MNIST/lenet.onnx" "$MNIST/test_data_set_0"
vg "info lenet" 0 info "$MNIST/lenet.onnx"
vg "info the quantized lenet" 0 info "$T/lenet-int8.onnx"
vg "a truncated model fails" 1 --no-quantize "$T/truncated.onnx" "$T/out.onnx"
vg "garbage fails" 1 info "$T/garbage.onnx"
vg "a missing model fails" 1 run -o "$T/run-missing" "$T/missing.onnx" "$MNIST/test_data_set_0"
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
