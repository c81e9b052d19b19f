"""A seeded train/test split, stratified so every class keeps its share on both sides."""
from __future__ import annotations

import numpy as np

from .._validate import as_rng


def train_test_split(X, y, test_fraction: float = 0.25, seed=0):
    """Return X_train, X_test, y_train, y_test; each class is split in the same proportion."""
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"y: expected {len(X)} labels to match X, got {len(y)}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction}")
    rng = as_rng(seed)
    test = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        test.append(members[:int(round(len(members) * test_fraction))])
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(len(y)), test)
    return X[train], X[test], y[train], y[test]
