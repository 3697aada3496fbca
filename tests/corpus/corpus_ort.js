// ONNX Runtime side of the corpus test, and its judgements.
//
//   node corpus_ort.js ort MODEL SAMPLES OUT        run every sample (DIR/NNN/<input>.npy); write
//        OUT/<output>.npy (the samples concatenated on axis 0, as `onnx-tqt run` writes them),
//        OUT/outputs.txt (the output names in order); print "ms <per sample>" (one thread,
//        session creation excluded). Exit 1 with one line "ort: MESSAGE" when ORT fails.
//   node corpus_ort.js same OURS ORT                 onnx-tqt's outputs against ONNX Runtime's on
//        the quantized model. An output on a power-of-two grid (the dequantized values of the last
//        QuantizeLinear) must be bit-exact except at most 0.1 % of its values one grid step apart
//        (tests/ort/ort_batch.js --quantized); an output computed in float after the last
//        DequantizeLinear may differ by more than 1e-5 of its largest magnitude on at most 0.1 %.
//        Prints one line; exit 1 when an output fails.
//   node corpus_ort.js metric KIND[@OUT,...] FLOAT INT8 [FLOAT_B INT8_B]   the task metric over
//        all samples, the float model's outputs as the reference, of the first output or of the
//        outputs named after @ (in the order the kind reads them); prints "VALUE DETAIL". KIND:
//          decision:T  value > T agrees; balanced: the mean of the agreement on the float model's
//                      positives and on its negatives (a detector that never fires fails)
//          top1        the argmax over the last axis agrees; balanced: the mean over the classes
//                      the float model predicts of the agreement on each
//          iou:T       intersection over union of the masks value > T
//          ctc         greedy CTC decodes (blank 0) identical
//          sqnr        signal (about the float output's mean) to error, in dB
//          cosine      mean cosine similarity of the vectors along the last axis
//          det:T,N     a face detector's boxes (two outputs: scores [S, A, 2], softmaxed, and
//                      boxes [S, A, 4], normalized corners): per sample the anchors with score
//                      >= T after greedy NMS at IoU N, for each model; F1 over all samples of
//                      the int8 boxes against the float ones, matched one to one at IoU >= 0.5
//   node corpus_ort.js coverage STATS.json           "QUANTIZED TOTAL" compute nodes (Conv,
//        ConvTranspose, Gemm, MatMul), from summary.compute_nodes or else summary.by_op_type.
'use strict';
const fs = require('fs');
const path = require('path');
const lib = require('./corpus_lib.js');

const { tio } = lib;

// ORT's messages without the source location and the C++ signature.
function clean(msg) {
  return msg.split('\n')[0].replace(/\/onnxruntime_src\/\S+ [^[]*\[ONNXRuntimeError\] : \d+ : \w+ : /g, '')
    .replace(/\[ONNXRuntimeError\] : \d+ : \w+ : /g, '');
}

function writeOutputs(out, names, perSample) {
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'outputs.txt'), names.join('\n') + '\n');
  names.forEach((name, k) => {
    const parts = perSample.map((s) => s[k]);
    const t0 = parts[0];
    const n = parts.reduce((a, p) => a + p.data.length, 0);
    const data = new t0.data.constructor(n);
    let off = 0;
    for (const p of parts) { data.set(p.data, off); off += p.data.length; }
    const dims = t0.dims.length && t0.dims[0] === 1 ? [parts.length, ...t0.dims.slice(1)]
      : [parts.length, ...t0.dims];
    const fits = dims.reduce((a, b) => a * b, 1) === n;
    tio.writeNpy(path.join(out, `${tio.sanitizeName(name)}.npy`), { type: t0.type, dims: fits ? dims : [n], data });
  });
}

