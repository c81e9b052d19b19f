"""Layers: each keeps ``params`` and ``grads`` (dicts with the same keys), caches in ``forward`` what ``backward``
needs, and in ``backward(dout)`` fills ``grads`` and returns the gradient for its input.

The forward result and its local derivative stand side by side in every class, so one screen shows both halves of
the chain rule for that layer. Shapes: N is the batch size, D the input features, M the output features.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, require_dim, require_ndim, require_same_shape
from .init import get_initializer


class Layer:
    """Base class: no parameters, ``__call__`` is ``forward``; ``training`` is True until ``eval()``."""

    training = True

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

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

    def zero_grad(self) -> None:
        for grad in self.grads.values():
            grad.fill(0.0)

    def train(self, mode: bool = True):
        """Training mode (``mode=True``) or evaluation mode; only BatchNorm1d and Dropout behave differently."""
        self.training = bool(mode)
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

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

    def _check_dout(self, dout, like: np.ndarray) -> np.ndarray:
        dout = as_float_array(dout, "dout")
        require_same_shape(like, dout, f"{type(self).__name__} output", "dout")
        return dout

    def __repr__(self):
        return f"{type(self).__name__}()"


class Linear(Layer):
    """Fully connected layer ``y = x @ W + b``.

    W: (in_features, out_features), b: (out_features,), initialized by ``init`` ("he", "xavier", ... or a
    callable ``(fan_in, fan_out, seed=..., dtype=...)``); b starts at zero.
    """

    def __init__(self, in_features: int, out_features: int, init="he", seed=None, dtype=np.float64):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        W = get_initializer(init)(self.in_features, self.out_features, seed=seed, dtype=dtype)
        self.params = {"W": W, "b": np.zeros(self.out_features, dtype=dtype)}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros(self.out_features, dtype=dtype)}
        self.x = None

    def forward(self, x):
        """x: (N, in_features) -> (N, out_features), in x's dtype."""
        x = as_float_array(x, "Linear input")
        require_ndim(x, 2, "Linear input", f"(N, {self.in_features})")
        require_dim(x, 1, self.in_features, "Linear input", f"(N, {self.in_features})")
        self.x = x
        out = x @ self.params["W"].astype(x.dtype, copy=False)
        out += self.params["b"].astype(x.dtype, copy=False)  # in place: no second (N, M) array
        return out

    def backward(self, dout):
        """dout: (N, out_features) -> dx (N, in_features); dW = x^T dout, db = sum of dout over the batch."""
        x = self._require_forward("x")
        dout = as_float_array(dout, "dout")
        if dout.shape != (x.shape[0], self.out_features):
            raise ValueError(f"dout: expected the shape of Linear's output, {(x.shape[0], self.out_features)}, "
                             f"got shape {dout.shape}")
        dW, db = self.grads["W"], self.grads["b"]
        if dW.dtype == x.dtype == dout.dtype:
            np.matmul(x.T, dout, out=dW)  # written straight into the gradient buffer
            np.sum(dout, axis=0, out=db)
        else:
            dW[...] = x.T @ dout
            db[...] = dout.sum(axis=0)
        return dout @ self.params["W"].T.astype(dout.dtype, copy=False)

    def __repr__(self):
        return f"Linear({self.in_features}, {self.out_features})"


class ReLU(Layer):
    """max(0, x) elementwise; its derivative is 1 where x > 0 and 0 elsewhere.

    The derivative is kept as a 0/1 mask in x's dtype: NumPy multiplies by a float mask about 3x faster than by a
    boolean one, and backward runs every step.
    """

    def forward(self, x):
        x = as_float_array(x, "ReLU input")
        self.mask = (x > 0).astype(x.dtype)
        return np.maximum(x, 0)

    def backward(self, dout):
        mask = self._require_forward("mask")
        return self._check_dout(dout, mask) * mask


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) without overflow: exp is only ever taken of -|x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


class Sigmoid(Layer):
    """s = sigmoid(x); its derivative s (1 - s) is computed from the cached output."""

    def forward(self, x):
        self.out = sigmoid(as_float_array(x, "Sigmoid input"))
        return self.out

    def backward(self, dout):
        s = self._require_forward("out")
        return self._check_dout(dout, s) * s * (1 - s)


class Tanh(Layer):
    """t = tanh(x); its derivative 1 - t^2 is computed from the cached output."""

    def forward(self, x):
        self.out = np.tanh(as_float_array(x, "Tanh input"))
        return self.out

    def backward(self, dout):
        t = self._require_forward("out")
        return self._check_dout(dout, t) * (1 - t * t)


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...); backward restores the shape."""

    def forward(self, x):
        x = as_float_array(x, "Flatten input")
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        shape = self._require_forward("shape")
        return as_float_array(dout, "dout").reshape(shape)
