"""The loss of a network on the plane ``theta(alpha, beta) = theta* + alpha d1 + beta d2``, evaluated in batches.

Computation only (no drawing): ``loss_on_plane`` returns the losses at any list of (alpha, beta) points,
``loss_grid`` on a grid. Two strategies:

- **batched** (``Sequential`` of Linear and ReLU/Sigmoid/Tanh layers, optionally a leading Flatten): the first layer
  is linear in (alpha, beta), ``X W(alpha, beta) = X W* + alpha X D1 + beta X D2``, so its three products are
  computed once; every later Linear is one batched matmul ``(G, N, H) @ (G, H, O)`` over a chunk of G grid points.
  No Python loop over samples, and only one over chunks of grid points.
- **per point** (any other layer, e.g. Conv2d): for each point, set the parameters and run the model's forward over
  all samples in batches. Slower; always correct. It is also the reference the batched path is tested against.
"""
from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from .._validate import as_float_array, as_labels
from ..nn.layers import Flatten, Linear, ReLU, Sigmoid, Tanh
from ..nn.losses import log_softmax, softmax_cross_entropy
from ..nn.model import predict
from .directions import parameter_arrays, parameter_slots, unflatten

ELEMENTWISE = (ReLU, Sigmoid, Tanh)
CHUNK_ELEMENTS = 2 ** 20   # activations per chunk (4 MB in float32): stays in cache between the passes over it


def as_direction(direction, like) -> list[np.ndarray]:
    """A direction as a list of float64 arrays shaped like ``like`` (accepts such a list or a flat vector)."""
    if isinstance(direction, np.ndarray) and direction.ndim == 1:
        return unflatten(direction, like)
    direction = [np.asarray(d, dtype=np.float64) for d in direction]
    if len(direction) != len(like) or any(d.shape != np.shape(w) for d, w in zip(direction, like)):
        raise ValueError(f"direction: expected {len(like)} arrays of shapes {[np.shape(w) for w in like]}, "
                         f"got {len(direction)} of shapes {[d.shape for d in direction]}")
    return direction


def supports_batched(model) -> bool:
    """True when ``loss_on_plane`` can use the batched strategy for ``model``."""
    layers = getattr(model, "layers", None)
    if not layers or not any(isinstance(layer, Linear) for layer in layers):
        return False
    first = next(i for i, layer in enumerate(layers) if isinstance(layer, Linear))
    return all(isinstance(layer, Flatten) for layer in layers[:first]) and \
        all(type(layer) is Linear or isinstance(layer, ELEMENTWISE) for layer in layers[first:])


def loss_on_plane(model, loss_fn, X, y, d1, d2, alphas, betas, method: str = "auto", dtype=np.float32,
                  batch_size: int = 1024) -> np.ndarray:
    """Loss at each point ``theta* + alphas[k] d1 + betas[k] d2`` (theta* = the model's current parameters).

    model: a ``Sequential`` (or any model for ``method="per_point"``); loss_fn(outputs, y) -> (loss, grad).
    X: (N, ...) inputs; y: targets as loss_fn wants them. d1, d2: directions (lists in ``parameters()`` order
    or flat vectors). alphas, betas: (K,) coordinates. method: "auto", "batched" or "per_point".
    dtype: float32 (fast) or float64 (exact comparisons). Returns (K,) float64 losses.
    The model's parameters are left exactly as they were.
    """
    center = parameter_arrays(model)
    d1, d2 = as_direction(d1, center), as_direction(d2, center)
    alphas = np.asarray(alphas, dtype=np.float64).ravel()
    betas = np.asarray(betas, dtype=np.float64).ravel()
    if alphas.shape != betas.shape:
        raise ValueError(f"betas: expected the shape of alphas, {alphas.shape}, got {betas.shape}")
    X = as_float_array(X, "X").astype(dtype, copy=False)
    if method == "auto":
        method = "batched" if supports_batched(model) else "per_point"
    if method == "batched":
        if not supports_batched(model):
            raise ValueError("method='batched': expected a Sequential of Linear and ReLU/Sigmoid/Tanh layers "
                             f"(optionally a leading Flatten), got {model!r}; use method='per_point'")
        return _batched(model, loss_fn, X, y, center, d1, d2, alphas, betas, dtype)
    if method == "per_point":
        return _per_point(model, loss_fn, X, y, center, d1, d2, alphas, betas, batch_size)
    raise ValueError(f"method: expected 'auto', 'batched' or 'per_point', got {method!r}")


