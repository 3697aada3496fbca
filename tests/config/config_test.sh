#!/usr/bin/env bash
# The config file (--config FILE.json) end to end on examples/mnist/lenet.onnx: calib paths taken
# from the config's folder, per-op-type bits, node exclusion by regex, flags overriding the file,
# one-line usage errors (exit 2) naming the file and the key, and a folder of PNG digits with a
# preprocess block calibrating exactly as the same digits from the .npy do.
#
# usage: config_test.sh ONNX_TQT REPO_DIR [MAKE_DIGIT_PNGS]
#   ONNX_TQT         the onnx-tqt executable
#   REPO_DIR         the source tree (examples/mnist)
#   MAKE_DIGIT_PNGS  tests/config/make_digit_pngs.c built (default: tests/make_digit_pngs beside
#                    ONNX_TQT in the build tree)
# Prints "ok - NAME" or "not ok - NAME" per check (reasons follow as "#" lines), then
# "config: N passed, N failed"; exits 1 when a check failed, 2 on wrong arguments.
set -u

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: config_test.sh ONNX_TQT REPO_DIR [MAKE_DIGIT_PNGS]" >&2
  exit 2
fi
TQT=$(realpath "$1")
ROOT=$(realpath "$2")
PNGS=${3:-$(dirname "$TQT")/tests/make_digit_pngs}
MNIST=$ROOT/examples/mnist
LENET=$MNIST/lenet.onnx
[ -x "$TQT" ] || { echo "config_test.sh: $TQT is not an executable" >&2; exit 2; }
for f in "$LENET" "$MNIST/calib.npy" "$MNIST/test_images.npy"; do
  [ -f "$f" ] || { echo "config_test.sh: $f is missing" >&2; exit 2; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/tqt-config.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
mkdir "$T/cfg" "$T/elsewhere" "$T/out"

. "$(dirname "$0")/../check_lib.sh"

# run COMMAND...: runs it from $T/elsewhere (so that relative paths in a config can only resolve
# through the config's folder) with stdout, stderr and the exit status in $T/stdout, $T/stderr, $rc.
run() {
  (cd "$T/elsewhere" && "$@") >"$T/stdout" 2>"$T/stderr" </dev/null
  rc=$?
}

# The count of an op in `onnx-tqt info MODEL` (0 when absent).
op_count() { "$TQT" info "$1" | awk -v op="$2" '$1 == op && NF == 2 { n = $2 } END { print n + 0 }'; }

# expect_usage_error NAME CONFIG_TEXT PATTERN: the config gives exit 2, one stderr line that
# names the config file and matches PATTERN (grep -E), no OUT.
expect_usage_error() {
  local name=$1 text=$2 pattern=$3
  printf '%s\n' "$text" >"$T/cfg/bad.json"
  rm -f "$T/out/bad.onnx"
  run "$TQT" "$LENET" "$T/out/bad.onnx" --config "$T/cfg/bad.json"
  want "exit status 2 (got $rc)" test "$rc" -eq 2
  want "exactly one line on stderr (got $(lines "$T/stderr"))" test "$(lines "$T/stderr")" -eq 1
  want "stderr names the config file" grep -qF "$T/cfg/bad.json" "$T/stderr"
  want "stderr matches /$pattern/" grep -Eq "$pattern" "$T/stderr"
  want "no OUT written" test ! -e "$T/out/bad.onnx"
  finish "$name"
}

cp "$MNIST/calib.npy" "$T/cfg/calib.npy"

# ---- the config drives the quantization ----

cat >"$T/cfg/config.json" <<'EOF'
{
  "calib": "calib.npy",
  "calib_count": 32,
  "op_types": {"Gemm": {"wbits": 4}},
  "exclude_nodes": ["/conv2/"]
}
EOF
run "$TQT" "$LENET" "$T/out/config.onnx" --config "$T/cfg/config.json" -v
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "OUT written" test -f "$T/out/config.onnx"
want "32 calibration samples from calib.npy beside the config" \
  grep -q "32 calibration samples" "$T/stderr"
want "one node excluded" grep -q "(1 excluded)" "$T/stderr"
# The accumulator note is wbits + abits + ceil(log2 K): 4-bit Gemm weights, 8-bit Conv weights.
want "fc1 (K = 400) has 4-bit weights: 4 + 8 + 9 = 21" \
  grep -q "node '/fc1/Gemm' (Gemm): accumulator 21 of 32 bits" "$T/stderr"
want "fc3 (K = 84) has 4-bit weights: 4 + 8 + 7 = 19" \
  grep -q "node '/fc3/Gemm' (Gemm): accumulator 19 of 32 bits" "$T/stderr"
want "conv1 (K = 25) keeps 8-bit weights: 8 + 8 + 5 = 21" \
  grep -q "node '/conv1/Conv' (Conv): accumulator 21 of 32 bits" "$T/stderr"
want "the excluded conv2 has no accumulator note" \
  test "$(grep -c "node '/conv2/Conv' (Conv): accumulator" "$T/stderr")" -eq 0
finish "config: calib beside the config, Gemm wbits 4 via op_types, exclude_nodes by regex"

# The same exclusion and data from flags alone: the Q/DQ structure must be the same.
run "$TQT" "$LENET" "$T/out/flags.onnx" --calib "$T/cfg/calib.npy" --calib-count 32 \
  --exclude-nodes '/conv2/'
want "flags run exits 0 (got $rc)" test "$rc" -eq 0
run "$TQT" "$LENET" "$T/out/plain.onnx" --calib "$T/cfg/calib.npy" --calib-count 32
want "plain run exits 0 (got $rc)" test "$rc" -eq 0
if [ -f "$T/out/config.onnx" ] && [ -f "$T/out/flags.onnx" ] && [ -f "$T/out/plain.onnx" ]; then
  q_config=$(op_count "$T/out/config.onnx" QuantizeLinear)
  dq_config=$(op_count "$T/out/config.onnx" DequantizeLinear)
  q_flags=$(op_count "$T/out/flags.onnx" QuantizeLinear)
  dq_flags=$(op_count "$T/out/flags.onnx" DequantizeLinear)
  q_plain=$(op_count "$T/out/plain.onnx" QuantizeLinear)
  dq_plain=$(op_count "$T/out/plain.onnx" DequantizeLinear)
  want "QuantizeLinear count equals the --exclude-nodes run ($q_config vs $q_flags)" \
    test "$q_config" -eq "$q_flags"
  want "DequantizeLinear count equals the --exclude-nodes run ($dq_config vs $dq_flags)" \
    test "$dq_config" -eq "$dq_flags"
  want "excluding conv2 changes the Q/DQ nodes (Q $q_config/$q_plain, DQ $dq_config/$dq_plain)" \
    test "$q_config/$dq_config" != "$q_plain/$dq_plain"
  want "conv2's weight and bias lose their DequantizeLinear: plain DQ - Q = config DQ - Q + 2" \
    test $((dq_plain - q_plain)) -eq $((dq_config - q_config + 2))
else
  want "all three models written" false
fi
finish "config: the excluded node has no Q/DQ of its own (same Q/DQ nodes as --exclude-nodes)"

# Flags win over the file.
run "$TQT" "$LENET" "$T/out/override.onnx" --config "$T/cfg/config.json" --calib-count 8 \
  --exclude-nodes /nothing_matches/
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "--calib-count 8 beats calib_count 32" grep -q "8 calibration samples" "$T/stderr"
want "--exclude-nodes replaces the file's list" grep -q "(0 excluded)" "$T/stderr"
want "the unmatched pattern is reported" grep -q "'/nothing_matches/' matches no node" "$T/stderr"
finish "flags override the config file"

# quantize_weights_only: the Gemm nodes stay float with int8 weights; an op type no node has
# is a warning.
cat >"$T/cfg/weights_only.json" <<'EOF'
{"calib": "calib.npy", "calib_count": 8, "quantize_weights_only": ["Gemm", "LSTM"]}
EOF
run "$TQT" -v "$LENET" "$T/out/weights_only.onnx" --config "$T/cfg/weights_only.json" \
  --stats "$T/out/weights_only.json"
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "-v: the Gemm stays float with its reason" \
  grep -q "node '/fc1/Gemm' (Gemm) stays float: weights only (--quantize-weights-only)" "$T/stderr"
want "the op type no node has is a warning" \
  grep -q "^warning: --quantize-weights-only: 'LSTM' matches no node" "$T/stderr"
want "--stats: 3 float Gemm nodes with their int8 weights (rank 2), not their biases" node -e '
  const s = require(process.argv[1]), gemm = s.summary.by_op_type.Gemm;
  const w = s.tensors.filter((t) => t.owner_op === "Gemm");
  process.exit(gemm.float === 3 && !gemm.quantized && s.summary.weights_only.length === 3 &&
    w.length === 3 && w.every((t) => t.kind === "weight") &&
    s.settings.quantize_weights_only.join() === "Gemm,LSTM" ? 0 : 1);' "$T/out/weights_only.json"
finish "config: quantize_weights_only keeps the Gemm nodes float with int8 weights"

# The measured refinements from the file: search, bias correction and equalization off, as the
# flags do.
cat >"$T/cfg/refine.json" <<'EOF'
{"calib": "calib.npy", "calib_count": 8, "search": "off", "bias_correction": "off", "equalize": "off"}
EOF
run "$TQT" -v "$LENET" "$T/out/refine.onnx" --config "$T/cfg/refine.json" --stats "$T/out/refine.json"
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "none runs" bash -c "! grep -Eq 'exponent search|bias correction|equalization' '$T/stderr'"
want "--stats: all off, no record of any" node -e '
  const s = require(process.argv[1]);
  process.exit(s.settings.search === "off" && s.settings.bias_correction === "off" &&
    s.settings.equalize === "off" && !s.summary.search && !s.summary.bias_correction &&
    !s.summary.equalization ? 0 : 1);' "$T/out/refine.json"
finish "config: search, bias_correction and equalize set to off"

# ---- usage errors: exit 2, one line naming the file and the key ----

expect_usage_error "wbits out of range is a usage error naming the key" \
  '{"wbits": 1}' "'wbits' must be an integer from 2 to 16"
expect_usage_error "a method of the wrong type in op_types names the nested key" \
  '{"op_types": {"Conv": {"act_method": 3}}}' "'op_types\.Conv\.act_method' must be one of"
expect_usage_error "an unknown search mode names the key and the modes" \
  '{"search": "sometimes"}' "'search' must be one of \"auto\", \"always\", \"global\", \"off\""
expect_usage_error "an unknown bias correction mode names the key and the modes" \
  '{"bias_correction": "global"}' "'bias_correction' must be one of \"auto\", \"always\", \"off\""
expect_usage_error "an unknown equalization mode names the key and the modes" \
  '{"equalize": "global"}' "'equalize' must be one of \"auto\", \"always\", \"off\""
expect_usage_error "an unknown key is a usage error with a suggestion" \
  '{"calib_cont": 4}' "unknown key 'calib_cont' \(did you mean 'calib_count'\?\)"
expect_usage_error "malformed JSON is a usage error naming line and column" \
  '{"wbits": 4,,}' "bad\.json:1:[0-9]+: not valid JSON"
expect_usage_error "quantize_weights_only must be a list" \
  '{"quantize_weights_only": "LSTM"}' "'quantize_weights_only' must be an array of strings"
expect_usage_error "a bad regex in exclude_nodes is a usage error" \
  '{"exclude_nodes": ["/conv(/"]}' "'exclude_nodes' holds '/conv\(/', which is not a valid regular expression"

rm -f "$T/out/missing.onnx"
run "$TQT" "$LENET" "$T/out/missing.onnx" --config "$T/cfg/none.json" --calib "$T/cfg/calib.npy"
want "exit status 2 (got $rc)" test "$rc" -eq 2
want "exactly one line on stderr" test "$(lines "$T/stderr")" -eq 1
want "stderr names the file" grep -qF "$T/cfg/none.json: cannot read the config file" "$T/stderr"
want "no OUT written" test ! -e "$T/out/missing.onnx"
finish "a missing config file is a usage error"

# ---- a folder of PNG images ----

mkdir "$T/cfg/digits"
if [ -x "$PNGS" ]; then
  "$PNGS" "$MNIST/test_images.npy" "$T/cfg/digits" 16 >"$T/stdout" 2>"$T/stderr"
  rc=$?
  want "make_digit_pngs exits 0 (got $rc)" test "$rc" -eq 0
  want "16 PNGs written" test "$(find "$T/cfg/digits" -name 'digit_*.png' | wc -l)" -eq 16
else
  want "make_digit_pngs ($PNGS) is built" false
fi
finish "16 MNIST test digits written as PNG"

cat >"$T/cfg/images.json" <<'EOF'
{
  "calib": "digits/",
  "preprocess": {"grayscale": true, "size": [28, 28], "mean": [0.1307], "std": [0.3081]}
}
EOF
run "$TQT" "$LENET" "$T/out/png.onnx" --config "$T/cfg/images.json"
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "16 calibration samples" grep -q "16 calibration samples" "$T/stderr"
want "OUT written" test -f "$T/out/png.onnx"
finish "lenet calibrates from a folder of PNG digits with a preprocess block"

run "$TQT" "$LENET" "$T/out/npy16.onnx" --calib "$MNIST/test_images.npy" --calib-count 16
want "the .npy run exits 0 (got $rc)" test "$rc" -eq 0
want "the PNG-calibrated model equals the one calibrated on the same digits from the .npy" \
  cmp -s "$T/out/png.onnx" "$T/out/npy16.onnx"
finish "PNG preprocessing reproduces the .npy values exactly (same output bytes)"

rm -f "$T/out/nopre.onnx"
run "$TQT" "$LENET" "$T/out/nopre.onnx" --calib "$T/cfg/digits"
want "exit status 2 (got $rc)" test "$rc" -eq 2
want "exactly one line on stderr" test "$(lines "$T/stderr")" -eq 1
want "says images need a preprocess block" \
  grep -qF "$T/cfg/digits: images need a preprocess block in the config file" "$T/stderr"
want "no OUT written" test ! -e "$T/out/nopre.onnx"
finish "an image folder without a preprocess block is a usage error"

if [ -f "$T/cfg/digits/digit_000.png" ]; then
  cp -r "$T/cfg/digits" "$T/cfg/broken"
  head -c 100 "$T/cfg/digits/digit_005.png" >"$T/cfg/broken/digit_005.png"
fi
sed 's#"digits/"#"broken"#' "$T/cfg/images.json" >"$T/cfg/broken.json"
rm -f "$T/out/broken.onnx"
run "$TQT" "$LENET" "$T/out/broken.onnx" --config "$T/cfg/broken.json"
want "exit status 1 (got $rc)" test "$rc" -eq 1
want "exactly one line on stderr (got $(lines "$T/stderr"))" test "$(lines "$T/stderr")" -eq 1
want "stderr names the broken file" grep -qF "$T/cfg/broken/digit_005.png" "$T/stderr"
want "no OUT written" test ! -e "$T/out/broken.onnx"
finish "a truncated PNG fails with one line naming it"

echo "config: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
