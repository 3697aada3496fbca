#!/usr/bin/env node
'use strict';
// Check the shapes a model declares (value_info and graph outputs) against what ONNX Runtime
// computes.
//
//   node tests/ort/check_shapes.js MODEL.onnx [--bind SYM=V,SYM=V]... [--dims INPUT=D0,D1,...]...
//        [--int-range A,B] [--seed N] [--list-unknown]
//
// For each binding of the graph inputs' symbolic dims (one --bind each; without --bind two are
// picked: 32 and 48 for the symbols at axis >= 2 of a rank 4 or 5 input, image-like, 3 and 5 for
// the others; a model without symbolic input dims runs once), the script makes inputs from the
// graph input types (floats N(0,1), integers zeros or uniform in [A,B] with --int-range, bools
// false), adds every main-graph value_info entry as a graph output (its elem type only), runs the
// copy in ONNX Runtime (CPU, as ort_run.js) and compares every value_info entry and graph output
// with its declared type:
//   - rank must match when the declared type has a shape;
//   - a dim_value must equal the actual size;
//   - a dim_param is an expression over the graph inputs' symbols (integers, identifiers,
//     + - * / ( ), floor(...); '/' is exact division, so floor((W+1)/2) rounds down once) and
//     must evaluate to the actual size under the binding; an identifier that is not an input
//     symbol gets the size of the first dim declared as that identifier alone, and an expression
//     that still names an unbound identifier must be consistent: the same text gives the same
//     size everywhere in one run;
//   - an unknown dim (neither) or a missing shape is not checked, only counted.
// Values ORT cannot return (sequences, maps, optionals, element types onnxruntime-node lacks)
// are skipped and counted.
//
// --dims INPUT=D0,D1,... gives the shape of an input whose dims are unknown (or overrides it):
// each Di is a number or a symbol of the binding. --dims without --bind runs once, at those
// shapes: numbers at symbolic positions bind the symbols.
// --list-unknown prints the values whose declared shape has an unknown rank or dim, and the
// main-graph node outputs that have no value_info entry at all (both are only counted otherwise).
//
// Output: one `MISMATCH` line per mismatch (value, declared, actual, binding), then
// `shapes: N values checked, N mismatches (K bindings)`. Exit status 0 when all match, 1 on a
// mismatch or when the model cannot be loaded or run, 2 on a usage error (also when an input dim
// has neither a value nor a name and no --dims gives it). Models with external data are not
// supported (the copy is run from memory). Only the main graph is checked.

const fs = require('fs');
const tio = require('./tensor_io');
const { createSession, releaseSession, runSession, oneLine } = require('./ort_run');

class UsageError extends Error {}

// ---------------------------------------------------------------------------
// dim expressions: a small tokenizer and recursive-descent parser, evaluated in exact rationals

const IDENT_CHAR = /[A-Za-z0-9_.:?]/;

function tokenize(text) {
  const toks = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t') { i++; continue; }
    if ('+-*/()'.includes(c)) { toks.push({ k: c }); i++; continue; }
    if (IDENT_CHAR.test(c)) {
      let j = i;
      while (j < text.length && IDENT_CHAR.test(text[j])) j++;
      const word = text.slice(i, j);
      toks.push(/^[0-9]+$/.test(word) ? { k: 'num', v: BigInt(word) } : { k: 'id', v: word });
      i = j;
      continue;
    }
    throw new Error(`unexpected '${c}'`);
  }
  return toks;
}

