#!/usr/bin/env bash
# upgrade_opset against ONNX Runtime: every case of the ONNX backend test data (node,
# pytorch-converted, pytorch-operator, simple) whose default-domain opset is below 13, and the
# models upgrade_models builds for the conversions the test data does not reach, are converted
# and must compute what the original computes (or, where ONNX Runtime no longer runs the
# original's opset, the case's expected outputs). The same again with --opset 17 (every case
# below 17) and --opset 21. The CLI, which runs the pass table, converts one case too.
# Usage: upgrade_test.sh UPGRADE_CASES UPGRADE_MODELS ONNX_TQT REPO_DIR TESTDATA_DIR
set -u
cases=$1 models=$2 tqt=$3 repo=$4 data=$5
if [ ! -d "$repo/tests/ort/node_modules/onnxruntime-node" ]; then
  echo "skip: ONNX Runtime missing; run: npm ci --ignore-scripts --prefix tests/ort"
  exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/out"
status=0
"$models" "$dir/gen" || status=1
"$cases" "$dir/out" "$dir/list" "$data"/node/*/ "$data"/pytorch-converted/*/ \
  "$data"/pytorch-operator/*/ "$data"/simple/*/ "$dir"/gen/*/ || status=1
node "$repo/tests/passes/upgrade_check.js" --list "$dir/list" || status=1
# to opset 17 too: every case below it, so the opset-13 models of the test data as well
mkdir -p "$dir/out17"
"$cases" --opset 17 "$dir/out17" "$dir/list17" "$data"/node/*/ "$data"/pytorch-converted/*/ \
  "$data"/pytorch-operator/*/ "$data"/simple/*/ "$dir"/gen/*/ || status=1
node "$repo/tests/passes/upgrade_check.js" --list "$dir/list17" || status=1
# and to opset 21 (every case: the test data stops at 17), where the Reduce ops take their axes
# as an input, Split its num_outputs, DFT its axis, and 16-bit Q/DQ exist
mkdir -p "$dir/out21"
"$cases" --opset 21 "$dir/out21" "$dir/list21" "$data"/node/*/ "$data"/pytorch-converted/*/ \
  "$data"/pytorch-operator/*/ "$data"/simple/*/ "$dir"/gen/*/ || status=1
node "$repo/tests/passes/upgrade_check.js" --list "$dir/list21" || status=1
case=$data/pytorch-converted/test_BatchNorm2d_eval
if "$tqt" -q --no-quantize "$case/model.onnx" "$dir/cli.onnx" &&
   node "$repo/tests/passes/upgrade_check.js" "$case	$dir/cli.onnx" >/dev/null; then
  echo "ok - onnx-tqt converts $(basename "$case")"
else
  echo "not ok - onnx-tqt converts $(basename "$case")"
  status=1
fi
exit $status
