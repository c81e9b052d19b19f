"""The LSTM: a recurrent layer whose memory cell is updated by addition, so gradients can cross many steps.

One step (gates in PyTorch's order input, forget, cell, output)::

    a = x Wx + h_prev Wh + b                    (N, 4H), split into a_i, a_f, a_g, a_o
    i = sigmoid(a_i)   f = sigmoid(a_f)   g = tanh(a_g)   o = sigmoid(a_o)
    c = f * c_prev + i * g                      the cell: an elementwise, additive update
    h = o * tanh(c)

Backward through the cell path is ``dc_prev = dc * f``: an elementwise product with the forget gate, no weight
matrix and no squashing derivative in between. With ``f`` near 1 the gradient crosses many steps intact; the plain
RNN multiplies by ``diag(1 - h^2) Wh^T`` at every step instead.

Shapes: N sequences, T time steps, D input features, H hidden units. Wx (D, 4H), Wh (H, 4H), b (4H,).
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, as_rng, require_dim, require_ndim, require_same_shape
from .layers import Layer, sigmoid

__all__ = ["lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward", "LSTM"]


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    """One LSTM step.

    x: (N, D), h_prev: (N, H), c_prev: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,).
    Returns (h: (N, H), c: (N, H), cache) where cache holds what ``lstm_step_backward`` needs.
    """
    H = h_prev.shape[1]
    a = x @ Wx + h_prev @ Wh + b
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:])
    c = f * c_prev + i * g
    tc = np.tanh(c)
    h = o * tc
    return h, c, (x, h_prev, c_prev, Wx, Wh, i, f, g, o, tc)


def lstm_step_backward(dh, dc, cache):
    """Backward of one LSTM step.

    dh: (N, H), the gradient reaching h; dc: (N, H), the gradient reaching c from the next step (zeros at the end).
    Returns (dx: (N, D), dh_prev: (N, H), dc_prev: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,)).
    """
    x, h_prev, c_prev, Wx, Wh, i, f, g, o, tc = cache
    do = dh * tc
    dc = dc + dh * o * (1 - tc * tc)             # c feeds h through tanh, and the next step directly
    di, df, dg = dc * g, dc * c_prev, dc * i
    dc_prev = dc * f                             # the additive cell path: only the forget gate in between
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g), do * o * (1 - o)], axis=1)
    return da @ Wx.T, da @ Wh.T, dc_prev, x.T @ da, h_prev.T @ da, da.sum(axis=0)


def lstm_forward(x, h0, Wx, Wh, b, c0=None):
    """An LSTM over a batch-first sequence.

    x: (N, T, D), h0: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,), c0: optional (N, H) (zeros by default).
    Returns (hs: (N, T, H), cache); ``hs[:, t]`` is the hidden state after reading ``x[:, t]``.
    """
    N, T, _ = x.shape
    H = h0.shape[1]
    c0 = np.zeros((N, H), dtype=x.dtype) if c0 is None else c0
    c = c0
    xw = x @ Wx + b                              # the input's part of every step, in one matrix product
    hs = np.empty((N, T, H), dtype=x.dtype)
    gates = np.empty((N, T, 4 * H), dtype=x.dtype)       # i, f, g, o after their nonlinearities
    cs = np.empty((N, T, H), dtype=x.dtype)
    h = h0
    for t in range(T):
        a = xw[:, t] + h @ Wh
        ifo = sigmoid(a)                         # sigmoid on all four blocks, then tanh on the cell block
        ifo[:, 2 * H:3 * H] = np.tanh(a[:, 2 * H:3 * H])
        c = ifo[:, H:2 * H] * c + ifo[:, :H] * ifo[:, 2 * H:3 * H]
        h = ifo[:, 3 * H:] * np.tanh(c)
        gates[:, t], cs[:, t], hs[:, t] = ifo, c, h
    return hs, (x, h0, c0, Wx, Wh, gates, cs, hs)


def lstm_backward(dhs, cache):
    """Backprop through time for ``lstm_forward``.

    dhs: (N, T, H), the loss's gradient for every returned hidden state.
    Returns (dx: (N, T, D), dh0: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,), extras) where extras is a dict with
    ``dh`` (N, T, H) and ``dc`` (N, T, H): the total gradient that reached each hidden state and each cell (from its
    own output and from the future), and ``dc0`` (N, H).
    """
    x, h0, c0, Wx, Wh, gates, cs, hs = cache
    N, T, H = hs.shape
    da = np.empty_like(gates)
    dh_all, dc_all = np.empty_like(hs), np.empty_like(hs)
    dh_next = np.zeros((N, H), dtype=dhs.dtype)
    dc_next = np.zeros((N, H), dtype=dhs.dtype)
    WhT = Wh.T
    for t in reversed(range(T)):
        i, f, g, o = (gates[:, t, k * H:(k + 1) * H] for k in range(4))
        c_prev = cs[:, t - 1] if t else c0
        tc = np.tanh(cs[:, t])
        dh = dhs[:, t] + dh_next
        dc = dc_next + dh * o * (1 - tc * tc)
        dh_all[:, t], dc_all[:, t] = dh, dc
        da[:, t, :H] = dc * g * i * (1 - i)
        da[:, t, H:2 * H] = dc * c_prev * f * (1 - f)
        da[:, t, 2 * H:3 * H] = dc * i * (1 - g * g)
        da[:, t, 3 * H:] = dh * tc * o * (1 - o)
        dc_next = dc * f
        dh_next = da[:, t] @ WhT
    h_prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
    D = x.shape[2]
    daf = da.reshape(-1, 4 * H)
    dWx = x.reshape(-1, D).T @ daf
    dWh = h_prev.reshape(-1, H).T @ daf
    db = daf.sum(axis=0)
    dx = da @ Wx.T
    return dx, dh_next, dWx, dWh, db, {"dh": dh_all, "dc": dc_all, "dc0": dc_next}


class LSTM(Layer):
    """A single-layer LSTM over batch-first sequences; returns every hidden state, as ``RNN`` does.

    x: (N, T, D) -> hs: (N, T, H). Params ``Wx`` (D, 4H), ``Wh`` (H, 4H), ``b`` (4H,), the four gates' blocks in
    PyTorch's order (input, forget, cell, output), drawn from U(-1/sqrt(H), 1/sqrt(H)) as PyTorch does (``seed``
    fixes them). PyTorch's two biases b_ih + b_hh are one ``b`` here. ``forward(x, h0=None, c0=None)``.

    After ``backward``, ``dh`` and ``dc`` (N, T, H) hold the total gradient that reached each hidden state and each
    cell, ``dh0`` and ``dc0`` the gradients for the initial states (lesson 12 plots ``|dh[:, t]|`` against t).
    """

    def __init__(self, input_size: int, hidden_size: int, seed=None, dtype=np.float64):
        super().__init__()
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        if self.input_size < 1 or self.hidden_size < 1:
            raise ValueError(f"LSTM: expected positive sizes, got input_size={input_size}, "
                             f"hidden_size={hidden_size}")
        rng = as_rng(seed)
        bound = 1.0 / np.sqrt(self.hidden_size)
        D, H = self.input_size, self.hidden_size
        self.params = {"Wx": rng.uniform(-bound, bound, (D, 4 * H)).astype(dtype),
                       "Wh": rng.uniform(-bound, bound, (H, 4 * H)).astype(dtype),
                       "b": rng.uniform(-bound, bound, 4 * H).astype(dtype)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.cache = None

    def forward(self, x, h0=None, c0=None):
        """x: (N, T, D), h0 and c0: optional (N, H) -> hs: (N, T, H)."""
        x = as_float_array(x, "LSTM input")
        layout = f"(N, T, {self.input_size})"
        require_ndim(x, 3, "LSTM input", layout)
        require_dim(x, 2, self.input_size, "LSTM input", layout)
        N, H = x.shape[0], self.hidden_size
        states = []
        for name, s in (("h0", h0), ("c0", c0)):
            if s is None:
                s = np.zeros((N, H), dtype=x.dtype)
            else:
                s = as_float_array(s, name).astype(x.dtype, copy=False)
                require_same_shape(np.empty((N, H)), s, "(N, hidden_size)", name)
            states.append(s)
        Wx, Wh, b = (self.params[k].astype(x.dtype, copy=False) for k in ("Wx", "Wh", "b"))
        hs, self.cache = lstm_forward(x, states[0], Wx, Wh, b, c0=states[1])
        return hs

    def backward(self, dout):
        """dout: (N, T, H) -> dx: (N, T, D); fills grads, ``dh``, ``dc``, ``dh0`` and ``dc0``."""
        cache = self._require_forward("cache")
        dout = self._check_dout(dout, cache[-1].shape)
        dx, self.dh0, dWx, dWh, db, extras = lstm_backward(dout, cache)
        self.dh, self.dc, self.dc0 = extras["dh"], extras["dc"], extras["dc0"]
        self.grads["Wx"][...] = dWx
        self.grads["Wh"][...] = dWh
        self.grads["b"][...] = db
        return dx

    def __repr__(self):
        return f"LSTM({self.input_size}, {self.hidden_size})"
