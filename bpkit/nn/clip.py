"""Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_): the cure for exploding gradients in RNNs."""
from __future__ import annotations

import numpy as np


def grad_norm(model) -> float:
    """The L2 norm of all of ``model``'s gradients taken together, as one long vector."""
    return float(np.sqrt(sum(float(np.sum(np.square(layer.grads[name], dtype=np.float64)))
                             for layer, name in model.parameters())))


def clip_grad_norm(model, max_norm: float) -> float:
    """Scale every gradient of ``model`` in place by ``max_norm / total_norm`` when ``total_norm > max_norm``.

    model: anything whose ``parameters()`` yields ``(layer, name)``. The direction of the whole gradient is kept,
    only its length is capped. Returns the total norm measured BEFORE clipping (as PyTorch does), so a training loop
    can log how often clipping fires. The factor is ``max_norm / (total_norm + 1e-6)``, PyTorch's rule.
    """
    try:
        max_norm = float(max_norm)
    except (TypeError, ValueError):
        raise TypeError(f"max_norm: expected a positive number, got {type(max_norm).__name__}") from None
    if not max_norm > 0:
        raise ValueError(f"max_norm: expected a positive number, got {max_norm}")
    total = grad_norm(model)
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for layer, name in model.parameters():
            layer.grads[name] *= coef
    return total
