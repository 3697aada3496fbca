#!/usr/bin/env bash
# Corrupt models through `onnx-tqt IN OUT --no-quantize`: more than a thousand models made from
# valid ones by tests/corrupt/gen_corrupt.c (bit flips, truncation, wrong/negative/huge/
# overflowing dims, cycles, dangling and duplicate names, wrong attribute types, deep nesting,
# external data escaping the model's folder or past the file's end). Each must exit 1 with one
# line on stderr and leave nothing in OUT's folder; a random bit flip may leave a valid model
# (exit 0, counted apart), whose OUT must then load. No signal, no sanitizer report, no run
# longer than the timeout (10 s).
#
# usage: corrupt_test.sh ONNX_TQT GEN_CORRUPT REPO_ROOT
# Prints a table per category, the failures (at most 20), then "corrupt: N passed, N failed".
set -u
if [ $# -ne 3 ]; then
  echo "usage: corrupt_test.sh ONNX_TQT GEN_CORRUPT REPO_ROOT" >&2
  exit 2
fi
TQT=$1
GEN=$2
ROOT=$3
TIMEOUT=${CORRUPT_TIMEOUT:-10}
data=/usr/share/libonnx-testdata/data
T=$(mktemp -d "${TMPDIR:-/tmp}/tqt-corrupt.XXXXXX") || exit 2
[ -n "${CORRUPT_KEEP:-}" ] || trap 'rm -rf "$T"' EXIT # CORRUPT_KEEP=1: keep the models

# lenet first: the external-data cases are made from the first seed with raw weights.
seeds=("$ROOT/examples/mnist/lenet.onnx" "$ROOT/tests/fixtures/nested_if.onnx"
  "$ROOT/tests/fixtures/functions.onnx" "$ROOT/tests/fixtures/opset9.onnx")
for c in node/test_conv_with_strides_padding node/test_gemm_default_matrix_bias node/test_if \
  node/test_loop11 node/test_scan9_sum node/test_batchnorm_example node/test_maxpool_2d_pads \
  node/test_reshape_reordered_all_dims node/test_sequence_map_identity_1_sequence \
  simple/test_single_relu_model pytorch-converted/test_ConvTranspose2d \
  pytorch-converted/test_Conv2d_groups node/test_range_float_type_positive_delta_expanded \
  node/test_resize_upsample_scales_linear pytorch-operator/test_operator_add_broadcast; do
  [ -f "$data/$c/model.onnx" ] && seeds+=("$data/$c/model.onnx")
done

failed_seeds=0
for s in "${seeds[@]}"; do
  if ! "$TQT" --no-quantize -q "$s" "$T/seed.onnx" 2>"$T/seed.err"; then
    echo "not ok - seed $s does not convert: $(head -n 1 "$T/seed.err")"
    failed_seeds=$((failed_seeds + 1))
  fi
done
rm -f "$T/seed.onnx"

"$GEN" "$T/cases" "${seeds[@]}" || { echo "corrupt: 0 passed, 1 failed"; exit 1; }

# check CATEGORY EXPECT MODEL: one line "CATEGORY refused|valid|FAIL [why]".
check() {
  local cat=$1 expect=$2 model=$3
  local out
  out=$(mktemp -d "$T/out/run.XXXXXX")
  timeout -s KILL "$TIMEOUT" "$TQT" --no-quantize -q "$model" "$out/out.onnx" \
    >"$out.stdout" 2>"$out.stderr" </dev/null
  local rc=$?
  local why=""
  if grep -Eq 'Sanitizer|runtime error:' "$out.stderr"; then
    why="sanitizer report: $(grep -Em 1 'Sanitizer|runtime error:' "$out.stderr")"
  elif [ "$rc" -eq 137 ]; then
    why="no answer within ${TIMEOUT} s"
  elif [ "$rc" -gt 128 ]; then
    why="killed by signal $((rc - 128))"
  elif [ "$rc" -eq 1 ]; then
    local lines left
    lines=$(awk 'END { print NR }' "$out.stderr")
    left=$(find "$out" -mindepth 1 -printf '%f ')
    if [ "$lines" -ne 1 ] || ! grep -q '^onnx-tqt: ' "$out.stderr"; then
      why="exit 1 with $lines lines on stderr"
    elif [ -n "$left" ]; then
      why="a failed run left: $left"
    fi
  elif [ "$rc" -eq 0 ]; then
    if [ "$expect" != any ]; then
      why="accepted (exit 0)"
    elif ! "$TQT" info "$out/out.onnx" >/dev/null 2>"$out.info"; then
      why="exit 0 but OUT does not load: $(head -n 1 "$out.info")"
    fi
  else
    why="exit status $rc"
  fi
  if [ -n "$why" ]; then
    echo "$cat FAIL $model: $why"
  elif [ "$rc" -eq 0 ]; then
    echo "$cat valid"
  else
    echo "$cat refused"
  fi
  rm -rf "$out" "$out.stdout" "$out.stderr" "$out.info"
}
export -f check
export TQT T TIMEOUT
mkdir "$T/out"
jobs=$(nproc 2>/dev/null || echo 2)
# shellcheck disable=SC2016
xargs -P "$jobs" -n 3 bash -c 'check "$@"' _ <"$T/cases/manifest.txt" >"$T/results.txt"

awk -v seeds_failed="$failed_seeds" '
  { n[$1]++; if ($2 == "refused") r[$1]++; else if ($2 == "valid") v[$1]++; else { f[$1]++; bad[++nb] = $0 } }
  END {
    printf "%-14s %6s %8s %6s %7s\n", "category", "models", "refused", "valid", "failed"
    k = split("bitflip truncate dims_wrong dims_negative dims_huge dims_overflow cycle dangling " \
              "duplicate attr_type nesting external", order, " ")
    for (i = 1; i <= k; i++) if (order[i] in n) shown[order[i]] = 1
    for (c in n) if (!(c in shown)) order[++k] = c
    for (i = 1; i <= k; i++) {
      c = order[i]
      if (!(c in n)) continue
      printf "%-14s %6d %8d %6d %7d\n", c, n[c], r[c], v[c], f[c]; total += n[c]; fails += f[c]
    }
    for (i = 1; i <= nb && i <= 20; i++) print "not ok - " bad[i]
    extra = seeds_failed
    if (total < 1000) { print "not ok - only " total " models (1000 wanted)"; extra++ }
    printf "corrupt: %d passed, %d failed\n", total - fails, fails + extra
    exit fails + extra > 0
  }' "$T/results.txt"
