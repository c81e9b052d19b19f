"""Learning-rate schedules with PyTorch's semantics (``torch.optim.lr_scheduler``).

Each schedule is a pure function ``lr(t)`` of the step (or epoch) counter ``t`` and the initial learning rate, and a
thin class that, like PyTorch's, reads the optimizer's learning rate when built (``base_lr``), sets the optimizer's
``lr`` to the value at ``t = 0``, and on every ``step()`` advances ``t`` by one and sets ``lr`` to the value at ``t``.
Call ``scheduler.step()`` after ``optimizer.step()``, once per epoch (or per step, if T counts steps).

The values are PyTorch's closed forms:

- StepLR: ``base_lr * gamma ** (t // step_size)``
- CosineAnnealingLR: ``eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2`` (past T_max the cosine goes
  on, back up, as PyTorch's does)
- LinearLR (the usual linear warmup): ``base_lr * (start + (end - start) * min(t, total_iters) / total_iters)``
- SequentialLR: the k-th schedule from its milestone on, its own counter restarted at 0 there.
"""
from __future__ import annotations

import bisect
import math


def step_lr(base_lr: float, t: int, step_size: int, gamma: float = 0.1) -> float:
    """``base_lr * gamma ** (t // step_size)``: decay by gamma every step_size epochs."""
    return base_lr * gamma ** (t // step_size)


def cosine_annealing_lr(base_lr: float, t: int, T_max: int, eta_min: float = 0.0) -> float:
    """``eta_min + (base_lr - eta_min) * (1 + cos(pi t / T_max)) / 2``: half a cosine from base_lr down to eta_min."""
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2


def linear_lr(base_lr: float, t: int, start_factor: float = 1 / 3, end_factor: float = 1.0,
              total_iters: int = 5) -> float:
    """``base_lr * factor``, the factor moving linearly from start_factor to end_factor over total_iters, then held."""
    return base_lr * (start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters)


class LRScheduler:
    """Base class: holds the optimizer, ``base_lr`` and the counter ``last_epoch``; subclasses define ``lr_at(t)``."""

    def __init__(self, optimizer):
        if not hasattr(optimizer, "lr"):
            raise TypeError(f"optimizer: expected an optimizer with an lr attribute, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_epoch = 0
        self.optimizer.lr = float(self.lr_at(0))

    def lr_at(self, t: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        self.optimizer.lr = float(self.lr_at(self.last_epoch))

    def get_last_lr(self) -> list[float]:
        """[the learning rate now], a list as PyTorch's (one entry per parameter group; we have one group)."""
        return [self.optimizer.lr]

    def values(self, steps: int) -> list[float]:
        """The learning rates for t = 0 .. steps - 1, without touching the optimizer (for plots)."""
        return [float(self.lr_at(t)) for t in range(steps)]


class StepLR(LRScheduler):
    """``torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma=0.1)``."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        if int(step_size) < 1:
            raise ValueError(f"step_size: expected a positive integer, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        return step_lr(self.base_lr, t, self.step_size, self.gamma)


class CosineAnnealingLR(LRScheduler):
    """``torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max, eta_min=0)``."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):
        if int(T_max) < 1:
            raise ValueError(f"T_max: expected a positive integer, got {T_max}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        return cosine_annealing_lr(self.base_lr, t, self.T_max, self.eta_min)


class LinearLR(LRScheduler):
    """``torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1/3, end_factor=1.0, total_iters=5)``: with a small
    start_factor, a linear warmup from ``start_factor * lr`` to ``lr`` over total_iters steps."""

    def __init__(self, optimizer, start_factor: float = 1 / 3, end_factor: float = 1.0, total_iters: int = 5):
        if not (0 < start_factor <= 1 and 0 <= end_factor <= 1):
            raise ValueError(f"start_factor in (0, 1] and end_factor in [0, 1] expected, got {start_factor}, "
                             f"{end_factor}")
        if int(total_iters) < 1:
            raise ValueError(f"total_iters: expected a positive integer, got {total_iters}")
        self.start_factor, self.end_factor, self.total_iters = float(start_factor), float(end_factor), int(total_iters)
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        return linear_lr(self.base_lr, t, self.start_factor, self.end_factor, self.total_iters)


def linear_warmup(optimizer, warmup_steps: int, start_factor: float = 0.01) -> LinearLR:
    """A linear warmup: ``LinearLR(optimizer, start_factor, 1.0, warmup_steps)``."""
    return LinearLR(optimizer, start_factor=start_factor, end_factor=1.0, total_iters=warmup_steps)


class SequentialLR(LRScheduler):
    """``torch.optim.lr_scheduler.SequentialLR(optimizer, schedulers, milestones)``: ``schedulers[k]`` from
    ``milestones[k - 1]`` on, its counter restarted at 0 there (e.g. a warmup, then a cosine decay).

    The schedulers must be built on the same optimizer (they all read its initial lr, as PyTorch's do).
    """

    def __init__(self, optimizer, schedulers, milestones):
        schedulers, milestones = list(schedulers), [int(m) for m in milestones]
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"milestones: expected {len(schedulers) - 1} (one fewer than schedulers), "
                             f"got {len(milestones)}")
        if any(s.optimizer is not optimizer for s in schedulers):
            raise ValueError("schedulers: every scheduler must belong to the optimizer passed to SequentialLR")
        self.schedulers, self.milestones = schedulers, milestones
        for s in schedulers:
            s.base_lr = schedulers[0].base_lr
        optimizer.lr = schedulers[0].base_lr
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        k = bisect.bisect_right(self.milestones, t)
        start = self.milestones[k - 1] if k else 0
        return self.schedulers[k].lr_at(t - start)