def loss_grid(model, loss_fn, X, y, d1, d2, alphas, betas, **kwargs) -> np.ndarray:
    """Losses on the grid ``alphas x betas``: returns (len(betas), len(alphas)), row i = betas[i] (Plotly's z)."""
    alphas, betas = np.asarray(alphas, np.float64), np.asarray(betas, np.float64)
    A, B = np.meshgrid(alphas, betas)
    return loss_on_plane(model, loss_fn, X, y, d1, d2, A.ravel(), B.ravel(), **kwargs).reshape(B.shape)


def _per_point(model, loss_fn, X, y, center, d1, d2, alphas, betas, batch_size):
    """Set the parameters to each point in turn and run the whole forward (batched over samples)."""
    slots = parameter_slots(model)
    losses = np.empty(alphas.size)
    try:
        for k, (a, b) in enumerate(zip(alphas, betas)):
            for (layer, name), c, u, v in zip(slots, center, d1, d2):
                layer.params[name][...] = c + a * u + b * v
            losses[k] = loss_fn(predict(model, X, batch_size), y)[0]
    finally:
        for (layer, name), c in zip(slots, center):
            layer.params[name][...] = c
    return losses


def _batched(model, loss_fn, X, y, center, d1, d2, alphas, betas, dtype):
    layers = model.layers
    index = {(id(layer), name): i for i, (layer, name) in enumerate(parameter_slots(model))}

    def triple(layer, name):   # (theta*, d1, d2) for one parameter, in the compute dtype
        i = index[(id(layer), name)]
        return tuple(np.asarray(t[i], dtype=dtype) for t in (center, d1, d2))

    first = next(i for i, layer in enumerate(layers) if isinstance(layer, Linear))
    h0 = X.reshape(len(X), -1)
    (W, W1, W2), (b, b1, b2) = triple(layers[first], "W"), triple(layers[first], "b")
    n, width = len(X), W.shape[1]
    # The first layer at (a, c) is [1, a, c] @ [X W* + b*; X D1 + b1; X D2 + b2]: three products, computed once.
    planes = np.stack([h0 @ W + b, h0 @ W1 + b1, h0 @ W2 + b2]).reshape(3, -1)     # (3, N * H)
    rest = [(layer, triple(layer, "W") + triple(layer, "b") if isinstance(layer, Linear) else None)
            for layer in layers[first + 1:]]
    widest = max([width] + [t[0].shape[1] for _, t in rest if t is not None])
    chunk = max(1, CHUNK_ELEMENTS // (n * widest))
    losses = np.empty(alphas.size)
    with _single_threaded_blas():
        for start in range(0, alphas.size, chunk):
            a = alphas[start:start + chunk].astype(dtype)
            c = betas[start:start + chunk].astype(dtype)
            coeffs = np.column_stack([np.ones_like(a), a, c])                        # (G, 3)
            h = (coeffs @ planes).reshape(len(a), n, width)                           # (G, N, H): layer 1
            a, c = a[:, None, None], c[:, None, None]
            for layer, params in rest:
                if params is None:
                    h = _activate(layer, h)
                else:
                    W, W1, W2, b, b1, b2 = params
                    h = h @ (W + a * W1 + c * W2) + (b + a * b1 + c * b2)            # (G, N, H) @ (G, H, O)
            losses[start:start + chunk] = batched_loss(loss_fn, h, y)
    return losses


def _activate(layer, h: np.ndarray) -> np.ndarray:
    """Apply an elementwise activation to (G, N, H), in place where NumPy allows (it is the hot loop)."""
    if isinstance(layer, ReLU):
        return np.maximum(h, 0, out=h)
    if isinstance(layer, Tanh):
        return np.tanh(h, out=h)
    return layer.forward(h.reshape(-1, h.shape[-1])).reshape(h.shape)


def _single_threaded_blas():
    """Many small matrix products run faster on one BLAS thread (no thread wake-ups per product), above all on a
    busy machine."""
    return threadpool_limits(limits=1, user_api="blas")


def batched_loss(loss_fn, outputs: np.ndarray, y) -> np.ndarray:
    """``loss_fn(outputs[g], y)[0]`` for each g of outputs (G, N, ...): vectorized for softmax cross-entropy (the
    landscape's usual loss, through the library's own ``log_softmax``), one call per point for any other loss."""
    if loss_fn is softmax_cross_entropy and outputs.ndim == 3:
        g, n, c = outputs.shape
        labels = as_labels(y, n, c)
        # Classes first, (G, C, N): NumPy reduces over the few classes ~5x faster when the samples are the
        # contiguous axis than when each sample's C scores are (one short reduction per sample).
        logp = log_softmax(np.ascontiguousarray(outputs.transpose(0, 2, 1)), axis=1)
        picked = np.take_along_axis(logp, np.broadcast_to(labels[None, None, :], (g, 1, n)), axis=1)
        return -picked.mean(axis=(1, 2), dtype=np.float64)
    return np.array([loss_fn(out, y)[0] for out in outputs])
