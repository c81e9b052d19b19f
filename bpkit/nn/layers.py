"""Layers: each concept is a pure functional pair and a thin class on top of it.

The functional pair (CS231n's ``layers.py`` style) does the math and nothing else:
``xxx_forward(x, params...) -> (out, cache)`` and ``xxx_backward(dout, cache) -> (dx, dparams...)``; it never
mutates its inputs. The class keeps ``params`` and ``grads`` (dicts with the same keys), checks its input, calls
the pair in ``forward`` (keeping the cache) and in ``backward(dout)`` (writing ``grads``, returning dx).
``bpkit.nn.functional`` gathers every pair in one namespace: ``import bpkit.nn.functional as F``.

The forward result and its local derivative stand side by side, so one screen shows both halves of the chain
rule for each layer. Shapes: N is the batch size, D the input features, M the output features; ``...`` is any
shape (activations work elementwise). Every function keeps the dtype of x (float32 or float64).
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, require_dim, require_ndim
from .init import get_initializer


class Layer:
    """Base class: no parameters, ``__call__`` is ``forward``.

    ``training`` is True after construction; ``train()`` / ``eval()`` set it on the layer and on every layer inside
    it (``children()``), as PyTorch's ``Module.train`` does. Layers that behave differently at test time (dropout,
    batch normalization) read it in ``forward``; the others ignore it.
    """

    training = True
    cache = None    # what forward keeps for backward; None until the first forward

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, dout):  # pragma: no cover - abstract
        raise NotImplementedError

    def parameters(self):
        """Yield ``(layer, name)`` for each parameter (a lone layer can be handed to an optimizer)."""
        for name in self.params:
            yield self, name

    def children(self):
        """The layers this one contains (none here; ``Sequential`` yields its layers)."""
        return iter(())

    def train(self, mode: bool = True):
        """Set ``training = mode`` here and in every layer inside; returns self (so ``model.train()`` chains)."""
        self.training = bool(mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        """``train(False)``: test-time behaviour (dropout off, batch norm on its running statistics)."""
        return self.train(False)

    def zero_grad(self) -> None:
        for grad in self.grads.values():
            grad.fill(0.0)

    def astype(self, dtype):
        """Convert parameters and gradients to ``dtype`` in place (float32 for speed, float64 for checks)."""
        for name in self.params:
            self.params[name] = self.params[name].astype(dtype)
            self.grads[name] = self.grads[name].astype(dtype)
        return self

    def _require_forward(self, attr: str):
        value = getattr(self, attr, None)
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return value

    def _check_dout(self, dout, shape: tuple) -> np.ndarray:
        """``dout`` as a float array of the layer output's ``shape``, or a clear error naming both shapes."""
        dout = as_float_array(dout, "dout")
        if dout.shape != tuple(shape):
            raise ValueError(f"dout: expected the shape of {type(self).__name__} output, {tuple(shape)}, "
                             f"got shape {dout.shape}")
        return dout

    def __repr__(self):
        return f"{type(self).__name__}()"


# ---- linear ------------------------------------------------------------------------------------------------------
def linear_forward(x, W, b):
    """y = x @ W + b.

    x: (N, D), W: (D, M), b: (M,) -> out: (N, M) in x's dtype; cache: (x, W) for the backward pass.
    """
    out = x @ W.astype(x.dtype, copy=False)
    out += b.astype(x.dtype, copy=False)  # in place: no second (N, M) array
    return out, (x, W)


def linear_backward(dout, cache):
    """dout: (N, M), cache from ``linear_forward`` -> (dx: (N, D), dW: (D, M), db: (M,)).

    dx = dout W^T, dW = x^T dout, db = the sum of dout over the batch.
    """
    x, W = cache
    return dout @ W.T.astype(dout.dtype, copy=False), x.T @ dout, dout.sum(axis=0)


