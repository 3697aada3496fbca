'use strict';
// Tensor file I/O shared by the ORT harness scripts.
//
// A "tensor" here is a plain object { name, type, dims, data } where
//   type : ONNX Runtime (onnxruntime-common) type string: 'float32', 'float64',
//          'int8', 'uint8', 'int16', 'uint16', 'int32', 'int64', 'uint32',
//          'uint64', 'bool', 'float16', 'string' (and 'int4'/'uint4', packed)
//   dims : array of non-negative Numbers
//   data : typed array as onnxruntime-node expects it (bool -> Uint8Array,
//          float16 -> Uint16Array of raw IEEE half bits, int64 -> BigInt64Array,
//          uint64 -> BigUint64Array, string -> Array of JS strings)
// so `new ort.Tensor(t.type, t.data, t.dims)` builds the ORT tensor directly.
//
// Exports:
//   loadTensorFile(path)          .npy or ONNX TensorProto .pb (sniffed by magic)
//   decodeNpy(buf) / encodeNpy(t) / writeNpy(path, t)
//   decodeTensorProto(buf) / encodeTensorProto(t) / writeTensorProto(path, t)
//   getOnnxType('onnx.ModelProto') (any message of onnx.proto), toNumber(Long|bigint|number)
//   compareTensors(expected, actual, opts) -> null when equal, else a reason
//   sanitizeName(name), numElements(dims), half2float(bits)

const fs = require('fs');
const path = require('path');
const protobuf = require('protobufjs');
const npyjs = require('npyjs');

// ---------------------------------------------------------------------------
// type tables

// ONNX TensorProto.DataType enum value -> ORT type string (undefined: unsupported)
const ONNX_TO_ORT = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32',
  7: 'int64', 8: 'string', 9: 'bool', 10: 'float16', 11: 'float64',
  12: 'uint32', 13: 'uint64', 21: 'uint4', 22: 'int4',
};
const ONNX_TYPE_NAMES = {
  0: 'UNDEFINED', 1: 'FLOAT', 2: 'UINT8', 3: 'INT8', 4: 'UINT16', 5: 'INT16',
  6: 'INT32', 7: 'INT64', 8: 'STRING', 9: 'BOOL', 10: 'FLOAT16', 11: 'DOUBLE',
  12: 'UINT32', 13: 'UINT64', 14: 'COMPLEX64', 15: 'COMPLEX128', 16: 'BFLOAT16',
  17: 'FLOAT8E4M3FN', 18: 'FLOAT8E4M3FNUZ', 19: 'FLOAT8E5M2', 20: 'FLOAT8E5M2FNUZ',
  21: 'UINT4', 22: 'INT4', 23: 'FLOAT4E2M1',
};
const ORT_TO_ONNX = {};
for (const [k, v] of Object.entries(ONNX_TO_ORT)) ORT_TO_ONNX[v] = Number(k);

const TYPED_ARRAY = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array, float16: Uint16Array,
  int4: Uint8Array, uint4: Uint8Array,
};

// npy descr code (without byte-order char) <-> ORT type
const NPY_TO_ORT = {
  f4: 'float32', f8: 'float64', i1: 'int8', u1: 'uint8', i2: 'int16', u2: 'uint16',
  i4: 'int32', u4: 'uint32', i8: 'int64', u8: 'uint64', b1: 'bool', f2: 'float16',
};
const ORT_TO_NPY = {};
for (const [k, v] of Object.entries(NPY_TO_ORT)) ORT_TO_NPY[v] = k;

