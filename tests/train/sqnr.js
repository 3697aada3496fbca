// Output SQNR of a model's outputs against the float model's: node sqnr.js FLOAT.npy QUANT.npy
// (as `onnx-tqt run` writes them). Prints "sqnr: 31.42" (dB, 10 log10(Σf² / Σ(f−q)²)).
'use strict';
const path = require('path');
const tio = require(path.join(__dirname, '..', 'ort', 'tensor_io'));

const [floatFile, quantFile] = process.argv.slice(2);
try {
  const f = tio.loadTensorFile(floatFile), q = tio.loadTensorFile(quantFile);
  if (f.data.length !== q.data.length) throw new Error('the outputs differ in size');
  let sig = 0, noise = 0;
  for (let i = 0; i < f.data.length; i++) {
    sig += f.data[i] * f.data[i];
    noise += (f.data[i] - q.data[i]) ** 2;
  }
  console.log(`sqnr: ${(10 * Math.log10(sig / noise)).toFixed(2)}`);
} catch (e) {
  console.error(`sqnr: ${e.message}`);
  process.exit(1);
}