class Linear(Layer):
    """Fully connected layer ``y = x @ W + b`` (``linear_forward`` / ``linear_backward``).

    W: (in_features, out_features), b: (out_features,), initialized by ``init`` ("he", "xavier", ... or a
    callable ``(fan_in, fan_out, seed=..., dtype=...)``); b starts at zero.
    """

    def __init__(self, in_features: int, out_features: int, init="he", seed=None, dtype=np.float64):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        W = get_initializer(init)(self.in_features, self.out_features, seed=seed, dtype=dtype)
        self.params = {"W": W, "b": np.zeros(self.out_features, dtype=dtype)}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros(self.out_features, dtype=dtype)}
        self.cache = None

    def forward(self, x):
        """x: (N, in_features) -> (N, out_features), in x's dtype."""
        x = as_float_array(x, "Linear input")
        require_ndim(x, 2, "Linear input", f"(N, {self.in_features})")
        require_dim(x, 1, self.in_features, "Linear input", f"(N, {self.in_features})")
        out, self.cache = linear_forward(x, self.params["W"], self.params["b"])
        return out

    def backward(self, dout):
        """dout: (N, out_features) -> dx (N, in_features); fills grads["W"] (in, out) and grads["b"] (out,)."""
        x, _ = self._require_forward("cache")
        dout = self._check_dout(dout, (x.shape[0], self.out_features))
        dx, self.grads["W"][...], self.grads["b"][...] = linear_backward(dout, self.cache)
        return dx

    def __repr__(self):
        return f"Linear({self.in_features}, {self.out_features})"


# ---- activations (elementwise: x, out, dout and dx all have one shape, any shape) --------------------------------
def relu_forward(x):
    """max(0, x). x: (...) -> out: (...); cache: the derivative, a 0/1 mask (...) in x's dtype.

    A float mask, not a boolean one: NumPy multiplies by a float mask about 3x faster, and backward runs every step.
    """
    return np.maximum(x, 0), (x > 0).astype(x.dtype)


def relu_backward(dout, cache):
    """dout: (...), cache: the mask from ``relu_forward`` -> dx: (...) = dout where x > 0, else 0."""
    return dout * cache


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) elementwise, x: (...) -> (...) in x's dtype, without overflow: exp only ever sees -|x|.

    The one sigmoid of the package: the Sigmoid layer, ``bce_with_logits`` and the plots all call this one.
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def sigmoid_forward(x):
    """s = sigmoid(x). x: (...) -> out s: (...); cache: s itself (the derivative is s (1 - s))."""
    s = sigmoid(x)
    return s, s


def sigmoid_backward(dout, cache):
    """dout: (...), cache: s from ``sigmoid_forward`` -> dx: (...) = dout s (1 - s)."""
    return dout * cache * (1 - cache)


def tanh_forward(x):
    """t = tanh(x). x: (...) -> out t: (...); cache: t itself (the derivative is 1 - t^2)."""
    t = np.tanh(x)
    return t, t


def tanh_backward(dout, cache):
    """dout: (...), cache: t from ``tanh_forward`` -> dx: (...) = dout (1 - t^2)."""
    return dout * (1 - cache * cache)


class ReLU(Layer):
    """max(0, x) elementwise (``relu_forward`` / ``relu_backward``); its derivative is 1 where x > 0, else 0."""

    def forward(self, x):
        out, self.cache = relu_forward(as_float_array(x, "ReLU input"))
        return out

    def backward(self, dout):
        mask = self._require_forward("cache")
        return relu_backward(self._check_dout(dout, mask.shape), mask)


class Sigmoid(Layer):
    """s = sigmoid(x) (``sigmoid_forward`` / ``sigmoid_backward``); its derivative s (1 - s) uses the output."""

    def forward(self, x):
        out, self.cache = sigmoid_forward(as_float_array(x, "Sigmoid input"))
        return out

    def backward(self, dout):
        s = self._require_forward("cache")
        return sigmoid_backward(self._check_dout(dout, s.shape), s)


class Tanh(Layer):
    """t = tanh(x) (``tanh_forward`` / ``tanh_backward``); its derivative 1 - t^2 uses the output."""

    def forward(self, x):
        out, self.cache = tanh_forward(as_float_array(x, "Tanh input"))
        return out

    def backward(self, dout):
        t = self._require_forward("cache")
        return tanh_backward(self._check_dout(dout, t.shape), t)


# ---- flatten -----------------------------------------------------------------------------------------------------
def flatten_forward(x):
    """x: (N, d1, d2, ...) -> out: (N, d1 * d2 * ...); cache: x's shape."""
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout, cache):
    """dout: (N, d1 * d2 * ...), cache: x's shape -> dx: (N, d1, d2, ...)."""
    return dout.reshape(cache)


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...) (``flatten_forward`` / ``flatten_backward``)."""

    def forward(self, x):
        out, self.cache = flatten_forward(as_float_array(x, "Flatten input"))
        return out

    def backward(self, dout):
        shape = self._require_forward("cache")
        return flatten_backward(self._check_dout(dout, (shape[0], int(np.prod(shape[1:])))), shape)
