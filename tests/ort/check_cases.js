#!/usr/bin/env node
'use strict';
// Check saved models against ONNX backend test cases with ONNX Runtime (CPU).
//
//   node tests/ort/check_cases.js [options] [--list FILE]... [CASE_PAIR]...
//
// A case pair is ORIGINAL_CASE_DIR and SAVED_MODEL_PATH: one line
// `ORIGINAL_CASE_DIR<TAB>SAVED_MODEL_PATH` of a --list file (blank lines and
// lines starting with '#' are ignored; `--list -` reads stdin), or on the
// command line either one argument containing a TAB or two arguments in a row.
//
// ORIGINAL_CASE_DIR is an ONNX backend test case (model.onnx plus
// test_data_set_*/input_K.pb, output_K.pb). For every case:
//   1. the original model.onnx is run on every data set; if ORT can't load or
//      run it, or its outputs don't match output_K.pb, the case is skipped
//      ("ORT can't run original"); non-tensor inputs/outputs are skipped too;
//   2. the saved model must then load, run and match output_K.pb on every data
//      set, else the case fails.
// Inputs and outputs are matched by position (input_K.pb -> K-th model input).
// Floats match when |a-b| <= 1e-7 + 1e-3*|b| (NaN == NaN); other types exactly;
// shapes and element types must match.
//
// Options:
//   --list FILE     read case pairs from FILE (repeatable; '-' = stdin)
//   --jobs N        worker processes (default 1; each creates one session at a time)
//   --timeout SEC   per-case time limit (default 300); over it the case fails
//   --verbose       also print one line per skipped and passed case
//   --atol X --rtol X   override the float tolerances
//
// Output: one `FAIL ...` line per failed case, a summary line, and as the last
// line `ort: N passed, N failed, N skipped`. Exit 1 if any case failed (2 on
// usage error). Each case runs in a worker process so an ORT crash or hang
// only fails (or, on the original model, skips) that case.

const fs = require('fs');
const path = require('path');
const { fork } = require('child_process');

// ---------------------------------------------------------------------------
// worker side

function listDataSets(caseDir) {
  return fs.readdirSync(caseDir)
    .filter((d) => /^test_data_set_\d+$/.test(d) && fs.statSync(path.join(caseDir, d)).isDirectory())
    .sort((a, b) => Number(a.split('_').pop()) - Number(b.split('_').pop()))
    .map((d) => path.join(caseDir, d));
}

function listNumbered(dir, prefix) {
  const files = [];
  for (let k = 0; fs.existsSync(path.join(dir, `${prefix}_${k}.pb`)); k++) {
    files.push(path.join(dir, `${prefix}_${k}.pb`));
  }
  return files;
}

class Skip extends Error {}

