// Checks of onnx-tqt's statistics and fixed-point files for tests/report/report_test.sh.
//
//   node check_stats.js fields STATS.json          every field stats.h promises, sane values
//   node check_stats.js same A.json B.json [--tolerant-3sd]
//                                                  the activation histograms, thresholds and
//                                                  exponents of A and B are identical; prints
//                                                  "N tensors identical"
//   node check_stats.js warning STATS.json KIND    a warning of that kind is present
//   node check_stats.js fixpoint FIX.json          every field fixpoint.h promises, shifts
//                                                  = fp_in + fp_w − fp_out
//   node check_stats.js search STATS.json           the exponent search's record is consistent:
//                                                  each group starts where the one before ended,
//                                                  keeps its best try, and the output SQNR
//                                                  never falls; prints the groups moved
//   node check_stats.js quality STATS.json MIN_DB MIN_TOP1
//                                                  every output's SQNR ≥ MIN_DB, top-1 ≥ MIN_TOP1
// Exits 0 when the check holds, else prints why on stderr and exits 1.
'use strict';
const fs = require('fs');

function load(p) { return JSON.parse(fs.readFileSync(p, 'utf8')); }
function fail(msg) { console.error(`check_stats: ${msg}`); process.exit(1); }
function need(obj, keys, what) {
  for (const k of keys) if (!(k in obj)) fail(`${what}: no field '${k}'`);
}

function fields(path) {
  const s = load(path);
  if (s.format !== 'onnx-tqt-stats' || s.version !== 1) fail('not an onnx-tqt-stats v1 file');
  need(s, ['model', 'settings', 'samples', 'summary', 'tensors', 'nodes', 'outputs', 'warnings'], 'file');
  need(s.model, ['path', 'producer', 'opset', 'nodes', 'fingerprint'], 'model');
  need(s.settings, ['wbits', 'abits', 'bbits', 'act_method', 'weight_method', 'input_method',
    'per_channel', 'accumulator_bits', 'exclude_op_types', 'exclude_nodes'], 'settings');
  need(s.summary, ['quantized_nodes', 'excluded_nodes', 'float_nodes', 'tensors', 'by_op_type',
    'excluded', 'size_float_bytes', 'size_quantized_bytes'], 'summary');
  if (!(s.summary.size_quantized_bytes < s.summary.size_float_bytes)) fail('quantized size not smaller');
  if (s.tensors.length !== s.summary.tensors || !s.tensors.length) fail('tensor count');
  let byOp = 0;
  for (const c of Object.values(s.summary.by_op_type)) byOp += c.quantized;
  if (byOp !== s.summary.quantized_nodes || s.nodes.length !== byOp) fail('node counts disagree');
  for (const t of s.tensors) {
    const what = `tensor '${t.name}'`;
    need(t, ['name', 'kind', 'method', 'threshold', 'exponent', 'bits', 'signed', 'scale', 'count',
      'zeros', 'min', 'max', 'mean', 'std', 'clipped_fraction', 'sqnr_db', 'histogram'], what);
    need(t.histogram, ['bins_total', 'range_exp', 'has_range', 'count', 'zeros', 'min', 'max', 'sum',
      'sumsq', 'bins'], `${what} histogram`);
    const sum = t.histogram.bins.reduce((a, b) => a + b, 0);
    if (sum !== t.histogram.count || t.count !== t.histogram.count) fail(`${what}: bins do not add up`);
    if (t.kind === 'activation') {
      if (!(t.threshold > 0) || !Number.isInteger(t.exponent)) fail(`${what}: threshold/exponent`);
      if (t.scale !== Math.pow(2, t.exponent - (t.signed ? t.bits - 1 : t.bits))) fail(`${what}: scale`);
      if (typeof t.sqnr_db !== 'number' && !t.exact) fail(`${what}: no SQNR`);
    }
    if (!(t.clipped_fraction >= 0 && t.clipped_fraction <= 1)) fail(`${what}: clipped fraction`);
  }
  for (const n of s.nodes) {
    need(n, ['name', 'op_type', 'output', 'quantized_output', 'sqnr_db', 'cosine'], `node '${n.name}'`);
    if (['Conv', 'Gemm', 'MatMul'].includes(n.op_type) && n.weight &&
        !(n.accumulator && n.accumulator.needed > 0 && n.accumulator.available === 32))
      fail(`node '${n.name}': accumulator`);
    if (typeof n.sqnr_db !== 'number' && !n.exact) fail(`node '${n.name}': no SQNR`);
  }
  if (!s.outputs.length) fail('no outputs compared');
  console.log(`${s.tensors.length} tensors, ${s.nodes.length} nodes, ${s.warnings.length} warnings`);
}

