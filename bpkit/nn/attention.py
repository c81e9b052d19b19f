"""Attention: every query position reads a weighted average of the values, weighted by how well its query matches
each key.

Scaled dot-product attention, for one head::

    S = q k^T / sqrt(d)                  scores (Tq, Tk)
    P = softmax(S) along each row        weights (Tq, Tk), masked entries exactly 0
    out = P v                            (Tq, d)

Backward, with ``dout`` (Tq, d)::

    dv = P^T dout
    dP = dout v^T
    dS = P * (dP - sum(dP * P, along the row))     the softmax's Jacobian diag(p) - p p^T, applied row by row
    dq = dS k / sqrt(d)        dk = dS^T q / sqrt(d)

Shapes: N sequences, h heads, Tq query positions, Tk key positions, d features per head; ``d_model = h * d``.
A mask is boolean and broadcasts to (N, h, Tq, Tk); True means "may attend". A causal mask is lower-triangular.
"""
from __future__ import annotations

import math

import numpy as np

from .._validate import as_float_array, as_rng, require_dim, require_ndim
from .layers import Layer

__all__ = ["causal_mask", "scaled_dot_product_attention_forward", "scaled_dot_product_attention_backward",
           "scaled_dot_product_attention", "multi_head_attention_forward", "multi_head_attention_backward",
           "MultiHeadAttention"]


def causal_mask(Tq: int, Tk: int | None = None) -> np.ndarray:
    """Boolean (Tq, Tk) mask, True on and below the diagonal: position i may attend to positions j <= i."""
    return np.tri(Tq, Tq if Tk is None else Tk, dtype=bool)


def _masked_softmax(scores, mask):
    """Softmax along the last axis, stable (the row's max is subtracted), masked entries 0; a fully masked row is
    all zeros (it reads nothing) rather than NaN."""
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    peak = scores.max(axis=-1, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    e = np.exp(scores - peak)
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1.0)


