#!/usr/bin/env bash
# Threshold retraining benchmark (issue #7): the bundled LeNet, 256 calibration samples,
# 5 epochs (--retrain defaults), one BLAS thread: wall time of the whole conversion with and
# without --retrain, the retraining's share, and peak memory. Target: retraining < 60 s.
# Usage: bench/train.sh [BUILD_DIR] [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
epochs=${2:-5}
meson compile -C "$build" onnx-tqt:executable >/dev/null
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tqt=$build/onnx-tqt
mnist=examples/mnist
now() { date +%s.%N; }
t0=$(now)
"$tqt" -q --threads 1 "$mnist/lenet.onnx" "$dir/static.onnx" --calib "$mnist/calib.npy" --wbits 4
t1=$(now)
if command -v /usr/bin/time >/dev/null; then
  /usr/bin/time -f '%M' -o "$dir/mem" "$tqt" --threads 1 "$mnist/lenet.onnx" "$dir/retrained.onnx" \
    --calib "$mnist/calib.npy" --wbits 4 --retrain --epochs "$epochs" 2>"$dir/log" || { cat "$dir/log"; exit 1; }
else
  "$tqt" --threads 1 "$mnist/lenet.onnx" "$dir/retrained.onnx" --calib "$mnist/calib.npy" --wbits 4 \
    --retrain --epochs "$epochs" 2>"$dir/log" || { cat "$dir/log"; exit 1; }
fi
t2=$(now)
grep '^retrain' "$dir/log" || true
awk -v a="$t0" -v b="$t1" -v c="$t2" -v e="$epochs" 'BEGIN {
  printf "lenet, 256 samples, %d epochs: static %.2f s, with --retrain %.2f s (retraining %.2f s; target < 60 s)\n",
         e, b - a, c - b, (c - b) - (b - a) }'
[ -f "$dir/mem" ] && echo "peak memory with --retrain: $(( $(tail -1 "$dir/mem") / 1024 )) MB"
exit 0
