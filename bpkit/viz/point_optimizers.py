"""Run ``bpkit.nn.optim`` optimizers on a point in the plane, so a race uses the very update rules that train
networks (not a second copy of them).

A point is wrapped as a one-parameter "model": ``PointModel`` has ``params = {"xy": (2,)}`` and ``grads``, and its
``parameters()`` yields ``(self, "xy")``, which is all an optimizer needs.
"""
from __future__ import annotations

import numpy as np

from ..nn.layers import Layer
from ..nn.optim import SGD, Adam, RMSProp
from .surfaces import get_surface

OPTIMIZERS = ("SGD", "Momentum", "RMSProp", "Adam")
ESCAPE = 1e6     # a path that leaves this radius has diverged; it stops there


class PointModel(Layer):
    """A point (x, y) as the single parameter ``params["xy"]`` of shape (2,)."""

    def __init__(self, start):
        super().__init__()
        self.params = {"xy": np.array(start, dtype=np.float64).reshape(2)}
        self.grads = {"xy": np.zeros(2)}


def make_optimizer(name: str, model, lr: float, beta1: float = 0.9, beta2: float = 0.999):
    """Build optimizer ``name`` for ``model``. beta1 is Momentum's momentum and Adam's first beta; beta2 is RMSProp's
    averaging constant alpha and Adam's second beta (the same role in both: how long squared gradients are kept)."""
    if name == "SGD":
        return SGD(model, lr)
    if name == "Momentum":
        return SGD(model, lr, momentum=beta1)
    if name == "RMSProp":
        return RMSProp(model, lr, alpha=beta2)
    if name == "Adam":
        return Adam(model, lr, betas=(beta1, beta2))
    raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {name!r}")


def trajectory(surface, optimizer: str = "SGD", lr: float | None = None, steps: int = 100, start=None,
               beta1: float = 0.9, beta2: float = 0.999) -> np.ndarray:
    """The points visited by ``optimizer`` on ``surface`` (a Surface or its name): returns (T + 1, 2), the start
    first. T = steps unless the path diverges (a non-finite point or one beyond 1e6), where it stops."""
    surface = get_surface(surface)
    model = PointModel(surface.start if start is None else start)
    opt = make_optimizer(optimizer, model, surface.lr if lr is None else lr, beta1, beta2)
    points = [model.params["xy"].copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(int(steps)):
            model.grads["xy"][...] = surface.gradient(model.params["xy"])
            opt.step()
            xy = model.params["xy"]
            if not np.all(np.isfinite(xy)) or np.abs(xy).max() > ESCAPE:
                break
            points.append(xy.copy())
    return np.array(points)


def race(surface, optimizers=OPTIMIZERS, lr: float | None = None, steps: int = 100, beta1: float = 0.9,
         beta2: float = 0.999, start=None) -> dict:
    """{name: trajectory} for each optimizer, all from the same start with the same settings."""
    return {name: trajectory(surface, name, lr, steps, start, beta1, beta2) for name in optimizers}
