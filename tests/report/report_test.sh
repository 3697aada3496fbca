#!/usr/bin/env bash
# The analysis outputs on the bundled LeNet and a generated conv model (mixnet: depthwise Conv,
# Concat, MatMul, Gemm, residual Add): --stats, --stats-in merging (merged shards must give the
# thresholds, and the model bytes, of one run over all the data), --report (self-contained),
# compare (figures and exit codes), --export-fixpoint (an integer-only reference of every
# Conv/Gemm/MatMul reproduces the quantized model's integers exactly).
#
# usage: report_test.sh ONNX_TQT GEN_MODELS REPORT_TOOL FIXPOINT_CHECK REPO_ROOT OUT_DIR
# Prints "ok - NAME" / "not ok - NAME" (reasons as "#" lines) and "report: N passed, N failed".
set -u
if [ $# -ne 6 ]; then
  echo "usage: report_test.sh ONNX_TQT GEN_MODELS REPORT_TOOL FIXPOINT_CHECK REPO_ROOT OUT_DIR" >&2
  exit 2
fi
tqt=$1 gen=$2 tool=$3 fixcheck=$4 repo=$5 out=$6
mkdir -p "$out"
dir=$(mktemp -d "${TMPDIR:-/tmp}/tqt-report.XXXXXX") || exit 2
trap 'rm -rf "$dir"' EXIT
check=$repo/tests/report/check_stats.js
mnist=$repo/examples/mnist
passed=0 failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() {
  echo "not ok - $1"
  failed=$((failed + 1))
  [ -s "$dir/log" ] && sed 's/^/#   /' "$dir/log" | tail -n 20
}
# t NAME COMMAND...: one check, its output in $dir/log.
t() {
  local name=$1
  shift
  if "$@" >"$dir/log" 2>&1; then ok "$name"; else not_ok "$name"; fi
}
# exits CODE COMMAND...: the command exits with CODE.
exits() {
  local want=$1
  shift
  "$@"
  [ $? -eq "$want" ]
}

# ---- the bundled LeNet ----
t "lenet: --stats --report --export-fixpoint" \
  "$tqt" -q "$mnist/lenet.onnx" "$dir/lenet8.onnx" --calib "$mnist/calib.npy" \
  --stats "$dir/lenet.json" --report "$out/report-lenet.html" --export-fixpoint "$dir/lenet-fix.json"
t "lenet: the statistics hold every field" node "$check" fields "$dir/lenet.json"
t "lenet: output SQNR >= 30 dB, top-1 agreement >= 99 %" node "$check" quality "$dir/lenet.json" 30 0.99
t "lenet: the exponent search's tries are recorded, each group kept its best, SQNR never fell" \
  node "$check" search "$dir/lenet.json"
t "lenet: the report shows the search of every scale group" \
  bash -c '[ "$(grep -o "search from e = " "$1" | wc -l)" = "$(node -p "require(process.argv[1]).summary.search.groups" "$2")" ] &&
           grep -q "exponent search</div>" "$1"' _ "$out/report-lenet.html" "$dir/lenet.json"
t "lenet: --search off records no search" \
  bash -c '"$1" -q "$2" "$3/off.onnx" --calib "$4" --search off --stats "$3/off.json" --report "$3/off.html" &&
           node -e "const s = require(process.argv[1]); process.exit(s.settings.search === \"off\" &&
             !s.summary.search && !s.tensors.some((t) => t.search) ? 0 : 1)" "$3/off.json" &&
           ! grep -q "search from e" "$3/off.html"' _ "$tqt" "$mnist/lenet.onnx" "$dir" "$mnist/calib.npy"
t "lenet: bias correction's record is consistent, it moved channels and the output SQNR rose" \
  node "$check" bias "$dir/lenet.json" 1
t "lenet: the report shows bias correction (card, per-bias column)" \
  bash -c 'grep -q "bias correction</div>" "$1" && grep -Eq "<td class=\"n\" data-v=\"[1-9][0-9]*\">[0-9]+ of [0-9]+, largest" "$1"' \
  _ "$out/report-lenet.html"
t "lenet: --bias-correction off records none and gives the searched model's SQNR" \
  bash -c '"$1" -q "$2" "$3/nobc.onnx" --calib "$4" --bias-correction off --stats "$3/nobc.json" &&
           node -e "const [a, b] = [1, 2].map((i) => require(process.argv[i]));
             process.exit(b.settings.bias_correction === \"off\" && !b.summary.bias_correction &&
               !b.tensors.some((t) => t.bias_correction) &&
               a.summary.bias_correction.output_sqnr_before_db === b.summary.search.output_sqnr_after_db ? 0 : 1)" \
             "$3/lenet.json" "$3/nobc.json"' _ "$tqt" "$mnist/lenet.onnx" "$dir" "$mnist/calib.npy"
