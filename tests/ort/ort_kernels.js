// The ops ONNX Runtime runs a model with after its graph optimizations (Q/DQ fused into its
// integer kernels, its own fusions): one "domain:op_type count" line each, sorted.
//
//   node ort_kernels.js MODEL.onnx
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const ort = require('onnxruntime-node');
const tio = require('./tensor_io');

(async () => {
  const model = process.argv[2];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ort-kernels-'));
  const saved = path.join(dir, 'optimized.onnx');
  try {
    await ort.InferenceSession.create(model, { intraOpNumThreads: 1, logSeverityLevel: 3,
                                               optimizedModelFilePath: saved });
    const m = tio.getOnnxType('onnx.ModelProto').decode(fs.readFileSync(saved));
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