function same(pa, pb, tolerant) {
  const a = load(pa), b = load(pb);
  const acts = (s) => new Map(s.tensors.filter((t) => t.kind === 'activation').map((t) => [t.name, t]));
  const ma = acts(a), mb = acts(b);
  if (ma.size !== mb.size || !ma.size) fail(`${ma.size} against ${mb.size} activations`);
  if (a.samples !== b.samples) fail(`${a.samples} against ${b.samples} samples`);
  for (const [name, ta] of ma) {
    const tb = mb.get(name);
    if (!tb) fail(`'${name}' missing in ${pb}`);
    const ha = ta.histogram, hb = tb.histogram;
    for (const k of ['count', 'zeros', 'min', 'max', 'range_exp', 'has_range'])
      if (ha[k] !== hb[k]) fail(`'${name}': histogram ${k} ${ha[k]} against ${hb[k]}`);
    if (JSON.stringify(ha.bins) !== JSON.stringify(hb.bins)) fail(`'${name}': bins differ`);
    if (ta.exponent !== tb.exponent) fail(`'${name}': exponent ${ta.exponent} against ${tb.exponent}`);
    const exact = ta.threshold === tb.threshold;
    const close = Math.abs(ta.threshold - tb.threshold) <= 1e-12 * Math.abs(ta.threshold);
    // 3sd reads sum and sumsq, which add up in another order when merged: equal to rounding
    if (!exact && !(tolerant && close))
      fail(`'${name}': threshold ${ta.threshold} against ${tb.threshold}`);
  }
  console.log(`${ma.size} tensors identical`);
}

function warning(path, kind) {
  const s = load(path);
  if (!s.warnings.some((w) => w.kind === kind && w.message)) fail(`no '${kind}' warning`);
}

function fixpoint(path) {
  const f = load(path);
  if (f.format !== 'onnx-tqt-fixpoint' || f.version !== 1) fail('not an onnx-tqt-fixpoint v1 file');
  const byName = new Map(f.tensors.map((t) => [t.name, t]));
  for (const t of f.tensors) {
    need(t, ['name', 'kind', 'bits', 'signed', 'container', 'exponent', 'fp'], `tensor '${t.name}'`);
    if (t.kind === 'activation' && t.fp !== t.bits - (t.signed ? 1 : 0) - t.exponent)
      fail(`tensor '${t.name}': fp ${t.fp} is not b - 1 - exponent`);
    if (t.kind !== 'activation' && !t.integer_initializer) fail(`tensor '${t.name}': integer_initializer`);
  }
  if (!f.layers.length) fail('no layers');
  const at = (v, c) => (Array.isArray(v) ? v[c] : v);
  for (const l of f.layers) {
    need(l, ['node', 'op_type', 'input', 'weight', 'bias', 'output', 'activation', 'fp_in', 'fp_w',
      'fp_b', 'fp_out', 'output_shift', 'bias_shift', 'output_range', 'k', 'accumulator_bits',
      'accumulator_bits_from_weights'], `layer '${l.node}'`);
    const n = Array.isArray(l.fp_w) ? l.fp_w.length : 1;
    for (let c = 0; c < n; c++) {
      if (at(l.output_shift, c) !== l.fp_in + at(l.fp_w, c) - l.fp_out) fail(`layer '${l.node}': output_shift`);
      if (l.bias !== null && at(l.bias_shift, c) !== l.fp_in + at(l.fp_w, c) - at(l.fp_b, c))
        fail(`layer '${l.node}': bias_shift`);
    }
    if (l.fp_in !== byName.get(l.input).fp || l.fp_out !== byName.get(l.output).fp) fail(`layer '${l.node}': fp`);
    if (!(l.accumulator_bits_from_weights <= l.accumulator_bits)) fail(`layer '${l.node}': accumulator bound`);
  }
  console.log(`${f.tensors.length} tensors, ${f.layers.length} layers`);
}