async function cmdOrt(model, samplesDir, out) {
  let sess;
  try {
    sess = await lib.session(model);
  } catch (e) {
    throw new Error(`cannot load: ${clean(e.message)}`);
  }
  const samples = lib.readSamples(samplesDir);
  const results = [];
  let seconds = 0;
  for (let i = 0; i < samples.length; i++) {
    const t0 = process.hrtime.bigint();
    let r;
    try {
      r = await lib.run(sess, samples[i]);
    } catch (e) {
      const dims = Object.entries(samples[i]).filter(([k]) => sess.inputNames.map(tio.sanitizeName).includes(k))
        .map(([k, t]) => `${k}[${t.dims}]`).join(' ');
      throw new Error(`run failed on sample ${i} (${dims}): ${clean(e.message)}`);
    }
    // the first run of a session warms it up: not timed when there are others
    if (i > 0 || samples.length === 1) seconds += Number(process.hrtime.bigint() - t0) / 1e9;
    results.push(sess.outputNames.map((n) => r[n]));
  }
  writeOutputs(out, sess.outputNames, results);
  console.log(`ms ${(1e3 * seconds / Math.max(1, samples.length - 1)).toFixed(2)}`);
}

function load(dir, name) {
  return tio.loadTensorFile(path.join(dir, `${tio.sanitizeName(name)}.npy`));
}

function outputNames(dir) {
  return fs.readFileSync(path.join(dir, 'outputs.txt'), 'utf8').split('\n').filter(Boolean);
}

function cmdSame(ours, ref) {
  let bad = 0;
  const notes = [];
  for (const name of outputNames(ref)) {
    const b = load(ref, name);
    let a;
    try {
      a = load(ours, name);
    } catch (e) {
      notes.push(`${name}: onnx-tqt wrote no output`);
      bad++;
      continue;
    }
    if (a.data.length !== b.data.length) {
      notes.push(`${name}: ${a.data.length} values from onnx-tqt, ${b.data.length} from ORT`);
      bad++;
      continue;
    }
    const n = a.data.length;
    const isFloat = ['float32', 'float64', 'float16'].includes(b.type);
    if (!isFloat) {
      let diff = 0;
      for (let i = 0; i < n; i++) if (a.data[i] !== b.data[i]) diff++;
      if (diff) { notes.push(`${name}: ${diff} of ${n} ${b.type} values differ`); bad++; }
      continue;
    }
    // the grid: the smallest gap between distinct values of our output
    const sorted = Float64Array.from(a.data).sort();
    let step = Infinity, maxRef = 0;
    for (let i = 1; i < n; i++) { const g = sorted[i] - sorted[i - 1]; if (g > 0 && g < step) step = g; }
    for (let i = 0; i < n; i++) maxRef = Math.max(maxRef, Math.abs(b.data[i]));
    // a QuantizeLinear's grid: k * step with |k| <= 255 (float16 values are multiples of 2^-24
    // too, but span far more steps)
    let maxOurs = 0;
    for (let i = 0; i < n; i++) if (Math.abs(a.data[i]) > maxOurs) maxOurs = Math.abs(a.data[i]);
    let grid = Number.isFinite(step) && maxOurs / step <= 256.5;
    for (let i = 0; grid && i < n; i++) {
      const k = a.data[i] / step;
      if (Math.abs(k - Math.round(k)) > 1e-3) grid = false;
    }
    let exact = 0, near = 0, far = 0, maxDiff = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.abs(a.data[i] - b.data[i]);
      if (Number.isNaN(d)) {
        if (!(Number.isNaN(a.data[i]) && Number.isNaN(b.data[i]))) far++;
        continue;
      }
      maxDiff = Math.max(maxDiff, d);
      if (d === 0) exact++;
      else if (grid ? d <= step * 1.001 : d <= 1e-5 * (maxRef || 1)) near++;
      else far++;
    }
    const ok = grid ? far === 0 && near <= 0.001 * n : far <= 0.001 * n;
    if (!ok) bad++;
    if (!ok || near || far) {
      notes.push(`${name}: ${grid ? `grid ${step}` : 'float'}, ${exact}/${n} exact, ${near} ${grid ? 'one step' : 'within 1e-5'}, ` +
        `${far} further (max |diff| ${maxDiff.toExponential(2)} of max |value| ${maxRef.toExponential(2)})`);
    }
  }
  console.log(bad ? `differs: ${notes.join('; ')}` : `same${notes.length ? `: ${notes.join('; ')}` : ''}`);
  return bad ? 1 : 0;
}

