#!/usr/bin/env bash
# The onnx-tqt command line as users and scripts see it: exit codes, one-line errors naming the
# file, info output, and that a failed run leaves no OUT (nor a temporary file) and never touches
# IN.
#
# usage: cli_test.sh ONNX_TQT REPO_ROOT MAKE_FIXTURES
#   ONNX_TQT       the onnx-tqt executable
#   REPO_ROOT      the source tree (for examples/mnist/lenet.onnx)
#   MAKE_FIXTURES  the make_fixtures executable (tests/cli/make_fixtures.c)
# Prints "ok - NAME" or "not ok - NAME" per check (reasons follow as "#" lines), then
# "cli: N passed, N failed"; exits 1 when a check failed, 2 on wrong arguments.
set -u

if [ $# -ne 3 ]; then
  echo "usage: cli_test.sh ONNX_TQT REPO_ROOT MAKE_FIXTURES" >&2
  exit 2
fi
TQT=$1
ROOT=$2
MAKE_FIXTURES=$3
LENET=$ROOT/examples/mnist/lenet.onnx
for f in "$TQT" "$MAKE_FIXTURES"; do
  [ -x "$f" ] || { echo "cli_test.sh: $f is not an executable" >&2; exit 2; }
done
[ -f "$LENET" ] || { echo "cli_test.sh: $LENET is missing" >&2; exit 2; }

T=$(mktemp -d "${TMPDIR:-/tmp}/tqt-cli.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
mkdir "$T/in" "$T/work"

. "$(dirname "$0")/../check_lib.sh"

# run COMMAND...: runs it with stdout, stderr and the exit status in $T/stdout, $T/stderr, $rc.
run() {
  "$@" >"$T/stdout" 2>"$T/stderr" </dev/null
  rc=$?
}


# The names in a folder (`hidden`: only those starting with a dot), sorted, joined by a space.
names_in() {
  find "$1" -mindepth 1 -maxdepth 1 "${@:2}" -printf '%f\n' | LC_ALL=C sort | paste -sd' '
}
listing() { names_in "$1"; }
hidden() { names_in "$1" -name '.*'; }

# What a path holds: the sha256 of a file, the listing of a folder, or "missing".
fingerprint() {
  if [ -f "$1" ]; then
    sha256sum <"$1" | cut -d' ' -f1
  elif [ -d "$1" ]; then
    echo "folder: $(listing "$1")"
  elif [ -e "$1" ]; then
    echo "other"
  else
    echo "missing"
  fi
}

# The info report without its first line ("model: PATH").
info_body() { "$TQT" info "$1" | tail -n +2; }

expect_usage_error() { # NAME ARGS...
  local name=$1
  shift
  run "$TQT" "$@"
  want "exit status 2 (got $rc)" test "$rc" -eq 2
  want "exactly one line on stderr (got $(lines "$T/stderr"))" test "$(lines "$T/stderr")" -eq 1
  want "nothing on stdout" test ! -s "$T/stdout"
  finish "$name"
}

# ---- help, version, usage errors ----

run "$TQT" --help
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "help mentions the info subcommand" grep -q "info" "$T/stdout"
want "nothing on stderr" test ! -s "$T/stderr"
finish "--help exits 0 and mentions info"

# every long option the command parses is taught by --help (the table in cli_convert.c)
run "$TQT" --help
missing=$(sed -n 's/^ *{"\([a-z0-9-]*\)", \(no\|required\)_argument.*/\1/p' "$ROOT/src/cli/cli_convert.c" |
  while read -r opt; do grep -q -- "--$opt\b" "$T/stdout" || echo "--$opt"; done)
want "the option table was read" test "$(sed -n 's/^ *{"\([a-z0-9-]*\)", \(no\|required\)_argument.*/\1/p' \
  "$ROOT/src/cli/cli_convert.c" | wc -l)" -gt 40
want "--help names every option (missing: ${missing:-none})" test -z "$missing"
finish "--help names every option of the command"

run "$TQT" --version
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "prints onnx-tqt and a version" grep -Eq '^onnx-tqt [0-9]+\.[0-9]+' "$T/stdout"
want "nothing on stderr" test ! -s "$T/stderr"
finish "--version exits 0"

expect_usage_error "unknown long option is a usage error" --no-such-option "$LENET" "$T/work/x.onnx"
expect_usage_error "unknown short option is a usage error" -Z "$LENET" "$T/work/x.onnx"
expect_usage_error "no arguments is a usage error"
expect_usage_error "IN without OUT is a usage error" "$LENET"
expect_usage_error "three models is a usage error" "$LENET" "$T/work/a.onnx" "$T/work/b.onnx"
expect_usage_error "info without a model is a usage error" info
expect_usage_error "info with an unknown option is a usage error" info --no-such-option "$LENET"
run "$TQT" --no-quantize "$LENET" "$T/work/x.onnx" --keep-outputs logits,nope
want "exit status 2 (got $rc)" test "$rc" -eq 2
want "exactly one line on stderr, naming the output" \
  test "$(lines "$T/stderr")" -eq 1 -a "$(grep -c "no output 'nope'" "$T/stderr")" -eq 1
finish "--keep-outputs naming no output of the model is a usage error"
expect_usage_error "--opset past 21 is a usage error" --opset 22 "$LENET" "$T/work/x.onnx"
expect_usage_error "--abits past 16 is a usage error" --abits 17 "$LENET" "$T/work/x.onnx"
# 16 bits need opset 21: said before calibration, in one line that names --opset 21
run "$TQT" "$LENET" "$T/work/x.onnx" --calib "$ROOT/examples/mnist/calib.npy" --abits 16
want "exit status 1 (got $rc)" test "$rc" -eq 1
want "one line naming --opset 21" \
  test "$(lines "$T/stderr")" -eq 1 -a "$(grep -c -- "needs opset 21 (--opset 21)" "$T/stderr")" -eq 1
want "no calibration ran" test "$(grep -c calibrat "$T/stderr")" -eq 0
finish "--abits 16 at opset 13 is refused before calibration"
expect_usage_error "--auto-bits takes a number of dB" --auto-bits lots "$LENET" "$T/work/x.onnx"
expect_usage_error "--bits-choices must ascend" --auto-bits 30 --bits-choices 16,8 "$LENET" \
  "$T/work/x.onnx"
expect_usage_error "--auto-bits-config needs --auto-bits" --auto-bits-config "$T/work/c.json" \
  "$LENET" "$T/work/x.onnx"
run "$TQT" "$LENET" "$T/work/x.onnx" --calib "$ROOT/examples/mnist/calib.npy" --auto-bits 40
want "exit status 1 (got $rc)" test "$rc" -eq 1
want "one line naming --opset 21" \
  test "$(lines "$T/stderr")" -eq 1 -a "$(grep -c -- "--bits-choices up to 16 needs opset 21 (--opset 21)" "$T/stderr")" -eq 1
finish "--auto-bits with 16-bit choices at opset 13 is refused before calibration"
want "usage errors write no OUT" test -z "$(listing "$T/work")"
finish "usage errors leave the output folder empty"

# ---- info ----

cp "$LENET" "$T/in/lenet.onnx"
IN=$T/in/lenet.onnx
run "$TQT" info "$IN"
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "nothing on stderr" test ! -s "$T/stderr"
want "first line names the model" grep -qxF "model: $IN" "$T/stdout"
want "opset ai.onnx 13" grep -Eq '^opsets: .*ai\.onnx 13' "$T/stdout"
want "input 'input' float[1,1,28,28]" grep -Eq '^  input +float\[1,1,28,28\]$' "$T/stdout"
want "output 'logits' float[1,10]" grep -Eq '^  logits +float\[1,10\]$' "$T/stdout"
for count in "Conv 2" "Gemm 3" "Relu 4" "MaxPool 2" "BatchNormalization 2" "Flatten 1"; do
  want "op count '$count'" grep -Eq "^  ${count% *} +${count#* }\$" "$T/stdout"
done
want "14 nodes" grep -q '^nodes: 14 ' "$T/stdout"
finish "info lenet prints opset, input, output and op counts"

# ---- converting ----

mkdir "$T/work/convert"
OUT=$T/work/convert/out.onnx
before=$(fingerprint "$IN")
run "$TQT" --no-quantize "$IN" "$OUT"
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "nothing on stderr" test ! -s "$T/stderr"
want "OUT exists" test -f "$OUT"
want "only OUT in its folder (found: $(listing "$T/work/convert"))" \
  test "$(listing "$T/work/convert")" = "out.onnx"
want "IN unchanged" test "$(fingerprint "$IN")" = "$before"
finish "convert lenet writes OUT and nothing else"

head_of() { sed '/^nodes:/,$d'; } # IR version, producer, opsets, inputs and outputs
if [ -f "$OUT" ]; then
  want "info of OUT has IN's opsets, inputs and outputs" \
    test "$(info_body "$OUT" | head_of)" = "$(info_body "$IN" | head_of)"
  want "info of OUT names OUT" test "$("$TQT" info "$OUT" | head -n 1)" = "model: $OUT"
  want "the passes folded BatchNormalization" test "$("$TQT" info "$OUT" | grep -c BatchNormalization)" = 0
else
  want "OUT exists" false
fi
finish "info of converted lenet keeps its interface"

cp "$OUT" "$T/work/convert/previous.onnx" 2>/dev/null
run "$TQT" --no-quantize "$IN" "$OUT"
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "same bytes as the first run" cmp -s "$OUT" "$T/work/convert/previous.onnx"
want "no temporary file left (found: $(listing "$T/work/convert"))" \
  test "$(listing "$T/work/convert")" = "out.onnx previous.onnx"
finish "convert over an existing OUT replaces it with the same bytes"

mkdir "$T/work/external"
EXT=$T/work/external/out.onnx
run "$TQT" --no-quantize --external-data "$IN" "$EXT"
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "OUT and OUT.data, nothing else (found: $(listing "$T/work/external"))" \
  test "$(listing "$T/work/external")" = "out.onnx out.onnx.data"
strip_external() { sed -E 's/ \([0-9]+ in external data\)$//'; }
if [ -f "$EXT" ]; then
  want "info equals info of the plain OUT (external data aside)" \
    test "$(info_body "$EXT" | strip_external)" = "$(info_body "$OUT")"
  want "info counts tensors in external data" grep -q "in external data" <("$TQT" info "$EXT")
fi
run "$TQT" --no-quantize "$EXT" "$T/work/external/back.onnx"
want "converting it back exits 0 (got $rc)" test "$rc" -eq 0
want "the model converted back equals the first OUT" cmp -s "$T/work/external/back.onnx" "$OUT"
finish "convert --external-data writes OUT.data and reads it back"

# ---- bad inputs: exit 1, one line naming IN, no OUT, IN untouched ----

"$MAKE_FIXTURES" "$T/in" >"$T/stdout" 2>"$T/stderr"
rc=$?
want "make_fixtures exits 0 (got $rc)" test "$rc" -eq 0
for f in undefined cycle unproduced unsorted; do
  want "$f.onnx written" test -f "$T/in/$f.onnx"
done
finish "fixture models are written"

mkdir "$T/in/a_folder"
# Random bytes, the same on every run.
LC_ALL=C awk 'BEGIN { srand(20240229)
  for (i = 0; i < 4096; i++) printf "%c", int(rand() * 255) + 1 }' </dev/null >"$T/in/random.onnx"
: >"$T/in/empty.onnx"
head -c 1000 "$IN" >"$T/in/lenet_1000_bytes.onnx"
head -c "$(($(wc -c <"$IN") / 2))" "$IN" >"$T/in/lenet_half.onnx"

case_number=0
# expect_bad_input NAME IN: converting IN fails with exit 1 and one stderr line naming IN, leaves
# the output folder empty (no OUT, no temporary .OUT.* file) and IN as it was.
expect_bad_input() {
  local name=$1 in=$2
  case_number=$((case_number + 1))
  local outdir=$T/work/bad$case_number
  mkdir "$outdir"
  local before
  before=$(fingerprint "$in")
  run "$TQT" --no-quantize "$in" "$outdir/out.onnx"
  want "exit status 1 (got $rc)" test "$rc" -eq 1
  want "exactly one line on stderr (got $(lines "$T/stderr"))" test "$(lines "$T/stderr")" -eq 1
  want "stderr names $in" grep -qF -- "$in" "$T/stderr"
  want "no OUT nor temporary file (found: $(listing "$outdir"))" \
    test -z "$(listing "$outdir")"
  want "IN unchanged" test "$(fingerprint "$in")" = "$before"
  finish "$name"
}

expect_bad_input "missing IN fails naming it" "$T/in/no_such_model.onnx"
want "IN still missing" test ! -e "$T/in/no_such_model.onnx"
finish "missing IN is not created"
expect_bad_input "a folder as IN fails naming it" "$T/in/a_folder"
expect_bad_input "random bytes fail naming the file" "$T/in/random.onnx"
expect_bad_input "an empty file fails naming it" "$T/in/empty.onnx"
expect_bad_input "lenet cut after 1000 bytes fails naming it" "$T/in/lenet_1000_bytes.onnx"
expect_bad_input "lenet cut in half fails naming it" "$T/in/lenet_half.onnx"
expect_bad_input "a node reading an undefined name fails naming the file" "$T/in/undefined.onnx"
want "stderr names the node and the name" grep -q "add_ghost.*ghost" "$T/stderr"
finish "undefined name: the message names node and input"
expect_bad_input "a cycle fails naming the file" "$T/in/cycle.onnx"
want "stderr names a node of the cycle" grep -Eq "ring_a|ring_b" "$T/stderr"
finish "cycle: the message names a node of the cycle"
expect_bad_input "a graph output nobody produces fails naming the file" "$T/in/unproduced.onnx"
want "stderr names the output" grep -q "not_produced" "$T/stderr"
finish "unproduced output: the message names the output"

mkdir "$T/work/unsorted"
run "$TQT" --no-quantize "$T/in/unsorted.onnx" "$T/work/unsorted/out.onnx"
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "OUT exists" test -f "$T/work/unsorted/out.onnx"
finish "a valid model stored out of order converts"

# A failed run keeps an OUT that was there before.
mkdir "$T/work/keep"
echo "precious" >"$T/work/keep/out.onnx"
run "$TQT" --no-quantize "$T/in/cycle.onnx" "$T/work/keep/out.onnx"
want "exit status 1 (got $rc)" test "$rc" -eq 1
want "the old OUT is untouched" test "$(cat "$T/work/keep/out.onnx")" = "precious"
want "no temporary file (found: $(listing "$T/work/keep"))" \
  test "$(listing "$T/work/keep")" = "out.onnx"
finish "a failed run keeps an existing OUT as it was"

# ---- OUT that cannot be written: exit 1, one line naming OUT, IN untouched ----

# expect_unwritable_out NAME OUT [FOLDER]: converting IN to OUT fails with exit 1 and one stderr
# line naming OUT; OUT (usually missing), IN and FOLDER (a path to inspect) stay as they were.
expect_unwritable_out() {
  local name=$1 out=$2 folder=${3:-}
  local before_in before_out before_folder=""
  before_in=$(fingerprint "$IN")
  before_out=$(fingerprint "$out")
  [ -n "$folder" ] && before_folder=$(fingerprint "$folder")
  run "$TQT" --no-quantize "$IN" "$out"
  want "exit status 1 (got $rc)" test "$rc" -eq 1
  want "exactly one line on stderr (got $(lines "$T/stderr"))" test "$(lines "$T/stderr")" -eq 1
  want "stderr names $out" grep -qF -- "$out" "$T/stderr"
  want "OUT as it was before ($before_out)" test "$(fingerprint "$out")" = "$before_out"
  want "IN unchanged" test "$(fingerprint "$IN")" = "$before_in"
  if [ -n "$folder" ]; then
    want "$folder unchanged" test "$(fingerprint "$folder")" = "$before_folder"
  fi
  finish "$name"
}

expect_unwritable_out "OUT in a missing folder fails naming OUT" "$T/work/missing/deeper/out.onnx" \
  "$T/work"
want "the missing folder is not created" test ! -e "$T/work/missing"
finish "OUT in a missing folder creates no folder"
# Tests run as root, where permission bits do not stop writes: use folders nobody can write in.
echo "a regular file" >"$T/work/regular_file"
expect_unwritable_out "OUT under a regular file (not a folder) fails naming OUT" \
  "$T/work/regular_file/out.onnx" "$T/work/regular_file"
expect_unwritable_out "OUT in read-only /proc fails naming OUT" "/proc/onnx-tqt-cli-test-out.onnx"

mkdir "$T/work/a_folder_as_out"
expect_unwritable_out "OUT naming an existing folder fails naming OUT" "$T/work/a_folder_as_out" \
  "$T/work/a_folder_as_out"
want "the folder is still there" test -d "$T/work/a_folder_as_out"
want "no temporary file beside it (found: $(hidden "$T/work"))" \
  test -z "$(hidden "$T/work")"
finish "OUT naming an existing folder leaves it and its parent as they were"

# ---- info on bad input: exit 1, one line naming the file ----

for bad in no_such_model.onnx random.onnx lenet_half.onnx; do
  run "$TQT" info "$T/in/$bad"
  want "exit status 1 (got $rc)" test "$rc" -eq 1
  want "exactly one line on stderr (got $(lines "$T/stderr"))" test "$(lines "$T/stderr")" -eq 1
  want "stderr names the file" grep -qF -- "$T/in/$bad" "$T/stderr"
  finish "info of $bad fails naming it"
done

# ---- OUT equal to IN ----

before=$(fingerprint "$IN")
run "$TQT" --no-quantize "$IN" "$IN"
want "exit status 2 (got $rc)" test "$rc" -eq 2
want "exactly one line on stderr (got $(lines "$T/stderr"))" test "$(lines "$T/stderr")" -eq 1
want "IN unchanged" test "$(fingerprint "$IN")" = "$before"
want "no temporary file beside IN (found: $(hidden "$T/in"))" \
  test -z "$(hidden "$T/in")"
finish "OUT equal to IN is a usage error and IN stays"

run "$TQT" --no-quantize "$IN" "$T/in/../in/./lenet.onnx"
want "exit status 2 (got $rc)" test "$rc" -eq 2
want "IN unchanged" test "$(fingerprint "$IN")" = "$before"
finish "OUT naming IN by another path is a usage error"

ln "$IN" "$T/in/lenet_hardlink.onnx"
run "$TQT" --no-quantize "$IN" "$T/in/lenet_hardlink.onnx"
want "exit status 2 (got $rc)" test "$rc" -eq 2
want "IN unchanged" test "$(fingerprint "$IN")" = "$before"
finish "OUT as a hard link of IN is a usage error"

# ---- quantization: usage and bad calibration data ----

mkdir -p "$T/work/quant"
QOUT=$T/work/quant/out.onnx
run "$TQT" "$IN" "$QOUT"
want "exit status 2 (got $rc)" test "$rc" -eq 2
want "exactly one line on stderr (got $(lines "$T/stderr"))" test "$(lines "$T/stderr")" -eq 1
want "the message asks for --calib" grep -q -- "--calib" "$T/stderr"
want "no OUT" test ! -e "$QOUT"
finish "quantizing without --calib is a usage error"

run "$TQT" "$IN" "$QOUT" --calib "$ROOT/examples/mnist/calib.npy" --act-method entropy
want "exit status 2 (got $rc)" test "$rc" -eq 2
want "the message names the method" grep -q "entropy" "$T/stderr"
finish "an unknown threshold method is a usage error"

for bad in "--search sometimes" "--search-samples 0" "--bias-correction maybe" "--bias-correction global" "--equalize global" "--val-split 1"; do
  run "$TQT" "$IN" "$QOUT" --calib "$ROOT/examples/mnist/calib.npy" $bad
  want "exit status 2 (got $rc)" test "$rc" -eq 2
  want "the message names the option" grep -q -- "${bad% *}" "$T/stderr"
  want "no OUT" test ! -e "$QOUT"
  finish "$bad is a usage error"
done

run "$TQT" -v "$IN" "$QOUT" --calib "$ROOT/examples/mnist/calib.npy" --calib-count 16 --search-samples 4
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "-v reports the search on 4 samples" grep -Eq "exponent search: [0-9]+ of [0-9]+ scale groups moved, output SQNR .* dB \([0-9]+ runs of 4 samples\)" "$T/stderr"
finish "-v: the exponent search says what it moved"

run "$TQT" -v "$IN" "$QOUT" --calib random --calib-count 4
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "no search on random inputs" bash -c "! grep -q 'exponent search' '$T/stderr'"
finish "--calib random: no exponent search"
rm -f "$QOUT"

# calibration data of the wrong shape: the lenet test labels (int64 [1000])
run "$TQT" "$IN" "$QOUT" --calib "$ROOT/examples/mnist/test_labels.npy"
want "exit status 1 (got $rc)" test "$rc" -eq 1
want "exactly one line on stderr (got $(lines "$T/stderr"))" test "$(lines "$T/stderr")" -eq 1
want "stderr names the input" grep -q "input 'input'" "$T/stderr"
want "stderr names the file" grep -qF "test_labels.npy" "$T/stderr"
want "no OUT and no temporary file (found: $(listing "$T/work/quant"))" test -z "$(listing "$T/work/quant")"
finish "calibration data of the wrong type and shape fails naming input and file"

run "$TQT" "$IN" "$QOUT" --calib "$T/in/no_such_samples.npy"
want "exit status 1 (got $rc)" test "$rc" -eq 1
want "stderr names the file" grep -qF "no_such_samples.npy" "$T/stderr"
want "no OUT" test ! -e "$QOUT"
finish "missing calibration data fails naming the file"

run "$TQT" -q "$IN" "$QOUT" --calib "$ROOT/examples/mnist/calib.npy" --calib-count 8
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "nothing on stderr with -q" test ! -s "$T/stderr"
want "OUT has QuantizeLinear nodes" grep -q QuantizeLinear <("$TQT" info "$QOUT")
finish "quantizing lenet with 8 calibration samples"

# Coverage of the compute nodes (Conv, ConvTranspose, Gemm, MatMul): the summary, -v's reasons,
# the warning, --min-quantized.
run "$TQT" "$IN" "$QOUT" --calib "$ROOT/examples/mnist/calib.npy" --calib-count 8 --min-quantized 1
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "the summary counts 5 of 5 compute nodes" grep -q "compute nodes 5 of 5 quantized" "$T/stderr"
finish "--min-quantized 1 passes when every compute node is quantized"

run "$TQT" -v "$IN" "$QOUT" --calib "$ROOT/examples/mnist/calib.npy" --calib-count 8 --exclude-op-types Gemm
want "exit status 0 (got $rc)" test "$rc" -eq 0
want "-v gives the reason of each float Gemm" grep -q "node '/fc1/Gemm' (Gemm) stays float: --exclude-op-types Gemm" "$T/stderr"
want "the summary counts 2 of 5" grep -q "compute nodes 2 of 5 quantized" "$T/stderr"
want "no coverage warning when the user excluded them" bash -c "! grep -q 'compute nodes .* are quantized' '$T/stderr'"
finish "-v says why each compute node stays float"

rm -f "$QOUT"
run "$TQT" "$IN" "$QOUT" --calib "$ROOT/examples/mnist/calib.npy" --calib-count 8 --exclude-op-types Conv,Gemm --min-quantized 0.5
want "exit status 1 (got $rc)" test "$rc" -eq 1
want "exactly one line on stderr (got $(lines "$T/stderr"))" test "$(lines "$T/stderr")" -eq 1
want "it names --min-quantized and the count" grep -q "0 of 5 compute nodes.*--min-quantized 0.5" "$T/stderr"
want "no OUT" test ! -e "$QOUT"
finish "--min-quantized fails below the fraction, leaving no OUT"

run "$TQT" "$IN" "$QOUT" --calib "$ROOT/examples/mnist/calib.npy" --min-quantized 2
want "exit status 2 (got $rc)" test "$rc" -eq 2
want "the message names the option" grep -q -- "--min-quantized" "$T/stderr"
finish "--min-quantized out of [0, 1] is a usage error"

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
