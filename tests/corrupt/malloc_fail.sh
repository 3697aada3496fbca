#!/usr/bin/env bash
# Allocation failures: `onnx-tqt --no-quantize`, quantizing and `onnx-tqt run` on LeNet with the N-th
# allocation of the process failing (tests/corrupt/failmalloc.c, LD_PRELOAD), for a spread of N
# over all the allocations a run makes. Each run must exit 0 (the failure hit something that
# copes without it) or 1 with one line on stderr and no OUT left, never crash or hang.
#
# usage: malloc_fail.sh ONNX_TQT FAILMALLOC_SO REPO_ROOT [RUNS]   (RUNS per command, default 400)
# Prints the failures (at most 20), then "malloc-fail: N passed, N failed".
set -u
if [ $# -lt 3 ]; then
  echo "usage: malloc_fail.sh ONNX_TQT FAILMALLOC_SO REPO_ROOT [RUNS]" >&2
  exit 2
fi
TQT=$1
SO=$2
ROOT=$3
RUNS=${4:-400}
MNIST=$ROOT/examples/mnist
T=$(mktemp -d "${TMPDIR:-/tmp}/tqt-mallocfail.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
export OPENBLAS_NUM_THREADS=1
passed=0
failed=0
shown=0

# sweep NAME OUT_PATH ARGS...: one counting run, then RUNS runs failing allocation N.
sweep() {
  local name=$1 out=$2
  shift 2
  rm -rf "$T/out" && mkdir "$T/out"
  LD_PRELOAD=$SO TQT_FAIL_MALLOC_COUNT=$T/count "$TQT" "$@" >/dev/null 2>&1 </dev/null || {
    echo "not ok - $name: fails without any allocation failure"; failed=$((failed + 1)); return; }
  local total n step
  total=$(cat "$T/count")
  step=$(( (total + RUNS - 1) / RUNS ))
  [ "$step" -ge 1 ] || step=1
  echo "# $name: $total allocations, every ${step}. one fails once"
  for ((n = 1; n <= total; n += step)); do
    rm -rf "$T/out" && mkdir "$T/out"
    timeout -s KILL 30 env LD_PRELOAD="$SO" TQT_FAIL_MALLOC_AT=$n "$TQT" "$@" >/dev/null 2>"$T/err" </dev/null
    local rc=$? why=""
    if [ "$rc" -eq 137 ]; then
      why="no answer within 30 s"
    elif [ "$rc" -gt 128 ]; then
      why="killed by signal $((rc - 128))"
    elif [ "$rc" -eq 1 ]; then
      [ "$(awk 'END { print NR }' "$T/err")" -eq 1 ] || why="exit 1 with $(awk 'END { print NR }' "$T/err") lines on stderr"
      [ -z "$(ls -A "$T/out")" ] || why="a failed run left $(ls -A "$T/out")"
    elif [ "$rc" -ne 0 ]; then
      why="exit status $rc"
    fi
    if [ -z "$why" ]; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      if [ "$shown" -lt 20 ]; then
        echo "not ok - $name, allocation $n fails: $why"
        sed 's/^/#   /' "$T/err" | head -n 3
        shown=$((shown + 1))
      fi
    fi
  done
}

sweep "convert lenet" "$T/out/out.onnx" --no-quantize -q "$MNIST/lenet.onnx" "$T/out/out.onnx"
sweep "quantize lenet" "$T/out/out.onnx" -q "$MNIST/lenet.onnx" "$T/out/out.onnx" \
  --calib "$MNIST/calib.npy" --calib-count 8
sweep "run lenet" "$T/out" run -q -o "$T/out" "$MNIST/lenet.onnx" "$MNIST/test_data_set_0"
echo "malloc-fail: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