function search(path) {
  const s = load(path), sum = s.summary.search;
  if (!sum) fail('no summary.search');
  need(sum, ['groups', 'moved', 'output_sqnr_before_db', 'output_sqnr_after_db'], 'summary.search');
  if (s.settings.search === 'off') fail('settings.search is off');
  const searched = s.tensors.filter((t) => t.search);
  if (searched.length !== sum.groups) fail(`${searched.length} tensors with tries, ${sum.groups} groups`);
  let level = sum.output_sqnr_before_db, moved = 0;
  for (const t of searched) {
    const what = `tensor '${t.name}'`, tries = t.search.tries;
    if (!tries.length || tries[0].exponent !== t.search.start) fail(`${what}: first try is not the start`);
    if (tries[0].output_sqnr_db !== level) fail(`${what}: starts at ${tries[0].output_sqnr_db} dB, not ${level}`);
    const best = Math.max(...tries.map((k) => k.output_sqnr_db));
    const kept = tries.find((k) => k.output_sqnr_db === best);
    if (kept.exponent !== t.exponent) fail(`${what}: exponent ${t.exponent}, best try ${kept.exponent}`);
    if (s.tensors.some((m) => m.group === t.name && m.exponent !== t.exponent)) fail(`${what}: group split`);
    moved += t.exponent !== t.search.start || kept.uniform === true;
    level = best;
  }
  if (level !== sum.output_sqnr_after_db) fail(`ends at ${level} dB, summary says ${sum.output_sqnr_after_db}`);
  if (moved !== sum.moved) fail(`${moved} moved, summary says ${sum.moved}`);
  if (!(sum.output_sqnr_after_db >= sum.output_sqnr_before_db)) fail('the output SQNR fell');
  console.log(`${sum.moved} of ${sum.groups} groups moved, ${sum.output_sqnr_before_db.toFixed(2)} -> ` +
    `${sum.output_sqnr_after_db.toFixed(2)} dB`);
}

// The activation method chosen by measurement: kl_j, mse, max, the 99.99th and 99.9th percentiles
// tried, the best kept (the first of equals), every activation that took the default now
// has it, and the exponent search starts from its output SQNR.
function method(path) {
  const s = load(path), ch = s.summary.method_choice;
  if (!ch) fail('no summary.method_choice');
  if (s.settings.act_method !== 'auto') fail(`settings.act_method is ${s.settings.act_method}`);
  const label = (k, m) => (k.percentile === undefined ? m : `${m} ${k.percentile}`);
  const names = ch.tries.map((k) => label(k, k.method)).join();
  if (names !== 'kl_j,mse,max,percentile 99.99,percentile 99.9') fail(`tried ${names}`);
  const best = ch.tries.reduce((a, k) => (k.output_sqnr_db > a.output_sqnr_db ? k : a));
  if (label(best, best.method) !== label(ch, ch.chosen) || best.output_sqnr_db !== ch.output_sqnr_db)
    fail(`chose ${label(ch, ch.chosen)}, best was ${label(best, best.method)}`);
  // the graph inputs, the outputs and Sigmoid/HardSigmoid/Softmax outputs keep max
  const bad = s.tensors.filter((t) => t.kind === 'activation' && t.method !== ch.chosen && t.method !== 'max');
  if (bad.length) fail(`tensor '${bad[0].name}' has ${bad[0].method}, not ${ch.chosen}`);
  if (s.summary.search && s.summary.search.output_sqnr_before_db !== best.output_sqnr_db)
    fail(`the search starts at ${s.summary.search.output_sqnr_before_db} dB, the choice gave ${best.output_sqnr_db}`);
  console.log(`chose ${label(ch, ch.chosen)}: ${ch.tries.map((k) => `${label(k, k.method)} ${k.output_sqnr_db.toFixed(2)}`).join(', ')} dB`);
}

