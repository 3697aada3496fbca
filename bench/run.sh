#!/usr/bin/env bash
# Interpreter speed against ONNX Runtime, one thread each, same inputs and machine:
# the bundled LeNet on its 256 calibration samples, a generated ResNet-18 (batch 1, 224x224) and,
# when fetched, the models of the real-model corpus. Prints per-sample times, the ratio
# onnx-tqt / ONNX Runtime, onnx-tqt's peak memory, and the corpus's geometric mean ratio.
# Usage: bench/run.sh [BUILD_DIR] [RESNET_SAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
samples=${2:-8}
meson compile -C "$build" onnx-tqt:executable gen_models >/dev/null
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$build/tests/gen_models" resnet18 "$dir/resnet18.onnx"
"$build/tests/gen_models" input "$dir/resnet_in.npy" "$samples,3,224,224" 7

bench_one() { # name model input
  local name=$1 model=$2 input=$3 ours ort peak
  /usr/bin/time -f '%M' -o "$dir/rss" "$build/onnx-tqt" run -q --time --threads 1 -o "$dir/out" \
    "$model" "$input" 2>"$dir/ours.txt" || { cat "$dir/ours.txt"; return 1; }
  ours=$(sed -n 's/^time: \([0-9.]*\) ms per sample/\1/p' "$dir/ours.txt")
  ort=$(node tests/ort/ort_batch.js "$model" "$input" --time --compare "$dir/out" --rtol 1e-3 --atol 1e-4 |
    tee "$dir/ort.txt" | sed -n 's/^ort time: \([0-9.]*\) ms per sample/\1/p')
  peak=$(cat "$dir/rss")
  grep -v '^ort time' "$dir/ort.txt" | sed 's/^/  /'
  awk -v n="$name" -v a="$ours" -v b="$ort" -v p="$peak" 'BEGIN {
    printf "%-10s onnx-tqt %8.3f ms, ONNX Runtime %8.3f ms per sample: ratio %.2f; onnx-tqt peak RSS %.0f MB\n",
      n, a, b, a / b, p / 1024 }'
}
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
bench_one lenet examples/mnist/lenet.onnx examples/mnist/calib.npy
bench_one resnet18 "$dir/resnet18.onnx" "$dir/resnet_in.npy"
# The real-model corpus (issue #12, fetched by ./setup.sh): each float model on its evaluation
# samples of size A, one thread each, and the geometric mean of the ratios (issue #13's goal:
# <= 1.0 on the CNNs, <= 1.3 on every model).
cache=${ONNX_TQT_CORPUS:-/var/cache/onnx-tqt/corpus}
if [ -d "$cache/models" ]; then
  : >"$dir/ratios"
  while IFS=$'\t' read -r name _; do
    [[ -z $name || $name == \#* ]] && continue
    model=$cache/models/$name.onnx
    [ -f "$model" ] || continue
    node tests/corpus/gen_inputs.js tests/corpus/models.tsv "$cache/models" "$dir/corpus" "$name" \
      >"$dir/gen.txt" 2>&1 || { echo "$name: no inputs: $(tail -n 1 "$dir/gen.txt")"; continue; }
    "$build/onnx-tqt" run -q --time --threads 1 -o "$dir/out" "$model" "$dir/corpus/$name/evalA" \
      2>"$dir/ours.txt" || { echo "$name: $(tail -n 1 "$dir/ours.txt")"; continue; }
    ours=$(sed -n 's/^time: \([0-9.]*\) ms per sample/\1/p' "$dir/ours.txt")
    ort=$(node tests/corpus/corpus_ort.js ort "$model" "$dir/corpus/$name/evalA" "$dir/ort-out" |
      sed -n 's/^ms \([0-9.]*\)/\1/p')
    awk -v m="$name" -v a="$ours" -v b="$ort" -v f="$dir/ratios" 'BEGIN {
      printf "%-19s onnx-tqt %9.2f ms, ONNX Runtime %9.2f ms per sample: ratio %.2f\n", m, a, b, a / b
      print a / b >>f }'
  done <tests/corpus/models.tsv
  awk '{ s += log($1); n++ } END { if (n) printf "corpus: geometric mean of %d ratios %.2f (goal <= 1.3)\n", n, exp(s / n) }' "$dir/ratios"
fi
