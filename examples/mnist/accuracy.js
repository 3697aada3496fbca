// Top-1 accuracy of class scores against labels: node accuracy.js LOGITS.npy LABELS.npy
// (LOGITS [N, classes] as `onnx-tqt run` writes them, LABELS int64 [N]). Prints "accuracy: 0.9800".
'use strict';
const path = require('path');
const tio = require(path.join(__dirname, '..', '..', 'tests', 'ort', 'tensor_io'));

const [logitsFile, labelsFile] = process.argv.slice(2);
try {
  const logits = tio.loadTensorFile(logitsFile), labels = tio.loadTensorFile(labelsFile);
  const n = labels.dims[0], classes = tio.numElements(logits.dims) / n;
  if (!Number.isInteger(classes) || classes < 1) throw new Error('logits and labels do not match');
  let right = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits.data[i * classes + c] > logits.data[i * classes + best]) best = c;
    if (BigInt(best) === BigInt(labels.data[i])) right++;
  }
  console.log(`accuracy: ${(right / n).toFixed(4)}`);
} catch (e) {
  console.error(`accuracy: ${e.message}`);
  process.exit(1);
}
