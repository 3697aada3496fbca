#!/usr/bin/env bash
# Quantization benchmarks (issue #5), on this machine, one BLAS thread:
#   1. calibration wall time against a plain `onnx-tqt run` over the same samples, and the
#      default conversion (with the exponent search, bias correction and channel equalization)
#      against calibration alone, and the share of each;
#   2. peak memory of calibration with 256 samples against 16;
#   3. the int8 model against the float model in ONNX Runtime (one thread, same inputs);
#   4. calibration and the default conversion at 1 and 2 threads (--threads), and calibration
#      against ONNX Runtime running the same samples (issue #13).
# Models: the bundled LeNet (256 calibration samples), a generated ResNet-18 (224x224), and the
# transformers of tests/models (issue #20: a ViT and a BERT-like encoder, exported at opset 13
# and 17; default conversion time, ONNX Runtime int8 against float).
# Usage: bench/quant.sh [BUILD_DIR] [RESNET_SAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-16}
meson compile -C "$build" onnx-tqt:executable gen_models >/dev/null
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tqt=$build/onnx-tqt
"$build/tests/gen_models" resnet18 "$dir/r18.onnx"
"$build/tests/gen_models" input "$dir/r18_in.npy" "$n,3,224,224" 11
"$build/tests/gen_models" input "$dir/r18_in16.npy" "16,3,224,224" 11

measure() { # label command... → seconds and peak MB
  /usr/bin/time -f '%e %M' -o "$dir/t" "$@" >/dev/null 2>"$dir/err" || { cat "$dir/err"; exit 1; }
  read -r secs kb <"$dir/t"
  printf '%s %s\n' "$secs" "$((kb / 1024))"
}

bench_model() { # name model calib
  local name=$1 model=$2 calib=$3
  read -r run_s run_mb < <(measure "$tqt" run -q --threads 1 -o "$dir/out" "$model" "$calib")
  read -r cal_s cal_mb < <(measure "$tqt" -q --threads 1 "$model" "$dir/$name-plain.onnx" --calib "$calib" --search off --bias-correction off --equalize off)
  awk -v n="$name" -v r="$run_s" -v c="$cal_s" 'BEGIN {
    printf "%-9s calibration + quantization %.2f s, plain run %.2f s: ratio %.2f (goal <= 1.3)\n", n, c, r, c / r }'
  # the default conversion: the exponent search, bias correction and channel equalization
  # (issue #19) on top, or their warnings when skipped
  read -r srch_s srch_mb < <(measure "$tqt" --threads 1 "$model" "$dir/$name-s.onnx" --calib "$calib" --bias-correction off --equalize off)
  read -r bias_s bias_mb < <(measure "$tqt" --threads 1 "$model" "$dir/$name-b.onnx" --calib "$calib" --equalize off)
  read -r def_s def_mb < <(measure "$tqt" -v --threads 1 "$model" "$dir/$name-int8.onnx" --calib "$calib")
  local skipped=
  grep -q "exponent search per tensor skipped" "$dir/err" && skipped+=" (search per tensor skipped: past --search auto's budget)"
  grep -q "bias correction skipped" "$dir/err" && skipped+=" (bias correction skipped: past its budget)"
  local judged
  judged=$(sed -n 's/^equalization: \(output SQNR.*\)/\1/p' "$dir/err")
  awk -v n="$name" -v c="$cal_s" -v s="$srch_s" -v b="$bias_s" -v d="$def_s" -v k="$skipped" -v j="${judged:-nothing to equalize}" 'BEGIN {
    printf "%-9s default conversion %.2f s (search %.2f s, bias correction %.2f s, equalization %.2f s: %s), without all three %.2f s: ratio %.2f (goal <= 3)%s\n",
      n, d, s - c, b - s, d - b, j, c, d / c, k }'
}

bench_model lenet examples/mnist/lenet.onnx examples/mnist/calib.npy
bench_model resnet18 "$dir/r18.onnx" "$dir/r18_in.npy"

read -r _ mb16 < <(measure "$tqt" -q --threads 1 examples/mnist/lenet.onnx "$dir/a.onnx" --calib examples/mnist/calib.npy --calib-count 16)
read -r _ mb256 < <(measure "$tqt" -q --threads 1 examples/mnist/lenet.onnx "$dir/b.onnx" --calib examples/mnist/calib.npy --calib-count 256)
awk -v a="$mb16" -v b="$mb256" 'BEGIN { printf "lenet     peak memory: 16 samples %d MB, 256 samples %d MB: ratio %.2f (goal <= 1.1)\n", a, b, b / a }'
read -r _ mb16 < <(measure "$tqt" -q --threads 1 "$dir/r18.onnx" "$dir/a.onnx" --calib "$dir/r18_in16.npy")
read -r _ mbn < <(measure "$tqt" -q --threads 1 "$dir/r18.onnx" "$dir/b.onnx" --calib "$dir/r18_in.npy")
awk -v a="$mb16" -v b="$mbn" -v n="$n" 'BEGIN { printf "resnet18  peak memory: 16 samples %d MB, %d samples %d MB: ratio %.2f\n", a, n, b, b / a }'

