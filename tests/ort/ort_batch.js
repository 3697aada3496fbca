// ONNX Runtime over a batch file, for comparisons with onnx-tqt's interpreter and for timing.
//
//   node ort_batch.js MODEL.onnx INPUT... [--compare OURS_DIR] [--rtol R] [--atol A]
//                     [--max-rel X] [--time] [--max-samples N] [--no-optimize]
//                     [--quantized [--off-by-one F]]
//
// INPUT is FILE.npy for a one-input model, or NAME=FILE.npy per input (as `onnx-tqt run` takes
// them), with onnx-tqt's batch rule: axis 0 indexes samples when the array has one more axis than
// the input, or when the input's batch is 1 and axis 0 is larger.
// --compare checks every output against OURS_DIR/<output>.npy as `onnx-tqt run` wrote it (samples
// stacked the same way) and prints the largest error relative to the output's largest magnitude;
// every value must be within atol + rtol·|ref|, or, with --max-rel, the largest error must be
// within X times the output's largest magnitude.
// --time prints "ort time: X.XXX ms per sample" (one intra-op thread, session creation excluded).
// --no-optimize turns ONNX Runtime's graph optimizations off (no Q/DQ fusion into int8 kernels).
// --quantized: the outputs are dequantized values on a grid; every value must equal ours, except
// at most 0.1 % (--off-by-one F: the fraction F) that may differ by one step of the grid (ONNX
// Runtime's fused int8 kernels; layers it runs in float, as 16-bit ones, whose float32 sums
// round differently from ours where they pass 2^24).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
const tio = require('./tensor_io');

function parseArgs(argv) {
  const a = { rtol: 1e-4, atol: 1e-6, maxRel: null, maxSamples: Infinity, time: false, compare: null,
    offByOne: 0.001, pos: [] };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === '--compare') a.compare = argv[++i];
    else if (v === '--rtol') a.rtol = Number(argv[++i]);
    else if (v === '--atol') a.atol = Number(argv[++i]);
    else if (v === '--max-samples') a.maxSamples = Number(argv[++i]);
    else if (v === '--max-rel') a.maxRel = Number(argv[++i]);
    else if (v === '--time') a.time = true;
    else if (v === '--no-optimize') a.noOptimize = true;
    else if (v === '--quantized') a.quantized = true;
    else if (v === '--off-by-one') a.offByOne = Number(argv[++i]);
    else a.pos.push(v);
  }
  if (a.pos.length < 2) throw new Error('usage: ort_batch.js MODEL.onnx INPUT... [--compare DIR] [--time]');
  return a;
}

// A tensor's values as numbers: float16 comes as raw bits (Uint16Array), compared as values.
function numbers(t) {
  return t.type === 'float16' && t.data instanceof Uint16Array ? Float32Array.from(t.data, tio.half2float) : t.data;
}

(async () => {
  const args = parseArgs(process.argv.slice(2));
  const [model, ...inputArgs] = args.pos;
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, interOpNumThreads: 1,
    graphOptimizationLevel: args.noOptimize ? 'disabled' : 'all',
  });
  // Each input: its name, its samples and the shape of one.
  const inputs = inputArgs.map((arg, i) => {
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : session.inputNames[i];
    const k = session.inputNames.indexOf(name);
    if (k < 0) throw new Error(`the model has no input '${name}'`);
    const x = tio.loadTensorFile(eq > 0 ? arg.slice(eq + 1) : arg);
    const modelDims = session.inputMetadata[k].shape;
    const batched = x.dims.length === modelDims.length + 1 ||
      (x.dims.length === modelDims.length && modelDims[0] === 1 && x.dims[0] > 1);
    const sampleDims = !batched ? x.dims
      : x.dims.length === modelDims.length ? [1, ...x.dims.slice(1)] : x.dims.slice(1);
    return { name, x, count: batched ? x.dims[0] : 1, sampleDims, per: tio.numElements(sampleDims) };
  });
  const count = Math.min(...inputs.map((f) => f.count), args.maxSamples);
  const outputs = session.outputNames.map(() => []);
  let seconds = 0;
  for (let s = 0; s < count; s++) {
    const feeds = {};
    for (const f of inputs)
      feeds[f.name] = new ort.Tensor(f.x.type, f.x.data.subarray(s * f.per, (s + 1) * f.per), f.sampleDims);
    const t0 = process.hrtime.bigint();
    const result = await session.run(feeds);
    seconds += Number(process.hrtime.bigint() - t0) / 1e9;
    session.outputNames.forEach((name, k) => outputs[k].push(result[name]));
  }
  if (args.time) console.log(`ort time: ${(1e3 * seconds / count).toFixed(3)} ms per sample`);
  let failed = 0;
  if (args.compare) {
    session.outputNames.forEach((name, k) => {
      const ours = numbers(tio.loadTensorFile(path.join(args.compare, `${tio.sanitizeName(name)}.npy`)));
      const refs = outputs[k].map(numbers);
      const per0 = tio.numElements(outputs[k][0].dims);
      let maxAbs = 0, maxRef = 0, bad = 0;
      for (let s = 0; s < count; s++) {
        const ref = refs[s];
        for (let i = 0; i < per0; i++) {
          const a = ours[s * per0 + i], b = ref[i];
          const err = Math.abs(a - b);
          if (!(err <= args.atol + args.rtol * Math.abs(b))) bad++;
          if (err > maxAbs || Number.isNaN(err)) maxAbs = Number.isNaN(err) ? Infinity : err;
          if (Math.abs(b) > maxRef) maxRef = Math.abs(b);
        }
      }
      console.log(`${name}: ${count} samples, max abs diff ${maxAbs.toExponential(3)} ` +
        `(${(maxAbs / (maxRef || 1)).toExponential(3)} of the largest |value|), ${bad} values outside tolerance`);
      let ok = args.maxRel !== null ? maxAbs <= args.maxRel * (maxRef || 1) : bad === 0;
      if (args.quantized) {
        // the grid step: the smallest gap between distinct values of our output
        const sorted = Float64Array.from(ours.subarray(0, count * per0)).sort();
        let step = Infinity;
        for (let i = 1; i < sorted.length; i++) {
          const gap = sorted[i] - sorted[i - 1];
          if (gap > 0 && gap < step) step = gap;
        }
        let offByOne = 0, beyond = 0;
        for (let s = 0; s < count; s++) {
          const ref = refs[s];
          for (let i = 0; i < per0; i++) {
            const diff = Math.abs(ours[s * per0 + i] - ref[i]);
            if (diff === 0) continue;
            if (diff <= step * 1.001) offByOne++;
            else beyond++;
          }
        }
        const total = count * per0;
        console.log(`${name}: ${total - offByOne - beyond} of ${total} values bit-exact, ${offByOne} ` +
          `(${(100 * offByOne / total).toFixed(3)} %) off by one step (${step}), ${beyond} further`);
        ok = beyond === 0 && offByOne <= args.offByOne * total;
      }
      if (!ok) failed++;
    });
  }
  if (session.release) await session.release();
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.error(`ort_batch: ${e.message}`); process.exit(1); });
