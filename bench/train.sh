#!/usr/bin/env bash
# Threshold retraining benchmark (issue #7): the bundled LeNet, 256 calibration samples,
# 5 epochs (--retrain defaults), one thread: wall time of the whole conversion with and without
# --retrain, the retraining's share, and peak memory (target: retraining < 60 s); retraining per
# sample and epoch against a forward run, and with 2 threads.
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
# issue #13: retraining per sample and epoch against a forward run of the quantized model (goal
# <= 4), and with 2 threads (the samples of a batch on 2 workers; the same model)
samples=$(node -e "console.log(require('./tests/ort/tensor_io.js').loadTensorFile(process.argv[1]).dims[0])" \
  "$mnist/calib.npy")
fwd=$("$tqt" run -q --time --threads 1 -o "$dir/out" "$dir/static.onnx" "$mnist/calib.npy" 2>&1 |
  sed -n 's/^time: \([0-9.]*\) ms per sample/\1/p')
t3=$(now)
"$tqt" -q --threads 2 "$mnist/lenet.onnx" "$dir/retrained2.onnx" --calib "$mnist/calib.npy" --wbits 4 \
  --retrain --epochs "$epochs"
t4=$(now)
cmp -s "$dir/retrained.onnx" "$dir/retrained2.onnx" || { echo "--threads 1 and 2 retrained differently"; exit 1; }
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v f="$t4" -v e="$epochs" -v n="$samples" -v w="$fwd" 'BEGIN {
  r = (c - b) - (b - a); per = 1e3 * r / (e * n)
  printf "retraining %.3f ms per sample and epoch, a forward run %.3f ms: ratio %.2f (goal <= 4)\n", per, w, per / w
  printf "with 2 threads: --retrain %.2f s against %.2f s: speed-up %.2f\n", f - d, c - b, (c - b) / (f - d) }'
exit 0
