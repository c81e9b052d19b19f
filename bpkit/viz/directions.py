"""Directions in a network's parameter space, for loss landscapes (Li et al. 2018, "Visualizing the Loss Landscape
of Neural Nets").

A *direction* is a list of arrays, one per parameter, in the order of ``model.parameters()`` and with the same shapes.
A random direction means little until it is *filter-normalized*: each filter of the direction is rescaled to the
norm of the same filter in the trained weights, so that a step of 1 along it changes every neuron by about as much
as that neuron's own weights, whatever the layer's scale. Without it, layers with small weights look flat and
layers with large weights look sharp, and two networks cannot be compared.

A *filter* is one output unit's weights:
- a 2-D weight in the Linear layout ``(in, out)``: each column ``W[:, j]``;
- a 4-D weight in the Conv2d layout ``(out, in, kh, kw)``: each ``W[k]``;
- a 1-D bias: each entry (zeroed unless ``include_bias``).
"""
from __future__ import annotations

import numpy as np

from .._validate import as_rng

_EPS = 1e-10


def parameter_slots(model) -> list:
    """The ``(layer, name)`` pairs of ``model.parameters()``, as a list (the order every direction follows)."""
    slots = list(model.parameters())
    if not slots:
        raise ValueError("model: expected at least one parameter, got none")
    return slots


def parameter_arrays(model, copy: bool = True) -> list[np.ndarray]:
    """The model's parameter arrays in ``parameters()`` order (copies by default: a snapshot)."""
    return [np.array(layer.params[name], copy=copy) for layer, name in parameter_slots(model)]


def parameter_vector(model) -> np.ndarray:
    """All parameters as one float64 vector of length P: record one per epoch to draw a training path."""
    return flatten(parameter_arrays(model, copy=False))


def flatten(arrays) -> np.ndarray:
    """A list of arrays (a direction or a parameter snapshot) -> one float64 vector of their entries."""
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])


def unflatten(vector: np.ndarray, like) -> list[np.ndarray]:
    """Inverse of ``flatten``: cut a vector of length P into arrays shaped like ``like``."""
    vector = np.asarray(vector, dtype=np.float64)
    sizes = [np.size(a) for a in like]
    if vector.shape != (sum(sizes),):
        raise ValueError(f"vector: expected shape ({sum(sizes)},) to match the parameters, got {vector.shape}")
    parts = np.split(vector, np.cumsum(sizes)[:-1])
    return [p.reshape(np.shape(a)) for p, a in zip(parts, like)]


def filter_normalize(direction: np.ndarray, weight: np.ndarray, include_bias: bool = False) -> np.ndarray:
    """Rescale each filter of ``direction`` to the norm of the same filter of ``weight`` (same shape).

    2-D: columns (Linear (in, out)); 4-D and other N-D: slices along axis 0 (Conv2d (out, in, kh, kw));
    1-D (biases): zeros, or with ``include_bias`` each entry gets the magnitude of the weight's entry.
    """
    d = np.array(direction, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    if d.shape != w.shape:
        raise ValueError(f"direction: expected the weight's shape {w.shape}, got {d.shape}")
    if d.ndim <= 1:
        if not include_bias:
            return np.zeros_like(d)
        return np.sign(d) * np.abs(w)
    if d.ndim == 2:
        axes = (0,)                           # a column is one output neuron's incoming weights
    else:
        axes = tuple(range(1, d.ndim))        # W[k] is one filter
    dn = _norms(d, axes)
    scale = np.divide(_norms(w, axes), dn, out=np.zeros_like(dn), where=dn > 0)   # an all-zero filter stays zero
    return d * scale


def _norms(x: np.ndarray, axes: tuple) -> np.ndarray:
    """Euclidean norm of each filter (over ``axes``), kept broadcastable against ``x``."""
    return np.sqrt(np.sum(x * x, axis=axes, keepdims=True))


def filter_normalized_direction(model, seed=None, include_bias: bool = False) -> list[np.ndarray]:
    """A random Gaussian direction, filter-normalized against the model's current (trained) weights.

    Returns a list of float64 arrays in ``parameters()`` order. ``seed``: an int or a Generator.
    """
    rng = as_rng(seed)
    weights = parameter_arrays(model, copy=False)
    return [filter_normalize(rng.standard_normal(w.shape), w, include_bias) for w in weights]


def project_path(path, center, d1, d2) -> np.ndarray:
    """Coordinates (alpha, beta) of each parameter snapshot's orthogonal projection onto the plane
    ``center + alpha d1 + beta d2``.

    path: T snapshots, each a flat vector of length P or a list of arrays; center, d1, d2: the same.
    Returns (T, 2). The directions need not be orthogonal (least squares in the basis d1, d2).
    """
    basis = np.column_stack([_as_vector(d1, "d1"), _as_vector(d2, "d2")])
    c = _as_vector(center, "center")
    points = np.stack([_as_vector(p, "path snapshot") for p in path])
    if points.shape[1] != c.size or basis.shape[0] != c.size:
        raise ValueError(f"path: expected snapshots of {c.size} parameters like center and the directions, "
                         f"got {points.shape[1]} and {basis.shape[0]}")
    coords, *_ = np.linalg.lstsq(basis, (points - c).T, rcond=None)
    return coords.T


def pca_directions(path, center) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two principal directions of a training path around ``center`` (Li et al.'s choice for drawing paths:
    random directions in millions of dimensions are almost orthogonal to any path, so it projects to a dot).

    Returns (d1, d2, explained): flat unit vectors of length P and the fraction of the path's variance each explains.
    """
    c = _as_vector(center, "center")
    points = np.stack([_as_vector(p, "path snapshot") for p in path]) - c
    if len(points) < 2:
        raise ValueError(f"path: expected at least 2 snapshots for PCA directions, got {len(points)}")
    _, s, vt = np.linalg.svd(points, full_matrices=False)
    explained = s ** 2 / max(np.sum(s ** 2), _EPS)
    return vt[0], vt[1], explained[:2]


def _as_vector(x, name: str) -> np.ndarray:
    if isinstance(x, np.ndarray) and x.ndim == 1:
        return x.astype(np.float64, copy=False)
    if isinstance(x, (list, tuple)):
        return flatten(x)
    raise TypeError(f"{name}: expected a flat vector or a list of parameter arrays, got {type(x).__name__}")
