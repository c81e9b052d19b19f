"""Benchmark: a 51x51 filter-normalized loss landscape (Li et al. 2018) of a 64-128-10 MLP on the 1,797 digits.

Prints the batched grid's time, and the ratio against the naive per-grid-point loop (set the weights, run the whole
forward, compute the loss) measured in the same run on a subset of the grid and extrapolated per point.
Run: .venv/bin/python bench/landscape.py
"""
import time

import numpy as np
from threadpoolctl import threadpool_limits

from bpkit.data import load_digits
from bpkit.nn import Adam, Linear, ReLU, Sequential, fit, softmax_cross_entropy
from bpkit.viz.landscape import network_landscape
from bpkit.viz.loss_grid import loss_grid

STEPS, NAIVE_STEPS = 51, 8


def main():
    X, y = load_digits(dtype=np.float32)
    model = Sequential(Linear(64, 128, seed=0), ReLU(), Linear(128, 10, seed=1)).astype(np.float32)
    fit(model, softmax_cross_entropy, Adam(model, lr=1e-2), X, y, epochs=5, batch_size=64, progress=False)
    network_landscape(model, softmax_cross_entropy, X, y, steps=5)          # warm-up (imports, BLAS init)
    best = min((network_landscape(model, softmax_cross_entropy, X, y, steps=STEPS, seed=0)
                for _ in range(3)), key=lambda land: land.seconds)
    sub = best.alphas[:: STEPS // NAIVE_STEPS][:NAIVE_STEPS]
    with threadpool_limits(limits=1, user_api="blas"):   # same BLAS threads as the batched grid: a fair ratio
        start = time.perf_counter()
        naive = loss_grid(model, softmax_cross_entropy, X, y, best.d1, best.d2, sub, sub, method="per_point")
        naive_per_point = (time.perf_counter() - start) / naive.size
    fast_per_point = best.seconds / best.losses.size
    idx = np.arange(0, STEPS, STEPS // NAIVE_STEPS)[:NAIVE_STEPS]
    agree = np.max(np.abs(best.losses[np.ix_(idx, idx)] - naive) / np.abs(naive))
    print(f"model: 64-128-10 MLP (ReLU), {best.info['parameters']} parameters, float32")
    print(f"data: {best.info['samples']} digit images; grid: {best.info['grid']} = {best.losses.size} points "
          f"on [-1, 1]^2, filter-normalized random directions")
    print(f"batched landscape: {best.seconds:.2f} s (best of 3; target < 3 s), {fast_per_point * 1e3:.2f} ms/point")
    print(f"naive per-point loop (set the weights, forward all images, loss) on a {NAIVE_STEPS}x{NAIVE_STEPS} subset: {naive_per_point * 1e3:.2f} ms/point "
          f"-> {naive_per_point * best.losses.size:.2f} s for the full grid")
    print(f"speed-up of the batched grid over the naive loop: {naive_per_point / fast_per_point:.1f}x "
          f"(max relative difference on the subset {agree:.1e})")


if __name__ == "__main__":
    main()
