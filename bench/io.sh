#!/usr/bin/env bash
# Load + save speed and memory on a generated ~200 MB model, with ONNX Runtime's load time of
# the same file as the reference. Usage: bench/io.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
meson compile -C "$build" bench-io >/dev/null
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$build/bench-io" "$dir" | tee "$dir/ours.txt"
node bench/ort_load.js "$dir/bench-io-in.onnx" | tee "$dir/ort.txt"
ours=$(sed -n 's/^load+save seconds: //p' "$dir/ours.txt")
ort=$(sed -n 's/^ort load seconds: //p' "$dir/ort.txt")
awk -v a="$ours" -v b="$ort" 'BEGIN { printf "ratio: onnx-tqt load+save / ONNX Runtime load = %.2f\n", a / b }'
