#!/usr/bin/env bash
# Installs what onnx-tqt needs (Debian 12, as root), builds it, and runs the main job on the
# bundled example model.
set -euo pipefail
cd "$(dirname "$0")"

packages=(meson ninja-build pkg-config gcc protobuf-c-compiler libprotobuf-c-dev libonnx-dev
  libcmocka-dev libjansson-dev libopenblas-dev libpng-dev libjpeg-dev libonnx-testdata)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ONNX Runtime for the tests; --ignore-scripts: its install script fetches GPU files from a host
# that is not reachable, and the CPU library ships inside the package.
if [ ! -d tests/ort/node_modules/onnxruntime-node ]; then
  npm ci --ignore-scripts --no-audit --no-fund --prefix tests/ort >/dev/null
fi

[ -d build ] || meson setup build >/dev/null
meson compile -C build >/dev/null

echo "== onnx-tqt examples/mnist/lenet.onnx build/lenet-tqt.onnx"
build/onnx-tqt -v examples/mnist/lenet.onnx build/lenet-tqt.onnx
build/onnx-tqt info build/lenet-tqt.onnx
echo "== ONNX Runtime runs the written model on the example's test sample"
rm -rf build/lenet-tqt-out
node tests/ort/ort_run.js build/lenet-tqt.onnx build/lenet-tqt-out examples/mnist/test_data_set_0/input_0.pb
echo "wrote build/lenet-tqt-out/logits.npy"