// AST: {num: BigInt} | {id: name} | {neg: a} | {op, a, b} | {floor: a}
function parseExpr(text) {
  const toks = tokenize(text);
  let p = 0;
  const peek = () => toks[p] && toks[p].k;
  const expect = (k) => {
    if (peek() !== k) throw new Error(`expected '${k}'`);
    p++;
  };
  function sum() {
    let a = product();
    while (peek() === '+' || peek() === '-') {
      const op = toks[p++].k;
      a = { op, a, b: product() };
    }
    return a;
  }
  function product() {
    let a = unary();
    while (peek() === '*' || peek() === '/') {
      const op = toks[p++].k;
      a = { op, a, b: unary() };
    }
    return a;
  }
  function unary() {
    if (peek() === '-') { p++; return { neg: unary() }; }
    if (peek() === '+') { p++; return unary(); }
    return primary();
  }
  function primary() {
    const t = toks[p];
    if (!t) throw new Error('unexpected end');
    if (t.k === 'num') { p++; return { num: t.v }; }
    if (t.k === '(') {
      p++;
      const e = sum();
      expect(')');
      return e;
    }
    if (t.k === 'id') {
      p++;
      if (peek() === '(') {
        if (t.v !== 'floor') throw new Error(`unknown function '${t.v}'`);
        p++;
        const e = sum();
        expect(')');
        return { floor: e };
      }
      return { id: t.v };
    }
    throw new Error(`unexpected '${t.k}'`);
  }
  const e = sum();
  if (p !== toks.length) throw new Error(`unexpected '${toks[p].k === 'id' || toks[p].k === 'num' ? toks[p].v : toks[p].k}'`);
  return e;
}

function identifiers(e, out = new Set()) {
  if (e.id !== undefined) out.add(e.id);
  for (const k of ['a', 'b', 'neg', 'floor']) if (e[k]) identifiers(e[k], out);
  return out;
}

const bigAbs = (x) => (x < 0n ? -x : x);
function gcd(a, b) {
  a = bigAbs(a); b = bigAbs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}
function rat(n, d = 1n) {
  if (d === 0n) throw new Error('division by zero');
  if (d < 0n) { n = -n; d = -d; }
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g };
}

// Evaluates to a rational {n, d}; lookup(name) returns a BigInt.
function evalExpr(e, lookup) {
  if (e.num !== undefined) return rat(e.num);
  if (e.id !== undefined) return rat(lookup(e.id));
  if (e.neg) { const a = evalExpr(e.neg, lookup); return rat(-a.n, a.d); }
  if (e.floor) {
    const a = evalExpr(e.floor, lookup);
    let q = a.n / a.d;
    if (a.n % a.d !== 0n && a.n < 0n) q -= 1n;
    return rat(q);
  }
  const a = evalExpr(e.a, lookup), b = evalExpr(e.b, lookup);
  switch (e.op) {
    case '+': return rat(a.n * b.d + b.n * a.d, a.d * b.d);
    case '-': return rat(a.n * b.d - b.n * a.d, a.d * b.d);
    case '*': return rat(a.n * b.n, a.d * b.d);
    default: return rat(a.n * b.d, a.d * b.n);
  }
}

// ---------------------------------------------------------------------------
// arguments

function usage() {
  return 'usage: node check_shapes.js MODEL.onnx [--bind SYM=V,SYM=V]... [--dims INPUT=D0,D1,...]...\n' +
    '                         [--int-range A,B] [--seed N] [--list-unknown]\n';
}