function numElements(dims) {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

// number of storage units in `data` for `n` elements of `type`
function storageLength(type, n) {
  return type === 'int4' || type === 'uint4' ? Math.ceil(n / 2) : n;
}

function sanitizeName(name) {
  const s = String(name).replace(/[^A-Za-z0-9._-]/g, '_');
  return s === '' || s === '.' || s === '..' ? s.replace(/\./g, '_') || '_' : s;
}

// Copy bytes into a fresh (aligned) ArrayBuffer and view them as `type`.
function viewBytes(type, bytes, count) {
  const Ctor = TYPED_ARRAY[type];
  const need = count * Ctor.BYTES_PER_ELEMENT;
  if (bytes.byteLength !== need) {
    throw new Error(`${type} data has ${bytes.byteLength} bytes, expected ${need}`);
  }
  const ab = new ArrayBuffer(need);
  new Uint8Array(ab).set(bytes.subarray ? bytes.subarray(0, need) : new Uint8Array(bytes, 0, need));
  return new Ctor(ab);
}

// ---------------------------------------------------------------------------
// float16 helpers

function half2float(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * Math.pow(2, -24);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * Math.pow(2, e - 15);
}

// ---------------------------------------------------------------------------
// .npy

function isNpy(buf) {
  return buf.length >= 6 && buf[0] === 0x93 && buf.toString('latin1', 1, 6) === 'NUMPY';
}

// Reverse the axes of a C-ordered array (used for Fortran-ordered .npy).
function reverseAxes(data, dims) {
  // data is C-order for reversed dims; produce C-order for dims
  const nd = dims.length;
  const n = numElements(dims);
  const out = Array.isArray(data) ? new Array(n) : new data.constructor(n);
  const rdims = dims.slice().reverse();
  const rstrides = new Array(nd);
  let acc = 1;
  for (let i = nd - 1; i >= 0; i--) { rstrides[i] = acc; acc *= rdims[i]; }
  const idx = new Array(nd).fill(0);
  for (let k = 0; k < n; k++) {
    // idx is the multi-index in dims (C order); source index in rdims is idx reversed
    let src = 0;
    for (let i = 0; i < nd; i++) src += idx[i] * rstrides[nd - 1 - i];
    out[k] = data[src];
    for (let i = nd - 1; i >= 0; i--) {
      if (++idx[i] < dims[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

function decodeUnicodeNpy(bytes, charsPerItem, n) {
  const out = new Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) {
    let s = '';
    for (let j = 0; j < charsPerItem; j++) {
      const cp = dv.getUint32((i * charsPerItem + j) * 4, true);
      if (cp === 0) break;
      s += String.fromCodePoint(cp);
    }
    out[i] = s;
  }
  return out;
}

// Decode a .npy file (Buffer). Header and numeric payloads are parsed with npyjs;
// unicode ('<U') payloads are decoded here (npyjs mishandles non-BMP characters).
function decodeNpy(buf, name = '') {
  if (!isNpy(buf)) throw new Error('not an .npy file');
  const major = buf[6];
  const hdrOff = major <= 1 ? 10 : 12;
  if (buf.length < hdrOff) throw new Error('truncated .npy header');
  const hdrLen = major <= 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const dataOff = hdrOff + hdrLen;
  if (buf.length < dataOff) throw new Error('truncated .npy header');
  const header = buf.toString('latin1', hdrOff, dataOff);
  const descr = (/'descr'\s*:\s*'([^']+)'/.exec(header) || [])[1];
  if (!descr) throw new Error('.npy header has no descr');
  const order = descr[0];
  const code = '<>|='.includes(order) ? descr.slice(1) : descr;
  if (order === '>' && !/^[iub]1$/.test(code)) {
    throw new Error(`big-endian .npy dtype '${descr}' is not supported`);
  }
  const payload = buf.subarray(dataOff);

  let parsed;
  let type;
  if (code[0] === 'U') {
    const m = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
    const shape = (m ? m[1] : '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
    const fortran = /'fortran_order'\s*:\s*True/.test(header);
    const width = parseInt(code.slice(1), 10);
    const n = numElements(shape);
    if (payload.byteLength < n * width * 4) throw new Error('truncated .npy data');
    parsed = { data: decodeUnicodeNpy(payload, width, n), shape, fortranOrder: fortran };
    type = 'string';
  } else {
    type = NPY_TO_ORT[code];
    if (!type) throw new Error(`unsupported .npy dtype '${descr}'`);
    // npyjs builds typed-array views at the data offset, so re-lay the file with
    // the data 8-byte aligned (padding the header with spaces, which it trims).
    const pad = (8 - (dataOff % 8)) % 8;
    const ab = new ArrayBuffer(dataOff + pad + payload.byteLength);
    const u8 = new Uint8Array(ab);
    u8.set(buf.subarray(0, dataOff - 1), 0);
    u8.fill(0x20, dataOff - 1, dataOff - 1 + pad);
    u8[dataOff - 1 + pad] = buf[dataOff - 1];
    u8.set(payload, dataOff + pad);
    const dvh = new DataView(ab);
    if (major <= 1) dvh.setUint16(8, hdrLen + pad, true);
    else dvh.setUint32(8, hdrLen + pad, true);
    const elem = TYPED_ARRAY[type].BYTES_PER_ELEMENT;
    // npyjs views the whole rest of the buffer; trim to a multiple of the element size
    const usable = dataOff + pad + payload.byteLength - (payload.byteLength % elem);
    parsed = npyjs.parse(ab.slice(0, usable), { convertFloat16: false });
  }

  const dims = parsed.shape.map(Number);
  const n = numElements(dims);
  let data = parsed.data;
  if (data.length < n) throw new Error(`.npy data has ${data.length} elements, shape needs ${n}`);
  if (type === 'bool') {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = data[i] ? 1 : 0;
    data = b;
  } else if (type === 'string') {
    data = data.slice(0, n);
  } else {
    data = new TYPED_ARRAY[type](data.subarray(0, n)); // own, compact copy
  }
  if (parsed.fortranOrder && dims.length > 1) data = reverseAxes(data, dims);
  return { name, type, dims, data };
}

function encodeNpy(t) {
  const { type, dims } = t;
  const n = numElements(dims);
  let data = t.data;
  if (type === 'int4' || type === 'uint4') {
    // unpack nibbles (low nibble first) into one byte per element
    const out = type === 'int4' ? new Int8Array(n) : new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      let v = (data[i >> 1] >> ((i & 1) * 4)) & 0xf;
      if (type === 'int4' && v > 7) v -= 16;
      out[i] = v;
    }
    return encodeNpy({ type: type === 'int4' ? 'int8' : 'uint8', dims, data: out });
  }
  if (type === 'string') {
    const cps = data.map((s) => Array.from(String(s), (c) => c.codePointAt(0)));
    const width = Math.max(1, ...cps.map((c) => c.length));
    const body = Buffer.alloc(n * width * 4);
    cps.forEach((c, i) => c.forEach((cp, j) => body.writeUInt32LE(cp, (i * width + j) * 4)));
    const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
    let hdr = `{'descr': '<U${width}', 'fortran_order': False, 'shape': ${shape}, }`;
    const total = 10 + hdr.length + 1;
    hdr += ' '.repeat((64 - (total % 64)) % 64) + '\n';
    const head = Buffer.alloc(10);
    head.write('\x93NUMPY', 0, 'latin1');
    head[6] = 1; head[7] = 0;
    head.writeUInt16LE(hdr.length, 8);
    return Buffer.concat([head, Buffer.from(hdr, 'latin1'), body]);
  }
  const code = ORT_TO_NPY[type];
  if (!code) throw new Error(`cannot write ${type} tensor as .npy`);
  if (data.length !== n) throw new Error(`${type} tensor has ${data.length} elements, dims need ${n}`);
  if (!(data instanceof TYPED_ARRAY[type])) data = new TYPED_ARRAY[type](data);
  return Buffer.from(npyjs.dump(data, dims.slice(), { dtype: code }));
}

function writeNpy(file, t) {
  fs.writeFileSync(file, encodeNpy(t));
}

// ---------------------------------------------------------------------------
// ONNX TensorProto (.pb)

const ONNX_PROTO_PATH = process.env.ONNX_PROTO || '/usr/include/onnx/onnx.proto';

// Minimal TensorProto used only when onnx.proto is not installed (same field numbers).
const FALLBACK_TENSOR_PROTO = `
syntax = "proto2";
package onnx;
message StringStringEntryProto { optional string key = 1; optional string value = 2; }
message TensorProto {
  message Segment { optional int64 begin = 1; optional int64 end = 2; }
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional Segment segment = 3;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional string doc_string = 12;
  optional bytes raw_data = 9;
  repeated StringStringEntryProto external_data = 13;
  optional int32 data_location = 14;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
}
`;

let onnxRoot; // undefined: not loaded yet; null: onnx.proto is not installed
function loadOnnxRoot() {
  if (onnxRoot === undefined) {
    onnxRoot = fs.existsSync(ONNX_PROTO_PATH) ? protobuf.loadSync(ONNX_PROTO_PATH) : null;
  }
  return onnxRoot;
}

// A message type of the full onnx.proto ('onnx.ModelProto', ...); throws when it is not
// installed (the built-in fallback only has TensorProto).
function getOnnxType(name) {
  const root = loadOnnxRoot();
  if (!root) throw new Error(`${ONNX_PROTO_PATH} not found (install libonnx-dev or set ONNX_PROTO)`);
  return root.lookupType(name);
}

let tensorProtoType = null;
function getTensorProto() {
  if (!tensorProtoType) {
    const root = loadOnnxRoot() || protobuf.parse(FALLBACK_TENSOR_PROTO).root;
    tensorProtoType = root.lookupType('onnx.TensorProto');
  }
  return tensorProtoType;
}

function toBigInt(v, unsigned) {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'string') return BigInt(v);
  // Long
  const big = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return unsigned ? BigInt.asUintN(64, big) : BigInt.asIntN(64, big);
}
function toNumber(v) {
  if (typeof v === 'number') return v;
  return Number(toBigInt(v, false));
}

// Fields are read via both camelCase (protobufjs default) and snake_case keys.
function field(msg, snake) {
  const camel = snake.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
  const v = msg[camel] !== undefined ? msg[camel] : msg[snake];
  return v;
}

function decodeTensorProto(buf) {
  const TP = getTensorProto();
  const msg = TP.decode(buf);
  const name = field(msg, 'name') || '';
  const dt = field(msg, 'data_type') || 0;
  const tname = ONNX_TYPE_NAMES[dt] || `data_type ${dt}`;
  const type = ONNX_TO_ORT[dt];
  if (!type) throw new Error(`TensorProto '${name}': unsupported data type ${tname}`);
  if (field(msg, 'data_location') === 1) {
    throw new Error(`TensorProto '${name}': external data is not supported`);
  }
  if (msg.segment) throw new Error(`TensorProto '${name}': segmented tensors are not supported`);
  const dims = (field(msg, 'dims') || []).map(toNumber);
  const n = numElements(dims);
  const units = storageLength(type, n);
  const raw = field(msg, 'raw_data');

  let data;
  if (raw && raw.length > 0) {
    if (type === 'string') throw new Error(`TensorProto '${name}': raw_data for STRING`);
    data = viewBytes(type, raw, units);
  } else {
    const pick = (snake) => field(msg, snake) || [];
    let src;
    switch (type) {
      case 'float32': src = pick('float_data'); break;
      case 'float64': src = pick('double_data'); break;
      case 'int64': src = pick('int64_data'); break;
      case 'uint32': case 'uint64': src = pick('uint64_data'); break;
      case 'string': src = pick('string_data'); break;
      default: src = pick('int32_data'); // int8/uint8/int16/uint16/int32/bool/float16/int4/uint4
    }
    if (src.length !== units) {
      throw new Error(`TensorProto '${name}': ${src.length} ${tname} values, dims need ${units}`);
    }
    if (type === 'string') {
      data = src.map((b) => Buffer.from(b).toString('utf8'));
    } else if (type === 'int64' || type === 'uint64') {
      const Ctor = TYPED_ARRAY[type];
      data = new Ctor(units);
      for (let i = 0; i < units; i++) data[i] = toBigInt(src[i], type === 'uint64');
    } else if (type === 'uint32') {
      data = new Uint32Array(units);
      for (let i = 0; i < units; i++) data[i] = Number(toBigInt(src[i], true) & 0xffffffffn);
    } else if (type === 'bool') {
      data = new Uint8Array(units);
      for (let i = 0; i < units; i++) data[i] = src[i] ? 1 : 0;
    } else {
      // typed-array assignment wraps to the element width (float16: raw bits)
      data = new TYPED_ARRAY[type](units);
      for (let i = 0; i < units; i++) data[i] = src[i];
    }
  }
  return { name, type, dims, data };
}

// Encode with raw_data (numeric) or string_data (strings).
function encodeTensorProto(t, name = t.name || '') {
  const TP = getTensorProto();
  const dt = ORT_TO_ONNX[t.type];
  if (!dt) throw new Error(`cannot encode ${t.type} tensor as TensorProto`);
  const obj = { dims: t.dims.map(Number), dataType: dt, name };
  if (t.type === 'string') {
    obj.stringData = t.data.map((s) => Buffer.from(String(s), 'utf8'));
  } else {
    let d = t.data;
    if (!(d instanceof TYPED_ARRAY[t.type])) d = new TYPED_ARRAY[t.type](d);
    obj.rawData = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  }
  return Buffer.from(TP.encode(TP.fromObject(obj)).finish());
}

function writeTensorProto(file, t, name) {
  fs.writeFileSync(file, encodeTensorProto(t, name));
}

// ---------------------------------------------------------------------------

function loadTensorFile(file) {
  const buf = fs.readFileSync(file);
  try {
    if (isNpy(buf)) return decodeNpy(buf, path.basename(file).replace(/\.npy$/i, ''));
    return decodeTensorProto(buf);
  } catch (e) {
    throw new Error(`${file}: ${e.message}`);
  }
}

// ---------------------------------------------------------------------------
// comparison

const FLOAT_TYPES = new Set(['float32', 'float64', 'float16']);

function fmtVal(v) {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

// Returns null when `actual` matches `expected`, else a short reason.
// Floats: |a-b| <= atol + rtol*|b| (b = expected), NaN == NaN, inf must match exactly.
// Everything else exact. Types and shapes must match.
function compareTensors(expected, actual, { atol = 1e-7, rtol = 1e-3 } = {}) {
  if (expected.type !== actual.type) return `type ${actual.type} != expected ${expected.type}`;
  const ed = Array.from(expected.dims, Number);
  const ad = Array.from(actual.dims, Number);
  if (ed.length !== ad.length || ed.some((d, i) => d !== ad[i])) {
    return `shape [${ad}] != expected [${ed}]`;
  }
  const n = storageLength(expected.type, numElements(ed));
  const e = expected.data;
  const a = actual.data;
  if (e.length < n || a.length < n) return `data length ${a.length} / expected ${e.length}, need ${n}`;
  const isFloat = FLOAT_TYPES.has(expected.type);
  const half = expected.type === 'float16';
  let bad = 0;
  let first = -1;
  let maxErr = 0;
  for (let i = 0; i < n; i++) {
    let ok;
    if (isFloat) {
      const b = half ? half2float(e[i]) : e[i];
      const x = half ? half2float(a[i]) : a[i];
      if (Number.isNaN(b) || Number.isNaN(x)) ok = Number.isNaN(b) && Number.isNaN(x);
      else if (!Number.isFinite(b) || !Number.isFinite(x)) ok = b === x;
      else {
        const err = Math.abs(x - b);
        ok = err <= atol + rtol * Math.abs(b);
        if (!ok && err > maxErr) maxErr = err;
      }
    } else {
      ok = e[i] === a[i];
    }
    if (!ok) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (!bad) return null;
  const show = (arr, i) => fmtVal(half ? half2float(arr[i]) : arr[i]);
  let msg = `${bad}/${n} values differ; first at [${first}]: got ${show(a, first)}, expected ${show(e, first)}`;
  if (isFloat && maxErr > 0) msg += `; max abs err ${maxErr.toPrecision(3)}`;
  return msg;
}

module.exports = {
  ONNX_TO_ORT, ORT_TO_ONNX, ONNX_TYPE_NAMES, TYPED_ARRAY,
  numElements, sanitizeName, half2float,
  isNpy, decodeNpy, encodeNpy, writeNpy,
  getOnnxType, getTensorProto, toNumber, decodeTensorProto, encodeTensorProto, writeTensorProto,
  loadTensorFile, compareTensors,
};
