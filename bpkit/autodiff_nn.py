"""A tiny multilayer perceptron built from scalar ``Value`` nodes (lesson 02).

Deliberately slow: every weight is its own Python object and every multiply its own graph node, which is exactly
what makes the timing at the end of lesson 02 a motivation for vectorized NumPy layers (``bpkit.nn``).
"""
from __future__ import annotations

import math

from ._validate import as_rng
from .autodiff import Value

__all__ = ["Module", "Neuron", "Layer", "MLP"]

_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


class Module:
    """Shared by Neuron, Layer and MLP: ``parameters()`` lists the Values to train; ``zero_grad()`` clears them."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """``activation(w . x + b)`` for a list of ``nin`` inputs.

    Weights start uniform in [-1/sqrt(nin), 1/sqrt(nin)] drawn from ``seed`` (an int or a numpy Generator);
    the bias starts at 0.
    """

    def __init__(self, nin: int, activation: str = "tanh", seed=None):
        if not isinstance(nin, int) or nin < 1:
            raise ValueError(f"nin: expected a positive int, got {nin!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation: expected one of {_ACTIVATIONS}, got {activation!r}")
        rng = as_rng(seed)
        bound = 1.0 / math.sqrt(nin)
        self.w = [Value(float(rng.uniform(-bound, bound)), label="w") for _ in range(nin)]
        self.b = Value(0.0, label="b")
        self.activation = activation

    def __call__(self, x):
        if len(x) != len(self.w):
            raise ValueError(f"Neuron: expected {len(self.w)} inputs, got {len(x)}")
        act = self.b
        for wi, xi in zip(self.w, x):
            act = act + wi * xi
        return act if self.activation == "linear" else getattr(act, self.activation)()

    def parameters(self):
        return [*self.w, self.b]

    def __repr__(self):
        return f"Neuron({len(self.w)}, {self.activation})"


class Layer(Module):
    """``nout`` neurons that all read the same ``nin`` inputs; returns a list of ``nout`` Values."""

    def __init__(self, nin: int, nout: int, activation: str = "tanh", seed=None):
        rng = as_rng(seed)
        self.neurons = [Neuron(nin, activation, seed=rng) for _ in range(nout)]

    def __call__(self, x):
        return [n(x) for n in self.neurons]

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer({len(self.neurons[0].w)} -> {len(self.neurons)}, {self.neurons[0].activation})"


class MLP(Module):
    """Layers of sizes ``nin -> sizes[0] -> ... -> sizes[-1]``; hidden layers use ``activation``, the last is linear.

    ``mlp(x)`` takes a list of ``nin`` numbers (or Values) and returns one Value when ``sizes[-1] == 1``,
    else a list of Values (the logits).
    """

    def __init__(self, nin: int, sizes, activation: str = "tanh", seed=None):
        sizes = list(sizes)
        if not sizes:
            raise ValueError("sizes: expected at least one layer size, got an empty list")
        rng = as_rng(seed)
        dims = [nin, *sizes]
        self.layers = [Layer(dims[i], dims[i + 1], activation if i < len(sizes) - 1 else "linear", seed=rng)
                       for i in range(len(sizes))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x[0] if len(x) == 1 else x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP({', '.join(repr(layer) for layer in self.layers)})"
