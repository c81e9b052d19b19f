"""Run ``bpkit.nn.optim``'s update rules on a point in the plane, so a race uses the very rules that train
networks (not a second copy of them): ``make_update(name, lr)`` gives the optimizer's in-place step
``step_(xy, grad, state)``, applied to a bare (2,) array.

``lr_sweep`` runs each optimizer for a fixed number of steps at every learning rate of a grid and reports how far
above the minimum it ends; ``best_learning_rates`` picks each optimizer's best: a fair race gives every optimizer
its own learning rate, the one that suits it on that landscape.
"""
from __future__ import annotations

import numpy as np

from ..nn.optim import OPTIMIZERS, make_update
from .surfaces import get_surface

ESCAPE = 1e6     # a path that leaves this radius has diverged; it stops there


def trajectory(surface, optimizer: str = "SGD", lr: float | None = None, steps: int = 100, start=None,
               beta1: float = 0.9, beta2: float = 0.999) -> np.ndarray:
    """The points visited by ``optimizer`` on ``surface`` (a Surface or its name): returns (T + 1, 2), the start
    first. T = steps unless the path diverges (a non-finite point or one beyond 1e6), where it stops."""
    surface = get_surface(surface)
    step_ = make_update(optimizer, surface.lr if lr is None else lr, beta1, beta2)
    xy = np.array(surface.start if start is None else start, dtype=np.float64).reshape(2)
    grad, state = np.zeros(2), {}
    points = np.empty((int(steps) + 1, 2))
    points[0] = xy
    n = 1
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(int(steps)):
            gx, gy = surface.grad(xy[0], xy[1])
            grad[0], grad[1] = gx, gy
            step_(xy, grad, state)
            if not (np.isfinite(xy[0]) and np.isfinite(xy[1])) or max(abs(xy[0]), abs(xy[1])) > ESCAPE:
                break
            points[n] = xy
            n += 1
    return points[:n]


def _lr_for(lr, name):
    return lr.get(name) if isinstance(lr, dict) else lr


def race(surface, optimizers=OPTIMIZERS, lr=None, steps: int = 100, beta1: float = 0.9,
         beta2: float = 0.999, start=None) -> dict:
    """{name: trajectory} for each optimizer, all from the same start for the same number of steps.

    lr: one learning rate for all, or {name: lr} (each optimizer its own; a fair race), or None (the surface's).
    """
    return {name: trajectory(surface, name, _lr_for(lr, name), steps, start, beta1, beta2) for name in optimizers}


def final_gap(surface, path: np.ndarray, steps: int) -> float:
    """How far above the lowest minimum a path ends: f(last point) - min f, or inf if it diverged before ``steps``."""
    surface = get_surface(surface)
    if len(path) < int(steps) + 1:
        return float("inf")
    return max(surface.value(path[-1]) - surface.min_value, 0.0)


def lr_sweep(surface, lrs, steps: int, optimizers=OPTIMIZERS, beta1: float = 0.9, beta2: float = 0.999) -> dict:
    """{name: (len(lrs),) array}: f after ``steps`` steps minus the minimum, for each learning rate (inf: diverged)."""
    surface = get_surface(surface)
    return {name: np.array([final_gap(surface, trajectory(surface, name, float(lr), steps, None, beta1, beta2), steps)
                            for lr in lrs]) for name in optimizers}


def best_learning_rates(sweep: dict, lrs) -> dict:
    """{name: the learning rate of ``lrs`` with the lowest final gap} (the smallest such rate on a tie)."""
    lrs = np.asarray(lrs, dtype=np.float64)
    return {name: float(lrs[int(np.argmin(gaps))]) for name, gaps in sweep.items()}
