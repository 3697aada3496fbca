// Shared by the corpus scripts: the manifest, sample folders, ONNX Runtime sessions, a seeded
// random generator.
'use strict';
const fs = require('fs');
const path = require('path');

const ORT_DIR = path.join(__dirname, '..', 'ort');
const ort = require(path.join(ORT_DIR, 'node_modules', 'onnxruntime-node'));
const tio = require(path.join(ORT_DIR, 'tensor_io.js'));

const COLUMNS = ['name', 'package', 'file', 'sha256', 'bytes', 'exporter', 'opset', 'features',
  'gen', 'calib', 'eval', 'size_a', 'size_b', 'metric', 'threshold', 'options', 'why'];

// "input=1,1536;h=2,1,64" -> {input: [1, 1536], h: [2, 1, 64]}; "-" -> null
function parseSizes(s) {
  if (!s || s === '-') return null;
  const out = {};
  for (const part of s.split(';')) {
    const eq = part.lastIndexOf('=');
    out[part.slice(0, eq)] = part.slice(eq + 1).split(',').map(Number);
  }
  return out;
}

function readManifest(file) {
  const rows = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split('\t');
    if (f[0] === 'name') continue;
    if (f.length !== COLUMNS.length) {
      throw new Error(`${file}: row '${f[0]}' has ${f.length} columns, not ${COLUMNS.length}`);
    }
    const r = {};
    COLUMNS.forEach((c, i) => { r[c] = f[i]; });
    r.calib = Number(r.calib);
    const [ea, eb] = r.eval.split('/').map(Number);
    r.evalA = ea;
    r.evalB = eb || 0;
    r.sizeA = parseSizes(r.size_a);
    r.sizeB = parseSizes(r.size_b);
    r.threshold = Number(r.threshold);
    rows.push(r);
  }
  return rows;
}

// mulberry32: a small seeded generator, so every run makes the same samples.
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.next = next;
  next.uniform = (lo, hi) => lo + (hi - lo) * next();
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  next.normal = () => {
    const u = Math.max(next(), 1e-12), v = next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  return next;
}

// A sample folder: DIR/NNN/<input>.npy, the layout `onnx-tqt --calib` and `run` read.
function writeSample(dir, index, feeds) {
  const d = path.join(dir, String(index).padStart(3, '0'));
  fs.mkdirSync(d, { recursive: true });
  for (const [name, t] of Object.entries(feeds)) {
    tio.writeNpy(path.join(d, `${tio.sanitizeName(name)}.npy`), { type: t.type, dims: t.dims, data: t.data });
  }
}

function readSamples(dir) {
  return fs.readdirSync(dir).filter((e) => fs.statSync(path.join(dir, e)).isDirectory()).sort()
    .map((e) => {
      const feeds = {};
      for (const f of fs.readdirSync(path.join(dir, e)).filter((x) => x.endsWith('.npy'))) {
        const t = tio.loadTensorFile(path.join(dir, e, f));
        feeds[f.slice(0, -4)] = t;
      }
      return feeds;
    });
}

async function session(model, optimize = true) {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3,
    graphOptimizationLevel: optimize ? 'all' : 'disabled',
  });
}

// Runs a session on {name: {type, dims, data}} (names as in the model or sanitized).
async function run(sess, feeds) {
  const f = {};
  for (const name of sess.inputNames) {
    const t = feeds[name] || feeds[tio.sanitizeName(name)];
    if (!t) throw new Error(`no value for input '${name}'`);
    f[name] = new ort.Tensor(t.type, t.data, t.dims);
  }
  const out = await sess.run(f);
  const res = {};
  for (const name of sess.outputNames) res[name] = { type: out[name].type, dims: out[name].dims, data: out[name].data };
  return res;
}

// Intersection over union of two corner-form boxes [x1, y1, x2, y2].
function iou(a, b) {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]), h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

// The faces of one UltraFace sample: scores [A, 2] (softmaxed, column 1 the face) and boxes
// [A, 4] (normalized corners) from offsets sOff, bOff; the anchors with score >= th, greedy
// non-maximum suppression by score (a box whose IoU with a kept one exceeds nms is dropped).
// Returns [{score, box}], highest score first.
function faceBoxes(scores, sOff, boxes, bOff, anchors, th, nms) {
  const cand = [];
  for (let i = 0; i < anchors; i++) {
    const s = scores[sOff + 2 * i + 1];
    if (s >= th) cand.push({ score: s, box: Array.from(boxes.subarray(bOff + 4 * i, bOff + 4 * i + 4)) });
  }
  cand.sort((a, b) => b.score - a.score);
  const keep = [];
  for (const c of cand) {
    if (c.box[2] <= c.box[0] || c.box[3] <= c.box[1]) continue;
    if (keep.every((k) => iou(k.box, c.box) <= nms)) keep.push(c);
  }
  return keep;
}

const f32 = (dims, data) => ({ type: 'float32', dims, data: data || new Float32Array(dims.reduce((a, b) => a * b, 1)) });

module.exports = { ort, tio, readManifest, parseSizes, rng, writeSample, readSamples, session, run, f32,
  iou, faceBoxes };
