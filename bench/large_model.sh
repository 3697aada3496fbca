#!/usr/bin/env bash
# A model past protobuf's 2 GB limit (weights in external data, bench/large_model.c): onnx-tqt
# loads it, writes the float model back (external data chosen automatically past 2 GB),
# quantizes it with --external-data, runs both; ONNX Runtime runs the outputs and they are
# compared with onnx-tqt's. Prints time and peak RSS per step against the weights' size.
# Needs about 4 times the weights on disk (checked first); deletes everything it made.
#
# usage: bench/large_model.sh [BUILD_DIR [N [LAYERS]]]   (default build, 8192, 9: 2.4 GB)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-8192}
layers=${3:-9}
meson compile -C "$build" bench-large-model onnx-tqt:executable >/dev/null
weights=$((n * n * 4 * layers))
tmp=${TMPDIR:-/tmp}
avail=$(($(df -Pk "$tmp" | awk 'NR == 2 { print $4 }') * 1024))
if [ "$avail" -lt $((weights * 4)) ]; then
  echo "large_model.sh: $tmp has $((avail >> 30)) GiB free, $((weights * 4 >> 30)) GiB needed" >&2
  exit 1
fi
dir=$(mktemp -d "$tmp/tqt-large.XXXXXX")
trap 'rm -rf "$dir"' EXIT
TQT=$build/onnx-tqt

# step NAME COMMAND...: runs it under /usr/bin/time, prints seconds and peak RSS.
step() {
  local name=$1
  shift
  /usr/bin/time -f '%e %M' -o "$dir/time.txt" "$@" >"$dir/step.out" 2>"$dir/step.err" || {
    echo "$name: failed"; cat "$dir/step.err"; exit 1; }
  read -r secs kb <"$dir/time.txt"
  awk -v n="$name" -v s="$secs" -v kb="$kb" -v w="$weights" 'BEGIN {
    printf "%-34s %8.1f s  peak RSS %6.2f GiB (%.2f x weights)\n", n, s, kb / 1048576, kb * 1024 / w }'
}

echo "== weights: $n x $n floats x $layers layers = $(awk -v w="$weights" 'BEGIN { printf "%.2f GiB", w / 1073741824 }')"
step "generate" "$build/bench-large-model" "$dir" "$n" "$layers"
for f in large.onnx large.onnx.data x.npy; do printf '   %-20s %12d bytes\n' "$f" "$(stat -c %s "$dir/$f")"; done
step "onnx-tqt info (load)" "$TQT" info "$dir/large.onnx"
grep -E '^initializers' "$dir/step.out" | sed 's/^/   /'
step "onnx-tqt --no-quantize (auto ext.)" "$TQT" -q --no-quantize "$dir/large.onnx" "$dir/float.onnx"
if [ "$weights" -gt $((1 << 31)) ] && [ ! -f "$dir/float.onnx.data" ]; then
  echo "float.onnx.data was not written (external data past 2 GB)"
  exit 1
fi
echo "   float.onnx $(stat -c %s "$dir/float.onnx") bytes + float.onnx.data $(stat -c %s "$dir/float.onnx.data" 2>/dev/null || echo 0) bytes"
step "onnx-tqt quantize --external-data" "$TQT" -q "$dir/large.onnx" "$dir/int8.onnx" \
  --calib "$dir/x.npy" --external-data
echo "   int8.onnx $(stat -c %s "$dir/int8.onnx") bytes + int8.onnx.data $(stat -c %s "$dir/int8.onnx.data") bytes"
step "onnx-tqt run (float)" "$TQT" run -q -o "$dir/ours-float" "$dir/large.onnx" "$dir/x.npy"
step "onnx-tqt run (int8)" "$TQT" run -q -o "$dir/ours-int8" "$dir/int8.onnx" "$dir/x.npy"
rm -f "$dir/float.onnx" "$dir/float.onnx.data"
step "ONNX Runtime, the int8 model" node tests/ort/ort_batch.js "$dir/int8.onnx" "$dir/x.npy" \
  --compare "$dir/ours-int8" --quantized
echo "   $(tail -n 1 "$dir/step.out")"
step "ONNX Runtime, the float model" node tests/ort/ort_batch.js "$dir/large.onnx" "$dir/x.npy" \
  --compare "$dir/ours-float" --rtol 1e-3 --atol 1e-5
echo "   $(tail -n 1 "$dir/step.out")"
