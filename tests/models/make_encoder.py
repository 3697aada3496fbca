#!/usr/bin/python3
"""Train a small BERT-like encoder on a token task and export it twice.

Run with the Debian interpreter (python3-torch, python3-onnx, python3-numpy):

    /usr/bin/python3 tests/models/make_encoder.py [--out tests/models]

The task: a sequence of 4 to 16 tokens (ids 2..33, padded with 0 to 16, a class token 1 first)
holds tokens of 4 groups (id - 2 divided by 8); the class is the group of the last token, which
only attention that tells the last token from the padding after it finds. The attention mask (1
for a token, 0 for padding) is a model input, added to the attention scores as (1 - mask) · m:
m = -10000 in the opset-13 export, as older BERT exports have it, and float's lowest value
(-3.4e38) in the opset-17 one, as newer Hugging Face code has it.

Writes into --out:
    encoder-opset13.onnx   LayerNorm decomposed, as exporters write it below opset 17
    encoder-opset17.onnx   LayerNormalization ops
    encoder-data/          calib_ids.npy, calib_mask.npy (256 × 17, int64), test_ids.npy,
                           test_mask.npy (1000 × 17), test_labels.npy (1000, int64)
Both models: inputs "input_ids" and "attention_mask", int64 [1, 17]; output "logits" [1, 4]; token
and position embeddings (Gather), 2 post-LayerNorm layers of 4-head attention written as MatMul,
Softmax, Transpose and Reshape, GELU in its Erf form, the class token's state classified.
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
from make_lenet import SEED, train  # noqa: E402
from export_opsets import export_opsets, seed_all  # noqa: E402

VOCAB, GROUPS, LENGTH = 34, 4, 17  # ids: 0 padding, 1 class token, 2.. the 4 groups of 8
DIM, HEADS, LAYERS, MLP = 64, 4, 2, 128
EPOCHS, LR, N_TRAIN, N_CALIB, N_TEST = 12, 2e-3, 12000, 256, 1000


def make_set(rng, n):
    """n sequences: ids [n, LENGTH], mask, labels (the group of the last token)."""
    ids = np.zeros((n, LENGTH), np.int64)
    labels = np.zeros(n, np.int64)
    for k in range(n):
        length = rng.integers(4, LENGTH)
        groups = rng.integers(0, GROUPS, length)
        ids[k, 0] = 1
        ids[k, 1:length + 1] = 2 + groups * 8 + rng.integers(0, 8, length)
        labels[k] = groups[-1]
    return ids, (ids != 0).astype(np.int64), labels


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv, self.proj = nn.Linear(DIM, 3 * DIM), nn.Linear(DIM, DIM)
        self.ln1, self.ln2 = nn.LayerNorm(DIM), nn.LayerNorm(DIM)
        self.mlp = nn.Sequential(nn.Linear(DIM, MLP), nn.GELU(), nn.Linear(MLP, DIM))

    def forward(self, x, bias):
        n, t, _ = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, HEADS, DIM // HEADS).permute(2, 0, 3, 1, 4)
        scores = qkv[0] @ qkv[1].transpose(-2, -1) / math.sqrt(DIM // HEADS) + bias
        a = torch.softmax(scores, dim=-1) @ qkv[2]
        x = self.ln1(x + self.proj(a.transpose(1, 2).reshape(n, t, DIM)))
        return self.ln2(x + self.mlp(x))


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(VOCAB, DIM), nn.Embedding(LENGTH, DIM)
        self.ln = nn.LayerNorm(DIM)
        self.layers = nn.ModuleList([Layer() for _ in range(LAYERS)])
        self.head = nn.Linear(DIM, GROUPS)
        self.mask_value = -10000.0

    def forward(self, input_ids, attention_mask):
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
        x = self.ln(self.tokens(input_ids) + self.positions(positions))
        bias = (1.0 - attention_mask[:, None, None, :].float()) * self.mask_value
        for layer in self.layers:
            x = layer(x, bias)
        return self.head(x[:, 0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    args = ap.parse_args()
    seed_all()
    rng = np.random.default_rng(SEED)
    train_ids, train_mask, train_labels = make_set(rng, N_TRAIN)
    calib_ids, calib_mask, _ = make_set(rng, N_CALIB)
    test_ids, test_mask, test_labels = make_set(rng, N_TEST)

    model = Encoder()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    pairs = np.stack([train_ids, train_mask], axis=1)  # [n, 2, LENGTH]: one tensor for train()
    accuracy = []

    @torch.no_grad()
    def report(epoch, loss, seconds):
        model.eval()
        logits = model(torch.from_numpy(test_ids), torch.from_numpy(test_mask)).numpy()
        accuracy.append((logits.argmax(1) == test_labels).mean())
        print(f"epoch {epoch + 1:2d}  loss {loss:.4f}  test acc {accuracy[-1]:.4f}  "
              f"({seconds:.0f} s)", flush=True)

    train(_Pairs(model), opt, pairs, train_labels, args.epochs, LR, report)

    data = os.path.join(args.out, "encoder-data")
    os.makedirs(data, exist_ok=True)
    for name, a in [("calib_ids", calib_ids), ("calib_mask", calib_mask), ("test_ids", test_ids),
                    ("test_mask", test_mask), ("test_labels", test_labels)]:
        np.save(os.path.join(data, f"{name}.npy"), a)
    dummy = (torch.from_numpy(test_ids[:1]), torch.from_numpy(test_mask[:1]))
    export_opsets(model, dummy, args.out, "encoder", ["input_ids", "attention_mask"],
                  f"BERT-like encoder ({LAYERS} layers, {HEADS} heads, width {DIM}) naming "
                  f"the last token's group; test top-1 {accuracy[-1]:.4f}. See "
                  "tests/models/make_encoder.py.",
                  lambda opset: setattr(model, "mask_value",
                                        -10000.0 if opset < 17 else torch.finfo(torch.float32).min))
    print(f"float test top-1 {accuracy[-1]:.4f}")
    return 0


class _Pairs(nn.Module):
    """The encoder fed one tensor of ids and mask stacked (what train() batches)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pairs):
        return self.model(pairs[:, 0], pairs[:, 1])


if __name__ == "__main__":
    sys.exit(main())
