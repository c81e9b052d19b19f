"""Layers for sequences: word embeddings, a tanh recurrent network with backprop through time, and poolings
over time that turn (N, T, H) into one vector per sequence.

Functional pairs: ``embedding_forward`` / ``embedding_backward``, ``rnn_step_forward`` / ``rnn_step_backward`` (one
time step), ``rnn_forward`` / ``rnn_backward`` (the whole sequence), ``last_step_*`` and ``mean_over_time_*``; the
classes check their input, keep params/grads and call them.

Shapes: N sequences, T time steps, D input features, H hidden units, V vocabulary size, E embedding size.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, as_rng, require_dim, require_ndim
from .layers import Layer


def as_indices(idx, num_embeddings: int, name: str = "Embedding input") -> np.ndarray:
    """Integer token ids in [0, num_embeddings), or a clear error (floats are refused: ids are not numbers)."""
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer token ids, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= num_embeddings):
        raise ValueError(f"{name}: expected token ids in [0, {num_embeddings - 1}], "
                         f"got values from {idx.min()} to {idx.max()}")
    return idx


# ---- embedding ---------------------------------------------------------------------------------------------------
def embedding_forward(idx, W, padding_idx: int | None = None):
    """A lookup: ``out[n, t] = W[idx[n, t]]``.

    idx: integer ids of any shape, usually (N, T); W: (V, E) -> out: idx.shape + (E,), e.g. (N, T, E).
    cache: (idx, W's shape and dtype, padding_idx).
    """
    return W[idx], (idx, W.shape, W.dtype, padding_idx)


def embedding_backward(dout, cache):
    """dout: idx.shape + (E,), cache from ``embedding_forward`` -> dW: (V, E).

    dW[v] is the sum of dout over every position holding token v (np.add.at, so a token used twice in a batch
    gets both contributions); the padding row gets 0. Token ids have no gradient.
    """
    idx, shape, dtype, padding_idx = cache
    dW = np.zeros(shape, dtype=dtype)
    np.add.at(dW, idx, dout)
    if padding_idx is not None:
        dW[padding_idx] = 0.0
    return dW


class Embedding(Layer):
    """A lookup table: token id -> its row of W. ``out[n, t] = W[idx[n, t]]`` (``embedding_forward`` /
    ``embedding_backward``).

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

    def forward(self, idx):
        """idx: integer ids, e.g. (N, T) -> (N, T, E)."""
        idx = as_indices(idx, self.num_embeddings)
        out, self.cache = embedding_forward(idx, self.params["W"], self.padding_idx)
        return out

    def backward(self, dout):
        """dout: idx.shape + (E,) -> None; fills grads["W"] (V, E)."""
        idx = self._require_forward("cache")[0]
        dout = self._check_dout(dout, idx.shape + (self.dim,))
        self.grads["W"][...] = embedding_backward(dout, self.cache)
        return None

    def __repr__(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"Embedding({self.num_embeddings}, {self.dim}{pad})"


# ---- recurrent network ---------------------------------------------------------------------------------------
def rnn_step(x, h_prev, Wx, Wh, b):
    """One step of a tanh RNN: h = tanh(x Wx + h_prev Wh + b).

    x: (N, D), h_prev: (N, H), Wx: (D, H), Wh: (H, H), b: (H,) -> h: (N, H).
    """
    return np.tanh(x @ Wx + h_prev @ Wh + b)


def rnn_step_forward(x, h_prev, Wx, Wh, b):
    """``rnn_step`` with its cache. Shapes as in ``rnn_step``; returns (h: (N, H), cache (x, h_prev, h, Wx, Wh))."""
    h = rnn_step(x, h_prev, Wx, Wh, b)
    return h, (x, h_prev, h, Wx, Wh)


def rnn_step_backward(dh, cache):
    """dh: (N, H), cache from ``rnn_step_forward`` -> (dx: (N, D), dh_prev: (N, H), dWx: (D, H), dWh: (H, H),
    db: (H,)).

    tanh's derivative 1 - h^2 turns dh into da (the pre-activation's gradient); then a = x Wx + h_prev Wh + b is
    two linear layers: dx = da Wx^T, dh_prev = da Wh^T, dWx = x^T da, dWh = h_prev^T da, db = sum of da.
    """
    x, h_prev, h, Wx, Wh = cache
    da = dh * (1 - h * h)
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    """A tanh RNN over a batch-first sequence: ``rnn_step`` applied for t = 0 .. T-1, h_{-1} = h0.

    x: (N, T, D), h0: (N, H), Wx: (D, H), Wh: (H, H), b: (H,) -> hs: (N, T, H) (hs[:, t] the state after reading
    x[:, t]), in x's dtype; cache: (x, h0, hs, Wx, Wh).
    """
    Wx, Wh, b = (p.astype(x.dtype, copy=False) for p in (Wx, Wh, b))
    N, T, _ = x.shape
    hs = np.empty((N, T, Wh.shape[0]), dtype=x.dtype)
    h = h0
    for t in range(T):
        h = hs[:, t] = rnn_step(x[:, t], h, Wx, Wh, b)
    return hs, (x, h0, hs, Wx, Wh)


def rnn_backward(dhs, cache, return_dh: bool = False):
    """Backprop through time. dhs: (N, T, H), the loss's gradient for every returned state; cache from
    ``rnn_forward`` -> (dx: (N, T, D), dh0: (N, H), dWx: (D, H), dWh: (H, H), db: (H,)), and with ``return_dh`` a
    sixth array dh: (N, T, H), the total gradient that reached each state (its own dhs plus what flowed back from
    the future), which lesson 10 plots to show gradients vanishing through time.

    The walk t = T-1 .. 0 is ``rnn_step_backward``'s rule; only the carry to h_{t-1} has to be sequential, so the
    weight gradients are summed over all steps at the end, in one matrix product each (the same sums, faster).
    """
    x, h0, hs, Wx, Wh = cache
    N, T, H = hs.shape
    Wh = Wh.astype(dhs.dtype, copy=False)
    da = np.empty_like(hs)
    dh = np.empty_like(hs)
    carry = np.zeros((N, H), dtype=dhs.dtype)
    for t in reversed(range(T)):
        dh[:, t] = dhs[:, t] + carry
        da[:, t] = dh[:, t] * (1 - hs[:, t] ** 2)
        carry = da[:, t] @ Wh.T
    h_prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)         # (N, T, H): h_{t-1} for every t
    da2 = da.reshape(-1, H)
    grads = (da @ Wx.T.astype(dhs.dtype, copy=False), carry,
             x.reshape(-1, x.shape[2]).T @ da2, h_prev.reshape(-1, H).T @ da2, da2.sum(axis=0))
    return grads + (dh,) if return_dh else grads


class RNN(Layer):
    """A single-layer tanh RNN over batch-first sequences; returns every hidden state (``rnn_forward`` /
    ``rnn_backward``, one step being ``rnn_step``).

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

    def forward(self, x, h0=None):
        """x: (N, T, D), h0: optional (N, H) -> hs: (N, T, H), hs[:, t] = h_{t+1} in the formula's counting."""
        x = as_float_array(x, "RNN input")
        layout = f"(N, T, {self.input_size})"
        require_ndim(x, 3, "RNN input", layout)
        require_dim(x, 2, self.input_size, "RNN input", layout)
        N = x.shape[0]
        if h0 is None:
            h0 = np.zeros((N, self.hidden_size), dtype=x.dtype)
        else:
            h0 = as_float_array(h0, "h0")
            if h0.shape != (N, self.hidden_size):
                raise ValueError(f"h0: expected the shape of (N, hidden_size), {(N, self.hidden_size)}, "
                                 f"got shape {h0.shape}")
        hs, self.cache = rnn_forward(x, h0, self.params["Wx"], self.params["Wh"], self.params["b"])
        return hs

    def backward(self, dout):
        """dout: (N, T, H), the loss's gradient for every returned hidden state -> dx: (N, T, D).

        Fills grads (Wx (D, H), Wh (H, H), b (H,)), ``dh`` (N, T, H) and ``dh0`` (N, H).
        """
        hs = self._require_forward("cache")[2]
        dout = self._check_dout(dout, hs.shape)
        dx, self.dh0, self.grads["Wx"][...], self.grads["Wh"][...], self.grads["b"][...], self.dh = \
            rnn_backward(dout, self.cache, return_dh=True)
        return dx

    @property
    def hs(self):
        """The hidden states of the last forward, (N, T, H); None before the first forward."""
        return None if self.cache is None else self.cache[2]

    def __repr__(self):
        return f"RNN({self.input_size}, {self.hidden_size})"


def _sequence_input(x, what: str) -> np.ndarray:
    x = as_float_array(x, what)
    require_ndim(x, 3, what, "(N, T, H)")
    return x


# ---- poolings over time ------------------------------------------------------------------------------------------
def last_step_forward(x):
    """x: (N, T, H) -> out: (N, H), the last state x[:, -1]; cache: x's shape."""
    return x[:, -1], x.shape


def last_step_backward(dout, cache):
    """dout: (N, H), cache: x's shape (N, T, H) -> dx: (N, T, H), dout at t = T-1 and 0 elsewhere."""
    dx = np.zeros(cache, dtype=dout.dtype)
    dx[:, -1] = dout
    return dx


def mean_over_time_forward(x):
    """x: (N, T, H) -> out: (N, H), the average over the T steps; cache: x's shape."""
    return x.mean(axis=1), x.shape


def mean_over_time_backward(dout, cache):
    """dout: (N, H), cache: x's shape (N, T, H) -> dx: (N, T, H), dout / T at every step."""
    return np.broadcast_to(dout[:, None] / cache[1], cache).copy()


class LastStep(Layer):
    """(N, T, H) -> (N, H): the last hidden state, which has read the whole sequence. Backward puts dout at t=T-1
    (``last_step_forward`` / ``last_step_backward``)."""

    def forward(self, x):
        out, self.cache = last_step_forward(_sequence_input(x, "LastStep input"))
        return out

    def backward(self, dout):
        shape = self._require_forward("cache")
        return last_step_backward(self._check_dout(dout, (shape[0], shape[2])), shape)


class MeanOverTime(Layer):
    """(N, T, H) -> (N, H): the average over time steps, a bag of vectors that ignores their order
    (``mean_over_time_forward`` / ``mean_over_time_backward``). Backward spreads dout / T evenly over the T steps.
    """

    def forward(self, x):
        out, self.cache = mean_over_time_forward(_sequence_input(x, "MeanOverTime input"))
        return out

    def backward(self, dout):
        shape = self._require_forward("cache")
        return mean_over_time_backward(self._check_dout(dout, (shape[0], shape[2])), shape)
