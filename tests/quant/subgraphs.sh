#!/usr/bin/env bash
# If/Loop bodies the passes cannot fold are calibrated and quantized like the main graph (issue
# #12). The model (gen_models ifloop): an If on a bool graph input, its then-branch Conv→Relu on
# an outer value, its else-branch another Conv; a Loop whose body holds a MatMul. Calibrated with
# the condition true in every sample: the then-branch and the Loop body get Q/DQ, the else-branch
# stays float and the warning names it; ONNX Runtime runs OUT bit for bit as onnx-tqt's
# interpreter for both condition values. Then --strip, the other way round (the then-branch,
# whose Conv leaves its quantization to the Relu, never taken), and retraining.
# Usage: subgraphs.sh ONNX_TQT GEN_MODELS REPO_DIR
set -u
tqt=$1 gen=$2 repo=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$repo/tests/check_lib.sh"
check=$repo/tests/quant/subgraphs_check.js

# data DIR COND SEED...: one sample folder DIR/sSEED/{x,cond}.npy per seed
data() {
  local dir=$1 cond=$2
  shift 2
  for s in "$@"; do
    mkdir -p "$dir/s$s" && "$gen" input "$dir/s$s/x.npy" 1,3,8,8 "$s" &&
      "$gen" bool "$dir/s$s/cond.npy" "$cond" || return 1
  done
}
"$gen" ifloop "$T/m.onnx" && data "$T/calib-true" 1 11 12 13 14 15 16 17 18 &&
  data "$T/calib-false" 0 11 12 13 14 && data "$T/test-true" 1 91 92 93 &&
  data "$T/test-false" 0 91 92 93 || { not_ok "generate the model and data"; exit 1; }

# ops MODEL GRAPH OP: how many OP nodes GRAPH of MODEL has
ops() { node "$check" ops "$1" | awk -v g="$2" -v o="$3" '$1 == g && $2 == o { n = $3 } END { print n + 0 }'; }

# bit_exact MODEL: onnx-tqt's interpreter and ONNX Runtime agree on every test sample
bit_exact() {
  local model=$1 s
  for s in "$T"/test-true/s* "$T"/test-false/s*; do
    local out=$T/out/$(basename "$(dirname "$s")")-$(basename "$s")
    rm -rf "$out" && mkdir -p "$out" &&
      "$tqt" run -q -o "$out/tqt" "$model" "x=$s/x.npy" "cond=$s/cond.npy" &&
      node "$check" run "$model" "$out/ort" "x=$s/x.npy" "cond=$s/cond.npy" &&
      node "$check" same "$out/tqt" "$out/ort" >"$out/same" || { cat "$out/same" 2>/dev/null; return 1; }
  done
}

# condition true in calibration: then-branch and Loop body quantized, else-branch float
q=$T/q-true.onnx
"$tqt" -v "$T/m.onnx" "$q" --calib "$T/calib-true" --stats "$T/q-true.json" 2>"$T/stderr"
want "quantizes (exit 0)" test $? -eq 0
want "the then-branch has QuantizeLinear/DequantizeLinear" \
  test "$(ops "$q" if.then_branch QuantizeLinear)" -ge 1 -a "$(ops "$q" if.then_branch DequantizeLinear)" -ge 1
want "the else-branch has no QuantizeLinear" test "$(ops "$q" if.else_branch QuantizeLinear)" -eq 0
want "the Loop body's MatMul is quantized" \
  test "$(ops "$q" loop.body QuantizeLinear)" -ge 1 -a "$(ops "$q" loop.body MatMul)" -eq 1
want "the warning names the else-branch" \
  grep -q "^warning: .*branch never taken.*in body 'else_branch'" "$T/stderr"
want "-v: the else-branch Conv stays float, with its reason" \
  grep -q "(Conv) in body 'else_branch' stays float: in a branch never taken during calibration" "$T/stderr"
want "the summary counts the compute nodes of bodies: 3 of 4 quantized" \
  grep -q "compute nodes 3 of 4 quantized" "$T/stderr"
want "--stats: compute_nodes counts bodies, the float Conv has its reason" node -e '
  const s = (require(process.argv[1]).summary || {}).compute_nodes || {};
  process.exit(s.total === 4 && s.quantized === 3 && s.in_subgraphs === 3 && s.float.length === 1 &&
    /branch never taken/.test(s.float[0].reason) ? 0 : 1);' "$T/q-true.json"
want "ONNX Runtime equals onnx-tqt bit for bit, condition true and false" bit_exact "$q"
finish "If/Loop bodies quantized, the branch never taken stays float (condition true in calibration)"

# --strip: no Q/DQ left in any graph
"$tqt" -q --strip "$q" "$T/stripped.onnx" 2>"$T/stderr"
want "strips (exit 0)" test $? -eq 0
want "no QuantizeLinear/DequantizeLinear in any graph" \
  bash -c '! node "$1" ops "$2" | grep -q "QuantizeLinear"' _ "$check" "$T/stripped.onnx"
finish "--strip removes the Q/DQ of bodies too"

# condition false in calibration: the then-branch Conv→Relu (the Relu quantizes for the Conv)
# stays float as a pair, the else-branch is quantized
q=$T/q-false.onnx
"$tqt" -v "$T/m.onnx" "$q" --calib "$T/calib-false" 2>"$T/stderr"
want "quantizes (exit 0)" test $? -eq 0
want "the then-branch has no QuantizeLinear" test "$(ops "$q" if.then_branch QuantizeLinear)" -eq 0
want "the else-branch has QuantizeLinear" test "$(ops "$q" if.else_branch QuantizeLinear)" -ge 1
want "the warning names the Conv and the Relu of the then-branch" \
  grep -q "^warning: .*(Relu) in body 'then_branch', .*(Conv) in body 'then_branch'" "$T/stderr"
want "ONNX Runtime equals onnx-tqt bit for bit, condition true and false" bit_exact "$q"
finish "If/Loop bodies quantized, the branch never taken stays float (condition false in calibration)"

# retraining: the bodies keep their calibrated thresholds, said once
"$tqt" "$T/m.onnx" "$T/q-retrain.onnx" --calib "$T/calib-true" --retrain --epochs 1 2>"$T/stderr"
want "retrains (exit 0)" test $? -eq 0
want "it says the bodies keep their calibrated thresholds" \
  grep -q "inside If/Loop/Scan bodies .*keep their calibrated thresholds" "$T/stderr"
want "ONNX Runtime equals onnx-tqt bit for bit" bit_exact "$T/q-retrain.onnx"
finish "--retrain on a model with quantized bodies"

echo "quantized subgraphs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
