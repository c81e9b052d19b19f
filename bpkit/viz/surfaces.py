"""Two-parameter test functions for gradient descent and optimizers, each with its analytic gradient.

Every function takes arrays ``x, y`` of one shape (NumPy broadcasting), so the same code draws a contour on a grid
and evaluates a single point. ``Surface`` bundles a function with its gradient, a plotting window, a start point and
a learning rate that suits it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Surface:
    """f(x, y) -> value, grad(x, y) -> (df/dx, df/dy); x_range, y_range: the window to draw;
    start: (x0, y0); lr: a learning rate that converges for plain gradient descent; minima: list of (x, y);
    steps: how many steps a race on it runs (long enough for the best optimizer to arrive, short enough to tell them
    apart)."""

    name: str
    f: Callable
    grad: Callable
    x_range: tuple
    y_range: tuple
    start: tuple
    lr: float
    minima: tuple = ()
    log_scale: bool = False
    note: str = ""
    steps: int = 100

    def gradient(self, point: np.ndarray) -> np.ndarray:
        """The gradient at a point (2,) as an array (2,)."""
        return np.array(self.grad(point[0], point[1]), dtype=np.float64)

    def value(self, point: np.ndarray) -> float:
        return float(self.f(point[0], point[1]))

    @property
    def min_value(self) -> float:
        """The lowest value of f: its value at the lowest of ``minima``."""
        return min(float(self.f(*m)) for m in self.minima)


def _quadratic(x, y):
    return 0.5 * (x ** 2 + 20.0 * y ** 2)


def _quadratic_grad(x, y):
    return x, 20.0 * y


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100.0 * (y - x ** 2) ** 2


def _rosenbrock_grad(x, y):
    return -2 * (1 - x) - 400.0 * x * (y - x ** 2), 200.0 * (y - x ** 2)


def _saddle(x, y):
    return 5.0 * x ** 2 + 0.25 * y ** 4 - 0.5 * y ** 2


def _saddle_grad(x, y):
    return 10.0 * x, y ** 3 - y


SURFACES = {
    "ill-conditioned quadratic": Surface(
        "ill-conditioned quadratic", _quadratic, _quadratic_grad, (-5.0, 5.0), (-2.5, 2.5), (-4.5, 2.0), 0.09,
        minima=((0.0, 0.0),), steps=100,
        note="f = (x^2 + 20 y^2) / 2: curvature 20 across the valley, 1 along it (condition number 20)"),
    "rosenbrock": Surface(
        "rosenbrock", _rosenbrock, _rosenbrock_grad, (-2.0, 2.0), (-1.0, 3.0), (-1.5, 2.5), 1e-3,
        minima=((1.0, 1.0),), log_scale=True, steps=500,
        note="f = (1 - x)^2 + 100 (y - x^2)^2: a curved, flat-bottomed valley; minimum at (1, 1)"),
    "saddle": Surface(
        "saddle", _saddle, _saddle_grad, (-1.5, 1.5), (-1.6, 1.6), (1.0, 0.001), 0.05,
        minima=((0.0, -1.0), (0.0, 1.0)), steps=30,
        note="f = 5 x^2 + y^4/4 - y^2/2: a saddle at (0, 0) (curvature 10 across x, -1 along y), "
             "minima at (0, +-1); we start almost on the ridge"),
}


def get_surface(surface) -> Surface:
    """A Surface, or the name of one in ``SURFACES``."""
    if isinstance(surface, Surface):
        return surface
    try:
        return SURFACES[surface]
    except KeyError:
        raise ValueError(f"surface: expected a Surface or one of {sorted(SURFACES)}, got {surface!r}") from None
