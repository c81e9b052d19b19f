"""Normalization layers: BatchNorm1d (statistics over the batch) and LayerNorm (statistics over the features).

Both normalize, ``xhat = (x - mean) / sqrt(var + eps)``, then scale and shift, ``y = gamma * xhat + beta``. They differ
in the axis the mean and variance are taken over:

- BatchNorm1d: over the batch, one mean and variance per feature. In training it uses the batch's own statistics
  and keeps running averages of them; in evaluation it uses the running averages (PyTorch's rule, below).
- LayerNorm: over the last axis, one mean and variance per sample (and per position, for sequences). It behaves
  the same in training and evaluation and does not care about the batch size.

The backward pass of the normalization (its derivation is in lesson 11) is, per group of N values normalized
together, with ``dxhat = dout * gamma``::

    dx = (1 / (N * std)) * (N * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))

Shapes: N batch size, C (BatchNorm) or D (LayerNorm) features.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, require_dim, require_ndim
from .layers import Layer


def _normalize_backward(dxhat: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray, axis) -> np.ndarray:
    """The compact formula: the gradient through ``xhat = (x - mean(x)) / sqrt(var(x) + eps)`` along ``axis``."""
    n = int(np.prod([xhat.shape[a] for a in np.atleast_1d(axis)]))
    return (inv_std / n) * (n * dxhat - dxhat.sum(axis=axis, keepdims=True)
                            - xhat * (dxhat * xhat).sum(axis=axis, keepdims=True))


# ----------------------------------------------------------------------------------------------------- BatchNorm1d

def batchnorm_forward(x, gamma, beta, eps: float = 1e-5, mean=None, var=None):
    """Batch normalization of x over the batch axis, then ``gamma * xhat + beta``.

    x: (N, C); gamma, beta: (C,).
    mean, var: (C,) or None. None (training): normalize with the batch's own mean and BIASED variance
    (divided by N), which needs N > 1. Given (evaluation): normalize with these (the running statistics).
    Returns ``(out, cache)``: out (N, C) in x's dtype; ``cache["mean"]``, ``cache["var"]`` are the (C,) statistics
    used (the batch's, in training), for the running averages (``batchnorm_running_update``).
    """
    x = as_float_array(x, "BatchNorm1d input")
    require_ndim(x, 2, "BatchNorm1d input", "(N, C)")
    require_dim(x, 1, gamma.shape[0], "BatchNorm1d input", f"(N, {gamma.shape[0]})")
    training = mean is None
    if training:
        if x.shape[0] < 2:
            raise ValueError(f"BatchNorm1d input: expected more than 1 value per channel when training, got shape "
                             f"{x.shape} (use model.eval() to run on single samples)")
        mean, var = x.mean(axis=0), x.var(axis=0)          # biased variance: divided by N
    else:
        mean, var = np.asarray(mean, dtype=x.dtype), np.asarray(var, dtype=x.dtype)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    out = gamma.astype(x.dtype, copy=False) * xhat + beta.astype(x.dtype, copy=False)
    cache = {"xhat": xhat, "inv_std": inv_std, "gamma": gamma, "training": training,
             "mean": mean, "var": var, "n": x.shape[0]}
    return out, cache


def batchnorm_backward(dout, cache):
    """dout: (N, C) -> (dx (N, C), dgamma (C,), dbeta (C,)).

    In training the mean and variance depend on every sample, so dx has the two extra terms of the compact formula;
    in evaluation they are constants and dx is just ``dout * gamma / sqrt(var + eps)``.
    """
    xhat, inv_std, gamma = cache["xhat"], cache["inv_std"], cache["gamma"]
    dout = as_float_array(dout, "dout")
    if dout.shape != xhat.shape:
        raise ValueError(f"dout: expected the shape of BatchNorm1d's output, {xhat.shape}, got shape {dout.shape}")
    dgamma = (dout * xhat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dxhat = dout * gamma.astype(dout.dtype, copy=False)
    if cache["training"]:
        dx = _normalize_backward(dxhat, xhat, inv_std, axis=0)
    else:
        dx = dxhat * inv_std
    return dx, dgamma, dbeta


def batchnorm_running_update(running_mean, running_var, batch_mean, batch_var, n: int, momentum: float = 0.1):
    """PyTorch's running statistics: ``r = (1 - momentum) r + momentum * batch``, where the variance fed in is the
    UNBIASED one, ``batch_var * n / (n - 1)`` (the normalization itself used the biased ``batch_var``).

    running_mean, running_var, batch_mean, batch_var: (C,). Returns new ``(running_mean, running_var)`` arrays.
    """
    unbiased = batch_var * (n / (n - 1))
    return ((1 - momentum) * running_mean + momentum * batch_mean,
            (1 - momentum) * running_var + momentum * unbiased)


class BatchNorm1d(Layer):
    """``torch.nn.BatchNorm1d(num_features, eps, momentum)`` for (N, C) inputs.

    params ``gamma`` (ones) and ``beta`` (zeros), shape (C,). ``running_mean`` (zeros) and ``running_var`` (ones) are
    buffers, not parameters: no gradient, the optimizer never sees them. ``train()`` / ``eval()`` (or a Sequential's)
    switch between batch statistics (updating the running ones) and the running statistics.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, dtype=np.float64):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        if self.num_features < 1:
            raise ValueError(f"num_features: expected a positive integer, got {num_features}")
        self.params = {"gamma": np.ones(self.num_features, dtype=dtype),
                       "beta": np.zeros(self.num_features, dtype=dtype)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.running_mean = np.zeros(self.num_features, dtype=dtype)
        self.running_var = np.ones(self.num_features, dtype=dtype)
        self.num_batches_tracked = 0
        self.cache = None

    def forward(self, x):
        """x: (N, C) -> (N, C)."""
        p = self.params
        if self.training:
            out, self.cache = batchnorm_forward(x, p["gamma"], p["beta"], self.eps)
            new_mean, new_var = batchnorm_running_update(self.running_mean, self.running_var, self.cache["mean"],
                                                         self.cache["var"], self.cache["n"], self.momentum)
            self.running_mean[...] = new_mean
            self.running_var[...] = new_var
            self.num_batches_tracked += 1
        else:
            out, self.cache = batchnorm_forward(x, p["gamma"], p["beta"], self.eps,
                                                mean=self.running_mean, var=self.running_var)
        return out

    def backward(self, dout):
        """dout: (N, C) -> dx (N, C); fills grads["gamma"], grads["beta"]."""
        cache = self._require_forward("cache")
        dx, self.grads["gamma"][...], self.grads["beta"][...] = batchnorm_backward(dout, cache)
        return dx

    def astype(self, dtype):
        super().astype(dtype)
        self.running_mean = self.running_mean.astype(dtype)
        self.running_var = self.running_var.astype(dtype)
        return self

    def __repr__(self):
        return f"BatchNorm1d({self.num_features}, eps={self.eps:g}, momentum={self.momentum:g})"


# ------------------------------------------------------------------------------------------------------- LayerNorm

def layernorm_forward(x, gamma, beta, eps: float = 1e-5):
    """Layer normalization over the last axis, then ``gamma * xhat + beta``.

    x: (..., D) (any leading shape: (N, D), or (N, T, D) for sequences); gamma, beta: (D,).
    Returns ``(out, cache)``, out of x's shape and dtype. The variance is the biased one (divided by D).
    """
    x = as_float_array(x, "LayerNorm input")
    if x.ndim < 1 or x.shape[-1] != gamma.shape[0]:
        raise ValueError(f"LayerNorm input: expected shape (..., {gamma.shape[0]}), got shape {x.shape}")
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    out = gamma.astype(x.dtype, copy=False) * xhat + beta.astype(x.dtype, copy=False)
    return out, {"xhat": xhat, "inv_std": inv_std, "gamma": gamma}


def layernorm_backward(dout, cache):
    """dout: (..., D) -> (dx (..., D), dgamma (D,), dbeta (D,)): BatchNorm's formula along the last axis, and the
    parameter gradients summed over every leading axis."""
    xhat, inv_std, gamma = cache["xhat"], cache["inv_std"], cache["gamma"]
    dout = as_float_array(dout, "dout")
    if dout.shape != xhat.shape:
        raise ValueError(f"dout: expected the shape of LayerNorm's output, {xhat.shape}, got shape {dout.shape}")
    lead = tuple(range(dout.ndim - 1))
    dgamma = (dout * xhat).sum(axis=lead)
    dbeta = dout.sum(axis=lead)
    dx = _normalize_backward(dout * gamma.astype(dout.dtype, copy=False), xhat, inv_std, axis=-1)
    return dx, dgamma, dbeta


class LayerNorm(Layer):
    """``torch.nn.LayerNorm(num_features, eps)``: normalizes the last axis; params ``gamma`` (ones), ``beta`` (zeros),
    shape (D,). The same in training and evaluation."""

    def __init__(self, num_features: int, eps: float = 1e-5, dtype=np.float64):
        super().__init__()
        self.num_features, self.eps = int(num_features), float(eps)
        if self.num_features < 1:
            raise ValueError(f"num_features: expected a positive integer, got {num_features}")
        self.params = {"gamma": np.ones(self.num_features, dtype=dtype),
                       "beta": np.zeros(self.num_features, dtype=dtype)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.cache = None

    def forward(self, x):
        """x: (..., D) -> (..., D)."""
        out, self.cache = layernorm_forward(x, self.params["gamma"], self.params["beta"], self.eps)
        return out

    def backward(self, dout):
        """dout: (..., D) -> dx (..., D); fills grads["gamma"], grads["beta"]."""
        cache = self._require_forward("cache")
        dx, self.grads["gamma"][...], self.grads["beta"][...] = layernorm_backward(dout, cache)
        return dx

    def __repr__(self):
        return f"LayerNorm({self.num_features}, eps={self.eps:g})"