def scaled_dot_product_attention_forward(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d)) v, with a boolean mask (True = may attend).

    q: (N, h, Tq, d), k: (N, h, Tk, d), v: (N, h, Tk, dv), mask: None or boolean, broadcastable to (N, h, Tq, Tk).
    Any leading axes work the same way (e.g. (Tq, d) for one head).
    Returns (out: (N, h, Tq, dv), cache); ``cache[3]`` is the weights P, (N, h, Tq, Tk).
    """
    d = q.shape[-1]
    scale = 1.0 / math.sqrt(d)        # a Python float: a NumPy float64 would turn float32 scores into float64
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
    weights = _masked_softmax((q @ np.swapaxes(k, -1, -2)) * scale, mask).astype(q.dtype, copy=False)
    return weights @ v, (q, k, v, weights, scale)


def scaled_dot_product_attention_backward(dout, cache):
    """Backward of ``scaled_dot_product_attention_forward``.

    dout: (N, h, Tq, dv). Returns (dq: (N, h, Tq, d), dk: (N, h, Tk, d), dv: (N, h, Tk, dv)).
    Masked positions have weight 0, so they receive no gradient (the mask needs no second application).
    """
    q, k, v, P, scale = cache
    dv = np.swapaxes(P, -1, -2) @ dout
    dP = dout @ np.swapaxes(v, -1, -2)
    dS = P * (dP - np.sum(dP * P, axis=-1, keepdims=True))
    dq = (dS @ k) * scale
    dk = (np.swapaxes(dS, -1, -2) @ q) * scale
    return dq, dk, dv


def scaled_dot_product_attention(q, k, v, mask=None):
    """The forward alone (PyTorch's ``F.scaled_dot_product_attention`` semantics, boolean mask True = attend)."""
    return scaled_dot_product_attention_forward(q, k, v, mask)[0]


def _split_heads(x, n_heads):
    """(N, T, d_model) -> (N, h, T, d_model / h)."""
    N, T, D = x.shape
    return x.reshape(N, T, n_heads, D // n_heads).transpose(0, 2, 1, 3)


def _merge_heads(x):
    """(N, h, T, d) -> (N, T, h d)."""
    N, h, T, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(N, T, h * d)


PARAM_NAMES = ("Wq", "Wk", "Wv", "Wo", "bq", "bk", "bv", "bo")


def multi_head_attention_forward(x, context, params, n_heads, mask=None):
    """Multi-head attention: project, split into heads, attend, merge, project.

    x: (N, Tq, d_model), the queries' side. context: (N, Tk, d_model) for cross-attention (keys and values come
    from it), or None for self-attention (keys and values come from x). params: dict with ``Wq``, ``Wk``, ``Wv``,
    ``Wo`` (d_model, d_model) and ``bq``, ``bk``, ``bv``, ``bo`` (d_model,). n_heads divides d_model.
    mask: None or boolean broadcastable to (N, n_heads, Tq, Tk), True = may attend.
    Returns (out: (N, Tq, d_model), cache); ``cache["weights"]`` is (N, n_heads, Tq, Tk).
    """
    p = {name: params[name].astype(x.dtype, copy=False) for name in PARAM_NAMES}
    src = x if context is None else context
    N, Tq, D = x.shape
    Tk = src.shape[1]
    q = (x.reshape(-1, D) @ p["Wq"] + p["bq"]).reshape(N, Tq, D)
    k = (src.reshape(-1, D) @ p["Wk"] + p["bk"]).reshape(N, Tk, D)
    v = (src.reshape(-1, D) @ p["Wv"] + p["bv"]).reshape(N, Tk, D)
    heads, attn = scaled_dot_product_attention_forward(
        _split_heads(q, n_heads), _split_heads(k, n_heads), _split_heads(v, n_heads), mask)
    merged = _merge_heads(heads)
    out = (merged.reshape(-1, D) @ p["Wo"] + p["bo"]).reshape(N, Tq, D)
    cache = {"x": x, "context": context, "p": p, "n_heads": n_heads, "attn": attn, "merged": merged,
             "weights": attn[3]}
    return out, cache


def multi_head_attention_backward(dout, cache):
    """Backward of ``multi_head_attention_forward``.

    dout: (N, Tq, d_model). Returns (dx: (N, Tq, d_model), dcontext: (N, Tk, d_model) or None when the forward had
    no context, grads: dict with the keys of params, each of its parameter's shape).
    """
    x, context, p, n_heads = cache["x"], cache["context"], cache["p"], cache["n_heads"]
    src = x if context is None else context
    N, Tq, D = x.shape
    Tk = src.shape[1]
    dout2 = dout.reshape(-1, D)
    grads = {"Wo": cache["merged"].reshape(-1, D).T @ dout2, "bo": dout2.sum(axis=0)}
    dmerged = (dout2 @ p["Wo"].T).reshape(N, Tq, D)
    dqh, dkh, dvh = scaled_dot_product_attention_backward(_split_heads(dmerged, n_heads), cache["attn"])
    dq, dk, dv = (_merge_heads(g).reshape(-1, D) for g in (dqh, dkh, dvh))
    x2, src2 = x.reshape(-1, D), src.reshape(-1, D)
    grads["Wq"], grads["bq"] = x2.T @ dq, dq.sum(axis=0)
    grads["Wk"], grads["bk"] = src2.T @ dk, dk.sum(axis=0)
    grads["Wv"], grads["bv"] = src2.T @ dv, dv.sum(axis=0)
    dx = (dq @ p["Wq"].T).reshape(N, Tq, D)
    dsrc = (dk @ p["Wk"].T + dv @ p["Wv"].T).reshape(N, Tk, D)
    if context is None:
        return dx + dsrc, None, grads
    return dx, dsrc, grads


class MultiHeadAttention(Layer):
    """Multi-head (self- or cross-) attention with params ``Wq``, ``Wk``, ``Wv``, ``Wo`` (d_model, d_model) and
    ``bq``, ``bk``, ``bv``, ``bo`` (d_model,); weights drawn from U(-1/sqrt(d_model), 1/sqrt(d_model)), biases 0.

    ``forward(x, context=None, mask=None)``: x (N, T, d_model) -> (N, T, d_model). Keys and values come from
    ``context`` (N, Tk, d_model) when given (cross-attention), else from x. ``causal=True`` lets position i attend
    only to positions j <= i; ``mask`` (boolean, broadcastable to (N, n_heads, T, Tk), True = may attend) is combined
    with it, e.g. to hide padding.

    ``backward(dout)`` fills ``grads`` and returns dx (N, T, d_model). **The gradient for ``context``** (when the
    forward had one) is left in the attribute ``dcontext`` (N, Tk, d_model); without a context it is None and dx
    already holds both the query path and the key/value path. ``weights`` (N, n_heads, T, Tk) are the last
    forward's attention weights, for plotting.
    """

    def __init__(self, d_model: int, n_heads: int, causal: bool = False, seed=None, dtype=np.float64):
        super().__init__()
        self.d_model, self.n_heads, self.causal = int(d_model), int(n_heads), bool(causal)
        if self.d_model < 1 or self.n_heads < 1 or self.d_model % self.n_heads:
            raise ValueError(f"MultiHeadAttention: n_heads must divide d_model, got d_model={d_model}, "
                             f"n_heads={n_heads}")
        rng = as_rng(seed)
        bound = 1.0 / np.sqrt(self.d_model)
        D = self.d_model
        self.params = {name: rng.uniform(-bound, bound, (D, D)).astype(dtype) for name in PARAM_NAMES[:4]}
        self.params.update({name: np.zeros(D, dtype=dtype) for name in PARAM_NAMES[4:]})
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.cache = None
        self.dcontext = None

    def __call__(self, x, context=None, mask=None):
        return self.forward(x, context, mask)

    def forward(self, x, context=None, mask=None):
        """x: (N, T, d_model), context: None or (N, Tk, d_model) -> (N, T, d_model)."""
        x = as_float_array(x, "MultiHeadAttention input")
        layout = f"(N, T, {self.d_model})"
        require_ndim(x, 3, "MultiHeadAttention input", layout)
        require_dim(x, 2, self.d_model, "MultiHeadAttention input", layout)
        if context is not None:
            context = as_float_array(context, "context").astype(x.dtype, copy=False)
            require_ndim(context, 3, "context", layout)
            require_dim(context, 2, self.d_model, "context", layout)
            if context.shape[0] != x.shape[0]:
                raise ValueError(f"context: expected {x.shape[0]} sequences like x, got shape {context.shape}")
        Tk = x.shape[1] if context is None else context.shape[1]
        if self.causal:
            causal = causal_mask(x.shape[1], Tk)
            mask = causal if mask is None else np.logical_and(mask, causal)
        out, self.cache = multi_head_attention_forward(x, context, self.params, self.n_heads, mask)
        self.weights = self.cache["weights"]
        return out

    def backward(self, dout):
        """dout: (N, T, d_model) -> dx: (N, T, d_model); the context's gradient goes to ``self.dcontext``."""
        if self.cache is None:
            raise RuntimeError("MultiHeadAttention.backward called before forward")
        dout = as_float_array(dout, "dout")
        expected = self.cache["x"].shape
        if dout.shape != expected:
            raise ValueError(f"dout: expected the shape of MultiHeadAttention's output, {expected}, "
                             f"got shape {dout.shape}")
        dx, self.dcontext, grads = multi_head_attention_backward(dout, self.cache)
        for name, g in grads.items():
            self.grads[name][...] = g
        return dx

    def __repr__(self):
        causal = ", causal=True" if self.causal else ""
        return f"MultiHeadAttention({self.d_model}, {self.n_heads}{causal})"
