"""Losses: each returns ``(loss, dinput)``, the mean over the batch and its gradient with respect to the input.

Each loss is its own functional pair in one call (CS231n's ``softmax_loss`` style): the value and the gradient
share the intermediates (the softmax, the sigmoid), so computing them together costs one pass.
All are stable for logits of magnitude 1e3: they never exponentiate a large positive number.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, as_labels, require_ndim, require_same_shape
from .layers import sigmoid


def mse_loss(pred, target):
    """Mean squared error over every entry (PyTorch's ``MSELoss``).

    pred, target: arrays of one shape. Returns (loss: float, dpred: pred's shape) with dpred = 2 (pred - target) / size.
    """
    pred = as_float_array(pred, "pred")
    target = as_float_array(target, "target")
    require_same_shape(pred, target, "pred", "target")
    diff = pred - target.astype(pred.dtype, copy=False)
    return float(np.mean(diff * diff)), (2.0 / diff.size) * diff


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax along ``axis`` (the classes; the last one by default) via log-sum-exp: subtract the max before
    exponentiating. logits: any shape -> the same shape."""
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities along the last axis, computed stably. logits: (..., C) -> (..., C), rows summing to 1."""
    return np.exp(log_softmax(np.asarray(logits)))


def softmax_cross_entropy(logits, labels):
    """Softmax followed by cross-entropy, mean over the batch.

    logits: (N, C) floats; labels: (N,) integers in [0, C).
    Returns (loss: float, dlogits: (N, C)) with dlogits = (softmax(logits) - onehot(labels)) / N.
    """
    logits = as_float_array(logits, "logits")
    require_ndim(logits, 2, "logits", "(N, C)")
    n, c = logits.shape
    labels = as_labels(labels, n, c)
    shifted = logits - logits.max(axis=1, keepdims=True)   # log-sum-exp: exp never sees a positive number
    dlogits = np.exp(shifted)
    total = dlogits.sum(axis=1)
    rows = np.arange(n)
    loss = float(np.mean(np.log(total) - shifted[rows, labels]))    # -log softmax at the right class
    dlogits /= (total * n)[:, None]                                 # softmax / N ...
    dlogits[rows, labels] -= 1.0 / n                                # ... minus onehot / N
    return loss, dlogits


def bce_with_logits(logits, targets):
    """Binary cross-entropy of sigmoid(logits) against targets in [0, 1], mean over every entry.

    logits, targets: arrays of one shape. Uses max(z, 0) - z t + log(1 + e^-|z|), which never overflows.
    Returns (loss: float, dlogits) with dlogits = (sigmoid(z) - t) / size.
    """
    z = as_float_array(logits, "logits")
    t = as_float_array(targets, "targets").astype(z.dtype, copy=False)
    require_same_shape(z, t, "logits", "targets")
    if t.size and (t.min() < 0 or t.max() > 1):
        raise ValueError(f"targets: expected values in [0, 1], got values from {t.min()} to {t.max()}")
    loss = float(np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))))
    return loss, (sigmoid(z) - t) / z.size
