"""One training step of an MLP 64-256-256-10 (batch 128, float32) against the floor of its bare matmuls.

The floor is the same GEMMs a train step cannot avoid: three forward products, three weight gradients and three
input gradients. Everything else (activations, the loss, Adam) is overhead; floor / step near 1 means little is.
Run: .venv/bin/python bench/train_step.py
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import paired_medians  # noqa: E402

import bpkit.nn as nn  # noqa: E402

SIZES = [64, 256, 256, 10]
BATCH = 128


def main() -> None:
    rng = np.random.default_rng(0)
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        layers += [nn.Linear(fan_in, fan_out, seed=rng), nn.ReLU()]
    model = nn.Sequential(*layers[:-1]).astype(np.float32)
    optimizer = nn.Adam(model, lr=1e-3)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)

    def train_step():
        model.zero_grad()
        loss, dout = nn.softmax_cross_entropy(model.forward(x), y)
        model.backward(dout)
        optimizer.step()

    weights = [layer.params["W"] for layer in model if isinstance(layer, nn.Linear)]
    acts = [x] + [rng.standard_normal((BATCH, w.shape[1])).astype(np.float32) for w in weights]

    def matmul_floor():
        for a, w, out in zip(acts[:-1], weights, acts[1:]):
            a @ w            # forward
            a.T @ out        # dW
            out @ w.T        # dx

    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, float32, {model.num_parameters():,} parameters")
    from threadpoolctl import threadpool_limits

    for threads in (None, 1):
        with threadpool_limits(limits=threads, user_api="blas"):
            step, floor = paired_medians([train_step, matmul_floor], repeats=300)
        label = "BLAS threads: default" if threads is None else f"BLAS threads: {threads}"
        print(f"[{label}] train step (forward + backward + Adam) {step * 1e3:.3f} ms, "
              f"matmul floor (9 GEMMs) {floor * 1e3:.3f} ms (medians)")
        print(f"[{label}] floor / train step = {floor / step:.2f}  (target >= 0.7)")


if __name__ == "__main__":
    main()
