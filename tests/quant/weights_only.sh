#!/usr/bin/env bash
# --quantize-weights-only (issue #12): an LSTM stays float while its W and R are stored as int8
# behind DequantizeLinear (B stays float), and the MatMul before it and the Gemm after it are
# quantized as usual. The model (gen_models lstm): x [5,1,8] → MatMul → Relu → LSTM (hidden 16)
# → Squeeze → Gemm. Without the option W and R stay float32; with it (per tensor, then per
# channel along the gate rows) ONNX Runtime runs OUT as onnx-tqt's interpreter does (the LSTM
# computes in float in both) and the output's SQNR against the float model stays ≥ 25 dB.
# Usage: weights_only.sh ONNX_TQT GEN_MODELS REPO_DIR
set -u
tqt=$1 gen=$2 repo=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$repo/tests/check_lib.sh"
check=$repo/tests/quant/weights_only_check.js

"$gen" lstm "$T/m.onnx" && "$gen" input "$T/calib.npy" 32,5,1,8 7 &&
  "$gen" input "$T/test.npy" 16,5,1,8 99 || { not_ok "generate the model and data"; exit 1; }

# storage MODEL: the LSTM's inputs W, R, B as weights_only_check.js prints them, on one line
storage() { node "$check" "$1" LSTM | awk '$1 >= 1 && $1 <= 3 { $1 = ""; printf "%s;", substr($0, 2) }'; }

# matches_ort MODEL: ONNX Runtime's outputs equal onnx-tqt's interpreter's on the test samples
# (at most 0.1 % of the values one quantization step apart: ort_batch.js --quantized)
matches_ort() {
  rm -rf "$T/out" && "$tqt" run -q -o "$T/out" "$1" "$T/test.npy" &&
    node "$repo/tests/ort/ort_batch.js" "$1" "$T/test.npy" --compare "$T/out" --quantized >"$T/ort" ||
    { cat "$T/ort"; return 1; }
}

"$tqt" -q "$T/m.onnx" "$T/q-plain.onnx" --calib "$T/calib.npy" 2>"$T/stderr"
want "quantizes without the option (exit 0)" test $? -eq 0
want "W, R and B stay float32 initializers" test "$(storage "$T/q-plain.onnx")" = "float;float;float;"
finish "without --quantize-weights-only the LSTM's weights stay float"

# per tensor, then per channel: W [1,64,8] and R [1,64,16] get one scale per row (axis 1)
for mode in per-tensor per-channel; do
  q=$T/q-$mode.onnx flags=(--per-tensor) want_w="int8;int8;float;"
  [ "$mode" = per-channel ] && flags=() want_w="int8 axis=1 scales=64;int8 axis=1 scales=64;float;"
  "$tqt" -v "$T/m.onnx" "$q" --calib "$T/calib.npy" --quantize-weights-only LSTM "${flags[@]}" \
    --stats "$T/$mode.json" 2>"$T/stderr"
  want "quantizes (exit 0)" test $? -eq 0
  want "W and R are int8 behind DequantizeLinear, B stays float32 ($(storage "$q"))" \
    test "$(storage "$q")" = "$want_w"
  want "no warning" bash -c '! grep -q "^warning:" "$1"' _ "$T/stderr"
  want "--stats: MatMul and Gemm quantized, the LSTM float with its reason and int8 W and R" node -e '
    const s = require(process.argv[1]), ops = s.summary.by_op_type;
    const w = s.tensors.filter((t) => t.owner_op === "LSTM").map((t) => t.kind).join();
    const lstm = s.summary.weights_only;
    process.exit(ops.MatMul.quantized === 1 && ops.Gemm.quantized === 1 && ops.LSTM.float === 1 &&
      w === "weight,weight" && lstm.length === 1 && lstm[0].op_type === "LSTM" &&
      lstm[0].reason === "weights only (--quantize-weights-only)" ? 0 : 1);' "$T/$mode.json"
  want "ONNX Runtime matches onnx-tqt" matches_ort "$q"
  want "the output's SQNR against the float model is at least 25 dB" \
    "$tqt" compare "$T/m.onnx" "$q" --data "$T/test.npy" --fail-below-sqnr 25
  finish "--quantize-weights-only LSTM ($mode): int8 W and R, float LSTM, quantized neighbours"
done

"$tqt" "$T/m.onnx" "$T/q-gru.onnx" --calib "$T/calib.npy" --quantize-weights-only LSTM,GRU 2>"$T/stderr"
want "quantizes (exit 0)" test $? -eq 0
want "an op type no node has is a warning" \
  grep -q "^warning: --quantize-weights-only: 'GRU' matches no node" "$T/stderr"
finish "--quantize-weights-only names an op type no node has: a warning"

echo "weights only: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
