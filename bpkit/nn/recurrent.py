"""Layers for sequences: word embeddings, a tanh recurrent network with backprop through time, and poolings
over time that turn (N, T, H) into one vector per sequence.

Shapes: N sequences, T time steps, D input features, H hidden units, V vocabulary size, E embedding size.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, as_rng, require_dim, require_ndim, require_same_shape
from .layers import Layer


def as_indices(idx, num_embeddings: int, name: str = "Embedding input") -> np.ndarray:
    """Integer token ids in [0, num_embeddings); floats holding whole numbers (as ``fit`` passes them) are accepted."""
    idx = np.asarray(idx)
    if idx.dtype.kind == "f" and idx.size and np.all(idx == np.round(idx)):
        idx = idx.astype(np.int64)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer token ids, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= num_embeddings):
        raise ValueError(f"{name}: expected token ids in [0, {num_embeddings - 1}], "
                         f"got values from {idx.min()} to {idx.max()}")
    return idx


class Embedding(Layer):
    """A lookup table: token id -> its row of W. ``out[n, t] = W[idx[n, t]]``.

    W: (V, E) drawn from N(0, 1) as PyTorch does. idx: integers of any shape, usually (N, T) -> (N, T, E).
    The backward pass adds each upstream row onto the row it was read from (np.add.at, so a token used twice in a
    batch gets both contributions). With ``padding_idx`` that row is zero and never learns (PyTorch's padding_idx).
    Token ids have no gradient: backward returns None.
    """

    def __init__(self, num_embeddings: int, dim: int, padding_idx: int | None = None, seed=None,
                 dtype=np.float64):
        super().__init__()
        self.num_embeddings, self.dim = int(num_embeddings), int(dim)
        if self.num_embeddings < 1 or self.dim < 1:
            raise ValueError(f"Embedding: expected positive sizes, got num_embeddings={num_embeddings}, dim={dim}")
        if padding_idx is not None and not 0 <= padding_idx < self.num_embeddings:
            raise ValueError(f"padding_idx: expected an id in [0, {self.num_embeddings - 1}], got {padding_idx}")
        self.padding_idx = padding_idx
        W = as_rng(seed).standard_normal((self.num_embeddings, self.dim)).astype(dtype)
        if padding_idx is not None:
            W[padding_idx] = 0.0
        self.params = {"W": W}
        self.grads = {"W": np.zeros_like(W)}
        self.idx = None

    def forward(self, idx):
        """idx: integer ids, e.g. (N, T) -> (N, T, E)."""
        self.idx = as_indices(idx, self.num_embeddings)
        return self.params["W"][self.idx]

    def backward(self, dout):
        """dout: idx.shape + (E,) -> None; dW[v] = sum of dout over every position holding token v."""
        idx = self._require_forward("idx")
        dout = self._check_dout(dout, np.empty(idx.shape + (self.dim,)))
        dW = self.grads["W"]
        dW[...] = 0.0
        np.add.at(dW, idx, dout)
        if self.padding_idx is not None:
            dW[self.padding_idx] = 0.0
        return None

    def __repr__(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"Embedding({self.num_embeddings}, {self.dim}{pad})"


def rnn_step(x, h_prev, Wx, Wh, b):
    """One step of a tanh RNN: h = tanh(x Wx + h_prev Wh + b). x: (N, D), h_prev: (N, H) -> h: (N, H)."""
    return np.tanh(x @ Wx + h_prev @ Wh + b)


class RNN(Layer):
    """A single-layer tanh RNN over batch-first sequences; returns every hidden state.

    h_t = tanh(x_t Wx + h_{t-1} Wh + b), h_0 = 0 unless ``forward(x, h0)`` is given one.
    x: (N, T, D) -> hs: (N, T, H). Wx: (D, H), Wh: (H, H), b: (H,), drawn from U(-1/sqrt(H), 1/sqrt(H)) as
    PyTorch does (``seed`` fixes them). ``nonlinearity="tanh"`` only.

    Backward (backprop through time) walks t = T-1 .. 0; after it, ``dh`` (N, T, H) holds the total gradient that
    reached each hidden state (from the output at that step and from the future), and ``dh0`` the gradient for h0:
    lesson 10 plots ``|dh[:, t]|`` against t to show gradients vanishing through time.
    """

    def __init__(self, input_size: int, hidden_size: int, seed=None, dtype=np.float64):
        super().__init__()
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        if self.input_size < 1 or self.hidden_size < 1:
            raise ValueError(f"RNN: expected positive sizes, got input_size={input_size}, "
                             f"hidden_size={hidden_size}")
        rng = as_rng(seed)
        bound = 1.0 / np.sqrt(self.hidden_size)
        D, H = self.input_size, self.hidden_size
        self.params = {"Wx": rng.uniform(-bound, bound, (D, H)).astype(dtype),
                       "Wh": rng.uniform(-bound, bound, (H, H)).astype(dtype),
                       "b": rng.uniform(-bound, bound, H).astype(dtype)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.hs = None

    def forward(self, x, h0=None):
        """x: (N, T, D), h0: optional (N, H) -> hs: (N, T, H), hs[:, t] = h_{t+1} in the formula's counting."""
        x = as_float_array(x, "RNN input")
        layout = f"(N, T, {self.input_size})"
        require_ndim(x, 3, "RNN input", layout)
        require_dim(x, 2, self.input_size, "RNN input", layout)
        N, T, _ = x.shape
        if h0 is None:
            h0 = np.zeros((N, self.hidden_size), dtype=x.dtype)
        else:
            h0 = as_float_array(h0, "h0")
            require_same_shape(np.empty((N, self.hidden_size)), h0, "(N, hidden_size)", "h0")
        Wx, Wh, b = (self.params[k].astype(x.dtype, copy=False) for k in ("Wx", "Wh", "b"))
        xw = x @ Wx + b                  # the input's part of every step, in one matrix product
        hs = np.empty((N, T, self.hidden_size), dtype=x.dtype)
        h = h0
        for t in range(T):
            h = np.tanh(xw[:, t] + h @ Wh)
            hs[:, t] = h
        self.x, self.h0, self.hs = x, h0, hs
        return hs

    def backward(self, dout):
        """dout: (N, T, H), the loss's gradient for every returned hidden state -> dx: (N, T, D).

        At each step, the gradient reaching h_t is its own dout plus what flows back from h_{t+1} through Wh;
        it passes tanh (times 1 - h_t^2) to give da_t, which feeds dWx, dWh, db, dx_t and h_{t-1}.
        """
        hs = self._require_forward("hs")
        dout = self._check_dout(dout, hs)
        x, h0 = self.x, self.h0
        N, T, H = hs.shape
        Wh = self.params["Wh"].astype(dout.dtype, copy=False)
        da = np.empty_like(hs)
        self.dh = np.empty_like(hs)
        carry = np.zeros((N, H), dtype=dout.dtype)
        for t in reversed(range(T)):
            dh = dout[:, t] + carry
            self.dh[:, t] = dh
            da[:, t] = dh * (1 - hs[:, t] ** 2)
            carry = da[:, t] @ Wh.T
        self.dh0 = carry
        h_prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)       # (N, T, H): h_{t-1} for every t
        self.grads["Wx"][...] = x.reshape(-1, self.input_size).T @ da.reshape(-1, H)
        self.grads["Wh"][...] = h_prev.reshape(-1, H).T @ da.reshape(-1, H)
        self.grads["b"][...] = da.sum(axis=(0, 1))
        return da @ self.params["Wx"].T.astype(dout.dtype, copy=False)

    def __repr__(self):
        return f"RNN({self.input_size}, {self.hidden_size})"


def _sequence_input(x, what: str) -> np.ndarray:
    x = as_float_array(x, what)
    require_ndim(x, 3, what, "(N, T, H)")
    return x


class LastStep(Layer):
    """(N, T, H) -> (N, H): the last hidden state, which has read the whole sequence. Backward puts dout at t=T-1."""

    def forward(self, x):
        x = _sequence_input(x, "LastStep input")
        self.shape = x.shape
        return x[:, -1]

    def backward(self, dout):
        shape = self._require_forward("shape")
        dout = self._check_dout(dout, np.empty((shape[0], shape[2])))
        dx = np.zeros(shape, dtype=dout.dtype)
        dx[:, -1] = dout
        return dx


class MeanOverTime(Layer):
    """(N, T, H) -> (N, H): the average over time steps, a bag of vectors that ignores their order.

    Backward spreads dout / T evenly over the T steps.
    """

    def forward(self, x):
        x = _sequence_input(x, "MeanOverTime input")
        self.shape = x.shape
        return x.mean(axis=1)

    def backward(self, dout):
        shape = self._require_forward("shape")
        dout = self._check_dout(dout, np.empty((shape[0], shape[2])))
        return np.broadcast_to(dout[:, None] / shape[1], shape).copy()