t "lenet: the fixed-point file holds every field, shifts = fp_in + fp_w - fp_out" \
  node "$check" fixpoint "$dir/lenet-fix.json"
"$fixcheck" "$dir/lenet8.onnx" "$dir/lenet-fix.json" "$mnist/test_images.npy" 16 >"$dir/log" 2>&1
rc=$?
sed 's/^/#   /' "$dir/log"
if [ $rc -eq 0 ]; then ok "lenet: integer-only Conv/Gemm from the export equal the quantized model"
else not_ok "lenet: integer-only Conv/Gemm from the export equal the quantized model"; fi
report_ok() { # the report is one self-contained file
  local f=$1
  [ -s "$f" ] && ! grep -Eqi 'https?://|<script[^>]+src|<link|@import|url\(' "$f" &&
    grep -q '<svg' "$f" && grep -q 'class="sortable"' "$f" && grep -q 'Warnings' "$f"
}
t "lenet: the report is self-contained (no http(s)://, no external script, style or font)" \
  report_ok "$out/report-lenet.html"
t "lenet: the report has a histogram per activation and weight, a row per layer" \
  bash -c 'want=$(node -e "const s=JSON.parse(require(\"fs\").readFileSync(process.argv[1]));
             console.log(s.tensors.filter(t=>t.kind!==\"bias\").length, s.nodes.length)" "$2") &&
           [ "$(grep -o "<svg" "$1" | wc -l) $(grep -o "<tr><td class=\"n\">" "$1" | wc -l)" = "$want" ]' \
  _ "$out/report-lenet.html" "$dir/lenet.json"

# ---- compare ----
t "compare: per output SQNR, cosine, top-1 agreement; exit 0" \
  bash -c '"$1" compare -q "$2" "$3" --data "$4" --count 200 >"$5" &&
           grep -Eq "^output .logits.: max abs diff [0-9.e-]+, mean abs diff [0-9.e-]+, SQNR [0-9.]+ dB, cosine 0\.99[0-9]*, top-1 agreement" "$5"' \
  _ "$tqt" "$mnist/lenet.onnx" "$dir/lenet8.onnx" "$mnist/test_images.npy" "$dir/cmp.txt"
t "compare --per-layer: every layer matched through Q/DQ, where the error grows" \
  bash -c '"$1" compare -q "$2" "$3" --data "$4" --count 50 --per-layer >"$5" &&
           grep -q "input (B: input_dequantized)" "$5" && grep -q "where the error grows most" "$5" &&
           grep -q "/Relu_1_output_0" "$5"' \
  _ "$tqt" "$mnist/lenet.onnx" "$dir/lenet8.onnx" "$mnist/test_images.npy" "$dir/cmp.txt"
t "compare --fail-below-sqnr: exit 1 below, 0 above" \
  bash -c '! "$1" compare -q "$2" "$3" --data "$4" --count 20 --fail-below-sqnr 90 >/dev/null 2>"$5" &&
           grep -q "is below 90 dB" "$5" &&
           "$1" compare -q "$2" "$3" --data "$4" --count 20 --fail-below-sqnr 20 >/dev/null' \
  _ "$tqt" "$mnist/lenet.onnx" "$dir/lenet8.onnx" "$mnist/test_images.npy" "$dir/err.txt"
t "compare: a model against itself is exact" \
  bash -c '"$1" compare -q "$2" "$2" --data "$3" --count 4 | grep -q "SQNR exact dB, cosine 1.000000"' \
  _ "$tqt" "$mnist/lenet.onnx" "$mnist/test_images.npy"
t "compare: usage errors exit 2 (no --data, one model)" \
  bash -c 'exits() { local w=$1; shift; "$@" 2>/dev/null; [ $? -eq "$w" ]; }
           exits 2 "$1" compare "$2" "$2" && exits 2 "$1" compare "$2" --data "$3" &&
           exits 2 "$1" compare "$2" "$2" --data "$3" --fail-below-sqnr x' \
  _ "$tqt" "$mnist/lenet.onnx" "$mnist/test_images.npy"
t "compare: a missing data file exits 1 naming it" \
  bash -c '"$1" compare "$2" "$2" --data "$3" 2>"$4"; [ $? -eq 1 ] && grep -q "nope.npy" "$4"' \
  _ "$tqt" "$mnist/lenet.onnx" "$dir/nope.npy" "$dir/err.txt"

# ---- merging: shards against one run over all the data ----
"$tool" split-npy "$mnist/calib.npy" 2 "$dir/half" && "$tool" split-npy "$mnist/calib.npy" 3 "$dir/third" ||
  not_ok "split the calibration set"
merge_case() { # NAME K PREFIX [options...]: K shards merged against one run
  local name=$1 k=$2 prefix=$3
  shift 3
  # the merge is about statistics; the search, bias correction and equalization need samples
  set -- --search off --bias-correction off --equalize off "$@"
  local ins=() i
  for ((i = 0; i < k; i++)); do
    "$tqt" -q "$mnist/lenet.onnx" "$dir/shard$i.onnx" --calib "$dir/$prefix$i.npy" \
      --stats "$dir/$name-shard$i.json" "$@" || return 1
    ins+=(--stats-in "$dir/$name-shard$i.json")
  done
  "$tqt" -q "$mnist/lenet.onnx" "$dir/$name-merged.onnx" "${ins[@]}" --stats "$dir/$name-merged.json" "$@" &&
    "$tqt" -q "$mnist/lenet.onnx" "$dir/$name-full.onnx" --calib "$mnist/calib.npy" \
      --stats "$dir/$name-full.json" "$@" &&
    node "$check" same "$dir/$name-merged.json" "$dir/$name-full.json" \
      $([ "$name" = 3sd ] && echo --tolerant-3sd) &&
    cmp "$dir/$name-merged.onnx" "$dir/$name-full.onnx"
}
for m in kl_j:2:half max:3:third percentile:2:half mse:3:third 3sd:2:half; do
  IFS=: read -r method k prefix <<<"$m"
  if merge_case "$method" "$k" "$prefix" --act-method "$method" >"$dir/log" 2>&1; then
    ok "merge $k shards, --act-method $method: thresholds and model bytes equal one run ($(tail -n 1 "$dir/log"))"
  else
    not_ok "merge $k shards, --act-method $method: thresholds and model bytes equal one run"
  fi
done
echo "# merge equality: 2 and 3 LeNet calibration shards merged by --stats-in give the same"
echo "# histograms, thresholds, exponents and the byte-identical model as one run over all 256"
t "the merged model runs in ONNX Runtime as in onnx-tqt" \
  bash -c '"$1" run -q -o "$2/merged-out" "$2/kl_j-merged.onnx" "$3" &&
           node "$4/tests/ort/ort_batch.js" "$2/kl_j-merged.onnx" "$3" --compare "$2/merged-out" --quantized --max-samples 100' \
  _ "$tqt" "$dir" "$mnist/test_images.npy" "$repo"
t "--stats-in and --calib: the local samples merge in as one more shard" \
  bash -c '"$1" -q "$2" "$3/mix.onnx" --stats-in "$3/kl_j-shard0.json" --calib "$3/half1.npy" --stats "$3/mix.json" --search off --bias-correction off &&
           cmp "$3/mix.onnx" "$3/kl_j-full.onnx"' \
  _ "$tqt" "$mnist/lenet.onnx" "$dir"
"$gen" mixnet "$dir/mix-float.onnx" && "$gen" input "$dir/mix_in.npy" 24,3,16,16 5 ||
  not_ok "generate the mixnet model and its inputs"
t "--stats-in: statistics of another model are refused, naming the file" \
  bash -c '"$1" -q "$4" "$3/mixq.onnx" --calib "$3/mix_in.npy" --stats "$3/other.json" --equalize off &&
           "$1" -q "$2" "$3/x.onnx" --stats-in "$3/other.json" 2>"$3/err.txt"; [ $? -eq 1 ] &&
           grep -q "other.json: written for another model" "$3/err.txt" && [ ! -e "$3/x.onnx" ]' \
  _ "$tqt" "$mnist/lenet.onnx" "$dir" "$dir/mix-float.onnx"
t "--stats-in: statistics of a run whose equalization rescaled channels are refused, naming the option" \
  bash -c '"$1" densecat "$2/dense.onnx" && "$1" input "$2/dense_in.npy" 16,3,16,16 8 &&
           "$3" -q "$2/dense.onnx" "$2/denseq.onnx" --calib "$2/dense_in.npy" --equalize always --stats "$2/dense.json" \
             --report "$2/dense.html" &&
           "$3" -q "$2/dense.onnx" "$2/x.onnx" --stats-in "$2/dense.json" 2>"$2/err.txt"; [ $? -eq 1 ] &&
           grep -q "dense.json: written by a run whose channel equalization rescaled the model; statistics to merge need --equalize off" "$2/err.txt" &&
           [ ! -e "$2/x.onnx" ]' \
  _ "$gen" "$dir" "$tqt"
t "densecat --equalize always: the statistics and the report say how many channels it scaled" \
  bash -c 'node -e "const e = require(process.argv[1]).summary.equalization;
             process.exit(e.kept && e.scaled_channels > 0 && e.scaled_channels <= e.channels ? 0 : 1)" "$1/dense.json" &&
           grep -Eq "channel equalization</div><div class=\"v\">[1-9][0-9]* of [0-9]+ channels" "$1/dense.html"' \
  _ "$dir"
t "--stats-in: statistics made with other options are refused, naming file and tensor" \
  bash -c '"$1" -q "$2" "$3/ex.onnx" --calib "$3/half0.npy" --exclude-op-types MaxPool --stats "$3/ex.json" --equalize off &&
           "$1" -q "$2" "$3/x.onnx" --stats-in "$3/ex.json" 2>"$3/err.txt"; [ $? -eq 1 ] &&
           grep -q "ex.json: no statistics for tensor " "$3/err.txt"' \
  _ "$tqt" "$mnist/lenet.onnx" "$dir"
t "--stats-in: a missing or malformed file exits 1 naming it" \
  bash -c 'echo "{\"format\": 1" >"$3/bad.json"
           "$1" -q "$2" "$3/x.onnx" --stats-in "$3/none.json" 2>"$3/err.txt"; [ $? -eq 1 ] && grep -q none.json "$3/err.txt" &&
           { "$1" -q "$2" "$3/x.onnx" --stats-in "$3/bad.json" 2>"$3/err.txt"; [ $? -eq 1 ]; } && grep -q bad.json "$3/err.txt"' \
  _ "$tqt" "$mnist/lenet.onnx" "$dir"
t "analysis options with --no-quantize or --strip are usage errors" \
  bash -c 'exits() { local w=$1; shift; "$@" 2>/dev/null; [ $? -eq "$w" ]; }
           exits 2 "$1" "$2" "$3/x.onnx" --no-quantize --stats "$3/s.json" &&
           exits 2 "$1" "$2" "$3/x.onnx" --strip --stats-in "$3/kl_j-shard0.json"' \
  _ "$tqt" "$mnist/lenet.onnx" "$dir"

# ---- the generated conv model ----
mixin=$dir/mix_in.npy
for pc in "" --per-tensor; do
  t "mixnet${pc:+ $pc}: --stats --report --export-fixpoint" \
    "$tqt" -q "$dir/mix-float.onnx" "$dir/mix8$pc.onnx" --calib "$mixin" $pc \
    --stats "$dir/mix$pc.json" --report "$out/report-mixnet$pc.html" --export-fixpoint "$dir/mix-fix$pc.json"
  t "mixnet${pc:+ $pc}: statistics and fixed-point fields, the search's record" \
    bash -c 'node "$1" fields "$2" && node "$1" fixpoint "$3" && node "$1" search "$2"' \
    _ "$check" "$dir/mix$pc.json" "$dir/mix-fix$pc.json"
  "$fixcheck" "$dir/mix8$pc.onnx" "$dir/mix-fix$pc.json" "$mixin" 8 >"$dir/log" 2>&1
  rc=$?
  sed 's/^/#   /' "$dir/log"
  if [ $rc -eq 0 ]; then ok "mixnet${pc:+ $pc}: integer-only Conv/MatMul/Gemm from the export equal the quantized model"
  else not_ok "mixnet${pc:+ $pc}: integer-only Conv/MatMul/Gemm from the export equal the quantized model"; fi
  t "mixnet${pc:+ $pc}: the report is self-contained" report_ok "$out/report-mixnet$pc.html"
done
# 64 samples (24 give the three methods the same exponents)
t "mixnet --search global: the activation method chosen by measurement, its record consistent" \
  bash -c '"$6" input "$3/mix64.npy" 64,3,16,16 5 &&
           "$1" -q "$2" "$3/mixg.onnx" --calib "$3/mix64.npy" --search global --stats "$3/mixg.json" --report "$3/mixg.html" &&
           node "$5" method "$3/mixg.json"' _ "$tqt" "$dir/mix-float.onnx" "$dir" "$mixin" "$check" "$gen"
t "mixnet --search global: not KL-J here (MSE measures better), and the report says what it chose" \
  bash -c 'node -e "process.exit(require(process.argv[1]).summary.method_choice.chosen !== \"kl_j\" ? 0 : 1)" "$1" &&
           grep -Eq "auto &rarr; (mse|max)</div><div class=\"s\">[^<]*output SQNR kl_j" "$2"' \
  _ "$dir/mixg.json" "$dir/mixg.html"
t "mixnet --search global --act-method kl_j: no choice to make" \
  bash -c '"$1" -q "$2" "$3/mixk.onnx" --calib "$4" --search global --act-method kl_j --stats "$3/mixk.json" &&
           node -e "const s = require(process.argv[1]); process.exit(!s.summary.method_choice &&
             s.tensors.every((t) => t.kind !== \"activation\" || [\"kl_j\", \"max\"].includes(t.method)) ? 0 : 1)" "$3/mixk.json"' \
  _ "$tqt" "$dir/mix-float.onnx" "$dir" "$mixin"
t "mixnet: compare --per-layer" \
  bash -c '"$1" compare -q "$2" "$3" --data "$4" --per-layer >"$5" && grep -q "^output .logits.:.*SQNR" "$5" &&
           grep -q "where the error grows most" "$5"' \
  _ "$tqt" "$dir/mix-float.onnx" "$dir/mix8.onnx" "$mixin" "$dir/cmp.txt"
t "mixnet: --stats-in merges 3 shards into the model one run makes" \
  bash -c '"$1" split-npy "$3" 3 "$4/mixpart" &&
           for i in 0 1 2; do "$2" -q "$4/mix-float.onnx" "$4/p.onnx" --calib "$4/mixpart$i.npy" --stats "$4/mp$i.json" --equalize off || exit 1; done &&
           "$2" -q "$4/mix-float.onnx" "$4/mixmerged.onnx" --stats-in "$4/mp0.json" --stats-in "$4/mp1.json" \
             --stats-in "$4/mp2.json" --stats "$4/mixmerged.json" --search off --bias-correction off &&
           "$2" -q "$4/mix-float.onnx" "$4/mixfull.onnx" --calib "$3" --search off --bias-correction off --equalize off --stats "$4/mixfull.json" &&
           node "$5" same "$4/mixmerged.json" "$4/mixfull.json" && cmp "$4/mixmerged.onnx" "$4/mixfull.onnx"' \
  _ "$tool" "$tqt" "$mixin" "$dir" "$check"

# ---- warnings ----
t "an accumulator past 32 bits is a warning in the statistics and the report" \
  bash -c '"$1" wide "$2/wide.onnx" 70000 && "$3" input "$2/wide_in.npy" 2,70000 4 &&
           "$4" -q "$2/wide.onnx" "$2/wideq.onnx" --calib "$2/wide_in.npy" --stats "$2/wide.json" --report "$2/wide.html" &&
           node "$5" warning "$2/wide.json" accumulator && grep -q "Accumulator overflow risk" "$2/wide.html" &&
           grep -q "33-bit accumulator needed" "$2/wide.html"' \
  _ "$tool" "$dir" "$gen" "$tqt" "$check"
t "2-bit weights: low SQNR layers are warned about" \
  bash -c '"$1" -q "$2" "$3/w2.onnx" --calib "$4" --wbits 2 --stats "$3/w2.json" &&
           node "$5" warning "$3/w2.json" low_sqnr' \
  _ "$tqt" "$mnist/lenet.onnx" "$dir" "$dir/half0.npy" "$check"
t "percentile 90: a high clipped fraction is warned about (the search off: it would undo the clipping)" \
  bash -c '"$1" -q "$2" "$3/p90.onnx" --calib "$4" --act-method percentile --percentile 90 --search off --stats "$3/p90.json" &&
           node "$5" warning "$3/p90.json" clipping' \
  _ "$tqt" "$mnist/lenet.onnx" "$dir" "$dir/half0.npy" "$check"
t "--exclude-nodes: the excluded nodes and why are in the statistics and the report" \
  bash -c '"$1" -q "$2" "$3/ex2.onnx" --calib "$4" --exclude-nodes "/fc[0-9]/" --stats "$3/ex2.json" --report "$3/ex2.html" &&
           grep -q "\"reason\":\"--exclude-nodes /fc\[0-9\]/\"" "$3/ex2.json" && grep -q "<code>--exclude-nodes /fc\[0-9\]/</code>" "$3/ex2.html"' \
  _ "$tqt" "$mnist/lenet.onnx" "$dir" "$dir/half0.npy"

echo "report: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
