"""The transformer's pieces: positions, the position-wise MLP, a pre-norm block, and two small models built from
them (an encoder-decoder for translation and a causal language model for generation).

A pre-norm block (the form GPT-2 and most later models use)::

    x = x + SelfAttention(LayerNorm(x))
    x = x + CrossAttention(LayerNorm(x), context)      decoder blocks only
    x = x + MLP(LayerNorm(x))

The residual ``x + f(x)`` passes its upstream gradient to ``x`` unchanged and adds f's: an additive path through
the whole stack, as the LSTM's cell is through time.

Shapes: N sequences, T positions, d_model features, V vocabulary size.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, as_rng
from .attention import MultiHeadAttention
from .layers import Layer
from .normalization import LayerNorm
from .recurrent import Embedding

__all__ = ["sinusoidal_positions", "positional_encoding_forward", "positional_encoding_backward",
           "PositionalEncoding", "feed_forward_forward", "feed_forward_backward", "FeedForward",
           "TransformerBlock", "Seq2SeqTransformer", "CausalTransformerLM"]


# ------------------------------------------------------------------------------------------------------ positions

def sinusoidal_positions(max_len: int, d_model: int, dtype=np.float64) -> np.ndarray:
    """The original transformer's positions: P[t, 2i] = sin(t / 10000^(2i/d)), P[t, 2i+1] = cos(same). (T, d_model)."""
    t = np.arange(max_len)[:, None]
    freq = 1.0 / 10000 ** (np.arange(0, d_model, 2) / d_model)
    P = np.zeros((max_len, d_model))
    P[:, 0::2] = np.sin(t * freq)
    P[:, 1::2] = np.cos(t * freq[: d_model // 2])
    return P.astype(dtype)


def positional_encoding_forward(x, P):
    """x: (N, T, d_model), P: (max_len, d_model) with max_len >= T -> (x + P[:T], cache)."""
    T = x.shape[1]
    if T > P.shape[0]:
        raise ValueError(f"positional encoding: sequences of length {T} exceed max_len={P.shape[0]}")
    return x + P[:T].astype(x.dtype, copy=False), (T, P.shape)


def positional_encoding_backward(dout, cache):
    """dout: (N, T, d_model) -> (dx: (N, T, d_model), dP: (max_len, d_model), zero past T)."""
    T, shape = cache
    dP = np.zeros(shape, dtype=dout.dtype)
    dP[:T] = dout.sum(axis=0)
    return dout, dP


class PositionalEncoding(Layer):
    """Adds a vector per position: sinusoidal (fixed, no parameters; the default) or ``learned=True`` (param ``P``,
    (max_len, d_model), drawn from N(0, 0.02^2) as GPT-2 does). x: (N, T, d_model) -> (N, T, d_model)."""

    def __init__(self, max_len: int, d_model: int, learned: bool = False, seed=None, dtype=np.float64):
        super().__init__()
        self.max_len, self.d_model, self.learned = int(max_len), int(d_model), bool(learned)
        if learned:
            self.params = {"P": (0.02 * as_rng(seed).standard_normal((self.max_len, self.d_model))).astype(dtype)}
            self.grads = {"P": np.zeros_like(self.params["P"])}
        else:
            self.P = sinusoidal_positions(self.max_len, self.d_model, dtype)
        self.cache = None

    def forward(self, x):
        x = as_float_array(x, "PositionalEncoding input")
        out, self.cache = positional_encoding_forward(x, self.params["P"] if self.learned else self.P)
        return out

    def backward(self, dout):
        dx, dP = positional_encoding_backward(dout, self._require_forward("cache"))
        if self.learned:
            self.grads["P"][...] = dP
        return dx

    def __repr__(self):
        return f"PositionalEncoding({self.max_len}, {self.d_model}{', learned=True' if self.learned else ''})"


# ---------------------------------------------------------------------------------------------- position-wise MLP

def feed_forward_forward(x, W1, b1, W2, b2):
    """The block's MLP, applied at every position: relu(x W1 + b1) W2 + b2.

    x: (..., d_model), W1: (d_model, d_ff), b1: (d_ff,), W2: (d_ff, d_model), b2: (d_model,).
    Returns (out: (..., d_model), cache).
    """
    lead, D = x.shape[:-1], x.shape[-1]
    x2 = x.reshape(-1, D)
    hidden = np.maximum(x2 @ W1 + b1, 0)
    out = hidden @ W2 + b2
    return out.reshape(*lead, W2.shape[1]), (x2, hidden, W1, W2, x.shape)


def feed_forward_backward(dout, cache):
    """dout: (..., d_model) -> (dx (..., d_model), dW1 (d_model, d_ff), db1 (d_ff,), dW2 (d_ff, d_model),
    db2 (d_model,))."""
    x2, hidden, W1, W2, shape = cache
    d2 = dout.reshape(-1, W2.shape[1])
    dW2, db2 = hidden.T @ d2, d2.sum(axis=0)
    dhidden = (d2 @ W2.T) * (hidden > 0)
    dW1, db1 = x2.T @ dhidden, dhidden.sum(axis=0)
    return (dhidden @ W1.T).reshape(shape), dW1, db1, dW2, db2


class FeedForward(Layer):
    """relu(x W1 + b1) W2 + b2 at every position. W1 (d_model, d_ff) He-initialized, W2 (d_ff, d_model) drawn with
    std 1/sqrt(d_ff), biases 0. x: (..., d_model) -> (..., d_model)."""

    def __init__(self, d_model: int, d_ff: int, seed=None, dtype=np.float64):
        super().__init__()
        rng = as_rng(seed)
        self.params = {"W1": (rng.standard_normal((d_model, d_ff)) * np.sqrt(2.0 / d_model)).astype(dtype),
                       "b1": np.zeros(d_ff, dtype=dtype),
                       "W2": (rng.standard_normal((d_ff, d_model)) / np.sqrt(d_ff)).astype(dtype),
                       "b2": np.zeros(d_model, dtype=dtype)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.cache = None

    def forward(self, x):
        x = as_float_array(x, "FeedForward input")
        p = {k: v.astype(x.dtype, copy=False) for k, v in self.params.items()}
        out, self.cache = feed_forward_forward(x, p["W1"], p["b1"], p["W2"], p["b2"])
        return out

    def backward(self, dout):
        dx, *grads = feed_forward_backward(as_float_array(dout, "dout"), self._require_forward("cache"))
        for name, g in zip(("W1", "b1", "W2", "b2"), grads):
            self.grads[name][...] = g
        return dx

    def __repr__(self):
        return f"FeedForward({self.params['W1'].shape[0]}, {self.params['W1'].shape[1]})"


# ---------------------------------------------------------------------------------------------------------- block

class _Composite(Layer):
    """A layer made of sub-layers listed in ``self.layers``: parameters, zero_grad and astype walk them."""

    def parameters(self):
        for layer in self.layers:
            yield from layer.parameters()

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()

    def train(self, mode: bool = True):
        self.training = bool(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def astype(self, dtype):
        for layer in self.layers:
            layer.astype(dtype)
        if hasattr(self, "_astype_extra"):
            self._astype_extra(dtype)
        return self

    def num_parameters(self) -> int:
        return sum(layer.params[name].size for layer, name in self.parameters())


class TransformerBlock(_Composite):
    """A pre-norm transformer block: x + SelfAttn(LN(x)), [x + CrossAttn(LN(x), context)], x + MLP(LN(x)).

    ``TransformerBlock(d_model, n_heads, d_ff=4 d_model, causal=False, cross_attention=False, seed=None)``.
    ``forward(x, context=None, mask=None, context_mask=None)``: x (N, T, d_model) -> (N, T, d_model); ``context``
    (N, Tk, d_model) is required when ``cross_attention=True`` (the encoder's output, in a decoder). ``mask``
    (for self-attention) and ``context_mask`` (for cross-attention) are boolean, True = may attend, broadcastable to
    (N, n_heads, T, T) and (N, n_heads, T, Tk); ``causal=True`` adds the causal mask to self-attention.
    ``backward(dout)`` returns dx and leaves the context's gradient in ``dcontext`` (None without cross-attention).
    Sub-layers: ``ln1``, ``attn``, (``ln_cross``, ``cross``), ``ln2``, ``mlp``, also listed in ``layers``.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int | None = None, causal: bool = False,
                 cross_attention: bool = False, seed=None, dtype=np.float64):
        super().__init__()
        rng = as_rng(seed)
        self.ln1 = LayerNorm(d_model, dtype=dtype)
        self.attn = MultiHeadAttention(d_model, n_heads, causal=causal, seed=rng, dtype=dtype)
        self.layers = [self.ln1, self.attn]
        self.cross_attention = bool(cross_attention)
        if self.cross_attention:
            self.ln_cross = LayerNorm(d_model, dtype=dtype)
            self.cross = MultiHeadAttention(d_model, n_heads, seed=rng, dtype=dtype)
            self.layers += [self.ln_cross, self.cross]
        self.ln2 = LayerNorm(d_model, dtype=dtype)
        self.mlp = FeedForward(d_model, d_ff or 4 * d_model, seed=rng, dtype=dtype)
        self.layers += [self.ln2, self.mlp]
        self.dcontext = None

    def forward(self, x, context=None, mask=None, context_mask=None):
        x = as_float_array(x, "TransformerBlock input")
        x = x + self.attn.forward(self.ln1.forward(x), mask=mask)
        if self.cross_attention:
            if context is None:
                raise ValueError("TransformerBlock: cross_attention=True needs a context (the encoder's output)")
            x = x + self.cross.forward(self.ln_cross.forward(x), context, mask=context_mask)
        return x + self.mlp.forward(self.ln2.forward(x))

    def backward(self, dout):
        """dout: (N, T, d_model) -> dx; each residual adds its branch's gradient to the one passing straight through."""
        dx = dout + self.ln2.backward(self.mlp.backward(dout))
        if self.cross_attention:
            dx = dx + self.ln_cross.backward(self.cross.backward(dx))
            self.dcontext = self.cross.dcontext
        return dx + self.ln1.backward(self.attn.backward(dx))

    def __repr__(self):
        kind = ", causal=True" if self.attn.causal else ""
        kind += ", cross_attention=True" if self.cross_attention else ""
        return f"TransformerBlock({self.attn.d_model}, {self.attn.n_heads}{kind})"


# ---------------------------------------------------------------------------------------------------------- models

class _Projection(Layer):
    """x W + b on the last axis: (..., d_in) -> (..., d_out); W (d_in, d_out) drawn with std 1/sqrt(d_in), b 0."""

    def __init__(self, d_in, d_out, seed=None, dtype=np.float64):
        super().__init__()
        self.params = {"W": (as_rng(seed).standard_normal((d_in, d_out)) / np.sqrt(d_in)).astype(dtype),
                       "b": np.zeros(d_out, dtype=dtype)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.x = None

    def forward(self, x):
        self.x = x
        return x @ self.params["W"].astype(x.dtype, copy=False) + self.params["b"].astype(x.dtype, copy=False)

    def backward(self, dout):
        x = self._require_forward("x")
        d_in, d_out = self.params["W"].shape
        self.grads["W"][...] = x.reshape(-1, d_in).T @ dout.reshape(-1, d_out)
        self.grads["b"][...] = dout.reshape(-1, d_out).sum(axis=0)
        return dout @ self.params["W"].T.astype(dout.dtype, copy=False)


class Seq2SeqTransformer(_Composite):
    """An encoder-decoder transformer for translating token sequences (pre-norm, sinusoidal positions).

    ``forward(src, tgt_in)``: src (N, Ts) and tgt_in (N, Tt) integer ids (tgt_in is the target shifted right, starting
    with a start token: "teacher forcing") -> logits (N, Tt, tgt_vocab). Source positions holding ``pad_id`` are
    hidden from every attention. ``backward(dlogits)`` fills every sub-layer's grads. ``cross_weights()`` gives the
    last decoder block's cross-attention weights (N, n_heads, Tt, Ts): which source token each output looked at.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 64, n_heads: int = 4, d_ff: int | None = None,
                 n_encoder: int = 1, n_decoder: int = 1, max_len: int = 64, pad_id: int = 0, seed=None,
                 dtype=np.float64):
        super().__init__()
        rng = as_rng(seed)
        self.pad_id = pad_id
        self.src_embed = Embedding(src_vocab, d_model, seed=rng, dtype=dtype)
        self.tgt_embed = Embedding(tgt_vocab, d_model, seed=rng, dtype=dtype)
        self.pos = PositionalEncoding(max_len, d_model, dtype=dtype)
        self.encoder = [TransformerBlock(d_model, n_heads, d_ff, seed=rng, dtype=dtype) for _ in range(n_encoder)]
        self.enc_norm = LayerNorm(d_model, dtype=dtype)
        self.decoder = [TransformerBlock(d_model, n_heads, d_ff, causal=True, cross_attention=True, seed=rng,
                                         dtype=dtype) for _ in range(n_decoder)]
        self.dec_norm = LayerNorm(d_model, dtype=dtype)
        self.head = _Projection(d_model, tgt_vocab, seed=rng, dtype=dtype)
        self.layers = [self.src_embed, self.tgt_embed, *self.encoder, self.enc_norm, *self.decoder, self.dec_norm,
                       self.head]
        self.dtype = dtype

    def _astype_extra(self, dtype):
        self.dtype = dtype

    def encode(self, src):
        """src: (N, Ts) ids -> memory (N, Ts, d_model)."""
        src = np.asarray(src)
        self.src_mask = (src != self.pad_id)[:, None, None, :]          # (N, 1, 1, Ts): keys that are real tokens
        x = self.pos.forward(self.src_embed.forward(src).astype(self.dtype, copy=False))
        for block in self.encoder:
            x = block.forward(x, mask=self.src_mask)
        return self.enc_norm.forward(x)

    def decode(self, memory, tgt_in):
        """memory: (N, Ts, d_model), tgt_in: (N, Tt) ids -> logits (N, Tt, tgt_vocab)."""
        y = self.pos.forward(self.tgt_embed.forward(np.asarray(tgt_in)).astype(self.dtype, copy=False))
        for block in self.decoder:
            y = block.forward(y, memory, context_mask=self.src_mask)
        return self.head.forward(self.dec_norm.forward(y))

    def forward(self, src, tgt_in):
        self.memory = self.encode(src)
        return self.decode(self.memory, tgt_in)

    def backward(self, dlogits):
        """dlogits: (N, Tt, tgt_vocab) -> None (the inputs are ids); fills grads."""
        dy = self.dec_norm.backward(self.head.backward(dlogits))
        dmemory = np.zeros_like(self.memory)
        for block in reversed(self.decoder):
            dy = block.backward(dy)
            dmemory += block.dcontext
        self.tgt_embed.backward(dy)
        dx = self.enc_norm.backward(dmemory)
        for block in reversed(self.encoder):
            dx = block.backward(dx)
        self.src_embed.backward(dx)

    def cross_weights(self):
        return self.decoder[-1].cross.weights

    def generate(self, src, start_id: int, length: int):
        """Greedy decoding: src (N, Ts) ids -> (N, length) ids, each output the most likely given the ones before."""
        memory = self.encode(src)
        out = np.full((len(memory), 1), start_id)
        for _ in range(length):
            logits = self.decode(memory, out)
            out = np.concatenate([out, logits[:, -1].argmax(axis=-1)[:, None]], axis=1)
        return out[:, 1:]


class CausalTransformerLM(_Composite):
    """A decoder-only (GPT-style) language model: each position predicts the next token from the ones before it.

    ``forward(ids)``: (N, T) ids -> logits (N, T, vocab); learned positions up to ``max_len``; ``n_layers`` causal
    pre-norm blocks; ``backward(dlogits)`` fills grads. ``sample(prompt_ids, n, temperature, seed)`` draws n tokens.
    """

    def __init__(self, vocab: int, d_model: int = 64, n_heads: int = 4, d_ff: int | None = None, n_layers: int = 2,
                 max_len: int = 64, seed=None, dtype=np.float64):
        super().__init__()
        rng = as_rng(seed)
        self.max_len = max_len
        self.embed = Embedding(vocab, d_model, seed=rng, dtype=dtype)
        self.pos = PositionalEncoding(max_len, d_model, learned=True, seed=rng, dtype=dtype)
        self.blocks = [TransformerBlock(d_model, n_heads, d_ff, causal=True, seed=rng, dtype=dtype)
                       for _ in range(n_layers)]
        self.norm = LayerNorm(d_model, dtype=dtype)
        self.head = _Projection(d_model, vocab, seed=rng, dtype=dtype)
        self.layers = [self.embed, self.pos, *self.blocks, self.norm, self.head]
        self.dtype = dtype

    def _astype_extra(self, dtype):
        self.dtype = dtype

    def forward(self, ids):
        x = self.pos.forward(self.embed.forward(np.asarray(ids)).astype(self.dtype, copy=False))
        for block in self.blocks:
            x = block.forward(x)
        return self.head.forward(self.norm.forward(x))

    def backward(self, dlogits):
        dx = self.norm.backward(self.head.backward(dlogits))
        for block in reversed(self.blocks):
            dx = block.backward(dx)
        self.embed.backward(self.pos.backward(dx))

    def sample(self, prompt_ids, n: int, temperature: float = 1.0, seed=None):
        """Extend ``prompt_ids`` (a 1-D sequence of ids) by ``n`` tokens drawn from softmax(logits / temperature),
        reading at most the last ``max_len`` tokens. Returns the n new ids (1-D)."""
        rng = as_rng(seed)
        ids = list(prompt_ids)
        for _ in range(n):
            logits = self.forward(np.array([ids[-self.max_len:]]))[0, -1].astype(np.float64) / temperature
            p = np.exp(logits - logits.max())
            ids.append(int(rng.choice(len(p), p=p / p.sum())))
        return np.array(ids[len(prompt_ids):])