// Run `modelPath` on every data set; returns null when it loads, runs and
// matches, else a reason. `data` is [{dir, inputs:[tensor], outputs:[tensor]}]
// (loaded lazily on first use, after the model's metadata was checked).
async function checkModel(R, tio, modelPath, caseDir, cache, opts, isOriginal) {
  let session;
  try {
    session = await R.createSession(modelPath);
  } catch (e) {
    return `load: ${R.oneLine(e)}`;
  }
  try {
    const nonTensorIn = session.inputMetadata.filter((m) => m.isTensor === false);
    const nonTensorOut = session.outputMetadata.filter((m) => m.isTensor === false);
    if (isOriginal && nonTensorIn.length) throw new Skip(`non-tensor input '${nonTensorIn[0].name}'`);
    if (isOriginal && nonTensorOut.length) throw new Skip(`non-tensor output '${nonTensorOut[0].name}'`);
    if (!cache.data) {
      const sets = listDataSets(caseDir);
      if (!sets.length) throw new Skip('no test_data_set_* in case');
      try {
        cache.data = sets.map((dir) => ({
          dir,
          inputs: listNumbered(dir, 'input').map(tio.loadTensorFile),
          outputs: listNumbered(dir, 'output').map(tio.loadTensorFile),
        }));
      } catch (e) {
        throw new Skip(`can't read test data: ${R.oneLine(e)}`);
      }
    }
    const inNames = session.inputNames;
    const outNames = session.outputNames;
    for (const ds of cache.data) {
      const where = path.basename(ds.dir);
      if (ds.inputs.length > inNames.length) {
        return `${where}: ${ds.inputs.length} input files but the model has ${inNames.length} inputs`;
      }
      if (ds.outputs.length > outNames.length) {
        return `${where}: ${ds.outputs.length} output files but the model has ${outNames.length} outputs`;
      }
      const feeds = {};
      ds.inputs.forEach((t, k) => { feeds[inNames[k]] = t; });
      let got;
      try {
        got = await R.runSession(session, feeds);
      } catch (e) {
        return `${where}: run: ${R.oneLine(e)}`;
      }
      for (let k = 0; k < ds.outputs.length; k++) {
        const why = tio.compareTensors(ds.outputs[k], got[k], opts);
        if (why) return `${where}: output ${k} '${outNames[k]}': ${why}`;
      }
    }
    return null;
  } finally {
    await R.releaseSession(session);
  }
}

async function checkCase(R, tio, c, opts) {
  const cache = {};
  const orig = path.join(c.orig, 'model.onnx');
  send({ type: 'phase', idx: c.idx, phase: 'original' });
  let why;
  try {
    why = await checkModel(R, tio, orig, c.orig, cache, opts, true);
  } catch (e) {
    if (e instanceof Skip) return { status: 'skipped', category: e.message.startsWith('non-tensor') ? 'non-tensor input/output' : 'other', reason: e.message };
    throw e;
  }
  if (why) return { status: 'skipped', category: "ORT can't run original", reason: `ORT can't run original: ${why}` };
  send({ type: 'phase', idx: c.idx, phase: 'saved' });
  try {
    why = await checkModel(R, tio, c.saved, c.orig, cache, opts, false);
  } catch (e) {
    if (e instanceof Skip) why = e.message;
    else throw e;
  }
  return why ? { status: 'failed', reason: why } : { status: 'passed' };
}

function send(msg) {
  if (process.send) process.send(msg);
}

