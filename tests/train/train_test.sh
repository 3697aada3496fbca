#!/usr/bin/env bash
# Threshold retraining (--retrain) against static calibration on the same samples: the output
# SQNR against the float model on held-out inputs must be higher with 4-bit weights (the bundled
# LeNet and a generated net) and no lower with 8-bit ones; on LeNet the test accuracy must be at
# least as high; ONNX Runtime must run every retrained model bit for bit as onnx-tqt does; the
# same seed gives the same model. Ends with "train: N passed, N failed".
# Usage: train_test.sh ONNX_TQT GEN_MODELS REPO_DIR
set -u
tqt=$1 gen=$2 repo=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/../check_lib.sh"
mnist=$repo/examples/mnist
sqnr() { node "$repo/tests/train/sqnr.js" "$1" "$2" | sed 's/sqnr: //'; }
acc() { node "$mnist/accuracy.js" "$1" "$mnist/test_labels.npy" | sed 's/accuracy: //'; }

# quantize NAME MODEL TEST_INPUT [options...]: the model, its outputs on TEST_INPUT in NAME-out/.
# Weights per tensor: retraining trains per-tensor exponents only (per-channel ones: issue #14).
quantize() {
  local name=$1 model=$2 input=$3
  shift 3
  "$tqt" -q "$model" "$dir/$name.onnx" --per-tensor "$@" &&
    "$tqt" run -q -o "$dir/$name-out" "$dir/$name.onnx" "$input"
}

# compare LABEL FLOAT_OUT STATIC RETRAINED STRICT(1: must be higher, 0: at least as high)
compare() {
  local label=$1 ref=$2 s=$3 r=$4 strict=$5
  local ss rs
  ss=$(sqnr "$ref" "$dir/$s-out/logits.npy") rs=$(sqnr "$ref" "$dir/$r-out/logits.npy")
  echo "# $label: output SQNR static $ss dB, retrained $rs dB"
  if awk -v s="$ss" -v r="$rs" -v k="$strict" 'BEGIN { exit !(s != "" && r != "" && (k ? r > s : r >= s)) }'; then
    ok "$label: retrained SQNR $( [ "$strict" = 1 ] && echo '>' || echo '>=') static"
  else
    not_ok "$label: retrained SQNR $( [ "$strict" = 1 ] && echo '>' || echo '>=') static"
  fi
}

ort_same() {
  if node "$repo/tests/ort/ort_batch.js" "$dir/$1.onnx" "$2" --compare "$dir/$1-out" --quantized; then
    ok "$1: ONNX Runtime runs it as onnx-tqt does"
  else
    not_ok "$1: ONNX Runtime runs it as onnx-tqt does"
  fi
}

"$tqt" run -q -o "$dir/float-out" "$mnist/lenet.onnx" "$mnist/test_images.npy" ||
  not_ok "float lenet run"
for wb in 4 8; do
  # static with the retraining's starting point (weights 3sd) and with the defaults (max)
  quantize "lenet-w$wb-static" "$mnist/lenet.onnx" "$mnist/test_images.npy" \
    --calib "$mnist/calib.npy" --wbits "$wb" || not_ok "lenet w$wb static"
  quantize "lenet-w$wb-static3sd" "$mnist/lenet.onnx" "$mnist/test_images.npy" \
    --calib "$mnist/calib.npy" --wbits "$wb" --weight-method 3sd || not_ok "lenet w$wb static 3sd"
  if quantize "lenet-w$wb-retrain" "$mnist/lenet.onnx" "$mnist/test_images.npy" \
    --calib "$mnist/calib.npy" --wbits "$wb" --retrain --seed 1; then
    ok "lenet w$wb retrain"
  else
    not_ok "lenet w$wb retrain"
  fi
  strict=$([ "$wb" = 4 ] && echo 1 || echo 0)
  compare "lenet w$wb (static: max weights)" "$dir/float-out/logits.npy" "lenet-w$wb-static" "lenet-w$wb-retrain" "$strict"
  compare "lenet w$wb (static: 3sd weights)" "$dir/float-out/logits.npy" "lenet-w$wb-static3sd" "lenet-w$wb-retrain" "$strict"
  sa=$(acc "$dir/lenet-w$wb-static-out/logits.npy") s3=$(acc "$dir/lenet-w$wb-static3sd-out/logits.npy")
  ra=$(acc "$dir/lenet-w$wb-retrain-out/logits.npy")
  echo "# lenet w$wb accuracy on 1000 test digits: static $sa (3sd weights $s3), retrained $ra"
  if awk -v s="$sa" -v t="$s3" -v r="$ra" 'BEGIN { exit !(r != "" && r >= s && r >= t) }'; then
    ok "lenet w$wb retrained accuracy >= static"
  else
    not_ok "lenet w$wb retrained accuracy >= static"
  fi
  ort_same "lenet-w$wb-retrain" "$mnist/test_images.npy"
