// Helpers of subgraphs.sh (If/Loop/Scan bodies quantized like the main graph).
//
//   node subgraphs_check.js ops MODEL.onnx
//       one line per graph and op type: GRAPH OP COUNT, GRAPH being `main` or the path of a body
//       (`if.then_branch`, `loop.body`, nested ones joined by dots)
//   node subgraphs_check.js run MODEL.onnx OUTDIR NAME=FILE...
//       ONNX Runtime (CPU, graph optimizations on: Q/DQ fuse into its int8 kernels) writes every
//       output as OUTDIR/<output>.npy
//   node subgraphs_check.js same DIR_A DIR_B
//       every .npy of DIR_A equals DIR_B's of the same name, bit for bit (exit 1 otherwise)
'use strict';
const fs = require('fs');
const path = require('path');
const ortDir = path.join(__dirname, '..', 'ort');
const tio = require(path.join(ortDir, 'tensor_io'));

function ops(model) {
  const Model = tio.getOnnxType('onnx.ModelProto');
  const m = Model.decode(fs.readFileSync(model));
  const walk = (g, where) => {
    const counts = {};
    for (const n of g.node || []) {
      counts[n.opType] = (counts[n.opType] || 0) + 1;
      for (const a of n.attribute || []) {
        if (a.g) walk(a.g, `${where === 'main' ? '' : `${where}.`}${n.name}.${a.name}`);
        (a.graphs || []).forEach((s, i) =>
          walk(s, `${where === 'main' ? '' : `${where}.`}${n.name}.${a.name}${i}`));
      }
    }
    for (const [op, c] of Object.entries(counts)) console.log(`${where} ${op} ${c}`);
  };
  walk(m.graph, 'main');
}

async function run(model, outdir, inputs) {
  const ort = require(path.join(ortDir, 'node_modules', 'onnxruntime-node'));
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all',
  });
  const feeds = {};
  for (const a of inputs) {
    const eq = a.indexOf('=');
    const t = tio.loadTensorFile(a.slice(eq + 1));
    feeds[a.slice(0, eq)] = new ort.Tensor(t.type, t.data, t.dims);
  }
  const result = await session.run(feeds);
  fs.mkdirSync(outdir, { recursive: true });
  for (const name of session.outputNames) {
    const v = result[name];
    tio.writeNpy(path.join(outdir, `${tio.sanitizeName(name)}.npy`),
      { type: v.type, dims: Array.from(v.dims, Number), data: v.data });
  }
}

function same(a, b) {
  let bad = 0;
  for (const f of fs.readdirSync(a).filter((f) => f.endsWith('.npy')).sort()) {
    const x = tio.loadTensorFile(path.join(a, f)), y = tio.loadTensorFile(path.join(b, f));
    let diff = x.dims.join(',') === y.dims.join(',') && x.data.length === y.data.length ? 0 : -1;
    for (let i = 0; diff >= 0 && i < x.data.length; i++) diff += !Object.is(x.data[i], y.data[i]);
    console.log(`${f}: ${diff < 0 ? 'shapes differ' : `${diff} of ${x.data.length} values differ`}`);
    if (diff !== 0) bad++;
  }
  return bad;
}

(async () => {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'ops' && args.length === 1) ops(args[0]);
  else if (cmd === 'run' && args.length >= 2) await run(args[0], args[1], args.slice(2));
  else if (cmd === 'same' && args.length === 2) process.exit(same(args[0], args[1]) ? 1 : 0);
  else {
    console.error('usage: subgraphs_check.js ops MODEL | run MODEL OUTDIR NAME=FILE... | same A B');
    process.exit(2);
  }
})().catch((e) => { console.error(`subgraphs_check: ${e.message}`); process.exit(1); });
