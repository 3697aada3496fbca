#!/usr/bin/env bash
# Threshold retraining (--retrain) against the static calibration it starts from (same options,
# same samples): the output SQNR against the float model on other inputs must be higher with
# 4-bit weights (the bundled LeNet, generated nets) and no lower with 8-bit ones, from max and
# from 3sd weights; on LeNet the test accuracy must be at least as high; ONNX Runtime must run
# every retrained model bit for bit as onnx-tqt does; the same seed gives the same model, for any
# number of threads; a PRelu
# net trains through its PRelu. Ends with "train: N passed, N failed".
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

# compare LABEL FLOAT_OUT STATIC RETRAINED STRICT(1: must be higher, 0: at least as high) [OUTPUT]
compare() {
  local label=$1 ref=$2 s=$3 r=$4 strict=$5 out=${6:-logits}
  local ss rs
  ss=$(sqnr "$ref" "$dir/$s-out/$out.npy") rs=$(sqnr "$ref" "$dir/$r-out/$out.npy")
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
  strict=$([ "$wb" = 4 ] && echo 1 || echo 0)
  for wm in max 3sd; do # the default weights, and the paper's start
    quantize "lenet-w$wb-$wm-static" "$mnist/lenet.onnx" "$mnist/test_images.npy" \
      --calib "$mnist/calib.npy" --wbits "$wb" --weight-method "$wm" || not_ok "lenet w$wb $wm static"
    if quantize "lenet-w$wb-$wm-retrain" "$mnist/lenet.onnx" "$mnist/test_images.npy" \
      --calib "$mnist/calib.npy" --wbits "$wb" --weight-method "$wm" --retrain --seed 1; then
      ok "lenet w$wb $wm retrain"
    else
      not_ok "lenet w$wb $wm retrain"
    fi
    compare "lenet w$wb ($wm weights)" "$dir/float-out/logits.npy" "lenet-w$wb-$wm-static" "lenet-w$wb-$wm-retrain" "$strict"
    sa=$(acc "$dir/lenet-w$wb-$wm-static-out/logits.npy") ra=$(acc "$dir/lenet-w$wb-$wm-retrain-out/logits.npy")
    echo "# lenet w$wb ($wm weights) accuracy on 1000 test digits: static $sa, retrained $ra"
    if awk -v s="$sa" -v r="$ra" 'BEGIN { exit !(r != "" && r >= s) }'; then
      ok "lenet w$wb ($wm weights) retrained accuracy >= static"
    else
      not_ok "lenet w$wb ($wm weights) retrained accuracy >= static"
    fi
  done
  ort_same "lenet-w$wb-max-retrain" "$mnist/test_images.npy"
done

# deterministic for a seed; KL loss runs
quantize lenet-again "$mnist/lenet.onnx" "$mnist/test_images.npy" --calib "$mnist/calib.npy" \
  --wbits 4 --retrain --seed 1 && cmp -s "$dir/lenet-again.onnx" "$dir/lenet-w4-max-retrain.onnx" &&
  ok "same seed, same model" || not_ok "same seed, same model"
# the samples of a batch spread over --threads workers, their gradients summed in sample order:
# the same model for 1, 2 and 3 threads (the default above: the cores)
for t in 1 3; do
  quantize "lenet-threads$t" "$mnist/lenet.onnx" "$mnist/test_images.npy" --calib "$mnist/calib.npy" \
    --wbits 4 --retrain --seed 1 --threads "$t"
done
cmp -s "$dir/lenet-threads1.onnx" "$dir/lenet-w4-max-retrain.onnx" &&
  cmp -s "$dir/lenet-threads3.onnx" "$dir/lenet-w4-max-retrain.onnx" &&
  ok "--threads 1 and 3 retrain to the same model" || not_ok "--threads 1 and 3 retrain to the same model"
if quantize lenet-kl "$mnist/lenet.onnx" "$mnist/test_images.npy" --calib "$mnist/calib.npy" \
  --wbits 4 --retrain --retrain-loss kl; then
  compare "lenet w4 KL loss" "$dir/float-out/logits.npy" "lenet-w4-max-static" "lenet-kl" 0
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
    strict=$([ "$wb" = 4 ] && echo 1 || echo 0)
    for wm in max 3sd; do
      quantize "mix-w$wb-$wm-static" "$dir/mix.onnx" "$dir/mix_test.npy" --calib "$dir/mix_cal.npy" \
        --wbits "$wb" --weight-method "$wm" --search off --bias-correction off || not_ok "mixnet w$wb $wm static"
      quantize "mix-w$wb-$wm-retrain" "$dir/mix.onnx" "$dir/mix_test.npy" --calib "$dir/mix_cal.npy" \
        --wbits "$wb" --weight-method "$wm" --retrain --search off --bias-correction off &&
        ok "mixnet w$wb $wm retrain" || not_ok "mixnet w$wb $wm retrain"
      compare "mixnet w$wb ($wm weights)" "$dir/mix-float-out/logits.npy" "mix-w$wb-$wm-static" "mix-w$wb-$wm-retrain" "$strict"
    done
    ort_same "mix-w$wb-max-retrain" "$dir/mix_test.npy"
  done
  "$tqt" "$dir/mix.onnx" "$dir/x.onnx" --calib "$dir/mix_cal.npy" --retrain --epochs 1 2>&1 |
    grep -q "Resize.*no backward" && ok "mixnet: the Resize without a backward is reported" ||
    not_ok "mixnet: the Resize without a backward is reported"
else
  not_ok "generate mixnet and inputs"
fi

# PRelu (a face-embedding net's activation): retraining passes its gradient on, from the
# default static result (exponent search and bias correction included).
if "$gen" prelunet "$dir/pn.onnx" && "$gen" input "$dir/pn_cal.npy" 128,3,16,16 9 &&
   "$gen" input "$dir/pn_test.npy" 100,3,16,16 99 &&
   "$tqt" run -q -o "$dir/pn-float-out" "$dir/pn.onnx" "$dir/pn_test.npy"; then
  quantize pn-static "$dir/pn.onnx" "$dir/pn_test.npy" --calib "$dir/pn_cal.npy" --wbits 4 ||
    not_ok "prelunet w4 static"
  "$tqt" "$dir/pn.onnx" "$dir/pn-retrain.onnx" --per-tensor --calib "$dir/pn_cal.npy" --wbits 4 \
    --retrain >"$dir/pn.log" 2>&1 && "$tqt" run -q -o "$dir/pn-retrain-out" "$dir/pn-retrain.onnx" "$dir/pn_test.npy" &&
    ok "prelunet w4 retrain" || not_ok "prelunet w4 retrain"
  ! grep -q "no backward" "$dir/pn.log" && ok "prelunet: every op has a backward (PRelu too)" ||
    not_ok "prelunet: every op has a backward (PRelu too)"
  compare "prelunet w4" "$dir/pn-float-out/embedding.npy" pn-static pn-retrain 1 embedding
  ort_same pn-retrain "$dir/pn_test.npy"
else
  not_ok "generate prelunet and inputs"
fi

echo "train: $passed passed, $failed failed"
[ "$failed" = 0 ]
