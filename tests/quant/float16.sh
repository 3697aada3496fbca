#!/usr/bin/env bash
# Models stored in float16 (gen_models fp16: float16 input, Conv and Gemm weights, a Cast to
# float16, a float16 Constant, float16 output) are quantized like float32 ones: widen_float16
# makes them compute in float32 inside, every compute node is quantized, OUT keeps the float16
# interface and ONNX Runtime runs it bit for bit as onnx-tqt's interpreter. --keep-float16 gives
# the old behaviour (nothing quantized, a warning); --no-quantize leaves float16 alone.
# Usage: float16.sh ONNX_TQT GEN_MODELS REPO_DIR
set -u
tqt=$1 gen=$2 repo=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$repo/tests/check_lib.sh"

"$gen" fp16 "$T/m.onnx" && "$gen" input16 "$T/calib.npy" 8,1,3,16,16 7 &&
  "$gen" input16 "$T/test.npy" 4,1,3,16,16 8 || { not_ok "generate the model and data"; exit 1; }

# interface MODEL: x and y are still float16 with their shapes
interface() {
  "$tqt" info "$1" >"$T/info" &&
    grep -Eq '^  x +float16\[1,3,16,16\]$' "$T/info" && grep -Eq '^  y +float16\[1,10\]$' "$T/info"
}
# ops MODEL OP: how many OP nodes MODEL has
ops() { "$tqt" info "$1" | awk -v o="$2" '$1 == o { n = $2 } END { print n + 0 }'; }
# bit_exact MODEL: ONNX Runtime equals onnx-tqt's interpreter on the test samples
bit_exact() {
  rm -rf "$T/out" && "$tqt" run -q -o "$T/out" "$1" "$T/test.npy" &&
    node "$repo/tests/ort/ort_batch.js" "$1" "$T/test.npy" --compare "$T/out" --quantized >"$T/ort" ||
    { cat "$T/ort" >&2; return 1; }
}

for calib in random "$T/calib.npy"; do
  q=$T/q.onnx
  "$tqt" -v "$T/m.onnx" "$q" --calib "$calib" 2>"$T/stderr"
  want "quantizes (exit 0)" test $? -eq 0
  want "every compute node is quantized" grep -q "compute nodes 2 of 2 quantized" "$T/stderr"
  want "-v says the interface stays float16" \
    grep -q "widen_float16: input 'x' stays float16, Cast to float32" "$T/stderr"
  want "OUT's input and output are float16 as IN's" interface "$q"
  want "OUT has QuantizeLinear" test "$(ops "$q" QuantizeLinear)" -ge 3
  want "ONNX Runtime equals onnx-tqt bit for bit" bit_exact "$q"
  finish "a float16 model is quantized whole, its interface stays float16 (--calib ${calib##*/})"
done

"$tqt" "$T/m.onnx" "$T/kept.onnx" --calib "$T/calib.npy" --keep-float16 2>"$T/stderr"
want "quantizes (exit 0)" test $? -eq 0
want "no compute node is quantized" grep -q "compute nodes 0 of 2 quantized" "$T/stderr"
want "a warning says so" grep -q "^warning: only 0 of 2 compute nodes" "$T/stderr"
want "OUT has no QuantizeLinear" test "$(ops "$T/kept.onnx" QuantizeLinear)" -eq 0
finish "--keep-float16 leaves the model in float16, unquantized"

"$tqt" "$T/m.onnx" "$T/float.onnx" --no-quantize 2>"$T/stderr"
want "flattens and folds (exit 0)" test $? -eq 0
want "OUT's input and output are float16" interface "$T/float.onnx"
want "no Cast was added" test "$(ops "$T/float.onnx" Cast)" -eq 0
finish "--no-quantize does not widen float16"

echo "float16 models: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
