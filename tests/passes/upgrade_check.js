#!/usr/bin/env node
'use strict';
// Checks models that upgrade_opset converted, with ONNX Runtime (CPU):
//
//   node tests/passes/upgrade_check.js [--rtol X] [--atol X] [--verbose] [--list FILE]... [PAIR]...
//
// A pair is CASE_DIR<TAB>CONVERTED_MODEL (one line of a --list file, or one argument; '-' reads
// the list from stdin). CASE_DIR holds the original model.onnx and test_data_set_*/ folders with
// input_K.pb or input_K.npy (K-th model input) and, optionally, the expected output_K.pb.
// Every data set is run through the original and the converted model:
//   - both run: every output of the converted model must equal the original's within
//     |a - b| <= atol + rtol * |b| (default rtol 1e-5, atol 1e-7), same type and shape: PASS;
//   - only the converted model runs (ONNX Runtime dropped most kernels of opsets below 7): its
//     outputs must match output_K.pb within the conformance tolerance (1e-3 relative, 1e-7
//     absolute): PASS (expected), or SKIP when the case has no expected outputs;
//   - the converted model does not run: FAIL if the original does, else SKIP (ORT runs neither);
//   - sequence (non-tensor) inputs or outputs: SKIP.
// Prints one line per failure (and per case with --verbose), then
// `upgrade-check: N passed (A same as original, B as expected), N failed, N skipped`;
// exits 1 when a case failed. Each case runs in a worker process: an ORT crash fails (or, on the
// original model, skips) that case only.

const fs = require('fs');
const path = require('path');
const { fork } = require('child_process');

const ortDir = path.join(__dirname, '..', 'ort');

function listDataSets(caseDir) {
  return fs.readdirSync(caseDir)
    .filter((d) => /^test_data_set_\d+$/.test(d) && fs.statSync(path.join(caseDir, d)).isDirectory())
    .sort((a, b) => Number(a.split('_').pop()) - Number(b.split('_').pop()))
    .map((d) => path.join(caseDir, d));
}

function listNumbered(dir, prefix) {
  const files = [];
  for (let k = 0; ; k++) {
    const pb = path.join(dir, `${prefix}_${k}.pb`);
    const npy = path.join(dir, `${prefix}_${k}.npy`);
    if (fs.existsSync(pb)) files.push(pb);
    else if (fs.existsSync(npy)) files.push(npy);
    else return files;
  }
}

// Runs modelPath on every data set: {outputs: [[tensor]]} or {error: reason} or {skip: reason}.
async function runModel(R, modelPath, data) {
  let session;
  try {
    session = await R.createSession(modelPath);
  } catch (e) {
    return { error: `load: ${R.oneLine(e)}` };
  }
  try {
    const meta = [...session.inputMetadata, ...session.outputMetadata].find((m) => m.isTensor === false);
    if (meta) return { skip: `non-tensor input or output '${meta.name}'` };
    const outputs = [];
    for (const ds of data) {
      const feeds = {};
      if (ds.inputs.length > session.inputNames.length) {
        return { error: `${ds.inputs.length} input files but ${session.inputNames.length} inputs` };
      }
      ds.inputs.forEach((t, k) => { feeds[session.inputNames[k]] = t; });
      try {
        outputs.push(await R.runSession(session, feeds));
      } catch (e) {
        return { error: `${path.basename(ds.dir)}: run: ${R.oneLine(e)}` };
      }
    }
    return { outputs };
  } finally {
    await R.releaseSession(session);
  }
}

function compareAll(tio, expected, got, data, opts, what) {
  for (let s = 0; s < data.length; s++) {
    const want = expected[s];
    for (let k = 0; k < want.length; k++) {
      if (k >= got[s].length) return `${path.basename(data[s].dir)}: output ${k} missing`;
      const why = tio.compareTensors(want[k], got[s][k], opts);
      if (why) return `${path.basename(data[s].dir)}: output ${k} '${got[s][k].name}' vs ${what}: ${why}`;
    }
  }
  return null;
}

async function checkCase(R, tio, c, opts) {
  const sets = listDataSets(c.dir);
  if (!sets.length) return { status: 'skipped', reason: 'no test_data_set_* in case' };
  let data;
  try {
    data = sets.map((dir) => ({
      dir,
      inputs: listNumbered(dir, 'input').map(tio.loadTensorFile),
      outputs: listNumbered(dir, 'output').map(tio.loadTensorFile),
    }));
  } catch (e) {
    return { status: 'skipped', reason: `can't read test data: ${R.oneLine(e)}` };
  }
  send({ type: 'phase', idx: c.idx, phase: 'original' });
  const orig = await runModel(R, path.join(c.dir, 'model.onnx'), data);
  if (orig.skip) return { status: 'skipped', reason: orig.skip };
  send({ type: 'phase', idx: c.idx, phase: 'converted' });
  const conv = await runModel(R, c.model, data);
  if (conv.skip) return { status: 'skipped', reason: conv.skip };
  if (conv.error) {
    if (orig.error) return { status: 'skipped', reason: `ORT runs neither: ${conv.error}` };
    return { status: 'failed', reason: `converted: ${conv.error}` };
  }
  if (!orig.error) {
    const why = compareAll(tio, orig.outputs, conv.outputs, data, opts, 'original');
    return why ? { status: 'failed', reason: why } : { status: 'passed', how: 'original' };
  }
  if (!data.some((ds) => ds.outputs.length)) {
    return { status: 'skipped', reason: `no expected outputs and ORT can't run the original: ${orig.error}` };
  }
  const why = compareAll(tio, data.map((ds) => ds.outputs), conv.outputs, data,
    { rtol: 1e-3, atol: 1e-7 }, 'expected');
  return why ? { status: 'failed', reason: `${why} (ORT can't run the original: ${orig.error})` }
    : { status: 'passed', how: 'expected', note: orig.error };
}

