#!/usr/bin/env node
'use strict';
// Run an ONNX model with ONNX Runtime (CPU) and write every output as .npy.
//
//   node tests/ort/ort_run.js MODEL.onnx OUTDIR INPUT...
//
// INPUT is NAME=FILE (bind FILE to the model input NAME) or a plain FILE
// (bound to the model inputs not named explicitly, in order). FILE is a .npy
// or an ONNX TensorProto .pb (detected by content). Each output is written to
// OUTDIR/<output name>.npy, characters outside A-Za-z0-9._- replaced by '_'.
//
// Exit status: 0 ok; 1 with one line `ort_run: MODEL: reason` on stderr when
// an input can't be read or the session can't be created or run; 2 on usage error.
//
// Also usable as a module: createSession, tensorToOrt, ortToTensor, runSession.

const fs = require('fs');
const path = require('path');
const tio = require('./tensor_io');

let ortModule = null;
function ort() {
  if (!ortModule) {
    ortModule = require('onnxruntime-node');
    // ORT's own logger writes to stderr; keep it quiet unless asked (ORT_LOG_LEVEL=0..4).
    const lvl = process.env.ORT_LOG_LEVEL;
    const names = ['verbose', 'info', 'warning', 'error', 'fatal'];
    ortModule.env.logLevel = lvl !== undefined && names[lvl] ? names[lvl] : 'fatal';
  }
  return ortModule;
}

function logSeverity() {
  const lvl = Number(process.env.ORT_LOG_LEVEL);
  return Number.isInteger(lvl) && lvl >= 0 && lvl <= 4 ? lvl : 4;
}

// CPU, one intra-op (and inter-op) thread, default graph optimization level.
async function createSession(modelPath) {
  return ort().InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: logSeverity(),
  });
}

async function releaseSession(session) {
  if (session && typeof session.release === 'function') {
    try { await session.release(); } catch (_) { /* ignore */ }
  }
}

function tensorToOrt(t) {
  return new (ort().Tensor)(t.type, t.data, t.dims);
}

function ortToTensor(name, v) {
  if (!v || typeof v !== 'object' || !('dims' in v) || !('type' in v)) {
    throw new Error(`output '${name}' is not a tensor`);
  }
  return { name, type: v.type, dims: Array.from(v.dims, Number), data: v.data };
}

// feeds: { inputName: tensor_io tensor }. Returns [{name,type,dims,data}] in
// the model's output order.
async function runSession(session, feeds) {
  const ortFeeds = {};
  for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = tensorToOrt(t);
  const results = await session.run(ortFeeds);
  const out = [];
  for (const name of session.outputNames) {
    if (!(name in results)) throw new Error(`output '${name}' missing from results`);
    out.push(ortToTensor(name, results[name]));
  }
  for (const v of Object.values(results)) {
    if (v && typeof v.dispose === 'function') v.dispose();
  }
  return out;
}

// Turn an ORT exception into a one-line reason.
function oneLine(e) {
  const msg = e && e.message ? e.message : String(e);
  return msg.replace(/\s+/g, ' ').trim();
}

function assignInputs(session, args) {
  const names = session.inputNames;
  const feeds = {};
  const positional = [];
  for (const a of args) {
    const eq = a.indexOf('=');
    const key = eq > 0 ? a.slice(0, eq) : null;
    if (key !== null && (names.includes(key) || !fs.existsSync(a))) {
      if (!names.includes(key)) {
        throw new Error(`model has no input '${key}' (inputs: ${names.join(', ') || 'none'})`);
      }
      if (key in feeds) throw new Error(`input '${key}' given twice`);
      feeds[key] = a.slice(eq + 1);
    } else {
      positional.push(a);
    }
  }
  const free = names.filter((n) => !(n in feeds));
  if (positional.length > free.length) {
    throw new Error(`${positional.length} positional inputs but only ${free.length} unassigned model inputs`);
  }
  positional.forEach((f, i) => { feeds[free[i]] = f; });
  const tensors = {};
  for (const [k, f] of Object.entries(feeds)) tensors[k] = tio.loadTensorFile(f);
  return tensors;
}

async function main(argv) {
  if (argv.length < 2 || argv[0] === '-h' || argv[0] === '--help') {
    process.stderr.write('usage: node ort_run.js MODEL.onnx OUTDIR [NAME=FILE | FILE]...\n');
    return 2;
  }
  const [model, outdir, ...inputs] = argv;
  let session = null;
  try {
    try {
      session = await createSession(model);
    } catch (e) {
      throw new Error(`cannot create session: ${oneLine(e)}`);
    }
    const feeds = assignInputs(session, inputs);
    let outputs;
    try {
      outputs = await runSession(session, feeds);
    } catch (e) {
      throw new Error(`run failed: ${oneLine(e)}`);
    }
    fs.mkdirSync(outdir, { recursive: true });
    const used = new Set();
    for (const t of outputs) {
      let base = tio.sanitizeName(t.name);
      for (let i = 1; used.has(base); i++) base = `${tio.sanitizeName(t.name)}_${i}`;
      used.add(base);
      tio.writeNpy(path.join(outdir, `${base}.npy`), t);
    }
    return 0;
  } catch (e) {
    process.stderr.write(`ort_run: ${model}: ${oneLine(e)}\n`);
    return 1;
  } finally {
    await releaseSession(session);
  }
}

module.exports = { ort, createSession, releaseSession, tensorToOrt, ortToTensor, runSession, oneLine };

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
    process.stderr.write(`ort_run: ${process.argv[2]}: ${oneLine(e)}\n`);
    process.exitCode = 1;
  });
}
