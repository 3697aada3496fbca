#!/usr/bin/env bash
# onnx-tqt's interpreter against ONNX Runtime on whole models: the bundled LeNet over its 256
# calibration samples, and generated ResNet-18s (BatchNorm folded and unfused) on 2 samples: the
# largest difference must stay within 1e-4 of the output's largest magnitude.
# Usage: interp_vs_ort.sh ONNX_TQT GEN_MODELS REPO_DIR
set -u
tqt=$1 gen=$2 repo=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
passed=0 failed=0
check() { # name model input
  local name=$1 model=$2 input=$3
  if "$tqt" run -q -o "$dir/$name" "$model" "$input" &&
     node "$repo/tests/ort/ort_batch.js" "$model" "$input" --compare "$dir/$name" --max-rel 1e-4; then
    echo "ok - $name"; passed=$((passed + 1))
  else
    echo "not ok - $name"; failed=$((failed + 1))
  fi
}
check lenet "$repo/examples/mnist/lenet.onnx" "$repo/examples/mnist/calib.npy"
"$gen" resnet18 "$dir/r18.onnx" && "$gen" resnet18 "$dir/r18bn.onnx" --bn &&
  "$gen" input "$dir/in.npy" 2,3,224,224 3 || { echo "not ok - generate models"; failed=$((failed + 1)); }
check resnet18 "$dir/r18.onnx" "$dir/in.npy"
check resnet18-bn "$dir/r18bn.onnx" "$dir/in.npy"
echo "interp vs ort: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