function argmax(d, off, len) {
  let best = 0;
  for (let i = 1; i < len; i++) if (d[off + i] > d[off + best]) best = i;
  return best;
}

// Face detections of float (f) and int8 (q) models, sample by sample: [matched, float, int8].
function detections(param, [fs, fb], [qs, qb]) {
  const [th, nms] = param.split(',').map(Number);
  if (!(th > 0) || !(nms > 0)) throw new Error(`det:${param}: wants det:SCORE,NMS`);
  if (fs.dims.length !== 3 || fs.dims[2] !== 2 || fb.dims[2] !== 4 || fb.dims[1] !== fs.dims[1]) {
    throw new Error(`det: wants scores [S, A, 2] and boxes [S, A, 4], not [${fs.dims}] and [${fb.dims}]`);
  }
  const [S, A] = fs.dims;
  let tp = 0, nf = 0, nq = 0;
  for (let s = 0; s < S; s++) {
    const a = lib.faceBoxes(fs.data, s * A * 2, fb.data, s * A * 4, A, th, nms);
    const b = lib.faceBoxes(qs.data, s * A * 2, qb.data, s * A * 4, A, th, nms);
    nf += a.length;
    nq += b.length;
    // one to one: the pairs in order of IoU, each box used once
    const cand = [];
    a.forEach((x, i) => b.forEach((y, j) => { const v = lib.iou(x.box, y.box); if (v >= 0.5) cand.push([v, i, j]); }));
    cand.sort((u, v) => v[0] - u[0]);
    const ua = new Set(), ub = new Set();
    for (const [, i, j] of cand) if (!ua.has(i) && !ub.has(j)) { ua.add(i); ub.add(j); tp++; }
  }
  return [tp, nf, nq];
}

