// Times ONNX Runtime's session creation (parse + graph setup) for a model: node ort_load.js MODEL
'use strict';
const path = require('path');
const ort = require(path.join(__dirname, '..', 'tests', 'ort', 'node_modules', 'onnxruntime-node'));

(async () => {
  const model = process.argv[2];
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, graphOptimizationLevel: 'disabled',
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (session.release) await session.release();
  console.log(`ort load seconds: ${seconds.toFixed(3)}`);
})().catch((e) => { console.error(`ort_load: ${model}: ${e.message}`); process.exit(1); });
