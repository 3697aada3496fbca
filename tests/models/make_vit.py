#!/usr/bin/python3
"""Train a small Vision Transformer on the MNIST digits of examples/mnist and export it twice.

Run with the Debian interpreter (python3-torch, python3-onnx, python3-numpy):

    /usr/bin/python3 tests/models/make_vit.py [--raw /tmp/mnist_raw] [--out tests/models]

--raw is the output of examples/mnist/extract_digits.js; the split, the normalization and the
test images are the LeNet example's (make_lenet.py), so examples/mnist/calib.npy,
test_images.npy and test_labels.npy serve both.

Writes into --out:
    vit-opset13.onnx   LayerNorm decomposed (ReduceMean, Sub, Pow, ReduceMean, Add eps, Sqrt,
                       Div, Mul, Add), as exporters write it below opset 17
    vit-opset17.onnx   one LayerNormalization op
Both: input "input" float32 [1,1,28,28], output "logits" [1,10]; 7×7 patches (a Conv), a class
token, 3 pre-LayerNorm encoder layers of 4-head attention written as MatMul, Softmax,
Transpose and Reshape, and GELU in its Erf form.
"""
import argparse
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "examples", "mnist"))
from make_lenet import (N_HELDOUT, N_TRAIN, load_raw, normalize, predict, split,  # noqa: E402
                        train)
from export_opsets import export_opsets, seed_all  # noqa: E402

DIM, HEADS, LAYERS, MLP, PATCH = 64, 4, 3, 128, 7
EPOCHS, LR = 15, 2e-3  # batches of 64, as the LeNet example's


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(DIM, 3 * DIM)
        self.proj = nn.Linear(DIM, DIM)

    def forward(self, x):
        n, t, _ = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, HEADS, DIM // HEADS).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(DIM // HEADS), dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(n, t, DIM))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(DIM), Attention()
        self.ln2 = nn.LayerNorm(DIM)
        self.mlp = nn.Sequential(nn.Linear(DIM, MLP), nn.GELU(), nn.Linear(MLP, DIM))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class ViT(nn.Module):
    def __init__(self):
        super().__init__()
        tokens = (28 // PATCH) ** 2
        self.patch = nn.Conv2d(1, DIM, PATCH, stride=PATCH)
        self.cls = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos = nn.Parameter(torch.randn(1, tokens + 1, DIM) * 0.02)
        self.blocks = nn.Sequential(*[Block() for _ in range(LAYERS)])
        self.ln = nn.LayerNorm(DIM)
        self.head = nn.Linear(DIM, 10)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        return self.head(self.ln(self.blocks(x))[:, 0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", default="/tmp/mnist_raw")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    args = ap.parse_args()
    seed_all()

    images, labels = load_raw(args.raw)
    assert len(images) == N_TRAIN + N_HELDOUT, len(images)
    train_idx, test_idx, _, _ = split(len(images))  # the LeNet example's split
    x_train, y_train = normalize(images[train_idx]), labels[train_idx]
    x_test, y_test = normalize(images[test_idx]), labels[test_idx]

    model = ViT()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.05)
    accuracy = []

    def report(epoch, loss, seconds):
        accuracy.append((predict(model, x_test).argmax(1) == y_test).mean())
        print(f"epoch {epoch + 1:2d}  loss {loss:.4f}  test acc {accuracy[-1]:.4f}  "
              f"({seconds:.0f} s)", flush=True)

    train(model, opt, x_train, y_train, args.epochs, LR, report)
    acc = accuracy[-1]
    export_opsets(model, torch.from_numpy(x_test[:1]), args.out, "vit", ["input"],
                  f"ViT ({LAYERS} layers, {HEADS} heads, width {DIM}) trained on 8000 MNIST "
                  f"digits; test top-1 {acc:.4f}. See tests/models/make_vit.py.")
    print(f"float test top-1 {acc:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
