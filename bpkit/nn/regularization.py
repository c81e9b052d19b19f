"""Regularization and the residual connection: Dropout (a random mask the backward pass reuses), Residual
(``y = x + block(x)``, a gradient highway), and the L2 penalty that weight decay adds.

Shapes: any; N is the batch size.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, as_rng
from .layers import Layer


# ---------------------------------------------------------------------------------------------------------- Dropout

def dropout_forward(x, p: float, rng=None, training: bool = True):
    """Inverted dropout: zero each entry with probability p and scale the survivors by 1 / (1 - p), so the expected
    output equals x and evaluation needs no rescaling.

    x: any shape. p: in [0, 1]. rng: a seed or ``numpy.random.Generator`` the mask is drawn from.
    training False, or p = 0: the identity (no mask drawn). Returns ``(out, cache)``; ``cache["mask"]`` is the
    (x.shape) array of 0 and 1 / (1 - p) that multiplied x (None when nothing was dropped).
    """
    x = as_float_array(x, "Dropout input")
    p = _check_p(p)
    if not training or p == 0.0:
        return x, {"mask": None}
    keep = as_rng(rng).random(x.shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = keep.astype(x.dtype) * x.dtype.type(scale)
    return x * mask, {"mask": mask}


def dropout_backward(dout, cache):
    """dout: (x.shape) -> dx: the SAME mask as the forward pass (a dropped unit passes no gradient back)."""
    dout = as_float_array(dout, "dout")
    mask = cache["mask"]
    if mask is None:
        return dout
    if dout.shape != mask.shape:
        raise ValueError(f"dout: expected the shape of Dropout's output, {mask.shape}, got shape {dout.shape}")
    return dout * mask


def _check_p(p) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p: expected a dropout probability in [0, 1], got {p}")
    return p


class Dropout(Layer):
    """``torch.nn.Dropout(p)``: inverted dropout in training, the identity in evaluation (``model.eval()``).

    seed: an int (or Generator) for the layer's own generator: a layer built with the same seed draws the same
    sequence of masks. No parameters.
    """

    def __init__(self, p: float = 0.5, seed=None):
        super().__init__()
        self.p = _check_p(p)
        self.seed = seed
        self.rng = as_rng(seed)
        self.cache = None

    def forward(self, x):
        """x: any shape -> the same shape."""
        out, self.cache = dropout_forward(x, self.p, self.rng, self.training)
        return out

    def backward(self, dout):
        return dropout_backward(dout, self._require_forward("cache"))

    @property
    def mask(self):
        """The last forward pass's mask (None in evaluation)."""
        return None if self.cache is None else self.cache["mask"]

    def __repr__(self):
        return f"Dropout(p={self.p:g})"


# --------------------------------------------------------------------------------------------------------- Residual

def add_forward(a, b):
    """a, b: the same shape -> ``(a + b, None)``: the join of a residual connection."""
    return a + b, None


def add_backward(dout, cache=None):
    """dout -> (da, db) = (dout, dout): an addition copies its gradient, unchanged, to both inputs."""
    return dout, dout


class Residual(Layer):
    """``y = x + block(x)``: the block learns a correction to the identity.

    block: any layer (or Sequential) whose output has its input's shape. Backward returns
    ``dout + block.backward(dout)``: the first term reaches the input unchanged however deep the stack, the gradient
    highway of residual networks. Parameters, gradients and train()/eval() are the block's.
    """

    def __init__(self, block):
        super().__init__()
        if not (hasattr(block, "forward") and hasattr(block, "backward")):
            raise TypeError(f"block: expected a layer with forward and backward, got {type(block).__name__}")
        self.block = block
        self.shape = None

    def forward(self, x):
        x = as_float_array(x, "Residual input")
        fx = self.block.forward(x)
        if np.shape(fx) != x.shape:
            raise ValueError(f"Residual: the block must keep its input's shape {x.shape}, got {np.shape(fx)}")
        self.shape = x.shape
        out, _ = add_forward(x, fx)
        return out

    def backward(self, dout):
        self._require_forward("shape")
        d_skip, d_block = add_backward(as_float_array(dout, "dout"))
        return d_skip + self.block.backward(d_block)

    def parameters(self):
        yield from self.block.parameters()

    def zero_grad(self) -> None:
        self.block.zero_grad()

    def astype(self, dtype):
        if hasattr(self.block, "astype"):
            self.block.astype(dtype)
        return self

    def train(self, mode: bool = True):
        self.training = bool(mode)
        if hasattr(self.block, "train"):
            self.block.train(mode)
        return self

    @property
    def layers(self):
        """The block's layers (so code that walks a model's layers sees inside)."""
        return getattr(self.block, "layers", [self.block])

    def __repr__(self):
        return f"Residual({self.block!r})"


# ------------------------------------------------------------------------------------------------ weight decay (L2)

def l2_penalty(model, weight_decay: float, names=("W",)):
    """The L2 penalty ``weight_decay / 2 * sum ||W||^2`` over the parameters called ``names``, and ADD its gradient
    ``weight_decay * W`` to each one's ``grads`` (call after ``model.backward``). Returns the penalty (a float).

    Plain SGD with this penalty is SGD with ``weight_decay``; with Adam the penalty's gradient gets divided by
    sqrt(v) like the rest, which is why AdamW decays the weights directly instead.
    """
    total = 0.0
    for layer, name in model.parameters():
        if name in names:
            w = layer.params[name]
            total += 0.5 * weight_decay * float(np.sum(w * w))
            layer.grads[name] += weight_decay * w
    return total