// Bias correction's record: the channels and layers it counts are the biases' nonzero
// corrections, only quantized Conv/ConvTranspose/Gemm biases have one, the output SQNR did not
// fall (auto keeps a layer's correction only when it rises), and at least minChannels moved.
function bias(path, minChannels) {
  const s = load(path), sum = s.summary.bias_correction;
  if (!sum) fail('no summary.bias_correction');
  need(sum, ['layers', 'corrected_layers', 'channels', 'output_sqnr_before_db', 'output_sqnr_after_db'],
    'summary.bias_correction');
  if (s.settings.bias_correction === 'off') fail('settings.bias_correction is off');
  let layers = 0, channels = 0;
  for (const t of s.tensors) {
    if (!t.bias_correction) continue;
    if (t.kind !== 'bias' || !['Conv', 'ConvTranspose', 'Gemm'].includes(t.owner_op))
      fail(`tensor '${t.name}' (${t.kind} of ${t.owner_op}) has a bias correction`);
    const moved = t.bias_correction.filter((x) => x !== 0).length;
    if (!moved) fail(`tensor '${t.name}': a correction that moves nothing`);
    if (t.bias_correction.some((x) => !Number.isFinite(x))) fail(`tensor '${t.name}': not finite`);
    layers++;
    channels += moved;
  }
  if (layers !== sum.corrected_layers) fail(`${layers} biases corrected, summary says ${sum.corrected_layers}`);
  if (channels !== sum.channels) fail(`${channels} channels moved, summary says ${sum.channels}`);
  if (!(sum.corrected_layers <= sum.layers)) fail('more layers corrected than measured');
  if (!(sum.output_sqnr_after_db >= sum.output_sqnr_before_db)) fail('the output SQNR fell');
  if (channels < minChannels) fail(`${channels} channels moved, expected at least ${minChannels}`);
  if (channels && !(sum.output_sqnr_after_db > sum.output_sqnr_before_db))
    fail('channels moved without a gain');
  console.log(`${channels} channels of ${layers} of ${sum.layers} layers, ` +
    `${sum.output_sqnr_before_db.toFixed(2)} -> ${sum.output_sqnr_after_db.toFixed(2)} dB`);
}

function quality(path, minDb, minTop1) {
  const s = load(path);
  for (const o of s.outputs) {
    if (!(o.exact || o.sqnr_db >= minDb)) fail(`output '${o.name}': SQNR ${o.sqnr_db} < ${minDb}`);
    if (o.top1_agreement !== null && !(o.top1_agreement >= minTop1))
      fail(`output '${o.name}': top-1 agreement ${o.top1_agreement} < ${minTop1}`);
  }
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'fields') fields(args[0]);
else if (cmd === 'same') same(args[0], args[1], args[2] === '--tolerant-3sd');
else if (cmd === 'warning') warning(args[0], args[1]);
else if (cmd === 'fixpoint') fixpoint(args[0]);
else if (cmd === 'search') search(args[0]);
else if (cmd === 'bias') bias(args[0], Number(args[1] || 0));
else if (cmd === 'method') method(args[0]);
else if (cmd === 'quality') quality(args[0], Number(args[1]), Number(args[2]));
else fail('usage: check_stats.js fields|same|warning|fixpoint|search|bias|method|quality ...');
