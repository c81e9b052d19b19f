"""Benchmark: Conv2d forward + backward against the matmul floor of the same im2col GEMMs, and the lesson-09 CNN.

Run: ``.venv/bin/python bench/conv.py`` (add ``--threads N`` to let BLAS use N threads; default 1, since these
matrices are tiny and extra BLAS threads only fight over a shared 2-core machine).

Shape: a batch of 64 8x8 images through Conv2d(1, 8, 3, padding=1) then Conv2d(8, 16, 3, padding=1), float32.
The floor is the six GEMMs such a layer pair cannot avoid (per layer: cols @ W^T forward, dout^T cols and dout W
backward) on preallocated, contiguous operands; the ratio floor / actual says how much of the layer's time is the
arithmetic itself, the rest being im2col/col2im copies, transposes and validation.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(__file__))
from _timing import paired_medians  # noqa: E402

from bpkit.data import load_digits, train_test_split  # noqa: E402
from bpkit.nn import (Adam, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, evaluate, fit, im2col,  # noqa: E402
                      softmax_cross_entropy)


def conv_pair(N=64, dtype=np.float32):
    rng = np.random.default_rng(0)
    layers = [Conv2d(1, 8, 3, padding=1, seed=1, dtype=dtype), Conv2d(8, 16, 3, padding=1, seed=2, dtype=dtype)]
    x = rng.standard_normal((N, 1, 8, 8)).astype(dtype)
    douts = [rng.standard_normal((N, 8, 8, 8)).astype(dtype), rng.standard_normal((N, 16, 8, 8)).astype(dtype)]

    def layer_step():
        h = layers[1].forward(layers[0].forward(x))
        layers[0].backward(layers[1].backward(douts[1]))
        return h

    # the same GEMMs on ready-made operands
    gemms = []
    inputs = [x, rng.standard_normal((N, 8, 8, 8)).astype(dtype)]
    for layer, inp, dout in zip(layers, inputs, douts):
        cols = np.ascontiguousarray(im2col(inp, 3, 1, 1))
        W = np.ascontiguousarray(layer.params["W"].reshape(layer.out_channels, -1))
        d2 = np.ascontiguousarray(dout.transpose(0, 2, 3, 1).reshape(-1, layer.out_channels))
        gemms.append((cols, W, d2))

    def floor_step():
        for cols, W, d2 in gemms:
            cols @ W.T
            d2.T @ cols
            d2 @ W

    actual, floor = paired_medians([layer_step, floor_step])
    return 1e3 * actual, 1e3 * floor


def cnn_training(epochs=20):
    """The lesson-09 CNN on the digits' fixed split: (seconds, held-out accuracy)."""
    X, y = load_digits(images=True, dtype=np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.25, seed=0)
    model = Sequential(Conv2d(1, 16, 3, padding=1, seed=10), ReLU(), MaxPool2d(2),
                       Conv2d(16, 32, 3, padding=1, seed=11), ReLU(), MaxPool2d(2),
                       Flatten(), Linear(128, 10, seed=12)).astype(np.float32)
    optimizer = Adam(model, lr=5e-3)

    def decay(history, epoch):
        optimizer.lr *= 0.85

    start = time.perf_counter()
    fit(model, softmax_cross_entropy, optimizer, X_train, y_train, epochs=epochs, batch_size=32, seed=0,
        progress=False, callback=decay)
    seconds = time.perf_counter() - start
    return seconds, evaluate(model, softmax_cross_entropy, X_test, y_test)[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = parser.parse_args(argv)
    with threadpool_limits(args.threads):
        actual, floor = conv_pair()
        print(f"Conv2d 1->8->16, batch 64, 8x8, float32, {args.threads} BLAS thread(s)")
        print(f"  forward + backward (two layers): median {actual:.3f} ms")
        print(f"  matmul floor (same 6 GEMMs):     median {floor:.3f} ms")
        print(f"  floor / actual = {floor / actual:.2f}")
        seconds, acc = cnn_training()
        print(f"lesson-09 CNN (16->32 filters), 20 epochs on 1,347 digits: {seconds:.1f} s, "
              f"held-out accuracy {acc:.3f} on 450")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
