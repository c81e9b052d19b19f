"""Benchmark: Conv2d forward + backward against the GEMM floor of the same shapes, one line per shape; and the
lesson-09 CNN's training time.

Run: ``.venv/bin/python bench/conv.py`` (``--threads N`` lets BLAS use N threads; default 1, since these matrices
are small and extra BLAS threads only fight over a shared machine; ``--quick`` times fewer repetitions).

For each shape, float32: ``actual`` is one ``Conv2d.forward`` and one ``Conv2d.backward`` (NCHW input and upstream
gradient, contiguous, as a layer receives them). ``floor`` is the three GEMMs such a layer cannot avoid, on
preallocated contiguous operands: ``cols @ W^T`` (forward), ``dout^T cols`` (dW) and ``dout W`` (dcols), with
``cols`` the (N Ho Wo, C kh kw) im2col matrix. ``floor / actual`` is the share of the layer's time spent on that
arithmetic; the rest is copying (gathering windows, adding them back, layout changes) and validation. Both are
medians of runs timed in alternation, in CPU time of this process (``time.process_time``; with one BLAS thread that
is the wall time on a free core), so other jobs on a shared machine do not count.

The shapes are lessons 09's and 13's: batch 32, 48x48 scenes and the 8x8 digits, 1 to 64 channels, 3x3 kernels.
The floor is a fixed reference, not a bound: a layer that computes the same products in a layout BLAS runs faster
(Conv2d with one input channel multiplies per image, with the long Ho Wo axis inside) can beat it, ratio above 1.

Max-pooling (2x2, float32, the input an NCHW view of NHWC memory as a Conv2d + ReLU hands it over, the upstream
gradient in its output's layout): ``actual`` is one ``MaxPool2d.forward`` and ``backward``; ``copy`` is one copy of its
input, the least any pass over it costs; ``im2col`` is the same pooling through im2col + argmax + col2im (how
MaxPool2d computed it before). Last, the pool's share of one lesson-13 training step (the lesson's detector on 32
random 48x48 scenes: forward, backward of a random upstream gradient, one Adam step), in the same CPU time.
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
from bpkit.nn import (Adam, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, col2im, evaluate, fit,  # noqa: E402
                      im2col, softmax_cross_entropy)

# (label, N, C, H, F, stride, padding): square images, 3x3 kernels
SHAPES = [
    ("48x48, 1->8", 32, 1, 48, 8, 1, 1),
    ("48x48, 8->16", 32, 8, 48, 16, 1, 1),
    ("24x24, 16->16", 32, 16, 24, 16, 1, 1),
    ("lesson 13 layer 1: 48x48, 1->16, stride 2", 32, 1, 48, 16, 2, 1),
    ("lesson 13 layer 2: 24x24, 16->32, stride 2", 32, 16, 24, 32, 2, 1),
    ("lesson 13 layer 3: 12x12, 32->64", 32, 32, 12, 64, 1, 1),
    ("lesson 09 layer 1: 8x8, 1->16", 32, 1, 8, 16, 1, 1),
    ("lesson 09 layer 2: 4x4, 16->32", 32, 16, 4, 32, 1, 1),
]


def conv_ratio(N, C, H, F, stride, padding, repeats=60, warmup=8, dtype=np.float32, in_network=False):
    """(actual ms, floor ms) for one Conv2d(C, F, 3, stride, padding) on (N, C, H, H)."""
    rng = np.random.default_rng(0)
    layer = Conv2d(C, F, 3, stride=stride, padding=padding, seed=1, dtype=dtype)
    x = rng.standard_normal((N, C, H, H)).astype(dtype)
    Ho = (H + 2 * padding - 3) // stride + 1
    dout = rng.standard_normal((N, F, Ho, Ho)).astype(dtype)
    if in_network:   # as a layer inside a network receives them: x as a conv's output, dout in out's own layout
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) if C > 1 else x
        dout = np.ascontiguousarray(dout.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)

    def layer_step():
        layer.forward(x)
        layer.backward(dout)

    cols = np.ascontiguousarray(rng.standard_normal((N * Ho * Ho, C * 9)).astype(dtype))
    W = np.ascontiguousarray(layer.params["W"].reshape(F, -1))
    d2 = np.ascontiguousarray(dout.transpose(0, 2, 3, 1).reshape(-1, F))

    def floor_step():
        cols @ W.T
        d2.T @ cols
        d2 @ W

    actual, floor = paired_medians([layer_step, floor_step], repeats, warmup, clock=time.process_time)
    return 1e3 * actual, 1e3 * floor


# (label, N, C, H): 2x2 max-pooling
POOL_SHAPES = [
    ("lesson 13: 64 x 12x12", 32, 64, 12),
    ("lesson 09 pool 1: 16 x 8x8", 32, 16, 8),
    ("lesson 09 pool 2: 32 x 4x4", 32, 32, 4),
]


def _nhwc_memory(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def _im2col_maxpool(x, dout, k=2):
    """2x2 max-pooling forward and backward through im2col + argmax + col2im (the earlier implementation)."""
    N, C, H, W = x.shape
    cols = im2col(x.reshape(N * C, 1, H, W), k, k)
    first = cols.argmax(axis=1)
    np.take_along_axis(cols, first[:, None], axis=1)
    dcols = np.zeros_like(cols)
    np.put_along_axis(dcols, first[:, None], dout.reshape(-1, 1), axis=1)
    return col2im(dcols, (N * C, 1, H, W), k, k)


def pool_times(N, C, H, repeats=60, warmup=8, dtype=np.float32):
    """(actual ms, copy ms, im2col ms) for MaxPool2d(2) on (N, C, H, H) NHWC memory."""
    rng = np.random.default_rng(0)
    x = _nhwc_memory(rng.standard_normal((N, C, H, H)).astype(dtype))
    dout = _nhwc_memory(rng.standard_normal((N, C, H // 2, H // 2)).astype(dtype))
    pool = MaxPool2d(2)

    def pool_step():
        pool.forward(x)
        pool.backward(dout)

    times = paired_medians([pool_step, lambda: x.copy(order="K"), lambda: _im2col_maxpool(x, dout)], repeats,
                           warmup, clock=time.process_time)
    return [1e3 * t for t in times]


def detector_step_ms(repeats=30, warmup=5):
    """CPU ms of one lesson-13 training step: its detector (as lessons/13 builds it) on 32 random 48x48 scenes."""
    rng = np.random.default_rng(0)
    model = Sequential(Conv2d(1, 16, 3, stride=2, padding=1, seed=0), ReLU(),
                       Conv2d(16, 32, 3, stride=2, padding=1, seed=1), ReLU(),
                       Conv2d(32, 64, 3, padding=1, seed=2), ReLU(), MaxPool2d(2),
                       Conv2d(64, 64, 3, padding=1, seed=3), ReLU(),
                       Conv2d(64, 15, 1, init="xavier", seed=4)).astype(np.float32)
    optimizer = Adam(model, lr=1e-4)
    x = rng.random((32, 1, 48, 48), dtype=np.float32)
    dpred = rng.standard_normal((32, 15, 6, 6)).astype(np.float32) * 1e-3

    def step():
        model.zero_grad()
        model.forward(x)
        model.backward(dpred)
        optimizer.step()

    return 1e3 * paired_medians([step], repeats, warmup, clock=time.process_time)[0]


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
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, and no CNN training")
    args = parser.parse_args(argv)
    repeats, warmup = (15, 3) if args.quick else (60, 8)
    with threadpool_limits(args.threads):
        print(f"Conv2d forward + backward vs its GEMM floor, float32, 3x3 kernels, batch 32, "
              f"{args.threads} BLAS thread(s), CPU time")
        print(f"  {'shape':45s} {'actual ms':>10s} {'floor ms':>9s} {'floor / actual':>15s}")
        for label, N, C, H, F, stride, padding in SHAPES:
            actual, floor = conv_ratio(N, C, H, F, stride, padding, repeats, warmup)
            print(f"  {label:45s} {actual:10.2f} {floor:9.2f} {floor / actual:15.2f}", flush=True)
        print("MaxPool2d(2) forward + backward vs a copy of its input, float32, batch 32, NHWC memory, CPU time")
        print(f"  {'shape':45s} {'actual ms':>10s} {'copy ms':>9s} {'copy / actual':>14s} {'im2col ms':>10s}")
        pool13 = None
        for label, N, C, H in POOL_SHAPES:
            actual, copy, via_im2col = pool_times(N, C, H, repeats, warmup)
            pool13 = pool13 or (actual, via_im2col)
            print(f"  {label:45s} {actual:10.3f} {copy:9.3f} {copy / actual:14.2f} {via_im2col:10.3f}", flush=True)
        step = detector_step_ms(*((8, 2) if args.quick else (30, 5)))
        print(f"lesson-13 training step (forward, backward, Adam; batch 32): {step:.1f} ms; its MaxPool2d "
              f"{pool13[0]:.2f} ms = {100 * pool13[0] / step:.1f} % of it (through im2col: {pool13[1]:.2f} ms)")
        if not args.quick:
            seconds, acc = cnn_training()
            print(f"lesson-09 CNN (16->32 filters), 20 epochs on 1,347 digits: {seconds:.1f} s, "
                  f"held-out accuracy {acc:.3f} on 450")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
