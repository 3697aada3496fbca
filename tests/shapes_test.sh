#!/usr/bin/env bash
# The shapes onnx-tqt declares against the shapes ONNX Runtime computes: every model the other
# tests write or generate goes through `onnx-tqt --no-quantize` and through quantization, and
# tests/ort/check_shapes.js compares each value_info entry and graph output of OUT with what
# ONNX Runtime returns for it (a numeric dim must equal, a dim_param must evaluate to the actual
# size under the binding of the input symbols). The generated `symbolic` model (input [N,3,H,W])
# is checked at three bindings, one with odd sizes.
# Usage: shapes_test.sh ONNX_TQT REPO_DIR GEN_MODELS
set -u
tqt=$1 repo=$2 gen=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/check_lib.sh"
checker=$repo/tests/ort/check_shapes.js

# convert NAME IN [onnx-tqt options...]: writes $T/NAME.onnx; prints "not ok" when it fails.
convert() {
  local name=$1 in=$2
  shift 2
  if "$tqt" -q "$in" "$T/$name.onnx" "$@" 2>"$T/stderr"; then return 0; fi
  not_ok "$name: onnx-tqt $* failed"
  sed 's/^/#   /' "$T/stderr" | head -n 5
  return 1
}

# check NAME [check_shapes.js options...]: checks $T/NAME.onnx.
check() {
  local name=$1
  shift
  node "$checker" "$T/$name.onnx" "$@" >"$T/out" 2>"$T/stderr"
  local rc=$? summary
  summary=$(grep '^shapes: ' "$T/out" | tail -n 1)
  # what is not checked: unknown dims, node outputs without value_info, values ORT cannot return
  local extra
  extra=$(sed -n 's/^\(unknown\|undeclared\|skipped\): \([0-9]*\).*/\2 \1/p' "$T/out" | paste -sd, - | sed 's/,/, /g')
  summary="${summary#shapes: }${extra:+; $extra}"
  if [ $rc -eq 0 ]; then
    ok "$name ($summary)"
  else
    not_ok "$name (${summary:-no summary})"
    grep -v '^shapes: ' "$T/out" | sed 's/^/#   /' | head -n 40
    sed 's/^/#   stderr: /' "$T/stderr" | head -n 5
  fi
}

# both NAME IN CALIB [options for both...]: NAME-float (--no-quantize) and NAME-int8 (--calib).
both() {
  local name=$1 in=$2 calib=$3
  shift 3
  convert "$name-float" "$in" --no-quantize "$@" && check "$name-float"
  convert "$name-int8" "$in" --calib "$calib" "$@" && check "$name-int8"
}

mnist=$repo/examples/mnist
both lenet "$mnist/lenet.onnx" "$mnist/calib.npy"

if "$gen" resnet18 "$T/r18.onnx" && "$gen" resnet18 "$T/r18bn.onnx" --bn &&
   "$gen" input "$T/r18_in.npy" 2,3,224,224 9 && "$gen" mixnet "$T/mixnet.onnx" &&
   "$gen" input "$T/mix_in.npy" 32,3,16,16 5 && "$gen" passmix "$T/passmix.onnx" &&
   "$gen" symbolic "$T/symbolic.onnx" && "$gen" input "$T/sym_in.npy" 2,3,32,48 4; then
  both resnet18 "$T/r18.onnx" "$T/r18_in.npy"
  both resnet18-bn "$T/r18bn.onnx" "$T/r18_in.npy"
  both mixnet "$T/mixnet.onnx" "$T/mix_in.npy"
  both passmix "$T/passmix.onnx" random
  # symbolic input dims: calibrated at [2,3,32,48], the written model keeps N, H and W
  binds=(--bind N=1,H=32,W=48 --bind N=2,H=64,W=40 --bind N=3,H=37,W=29)
  convert symbolic-float "$T/symbolic.onnx" --no-quantize && check symbolic-float "${binds[@]}"
  convert symbolic-int8 "$T/symbolic.onnx" --calib "$T/sym_in.npy" && check symbolic-int8 "${binds[@]}"
  # --static-shapes: the user's choice to fix the dims to the calibration data's, said on stderr
  if "$tqt" "$T/symbolic.onnx" "$T/symbolic-static.onnx" --calib "$T/sym_in.npy" --static-shapes \
      2>"$T/stderr" >/dev/null; then
    want "stderr says what --static-shapes fixed" grep -q "input 'input' fixed to \[2,3,32,48\]" "$T/stderr"
    want "OUT's input is static" grep -Eq '^  input +float\[2,3,32,48\]$' <("$tqt" info "$T/symbolic-static.onnx")
    finish "symbolic --static-shapes fixes the input to the first sample's shape"
    check symbolic-static
  else
    not_ok "symbolic --static-shapes: onnx-tqt failed"
  fi
else
  not_ok "generate models and inputs"
fi

fixtures=$repo/tests/fixtures
both functions "$fixtures/functions.onnx" random
both opset9 "$fixtures/opset9.onnx" random
convert nested_if-float "$fixtures/nested_if.onnx" --no-quantize && check nested_if-float
both nested_if-frozen "$fixtures/nested_if.onnx" random --set-input flag=true --set-input mode=false

echo "shapes: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
