// Helper of weights_only.sh: how the inputs of every OP node of MODEL's main graph are stored.
//
//   node weights_only_check.js MODEL.onnx OP
//       one line per input: INDEX STORAGE, STORAGE being `float` (a float32 initializer),
//       `int8` or `int8 axis=A scales=N` (an int8 initializer behind a DequantizeLinear, per
//       tensor or per channel), or `value` (computed by a node or a graph input)
'use strict';
const fs = require('fs');
const path = require('path');
const tio = require(path.join(__dirname, '..', 'ort', 'tensor_io'));

const FLOAT = 1, INT8 = 3;
const [model, op] = process.argv.slice(2);
if (!model || !op) {
  console.error('usage: weights_only_check.js MODEL.onnx OP');
  process.exit(2);
}
const g = tio.getOnnxType('onnx.ModelProto').decode(fs.readFileSync(model)).graph;
const inits = new Map((g.initializer || []).map((t) => [t.name, t]));
const producer = new Map();
for (const n of g.node || []) for (const o of n.output || []) producer.set(o, n);

function storage(name) {
  const t = inits.get(name);
  if (t) return t.dataType === FLOAT ? 'float' : `type ${t.dataType}`;
  const dq = producer.get(name);
  const q = dq && dq.opType === 'DequantizeLinear' ? inits.get(dq.input[0]) : null;
  if (!q || q.dataType !== INT8) return 'value';
  const scale = inits.get(dq.input[1]);
  const n = scale ? (scale.dims || []).reduce((a, d) => a * tio.toNumber(d), 1) : 1;
  if (n === 1) return 'int8';
  const axis = (dq.attribute || []).find((a) => a.name === 'axis');
  return `int8 axis=${axis ? tio.toNumber(axis.i) : 1} scales=${n}`;
}

for (const n of g.node || [])
  if (n.opType === op) (n.input || []).forEach((name, i) => console.log(`${i} ${storage(name)}`));
