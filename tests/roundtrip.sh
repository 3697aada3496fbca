#!/usr/bin/env bash
# Round trip over the ONNX backend test data, then ONNX Runtime runs every saved model on the
# case's test_data_set_* inputs and compares with the expected outputs (when ORT can run the
# original model at all).
set -u
roundtrip=$1 data=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$data" ]; then
  echo "roundtrip: $data is missing (apt-get install libonnx-testdata)"
  exit 1
fi
rm -rf "$out"
"$roundtrip" "$data" "$out"
rt=$?
node "$here/ort/check_cases.js" --jobs 2 --list "$out/pairs.tsv"
ort=$?
[ $rt -eq 0 ] && [ $ort -eq 0 ]
