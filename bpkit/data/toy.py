"""Seeded 2-D classification sets whose classes no straight line separates."""
from __future__ import annotations

import numpy as np

from .._validate import as_rng


def make_spirals(n_per_class: int = 100, classes: int = 2, noise: float = 0.2, turns: float = 1.0, seed=0):
    """Interleaved spiral arms (CS231n's toy set).

    Returns X: (n_per_class * classes, 2) float64 in about [-1, 1]^2, y: (n,) int64 class labels.
    """
    if n_per_class < 1 or classes < 2:
        raise ValueError(f"expected n_per_class >= 1 and classes >= 2, got {n_per_class} and {classes}")
    rng = as_rng(seed)
    radius = np.tile(np.linspace(0.05, 1.0, n_per_class), classes)
    label = np.repeat(np.arange(classes), n_per_class)
    angle = (label * 2 * np.pi / classes + radius * turns * 2 * np.pi
             + rng.standard_normal(radius.size) * noise)
    X = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    return X, label.astype(np.int64)


def make_moons(n_samples: int = 200, noise: float = 0.1, seed=0):
    """Two interleaving half circles (as scikit-learn's make_moons), shuffled.

    Returns X: (n_samples, 2) float64, y: (n_samples,) int64 in {0, 1}.
    """
    if n_samples < 2:
        raise ValueError(f"n_samples: expected at least 2, got {n_samples}")
    rng = as_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    X = np.vstack([np.column_stack([np.cos(t_out), np.sin(t_out)]),
                   np.column_stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)])])
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(n_samples)
    return X[order], y[order]
