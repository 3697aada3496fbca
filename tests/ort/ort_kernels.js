// The ops ONNX Runtime runs a model with after its graph optimizations (Q/DQ fused into its
// integer kernels, its own fusions): one "domain:op_type count" line each, sorted. With
// --unfused: the Conv, Gemm and MatMul nodes left in float although both their data and their
// weight (or second operand) come from an 8-bit DequantizeLinear and whose output goes to an
// 8-bit QuantizeLinear (directly or through a Relu or Clip), one line each, and exit 1 if any:
// ONNX Runtime did not turn a node onnx-tqt quantized into an integer kernel (it has none for
// 16 bits, nor for 8-bit operands with a 16-bit result).
//
//   node ort_kernels.js MODEL.onnx [--unfused]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const ort = require('onnxruntime-node');
const tio = require('./tensor_io');

(async () => {
  const model = process.argv[2];
  const unfused = process.argv[3] === '--unfused';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ort-kernels-'));
  const saved = path.join(dir, 'optimized.onnx');
  try {
    await ort.InferenceSession.create(model, { intraOpNumThreads: 1, logSeverityLevel: 3,
                                               optimizedModelFilePath: saved });
    const m = tio.getOnnxType('onnx.ModelProto').decode(fs.readFileSync(saved));
    if (unfused) {
      const producer = new Map();
      for (const n of m.graph.node) for (const o of n.output) producer.set(o, n);
      const inits = new Map(m.graph.initializer.map((t) => [t.name, t]));
      // int8/uint8 (TensorProto types 3 and 2; no zero point: uint8)
      const eightBit = (qdq) => !qdq.input[2] || !inits.has(qdq.input[2]) ||
        [2, 3].includes(inits.get(qdq.input[2]).dataType);
      const dequantized = (name) => producer.has(name) && producer.get(name).opType === 'DequantizeLinear' &&
        eightBit(producer.get(name));
      const readers = new Map();
      for (const n of m.graph.node) for (const i of n.input) readers.set(i, [...(readers.get(i) || []), n]);
      // the QuantizeLinear nodes that quantize a value, seen through one Relu or Clip
      const quantizers = (name) => (readers.get(name) || []).flatMap((r) =>
        r.opType === 'QuantizeLinear' ? [r] : ['Relu', 'Clip'].includes(r.opType) ? quantizers(r.output[0]) : []);
      const quantized = (name) => quantizers(name).some(eightBit);
      const left = m.graph.node.filter((n) => !n.domain && ['Conv', 'Gemm', 'MatMul'].includes(n.opType) &&
                                              dequantized(n.input[0]) && dequantized(n.input[1]) &&
                                              quantized(n.output[0]));
      for (const n of left) console.log(`unfused ${n.opType} '${n.name}'`);
      if (left.length) process.exitCode = 1;
      return;
    }
    const counts = new Map();
    for (const n of m.graph.node) {
      const key = `${n.domain || 'ai.onnx'}:${n.opType}`;
      counts.set(key, (counts.get(key) || 0) + 1);
    }
    for (const key of [...counts.keys()].sort()) console.log(`${key} ${counts.get(key)}`);
  } catch (e) {
    console.error(`ort_kernels: ${model}: ${e.message}`);
    process.exitCode = 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
})();