function parseArgs(argv) {
  const a = { model: null, binds: [], dims: {}, intRange: null, seed: 1, listUnknown: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${v} needs a value`);
      return argv[++i];
    };
    if (v === '-h' || v === '--help') throw new UsageError('');
    else if (v === '--bind') {
      const b = new Map();
      for (const kv of val().split(',')) {
        const m = /^([^=]+)=(-?[0-9]+)$/.exec(kv.trim());
        if (!m) throw new UsageError(`--bind: '${kv}' is not SYM=INTEGER`);
        if (b.has(m[1])) throw new UsageError(`--bind: ${m[1]} given twice`);
        b.set(m[1], BigInt(m[2]));
      }
      a.binds.push(b);
    } else if (v === '--dims') {
      const s = val();
      const eq = s.lastIndexOf('=');
      if (eq <= 0) throw new UsageError(`--dims: '${s}' is not INPUT=D0,D1,...`);
      const list = s.slice(eq + 1);
      a.dims[s.slice(0, eq)] = list === '' ? [] : list.split(',').map((d) => d.trim());
    } else if (v === '--int-range') {
      const m = /^(-?[0-9]+),(-?[0-9]+)$/.exec(val());
      if (!m || Number(m[1]) > Number(m[2])) throw new UsageError('--int-range needs A,B with A <= B');
      a.intRange = [Number(m[1]), Number(m[2])];
    } else if (v === '--seed') {
      a.seed = Number(val());
      if (!Number.isInteger(a.seed)) throw new UsageError('--seed needs an integer');
    } else if (v === '--list-unknown') a.listUnknown = true;
    else if (v.startsWith('-')) throw new UsageError(`unknown option ${v}`);
    else if (a.model === null) a.model = v;
    else throw new UsageError(`unexpected argument ${v}`);
  }
  if (!a.model) throw new UsageError('');
  return a;
}

// ---------------------------------------------------------------------------
// model

const has = (o, k) => o != null && Object.prototype.hasOwnProperty.call(o, k);

// Declared dims: {value: Number} | {param: String} | {} (unknown); null: no shape (rank unknown).
function declaredDims(tensorType) {
  if (!has(tensorType, 'shape')) return null;
  return (tensorType.shape.dim || []).map((d) => {
    if (has(d, 'dimValue')) return { value: tio.toNumber(d.dimValue) };
    if (has(d, 'dimParam')) return { param: d.dimParam };
    return {};
  });
}

function fmtDeclared(dims) {
  if (dims === null) return '(no shape)';
  return `[${dims.map((d) => (d.value !== undefined ? d.value : d.param !== undefined ? d.param : '?')).join(',')}]`;
}

function typeKind(type) {
  if (!type) return 'no type';
  for (const k of ['tensorType', 'sequenceType', 'mapType', 'optionalType', 'sparseTensorType']) {
    if (has(type, k)) return k;
  }
  return 'empty type';
}

function rejectExternalData(graph) {
  for (const t of graph.initializer || []) {
    if (t.dataLocation === 1 || (t.externalData && t.externalData.length)) {
      throw new Error(`initializer '${t.name}' has external data, which check_shapes.js does not support ` +
        '(the copy with the added outputs is run from memory); write the model without --external-data');
    }
  }
}

// ---------------------------------------------------------------------------
// inputs

function lcg(seed) {
  let s = (seed >>> 0) || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
}

function float2half(f) {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, f);
  const x = buf.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    return sign | Math.round(mant / Math.pow(2, 14 - e));
  }
  const h = sign | (e << 10) | (mant >> 13);
  return (mant & 0x1000) ? h + 1 : h;
}

function makeInput(name, elemType, dims, args, rand) {
  const type = tio.ONNX_TO_ORT[elemType];
  if (!type || type === 'int4' || type === 'uint4') {
    throw new Error(`input '${name}' has element type ${tio.ONNX_TYPE_NAMES[elemType] || elemType}, which this script cannot make`);
  }
  const n = tio.numElements(dims);
  if (type === 'string') return { type, dims, data: new Array(n).fill('') };
  const data = new tio.TYPED_ARRAY[type](n);
  if (type === 'float32' || type === 'float64' || type === 'float16') {
    for (let i = 0; i < n; i++) {
      const v = Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand());
      data[i] = type === 'float16' ? float2half(v) : v;
    }
  } else if (type !== 'bool' && args.intRange) {
    const [lo, hi] = args.intRange;
    const big = type === 'int64' || type === 'uint64';
    for (let i = 0; i < n; i++) {
      const v = lo + Math.floor(rand() * (hi - lo + 1));
      data[i] = big ? BigInt(v) : v;
    }
  }
  return { type, dims, data };
}

// The dims of each real graph input under `binding` (a Map symbol -> BigInt, completed in place
// from numeric --dims given at a symbolic position).
function inputShapes(inputs, binding, args) {
  const shapes = {};
  for (const inp of inputs) {
    const tt = inp.type.tensorType;
    const decl = declaredDims(tt);
    const given = args.dims[inp.name];
    if (given) {
      if (decl && decl.length !== given.length) {
        throw new UsageError(`--dims ${inp.name}: ${given.length} dims, the input has rank ${decl.length}`);
      }
      shapes[inp.name] = given.map((g, i) => {
        if (/^[0-9]+$/.test(g)) {
          const d = decl && decl[i];
          if (d && d.param !== undefined) {
            if (binding.has(d.param) && binding.get(d.param) !== BigInt(g)) {
              throw new UsageError(`--dims ${inp.name}: dim ${i} is ${d.param}, bound to ${binding.get(d.param)}, not ${g}`);
            }
            binding.set(d.param, BigInt(g));
          }
          return Number(g);
        }
        if (!binding.has(g)) throw new UsageError(`--dims ${inp.name}: symbol ${g} is not bound (--bind ${g}=V)`);
        return Number(binding.get(g));
      });
      continue;
    }
    if (decl === null) {
      throw new UsageError(`input '${inp.name}' has no shape: give it with --dims ${inp.name}=D0,D1,...`);
    }
    shapes[inp.name] = decl.map((d, i) => {
      if (d.value !== undefined) return d.value;
      if (d.param !== undefined) {
        if (!binding.has(d.param)) throw new UsageError(`input '${inp.name}' dim ${i} is '${d.param}': bind it with --bind '${d.param}=V'`);
        return Number(binding.get(d.param));
      }
      throw new UsageError(`input '${inp.name}' dim ${i} has neither a value nor a name: give the shape with --dims ${inp.name}=D0,D1,... (or --bind for the named dims)`);
    });
  }
  return shapes;
}

function defaultBindings(inputs) {
  const spatial = new Map(); // symbol -> true when it ever sits at an image axis
  for (const inp of inputs) {
    const decl = declaredDims(inp.type.tensorType) || [];
    decl.forEach((d, i) => {
      if (d.param === undefined) return;
      const image = (decl.length === 4 || decl.length === 5) && i >= 2;
      spatial.set(d.param, (spatial.get(d.param) || false) || image);
    });
  }
  if (spatial.size === 0) return [new Map()];
  return [0, 1].map((k) => new Map([...spatial].map(([s, img]) => [s, BigInt(img ? [32, 48][k] : [3, 5][k])])));
}

const fmtBinding = (b) => (b.size ? [...b].map(([k, v]) => `${k}=${v}`).join(',') : 'static');

// ---------------------------------------------------------------------------

async function main(argv) {
  let args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e.message) process.stderr.write(`check_shapes: ${e.message}\n`);
    process.stderr.write(usage());
    return 2;
  }
  const model = args.model;
  const ModelProto = tio.getOnnxType('onnx.ModelProto');
  let m;
  try {
    m = ModelProto.decode(fs.readFileSync(model));
  } catch (e) {
    throw new Error(`cannot read the model: ${oneLine(e)}`);
  }
  const graph = m.graph;
  if (!graph) throw new Error('the model has no graph');
  rejectExternalData(graph);

  const initNames = new Set((graph.initializer || []).map((t) => t.name));
  const inputs = (graph.input || []).filter((v) => !initNames.has(v.name));
  for (const inp of inputs) {
    if (typeKind(inp.type) !== 'tensorType') {
      throw new Error(`input '${inp.name}' is not a tensor (${typeKind(inp.type)}); this script only feeds tensors`);
    }
  }
  const inputNames = new Set(inputs.map((v) => v.name));
  const symbols = new Set();
  for (const inp of inputs) for (const d of declaredDims(inp.type.tensorType) || []) if (d.param !== undefined) symbols.add(d.param);

  // what is declared: value_info entries and graph outputs, by name
  const declared = [];
  const skipped = [];
  const seen = new Set();
  const outputNames = new Set((graph.output || []).map((v) => v.name));
  for (const [where, list] of [['value_info', graph.valueInfo || []], ['output', graph.output || []]]) {
    for (const vi of list) {
      if (inputNames.has(vi.name) || seen.has(vi.name)) continue;
      seen.add(vi.name);
      const kind = typeKind(vi.type);
      if (kind !== 'tensorType') { skipped.push(`${vi.name} (${kind})`); continue; }
      const elem = vi.type.tensorType.elemType;
      const ortType = tio.ONNX_TO_ORT[elem];
      if (!ortType || ortType === 'int4' || ortType === 'uint4') {
        skipped.push(`${vi.name} (${tio.ONNX_TYPE_NAMES[elem] || `elem type ${elem}`})`);
        continue;
      }
      declared.push({ name: vi.name, where, elem, dims: declaredDims(vi.type.tensorType) });
    }
  }

  // node outputs of the main graph that nothing declares (counted, listed with --list-unknown)
  const undeclared = [];
  for (const node of graph.node || []) {
    for (const o of node.output || []) if (o && !seen.has(o) && !inputNames.has(o)) undeclared.push(o);
  }

  // the copy: every declared value_info entry also a graph output, with its elem type
  const ValueInfoProto = tio.getOnnxType('onnx.ValueInfoProto');
  for (const d of declared) {
    if (d.where === 'value_info' && !outputNames.has(d.name)) {
      graph.output.push(ValueInfoProto.create({ name: d.name, type: { tensorType: { elemType: d.elem } } }));
    }
  }
  let bytes = ModelProto.encode(m).finish();
  let session = null;
  try {
    session = await createSession(bytes);
  } catch (e) {
    // ORT may refuse declared shapes that contradict its own inference: run without value_info
    // (the comparison below still reports them).
    console.log(`note: ONNX Runtime refused the model with its value_info (${oneLine(e)}); running it without`);
    graph.valueInfo = [];
    bytes = ModelProto.encode(m).finish();
    try {
      session = await createSession(bytes);
    } catch (e2) {
      throw new Error(`cannot create session: ${oneLine(e2)}`);
    }
  }
  bytes = null;
  m = null;

  // --dims alone: one run at exactly those shapes (their numbers bind the symbols).
  const bindings = args.binds.length ? args.binds
    : Object.keys(args.dims).length ? [new Map()] : defaultBindings(inputs);
  const unknown = new Map(); // name -> declared text
  const checked = new Set();
  let mismatches = 0;
  const parsed = new Map(); // text -> AST or Error
  const parse = (text) => {
    if (!parsed.has(text)) {
      try { parsed.set(text, parseExpr(text)); } catch (e) { parsed.set(text, e); }
    }
    return parsed.get(text);
  };
  try {
    for (let bi = 0; bi < bindings.length; bi++) {
      const binding = new Map(bindings[bi]);
      const shapes = inputShapes(inputs, binding, args);
      for (const s of symbols) {
        if (!binding.has(s)) throw new UsageError(`input symbol '${s}' is not bound by --bind ${fmtBinding(bindings[bi])}`);
      }
      const rand = lcg(args.seed * 7919 + bi);
      const feeds = {};
      for (const inp of inputs) feeds[inp.name] = makeInput(inp.name, inp.type.tensorType.elemType, shapes[inp.name], args, rand);
      let outs;
      try {
        outs = await runSession(session, feeds);
      } catch (e) {
        throw new Error(`run failed at ${fmtBinding(binding)}: ${oneLine(e)}`);
      }
      const actual = new Map(outs.map((t) => [t.name, t.dims]));
      const bstr = fmtBinding(binding);
      const report = (d, why) => {
        mismatches++;
        const a = actual.get(d.name);
        console.log(`MISMATCH ${d.name}: declared ${fmtDeclared(d.dims)} actual ${a ? `[${a.join(',')}]` : 'none'} at ${bstr}: ${why}`);
      };

      // identifiers that are not input symbols: the size of the first dim declared as the
      // identifier alone; then every other text with an unbound identifier by consistency
      const derived = new Map(); // identifier -> {size, where}
      const byText = new Map(); // text -> {size, where}
      for (const d of declared) {
        const dims = actual.get(d.name);
        if (!dims || !d.dims || d.dims.length !== dims.length) continue;
        d.dims.forEach((dd, i) => {
          if (dd.param === undefined || binding.has(dd.param)) return;
          const ast = parse(dd.param);
          if (ast instanceof Error || ast.id === undefined || derived.has(ast.id)) return;
          derived.set(ast.id, { size: BigInt(dims[i]), where: `${d.name} dim ${i}` });
        });
      }
      const lookup = (name) => {
        if (binding.has(name)) return binding.get(name);
        if (derived.has(name)) return derived.get(name).size;
        throw Object.assign(new Error(`unbound ${name}`), { unbound: true });
      };

      for (const d of declared) {
        const dims = actual.get(d.name);
        if (!dims) { report(d, 'ONNX Runtime returned no such output'); continue; }
        if (d.dims === null) { unknown.set(d.name, fmtDeclared(d.dims)); continue; }
        checked.add(d.name);
        if (d.dims.length !== dims.length) { report(d, `rank ${d.dims.length}, actual rank ${dims.length}`); continue; }
        const whys = [];
        d.dims.forEach((dd, i) => {
          const got = dims[i];
          if (dd.value !== undefined) {
            if (dd.value !== got) whys.push(`dim ${i} is ${dd.value}, actual ${got}`);
            return;
          }
          if (dd.param === undefined) { unknown.set(d.name, fmtDeclared(d.dims)); return; }
          if (binding.has(dd.param)) { // an input symbol, whatever its spelling
            if (BigInt(got) !== binding.get(dd.param)) whys.push(`dim ${i} '${dd.param}' = ${binding.get(dd.param)}, actual ${got}`);
            return;
          }
          const ast = parse(dd.param);
          if (ast instanceof Error) { whys.push(`dim ${i} '${dd.param}' is not an expression (${ast.message})`); return; }
          let v;
          try {
            v = evalExpr(ast, lookup);
          } catch (e) {
            if (!e.unbound) { whys.push(`dim ${i} '${dd.param}': ${e.message}`); return; }
            const prev = byText.get(dd.param);
            if (!prev) byText.set(dd.param, { size: got, where: `${d.name} dim ${i}` });
            else if (prev.size !== got) whys.push(`dim ${i} '${dd.param}' is ${got} here but ${prev.size} at ${prev.where}`);
            return;
          }
          const names = [...identifiers(ast)].filter((n) => !binding.has(n));
          const from = names.length ? ` (with ${names.map((n) => `${n}=${derived.get(n).size} from ${derived.get(n).where}`).join(', ')})` : '';
          if (v.d !== 1n) whys.push(`dim ${i} '${dd.param}' = ${v.n}/${v.d}${from}, not an integer; actual ${got}`);
          else if (v.n !== BigInt(got)) whys.push(`dim ${i} '${dd.param}' = ${v.n}${from}, actual ${got}`);
        });
        if (whys.length) report(d, whys.join('; '));
      }
    }
  } finally {
    await releaseSession(session);
  }
  if (skipped.length) console.log(`skipped: ${skipped.length} values ONNX Runtime cannot return: ${skipped.join(', ')}`);
  if (unknown.size) {
    console.log(`unknown: ${unknown.size} values with an unknown rank or dim${args.listUnknown ? '' : ' (--list-unknown lists them)'}`);
    if (args.listUnknown) for (const [n, t] of unknown) console.log(`UNKNOWN ${n}: declared ${t}`);
  }
  if (undeclared.length) {
    console.log(`undeclared: ${undeclared.length} node outputs have no value_info${args.listUnknown ? '' : ' (--list-unknown lists them)'}`);
    if (args.listUnknown) console.log(`UNDECLARED ${undeclared.join(' ')}`);
  }
  console.log(`shapes: ${checked.size} values checked, ${mismatches} mismatches (${bindings.length} bindings)`);
  return mismatches ? 1 : 0;
}

module.exports = { parseExpr, evalExpr };

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
    process.stderr.write(`check_shapes: ${process.argv[2]}: ${oneLine(e)}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  });
}
