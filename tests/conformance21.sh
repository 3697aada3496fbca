#!/usr/bin/env bash
# The interpreter at opset 21: every case of the ONNX test data (opsets up to 17), upgraded to
# opset 21 as --opset 21 does, must still compute what the case expects wherever the original
# passes (conformance/passing.txt). The upgrade's own check (passes/upgrade_test.sh) compares the
# two models in ONNX Runtime; this one runs the opset-18..21 versions of the ops in onnx-tqt's
# interpreter: Reduce ops with axes as an input, Split with num_outputs, DFT with an axis input.
# Usage: conformance21.sh UPGRADE_CASES CONFORMANCE PASSING_TXT TESTDATA_DIR
set -u
cases=$1 conformance=$2 passing=$3 data=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/out"
roots=(node pytorch-converted pytorch-operator simple)
"$cases" --opset 21 "$dir/out" "$dir/list" "$data"/node/*/ "$data"/pytorch-converted/*/ \
  "$data"/pytorch-operator/*/ "$data"/simple/*/ | tail -n 1 || exit 1
# a case folder per converted model: the converted model.onnx beside the original's data sets
while IFS=$'\t' read -r case model; do
  rel=${case#"$data"/}
  rel=${rel%/}
  mkdir -p "$dir/tree/$rel"
  ln -s "$model" "$dir/tree/$rel/model.onnx"
  ln -s "$case"/test_data_set_* "$dir/tree/$rel/"
  echo "$rel"
done <"$dir/list" | LC_ALL=C sort >"$dir/converted"
LC_ALL=C sort "$passing" | LC_ALL=C comm -12 - "$dir/converted" >"$dir/expect"
echo "# $(wc -l <"$dir/expect") of the $(wc -l <"$passing") passing cases converted to opset 21"
mkdir -p "${roots[@]/#/$dir/tree/}"
"$conformance" --expect "$dir/expect" "${roots[@]/#/$dir/tree/}"
