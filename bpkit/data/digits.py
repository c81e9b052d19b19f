"""The UCI handwritten digits (1,797 images of 8x8 pixels), bundled inside scikit-learn: loads offline."""
from __future__ import annotations

import numpy as np


def load_digits(images: bool = False, dtype=np.float64):
    """Return X, y: X (1797, 64) with pixels scaled to [0, 1] (or (1797, 1, 8, 8) NCHW when ``images``),
    y (1797,) int64 digits 0-9. Source: Alpaydin & Kaynak, UCI ML repository, as shipped by scikit-learn."""
    from sklearn.datasets import load_digits as _sklearn_digits

    bunch = _sklearn_digits()
    X = (bunch.data / 16.0).astype(dtype)
    if images:
        X = X.reshape(-1, 1, 8, 8)
    return X, bunch.target.astype(np.int64)
