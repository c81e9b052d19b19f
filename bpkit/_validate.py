"""Input validation shared by every module: one place that turns bad input into a clear message.

Each helper raises ``ValueError`` (wrong shape or values) or ``TypeError`` (wrong kind of object or dtype) with a
message that names what was expected and what was given.
"""
from __future__ import annotations

import numpy as np


def as_float_array(x, name: str = "x") -> np.ndarray:
    """Return ``x`` as a floating ndarray (float32 or float64 kept); reject objects, strings and integers."""
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as exc:  # pragma: no cover - numpy raises many kinds
            raise TypeError(f"{name}: expected an array of numbers, got {type(x).__name__}") from exc
    if x.dtype.kind in "iub":
        x = x.astype(np.float64)
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point array, got dtype {x.dtype}")
    return x


def require_ndim(x: np.ndarray, ndim: int, name: str, layout: str) -> None:
    """Raise ValueError unless ``x.ndim == ndim``; ``layout`` describes the expected axes, e.g. "(N, D)"."""
    if x.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array of shape {layout}, got shape {x.shape}")


def require_dim(x: np.ndarray, axis: int, size: int, name: str, layout: str) -> None:
    """Raise ValueError unless ``x.shape[axis] == size``."""
    if x.shape[axis] != size:
        raise ValueError(
            f"{name}: expected shape {layout} with {size} on axis {axis}, got shape {x.shape}")


def require_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ValueError unless two arrays have the same shape."""
    if a.shape != b.shape:
        raise ValueError(f"{name_b}: expected the shape of {name_a}, {a.shape}, got shape {b.shape}")


def require_finite(x: np.ndarray, name: str) -> None:
    """Raise ValueError if ``x`` holds NaN or infinity, saying how many entries are bad."""
    bad = ~np.isfinite(x)
    if bad.any():
        raise ValueError(f"{name}: expected finite numbers, got {int(bad.sum())} NaN/inf entries "
                         f"of {x.size}")


def as_labels(labels, n: int, num_classes: int, name: str = "labels") -> np.ndarray:
    """Return integer class labels of shape (n,) in [0, num_classes); raise a clear error otherwise."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind == "f" and labels.size and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise TypeError(f"{name}: expected integer class labels, got dtype {labels.dtype}")
    if labels.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},) to match the batch, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{name}: expected class indices in [0, {num_classes - 1}], "
                         f"got values from {labels.min()} to {labels.max()}")
    return labels


def as_rng(seed) -> np.random.Generator:
    """Turn ``seed`` (an int, a Generator, or None for fresh entropy) into a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise TypeError(f"seed: expected an int, a numpy Generator or None, got {type(seed).__name__}")