function metric(kind, pairs) {
  const [name, param] = kind.split(':');
  const th = Number(param);
  let num = 0, den = 0, extra = 0, sig = 0, err = 0, cos = 0;
  const perClass = {};
  for (const [fAll, qAll] of pairs) {
    for (let k = 0; k < fAll.length; k++) {
      if (fAll[k].data.length !== qAll[k].data.length) {
        throw new Error(`float and int8 outputs differ in size (${fAll[k].data.length}, ${qAll[k].data.length})`);
      }
    }
    if (name === 'det') {
      const [tp, nf, nq] = detections(param || '', fAll, qAll);
      num += tp; den += nf; extra += nq;
      continue;
    }
    const [f, q] = [fAll[0], qAll[0]];
    const C = f.dims[f.dims.length - 1];
    const n = f.data.length;
    if (name === 'decision') {
      // num/den: the negatives (float says no) that agree; sig/err: the positives
      for (let i = 0; i < n; i++) {
        if (f.data[i] > th) { err++; sig += q.data[i] > th; } else { den++; num += !(q.data[i] > th); }
      }
    } else if (name === 'iou') {
      for (let i = 0; i < n; i++) { const a = f.data[i] > th, b = q.data[i] > th; num += a && b; den += a || b; }
    } else if (name === 'top1') {
      for (let o = 0; o < n; o += C) {
        const k = argmax(f.data, o, C);
        perClass[k] = perClass[k] || [0, 0];
        perClass[k][0] += k === argmax(q.data, o, C);
        perClass[k][1]++;
        num += k === argmax(q.data, o, C); den++;
      }
    } else if (name === 'ctc') {
      const T = f.dims[f.dims.length - 2];
      for (let o = 0; o < n; o += T * C) {
        const dec = (d) => {
          const s = [];
          let prev = -1;
          for (let t = 0; t < T; t++) { const k = argmax(d, o + t * C, C); if (k !== prev && k !== 0) s.push(k); prev = k; }
          return s.join(',');
        };
        const a = dec(f.data), b = dec(q.data);
        num += a === b; den++; extra += a.length > 0;
      }
    } else if (name === 'sqnr') {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += f.data[i];
      mean /= n;
      for (let i = 0; i < n; i++) { sig += (f.data[i] - mean) ** 2; err += (q.data[i] - f.data[i]) ** 2; }
    } else if (name === 'cosine') {
      for (let o = 0; o < n; o += C) {
        let ab = 0, aa = 0, bb = 0;
        for (let i = 0; i < C; i++) { ab += f.data[o + i] * q.data[o + i]; aa += f.data[o + i] ** 2; bb += q.data[o + i] ** 2; }
        cos += ab / (Math.sqrt(aa * bb) || 1); den++;
      }
    } else {
      throw new Error(`unknown metric '${kind}'`);
    }
  }
  switch (name) {
    // balanced: the mean of the agreement on the float model's positives and on its negatives
    case 'decision': return [err && den ? (sig / err + num / den) / 2 : err ? sig / err : num / den,
      `positives ${sig}/${err} agree, negatives ${num}/${den}`];
    case 'iou': return [den ? num / den : 1, `${num}/${den} pixels`];
    // balanced: the mean over the classes the float model predicts of the agreement on each
    case 'top1': {
      const cls = Object.entries(perClass);
      return [cls.reduce((a, [, [g, t]]) => a + g / t, 0) / cls.length,
        `${num}/${den} agree; per float class ${cls.map(([k, [g, t]]) => `${k}: ${g}/${t}`).join(', ')}`];
    }
    case 'ctc': return [num / den, `${num}/${den} decodes identical`];
    case 'sqnr': return [err ? 10 * Math.log10(sig / err) : Infinity, 'dB'];
    case 'det': return [den + extra ? 2 * num / (den + extra) : 1, `F1: ${num} of ${den} float and ${extra} int8 faces matched`];
    default: return [cos / den, `mean over ${den} vectors`];
  }
}

function cmdMetric(spec, dirs) {
  const [kind, outs] = spec.split('@');
  const pairs = [];
  for (let i = 0; i + 1 < dirs.length; i += 2) {
    const have = outputNames(dirs[i]);
    const names = outs ? outs.split(',') : [have[0]];
    for (const n of names) if (!have.includes(n)) throw new Error(`the model has no output '${n}' (${have.join(', ')})`);
    pairs.push([names.map((n) => load(dirs[i], n)), names.map((n) => load(dirs[i + 1], n))]);
  }
  const [v, detail] = metric(kind, pairs);
  console.log(`${Number.isFinite(v) ? v.toFixed(4) : v} ${detail}`);
}

function cmdCoverage(file) {
  const s = JSON.parse(fs.readFileSync(file, 'utf8')).summary || {};
  if (s.compute_nodes && Number.isInteger(s.compute_nodes.total)) {
    console.log(`${s.compute_nodes.quantized} ${s.compute_nodes.total}`);
    return;
  }
  let q = 0, t = 0;
  for (const op of ['Conv', 'ConvTranspose', 'Gemm', 'MatMul']) {
    const c = (s.by_op_type || {})[op];
    if (c) { q += c.quantized; t += c.quantized + c.excluded + c.float; }
  }
  console.log(`${q} ${t}`);
}

(async () => {
  const [cmd, ...a] = process.argv.slice(2);
  let rc = 0;
  if (cmd === 'ort' && a.length === 3) await cmdOrt(...a);
  else if (cmd === 'same' && a.length === 2) rc = cmdSame(...a);
  else if (cmd === 'metric' && a.length >= 3) cmdMetric(a[0], a.slice(1));
  else if (cmd === 'coverage' && a.length === 1) cmdCoverage(a[0]);
  else { console.error('usage: corpus_ort.js ort|same|metric|coverage ...'); process.exit(2); }
  process.exit(rc);
})().catch((e) => { console.log(`ort: ${e.message}`); process.exit(1); });