function workerMain() {
  const R = require('./ort_run');
  const tio = require('./tensor_io');
  process.on('message', async (m) => {
    if (m.type === 'exit') { process.disconnect(); return; }
    if (m.type !== 'case') return;
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

// ---------------------------------------------------------------------------
// parent side

function usage(msg) {
  if (msg) process.stderr.write(`check_cases: ${msg}\n`);
  process.stderr.write('usage: node check_cases.js [--jobs N] [--timeout SEC] [--verbose] [--list FILE]... [ORIG_DIR<TAB>SAVED | ORIG_DIR SAVED]...\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { lists: [], pairs: [], jobs: 1, timeout: 300, verbose: false, atol: 1e-7, rtol: 1e-3 };
  const loose = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
    if (a === '--list') o.lists.push(val());
    else if (a === '--jobs' || a === '-j') o.jobs = Math.max(1, parseInt(val(), 10) || 1);
    else if (a === '--timeout') o.timeout = Number(val());
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--atol') o.atol = Number(val());
    else if (a === '--rtol') o.rtol = Number(val());
    else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else loose.push(a);
  }
  for (const f of o.lists) {
    const text = fs.readFileSync(f === '-' ? 0 : f, 'utf8');
    text.split(/\r?\n/).forEach((line, n) => {
      if (!line.trim() || line.startsWith('#')) return;
      const parts = line.split('\t');
      if (parts.length !== 2 || !parts[0] || !parts[1]) usage(`${f}:${n + 1}: expected ORIGINAL_CASE_DIR<TAB>SAVED_MODEL_PATH`);
      o.pairs.push({ orig: parts[0], saved: parts[1] });
    });
  }
  for (let i = 0; i < loose.length; i++) {
    if (loose[i].includes('\t')) {
      const [orig, saved] = loose[i].split('\t');
      o.pairs.push({ orig, saved });
    } else {
      if (i + 1 >= loose.length) usage(`case dir ${loose[i]} has no saved model path`);
      o.pairs.push({ orig: loose[i], saved: loose[++i] });
    }
  }
  o.pairs.forEach((p, idx) => { p.orig = p.orig.replace(/\/+$/, '') || '/'; p.idx = idx; });
  return o;
}

function parentMain() {
  const o = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const cases = o.pairs;
  const results = new Array(cases.length);
  let nextToPrint = 0;
  let nextToStart = 0;
  let active = 0;
  const cmpOpts = { atol: o.atol, rtol: o.rtol };

  const flush = () => {
    while (nextToPrint < cases.length && results[nextToPrint]) {
      const c = cases[nextToPrint];
      const r = results[nextToPrint];
      if (r.status === 'failed') process.stdout.write(`FAIL ${c.orig} ${c.saved}: ${r.reason}\n`);
      else if (o.verbose && r.status === 'skipped') process.stdout.write(`SKIP ${c.orig}: ${r.reason}\n`);
      else if (o.verbose) process.stdout.write(`PASS ${c.orig} ${c.saved}\n`);
      nextToPrint++;
    }
  };

  const finish = () => {
    const count = { passed: 0, failed: 0, skipped: 0 };
    const cats = {};
    for (const r of results) {
      count[r.status]++;
      if (r.status === 'skipped') cats[r.category] = (cats[r.category] || 0) + 1;
    }
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    const catText = Object.entries(cats).map(([k, v]) => `${v} ${k}`).join(', ');
    process.stdout.write(`check_cases: ${cases.length} cases in ${secs}s with ${o.jobs} job(s)` +
      (catText ? `; skipped: ${catText}` : '') + '\n');
    process.stdout.write(`ort: ${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped\n`);
    process.exitCode = count.failed ? 1 : 0;
  };

  if (!cases.length) { finish(); return; }

  const record = (idx, r) => {
    if (results[idx]) return;
    results[idx] = r;
    flush();
  };

  const startWorker = () => {
    const w = { child: fork(__filename, ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }), current: null, phase: null, timer: null };
    active++;
    const next = () => {
      clearTimeout(w.timer);
      if (nextToStart >= cases.length) {
        w.current = null;
        w.child.send({ type: 'exit' });
        return;
      }
      const c = cases[nextToStart++];
      w.current = c;
      w.phase = 'original';
      w.child.send({ type: 'case', case: c, opts: cmpOpts });
      if (o.timeout > 0) {
        w.timer = setTimeout(() => { w.timedOut = true; w.child.kill('SIGKILL'); }, o.timeout * 1000);
      }
    };
    w.child.on('message', (m) => {
      if (m.type === 'ready') next();
      else if (m.type === 'phase' && w.current && m.idx === w.current.idx) w.phase = m.phase;
      else if (m.type === 'result') {
        const { type, idx, ...r } = m;
        record(idx, r);
        next();
      }
    });
    w.child.on('exit', (code, signal) => {
      clearTimeout(w.timer);
      active--;
      if (w.current && !results[w.current.idx]) {
        const how = w.timedOut ? `timed out after ${o.timeout}s` : `ORT process died (${signal || `exit ${code}`})`;
        if (w.phase === 'original') {
          record(w.current.idx, { status: 'skipped', category: "ORT can't run original", reason: `ORT can't run original: ${how}` });
        } else {
          record(w.current.idx, { status: 'failed', reason: how });
        }
      }
      if (nextToStart < cases.length) startWorker();
      else if (active === 0) finish();
    });
  };

  for (let j = 0; j < Math.min(o.jobs, cases.length); j++) startWorker();
}

if (process.argv[2] === '--worker') workerMain();
else parentMain();
