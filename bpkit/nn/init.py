"""Weight initializers with explicit randomness (``seed`` is an int or a ``numpy.random.Generator``).

Glorot & Bengio (2010) keep the variance of activations and gradients equal across tanh/sigmoid layers:
Var(W) = 2 / (fan_in + fan_out). He et al. (2015) double the variance for ReLU, which zeroes half its inputs:
Var(W) = 2 / fan_in.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_rng


def xavier_uniform(fan_in: int, fan_out: int, shape=None, seed=None, dtype=np.float64) -> np.ndarray:
    """U(-a, a) with a = sqrt(6 / (fan_in + fan_out)); shape defaults to (fan_in, fan_out)."""
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return as_rng(seed).uniform(-bound, bound, size=shape or (fan_in, fan_out)).astype(dtype)


def xavier_normal(fan_in: int, fan_out: int, shape=None, seed=None, dtype=np.float64) -> np.ndarray:
    """N(0, 2 / (fan_in + fan_out)); shape defaults to (fan_in, fan_out)."""
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return (std * as_rng(seed).standard_normal(shape or (fan_in, fan_out))).astype(dtype)


def he_normal(fan_in: int, fan_out: int, shape=None, seed=None, dtype=np.float64) -> np.ndarray:
    """N(0, 2 / fan_in) (PyTorch's kaiming_normal_ with ReLU gain); shape defaults to (fan_in, fan_out)."""
    std = np.sqrt(2.0 / fan_in)
    return (std * as_rng(seed).standard_normal(shape or (fan_in, fan_out))).astype(dtype)


def he_uniform(fan_in: int, fan_out: int, shape=None, seed=None, dtype=np.float64) -> np.ndarray:
    """U(-a, a) with a = sqrt(6 / fan_in); shape defaults to (fan_in, fan_out)."""
    bound = np.sqrt(6.0 / fan_in)
    return as_rng(seed).uniform(-bound, bound, size=shape or (fan_in, fan_out)).astype(dtype)


def normal(fan_in: int, fan_out: int, shape=None, seed=None, dtype=np.float64, std: float = 0.01):
    """N(0, std^2) with a fixed std: the naive choice that lesson 08 shows failing in deep stacks."""
    return (std * as_rng(seed).standard_normal(shape or (fan_in, fan_out))).astype(dtype)


INITIALIZERS = {"xavier": xavier_uniform, "xavier_uniform": xavier_uniform, "xavier_normal": xavier_normal,
                "he": he_normal, "he_normal": he_normal, "he_uniform": he_uniform, "normal": normal}


def get_initializer(init):
    """Look an initializer up by name, or return a callable as it is."""
    if callable(init):
        return init
    try:
        return INITIALIZERS[init]
    except KeyError:
        raise ValueError(f"init: expected one of {sorted(INITIALIZERS)} or a callable, got {init!r}") from None
