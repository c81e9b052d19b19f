"""One training step of an MLP 64-256-256-10 (batch 128, float32) against the floor of its bare matmuls.

The floor is the same GEMMs a train step cannot avoid: three forward products, three weight gradients and three
input gradients. Everything else (activations, the loss, Adam) is overhead; floor / step near 1 means little is.
The forward + backward pass and the Adam step are also timed alone, to show where the overhead is: Adam makes 12
passes over all 85k parameters (m, v, the step and the update), which NumPy cannot fuse.
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

    def forward_backward():
        model.zero_grad()
        loss, dout = nn.softmax_cross_entropy(model.forward(x), y)
        model.backward(dout)

    def train_step():
        forward_backward()
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
            step, backprop, adam, floor = paired_medians([train_step, forward_backward, optimizer.step,
                                                          matmul_floor], repeats=300)
        label = "BLAS threads: default" if threads is None else f"BLAS threads: {threads}"
        print(f"[{label}] matmul floor (9 GEMMs) {floor * 1e3:.3f} ms; forward + loss + backward "
              f"{backprop * 1e3:.3f} ms; Adam step alone {adam * 1e3:.3f} ms; whole train step {step * 1e3:.3f} ms "
              "(medians)")
        print(f"[{label}] floor / (forward + backward) = {floor / backprop:.2f}; "
              f"floor / train step = {floor / step:.2f}  (target >= 0.7)")

if __name__ == "__main__":
    main()