function send(msg) {
  if (process.send) process.send(msg);
}

function workerMain() {
  const R = require(path.join(ortDir, 'ort_run'));
  const tio = require(path.join(ortDir, 'tensor_io'));
  process.on('message', async (m) => {
    if (m.type === 'exit') { process.disconnect(); return; }
    let res;
    try {
      res = await checkCase(R, tio, m.case, m.opts);
    } catch (e) {
      res = { status: 'failed', reason: `harness error: ${R.oneLine(e)}` };
    }
    send({ type: 'result', idx: m.case.idx, ...res });
  });
  send({ type: 'ready' });
}

function usage(msg) {
  if (msg) process.stderr.write(`upgrade_check: ${msg}\n`);
  process.stderr.write('usage: node upgrade_check.js [--rtol X] [--atol X] [--verbose] [--list FILE]... [DIR<TAB>MODEL]...\n');
  process.exit(2);
}

function parentMain() {
  const o = { rtol: 1e-5, atol: 1e-7, verbose: false, pairs: [] };
  const argv = process.argv.slice(2);
  const addLine = (line, where) => {
    if (!line.trim() || line.startsWith('#')) return;
    const parts = line.split('\t');
    if (parts.length !== 2 || !parts[0] || !parts[1]) usage(`${where}: expected CASE_DIR<TAB>MODEL`);
    o.pairs.push({ dir: parts[0].replace(/\/+$/, ''), model: parts[1] });
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
    if (a === '--rtol') o.rtol = Number(val());
    else if (a === '--atol') o.atol = Number(val());
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--list') {
      const f = val();
      fs.readFileSync(f === '-' ? 0 : f, 'utf8').split(/\r?\n/).forEach((l, n) => addLine(l, `${f}:${n + 1}`));
    } else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else addLine(a, 'argument');
  }
  o.pairs.forEach((p, idx) => { p.idx = idx; });
  const results = new Array(o.pairs.length);
  let next = 0;
  let printed = 0;
  const flush = () => {
    while (printed < o.pairs.length && results[printed]) {
      const c = o.pairs[printed];
      const r = results[printed];
      if (r.status === 'failed') process.stdout.write(`FAIL ${c.dir}: ${r.reason}\n`);
      else if (o.verbose && r.status === 'skipped') process.stdout.write(`SKIP ${c.dir}: ${r.reason}\n`);
      else if (o.verbose) {
        process.stdout.write(`PASS ${c.dir} (${r.how === 'original' ? 'same as the original' :
          `matches the expected outputs; ORT can't run the original: ${r.note}`})\n`);
      }
      printed++;
    }
  };
  const finish = () => {
    const count = { passed: 0, failed: 0, skipped: 0, original: 0, expected: 0 };
    for (const r of results) {
      count[r.status]++;
      if (r.how) count[r.how]++;
    }
    process.stdout.write(`upgrade-check: ${count.passed} passed (${count.original} same as original, ` +
      `${count.expected} as expected), ${count.failed} failed, ${count.skipped} skipped\n`);
    process.exitCode = count.failed ? 1 : 0;
  };
  if (!o.pairs.length) { finish(); return; }
  const start = () => {
    const w = { child: fork(__filename, ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }), current: null, phase: null };
    const feed = () => {
      if (next >= o.pairs.length) { w.current = null; w.child.send({ type: 'exit' }); return; }
      w.current = o.pairs[next++];
      w.phase = 'original';
      w.child.send({ type: 'case', case: w.current, opts: { rtol: o.rtol, atol: o.atol } });
    };
    w.child.on('message', (m) => {
      if (m.type === 'ready') feed();
      else if (m.type === 'phase' && w.current && m.idx === w.current.idx) w.phase = m.phase;
      else if (m.type === 'result') {
        const { type, idx, ...r } = m;
        results[idx] = r;
        flush();
        feed();
      }
    });
    w.child.on('exit', (code, signal) => {
      if (w.current && !results[w.current.idx]) {
        const how = `ORT process died (${signal || `exit ${code}`})`;
        results[w.current.idx] = w.phase === 'original'
          ? { status: 'skipped', reason: `ORT can't run the original: ${how}` }
          : { status: 'failed', reason: `converted: ${how}` };
        flush();
      }
      if (next < o.pairs.length) start();
      else finish();
    });
  };
  start();
}

if (process.argv[2] === '--worker') workerMain();
else parentMain();