ort_time() { node tests/ort/ort_batch.js "$@" --time | sed -n 's/^ort time: \([0-9.]*\) ms per sample/\1/p'; }
f=$(ort_time "$dir/r18.onnx" "$dir/r18_in.npy")
q=$(ort_time "$dir/resnet18-int8.onnx" "$dir/r18_in.npy")
awk -v f="$f" -v q="$q" 'BEGIN { printf "resnet18  ONNX Runtime, one thread: float %.2f ms, int8 %.2f ms per sample: int8/float %.2f\n", f, q, q / f }'
f=$(ort_time examples/mnist/lenet.onnx examples/mnist/calib.npy)
q=$(ort_time "$dir/lenet-int8.onnx" examples/mnist/calib.npy)
awk -v f="$f" -v q="$q" 'BEGIN { printf "lenet     ONNX Runtime, one thread: float %.3f ms, int8 %.3f ms per sample: int8/float %.2f\n", f, q, q / f }'
# the transformers: the default conversion, and ONNX Runtime on the int8 model against the float
enc=tests/models/encoder-data
for opset in 13 17; do
  for name in vit encoder; do
    model=tests/models/$name-opset$opset.onnx
    if [ "$name" = vit ]; then
      calib=(--calib examples/mnist/calib.npy) inputs=(examples/mnist/test_images.npy)
    else
      calib=(--calib "input_ids=$enc/calib_ids.npy" --calib "attention_mask=$enc/calib_mask.npy")
      inputs=("input_ids=$enc/test_ids.npy" "attention_mask=$enc/test_mask.npy")
    fi
    read -r conv_s _ < <(measure "$tqt" -q --threads 1 "$model" "$dir/$name$opset.onnx" "${calib[@]}")
    f=$(ort_time "$model" "${inputs[@]}")
    q=$(ort_time "$dir/$name$opset.onnx" "${inputs[@]}")
    awk -v n="$name$opset" -v c="$conv_s" -v f="$f" -v q="$q" 'BEGIN {
      printf "%-9s default conversion %.1f s; ONNX Runtime, one thread: float %.3f ms, int8 %.3f ms per sample: int8/float %.2f\n", n, c, f, q, q / f }'
  done
done
# --threads (issue #13): calibration samples, the measuring runs and the thresholds spread over
# workers; calibration throughput and the default conversion at 1 and 2 threads (OUT is the same
# bytes), and calibration against ONNX Runtime running the same samples one after the other
threads_bench() { # name model calib samples
  local name=$1 model=$2 calib=$3 count=$4 plain=(--search off --bias-correction off --equalize off)
  read -r c1 _ < <(measure "$tqt" -q --threads 1 "$model" "$dir/$name-t1.onnx" --calib "$calib" "${plain[@]}")
  read -r c2 _ < <(measure "$tqt" -q --threads 2 "$model" "$dir/$name-t2.onnx" --calib "$calib" "${plain[@]}")
  read -r d1 _ < <(measure "$tqt" -q --threads 1 "$model" "$dir/$name-d1.onnx" --calib "$calib")
  read -r d2 _ < <(measure "$tqt" -q --threads 2 "$model" "$dir/$name-d2.onnx" --calib "$calib")
  cmp -s "$dir/$name-t1.onnx" "$dir/$name-t2.onnx" && cmp -s "$dir/$name-d1.onnx" "$dir/$name-d2.onnx" ||
    { echo "$name: --threads 1 and 2 wrote different models"; exit 1; }
  local ort
  ort=$(ort_time "$model" "$calib")
  awk -v n="$name" -v k="$count" -v a="$c1" -v b="$c2" -v d="$d1" -v e="$d2" -v o="$ort" 'BEGIN {
    printf "%-9s calibration of %d samples: 1 thread %.1f samples/s, 2 threads %.1f: speed-up %.2f (goal >= 1.8); default conversion %.2f s / %.2f s: %.2f\n", n, k, k / a, k / b, a / b, d, e, d / e
    printf "%-9s calibration with 2 threads %.2f s against %d x ONNX Runtime one thread %.2f s: ratio %.2f (goal <= 1.5)\n", n, b, k, k * o / 1000, b / (k * o / 1000) }'
}
threads_bench lenet examples/mnist/lenet.onnx examples/mnist/calib.npy \
  "$(node -e "console.log(require('./tests/ort/tensor_io.js').loadTensorFile(process.argv[1]).dims[0])" examples/mnist/calib.npy)"
"$build/tests/gen_models" input "$dir/r18_in64.npy" "64,3,224,224" 11
threads_bench resnet18 "$dir/r18.onnx" "$dir/r18_in64.npy" 64
