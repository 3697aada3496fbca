"""What the transformer test models share (make_vit.py, make_encoder.py): the seeds, and the
export at opset 13 (LayerNorm decomposed, as exporters write it below 17) and at 17."""
import os
import random
import sys

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "examples", "mnist"))
from make_lenet import SEED  # noqa: E402


def seed_all():
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(2)


def export_opsets(model, dummy, out, stem, input_names, doc, prepare=lambda opset: None):
    """Writes out/STEM-opset13.onnx and out/STEM-opset17.onnx (output "logits"), checked;
    prepare(opset) runs before each export."""
    model.eval()
    for opset in (13, 17):
        prepare(opset)
        path = os.path.join(out, f"{stem}-opset{opset}.onnx")
        torch.onnx.export(model, dummy, path, opset_version=opset, input_names=input_names,
                          output_names=["logits"], do_constant_folding=True)
        m = onnx.load(path)
        m.doc_string = doc
        onnx.checker.check_model(m)
        onnx.save(m, path)
        ops = sorted({n.op_type for n in m.graph.node})
        print(f"{path}: {len(m.graph.node)} nodes, ops {ops}")
        assert ("LayerNormalization" in ops) == (opset >= 17)