done

# deterministic for a seed; KL loss runs
quantize lenet-again "$mnist/lenet.onnx" "$mnist/test_images.npy" --calib "$mnist/calib.npy" \
  --wbits 4 --retrain --seed 1 && cmp -s "$dir/lenet-again.onnx" "$dir/lenet-w4-retrain.onnx" &&
  ok "same seed, same model" || not_ok "same seed, same model"
if quantize lenet-kl "$mnist/lenet.onnx" "$mnist/test_images.npy" --calib "$mnist/calib.npy" \
  --wbits 4 --retrain --retrain-loss kl; then
  compare "lenet w4 KL loss" "$dir/float-out/logits.npy" "lenet-w4-static" "lenet-kl" 0
else
  not_ok "lenet --retrain-loss kl"
fi
# usage errors
"$tqt" -q "$mnist/lenet.onnx" "$dir/x.onnx" --calib "$mnist/calib.npy" --retrain --retrain-loss l1 2>/dev/null
[ $? = 2 ] && ok "--retrain-loss l1 is a usage error" || not_ok "--retrain-loss l1 is a usage error"
"$tqt" -q "$mnist/lenet.onnx" "$dir/x.onnx" --calib random --retrain 2>/dev/null
[ $? = 2 ] && ok "--retrain with --calib random is a usage error" || not_ok "--retrain with --calib random is a usage error"

# a generated net (depthwise Conv, Sigmoid, Concat, Resize, MatMul, Gemm, residual Add)
if "$gen" mixnet "$dir/mix.onnx" && "$gen" input "$dir/mix_cal.npy" 256,3,16,16 5 &&
   "$gen" input "$dir/mix_test.npy" 200,3,16,16 77 &&
   "$tqt" run -q -o "$dir/mix-float-out" "$dir/mix.onnx" "$dir/mix_test.npy"; then
  # Retraining against static calibration alone: the exponent search and bias correction (which
  # retraining would start from) are off on both sides here.
  for wb in 4 8; do
    quantize "mix-w$wb-static" "$dir/mix.onnx" "$dir/mix_test.npy" --calib "$dir/mix_cal.npy" \
      --wbits "$wb" --search off --bias-correction off || not_ok "mixnet w$wb static"
    quantize "mix-w$wb-static3sd" "$dir/mix.onnx" "$dir/mix_test.npy" --calib "$dir/mix_cal.npy" \
      --wbits "$wb" --weight-method 3sd --search off --bias-correction off || not_ok "mixnet w$wb static 3sd"
    quantize "mix-w$wb-retrain" "$dir/mix.onnx" "$dir/mix_test.npy" --calib "$dir/mix_cal.npy" \
      --wbits "$wb" --retrain --search off --bias-correction off && ok "mixnet w$wb retrain" || not_ok "mixnet w$wb retrain"
    strict=$([ "$wb" = 4 ] && echo 1 || echo 0)
    compare "mixnet w$wb (static: max weights)" "$dir/mix-float-out/logits.npy" "mix-w$wb-static" "mix-w$wb-retrain" "$strict"
    compare "mixnet w$wb (static: 3sd weights)" "$dir/mix-float-out/logits.npy" "mix-w$wb-static3sd" "mix-w$wb-retrain" "$strict"
    ort_same "mix-w$wb-retrain" "$dir/mix_test.npy"
  done
  "$tqt" "$dir/mix.onnx" "$dir/x.onnx" --calib "$dir/mix_cal.npy" --retrain --epochs 1 2>&1 |
    grep -q "Resize.*no backward" && ok "mixnet: the Resize without a backward is reported" ||
    not_ok "mixnet: the Resize without a backward is reported"
else
  not_ok "generate mixnet and inputs"
fi

echo "train: $passed passed, $failed failed"
[ "$failed" = 0 ]
