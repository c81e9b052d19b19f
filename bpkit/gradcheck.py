"""Numerical gradients and the course's one tolerance policy.

Central differences in float64, ``(f(x+h) - f(x-h)) / 2h`` with ``h = 1e-5``; the relative error of an analytic
gradient ``a`` against a numerical one ``n`` is ``max|a - n| / max(1e-8, max(|a| + |n|))``. Smooth functions pass at
``<= 1e-7`` (``TOLERANCE``); functions with kinks are checked at inputs drawn away from the kink.

The denominator is the largest magnitude in the arrays, not each entry's own: an entry whose true gradient is 1e-9
would otherwise fail on the roundoff of the finite difference alone (about 1e-11), although the gradient is right.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ._validate import as_rng

H = 1e-5
TOLERANCE = 1e-7


def _require_float64(x, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(x).__name__}")
    if x.dtype != np.float64:
        raise TypeError(f"{name}: numerical gradients need float64 (float32 roundoff swamps h={H}), "
                        f"got dtype {x.dtype}; pass x.astype(np.float64)")
    return x


def _directional(out, df, what: str) -> float:
    """Reduce f's output to a scalar: itself when df is None, else sum(out * df)."""
    out = np.asarray(out, dtype=np.float64)
    if df is None:
        if out.size != 1:
            raise ValueError(f"{what}: f returned shape {out.shape}; pass df (the upstream gradient, "
                             f"same shape) or make f return a scalar")
        return float(out.reshape(()))
    if out.shape != df.shape:
        raise ValueError(f"{what}: df must have the shape of f(x); expected {out.shape}, got {df.shape}")
    return float(np.sum(out * df))


def _difference_at(f, x, index, df, h, what):
    old = x[index]
    x[index] = old + h
    plus = _directional(f(x), df, what)
    x[index] = old - h
    minus = _directional(f(x), df, what)
    x[index] = old
    return (plus - minus) / (2 * h)


def numerical_gradient(f: Callable[[np.ndarray], object], x: np.ndarray, df: np.ndarray | None = None,
                       h: float = H) -> np.ndarray:
    """Central-difference gradient of ``f`` at ``x``.

    f: a function of the array ``x`` (it is called with ``x`` perturbed in place, and ``x`` is restored).
    x: float64 array of any shape.
    df: optional upstream gradient with the shape of ``f(x)``; the result is then the gradient of
        ``sum(f(x) * df)``, as CS231n's ``eval_numerical_gradient_array``. Without it, ``f`` must return a scalar.
    Returns an array of ``x.shape``.
    """
    x = _require_float64(x, "x")
    if df is not None:
        df = np.asarray(df, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        grad[index] = _difference_at(f, x, index, df, h, "numerical_gradient")
    return grad


def sparse_numerical_gradient(f, x: np.ndarray, df: np.ndarray | None = None, num_checks: int = 20,
                              seed=0, h: float = H):
    """Central differences at ``num_checks`` random entries of a big ``x``.

    Returns ``(indices, values)``: a list of index tuples and an array of the numerical partial derivatives there.
    Compare with ``analytic[idx]`` for each index (``relative_error`` accepts the two arrays).
    """
    x = _require_float64(x, "x")
    if df is not None:
        df = np.asarray(df, dtype=np.float64)
    rng = as_rng(seed)
    flat = rng.choice(x.size, size=min(num_checks, x.size), replace=False)
    indices = [np.unravel_index(i, x.shape) for i in flat]
    values = np.array([_difference_at(f, x, idx, df, h, "sparse_numerical_gradient") for idx in indices])
    return indices, values


def relative_error(analytic, numerical) -> float:
    """``max|a - n| / max(1e-8, max(|a| + |n|))``: 0 for identical arrays, about 1 for unrelated ones."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numerical, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"relative_error: the two gradients must have one shape; got {a.shape} and {n.shape}")
    if a.size == 0:
        return 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(n))):
        return float("inf")
    scale = max(1e-8, float(np.max(np.abs(a) + np.abs(n))))
    return float(np.max(np.abs(a - n)) / scale)


@dataclass
class GradCheckReport:
    """Relative errors of a backward pass, per input and per parameter, with a plain-words summary."""

    errors: dict[str, float] = field(default_factory=dict)
    tolerance: float = TOLERANCE

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_error <= self.tolerance

    def __str__(self) -> str:
        lines = []
        for name, err in self.errors.items():
            verdict = "ok" if err <= self.tolerance else "WRONG"
            lines.append(f"  d{name:<8} relative error {err:.1e}  {verdict}")
        head = ("gradient check passed" if self.passed else "gradient check FAILED") + \
            f" (tolerance {self.tolerance:.0e})"
        return "\n".join([head, *lines])

    def _repr_pretty_(self, p, cycle):  # IPython shows the text, not a dataclass dump
        p.text(str(self))


def _named_parameters(layer) -> dict:
    """label -> (owning layer, key): "W" for a lone layer, "2.W" for the third layer of a Sequential."""
    if hasattr(layer, "layers"):
        return {f"{i}.{key}": (owner, key) for i, sub in enumerate(layer.layers)
                for owner, key in (sub.parameters() if hasattr(sub, "parameters") else [])}
    return {key: (layer, key) for key in getattr(layer, "params", {})}


def check_layer(layer, x: np.ndarray, dout: np.ndarray | None = None, seed=0, h: float = H,
                tolerance: float = TOLERANCE, sparse: int | None = None) -> GradCheckReport:
    """Check ``layer.backward`` against central differences for the input and every parameter.

    layer: an object with ``forward(x)``, ``backward(dout)``, and ``params``/``grads`` dicts (float64 arrays).
    x: float64 input. dout: upstream gradient (drawn from ``seed`` when None).
    sparse: check only that many random entries per array (for big tensors).
    Returns a ``GradCheckReport``; ``report.passed`` is the verdict under the tolerance policy.
    """
    x = _require_float64(np.array(x, dtype=x.dtype, copy=True), "x")
    rng = as_rng(seed)
    out = layer.forward(x)
    if dout is None:
        dout = rng.standard_normal(np.shape(out))
    slots = _named_parameters(layer)
    for owner, key in slots.values():
        owner.grads[key][...] = 0.0
    dx = layer.backward(dout)
    analytic = {"x": dx, **{label: owner.grads[key].copy() for label, (owner, key) in slots.items()}}
    arrays = {"x": x, **{label: owner.params[key] for label, (owner, key) in slots.items()}}
    report = GradCheckReport(tolerance=tolerance)
    for name, array in arrays.items():
        _require_float64(array, name)

        def f(_):
            return layer.forward(x)

        if sparse:
            idx, num = sparse_numerical_gradient(f, array, dout, num_checks=sparse, seed=rng, h=h)
            ana = np.array([analytic[name][i] for i in idx])
        else:
            num, ana = numerical_gradient(f, array, dout, h=h), analytic[name]
        report.errors[name] = relative_error(ana, num)
    layer.forward(x)  # leave the layer's cache as the caller's forward would
    return report
