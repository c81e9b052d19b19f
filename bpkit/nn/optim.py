"""Optimizers with PyTorch's update rules and defaults, so trajectories can be compared step by step.

Each takes a model (anything whose ``parameters()`` yields ``(layer, name)`` pairs, the array being
``layer.params[name]`` and its gradient ``layer.grads[name]``) and updates the parameters in place in ``step()``.
"""
from __future__ import annotations

import math

import numpy as np


class Optimizer:
    """Holds the (param, grad) arrays and one state dict per parameter."""

    def __init__(self, model, lr: float):
        if not lr > 0:
            raise ValueError(f"lr: expected a positive learning rate, got {lr}")
        self.lr = float(lr)       # a Python float: a NumPy float64 would run float32 updates in float64
        self.slots = [(layer, name) for layer, name in model.parameters()]
        if not self.slots:
            raise ValueError("model: expected at least one parameter, got none")
        self.state = [dict() for _ in self.slots]
        self.t = 0

    def pairs(self):
        """Yield (param, grad, state) for each parameter, fetched afresh (layers may swap arrays in astype)."""
        for (layer, name), state in zip(self.slots, self.state):
            yield layer.params[name], layer.grads[name], state

    def step(self) -> None:
        self.t += 1
        for param, grad, state in self.pairs():
            self.update(param, grad, state)

    def update(self, param, grad, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def zero_grad(self) -> None:
        for _, grad, _ in self.pairs():
            grad.fill(0.0)


class SGD(Optimizer):
    """torch.optim.SGD: g += wd p; buf = momentum buf + (1 - dampening) g (buf = g at the first step);
    g = g + momentum buf if nesterov else buf; p -= lr g."""

    def __init__(self, model, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(model, lr)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov: needs momentum > 0 and dampening = 0")
        self.momentum, self.dampening = momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov

    def update(self, param, grad, state):
        g = grad + self.weight_decay * param if self.weight_decay else grad
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, copy=True)
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        param -= self.lr * g


class Adagrad(Optimizer):
    """torch.optim.Adagrad: g += wd p; sum = sum + g^2 (sum starts at initial_accumulator_value);
    p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(sum) + eps). Each coordinate's step shrinks as its squared
    gradients pile up: nothing is ever forgotten (RMSProp's running average is the fix)."""

    def __init__(self, model, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        super().__init__(model, lr)
        if initial_accumulator_value < 0:
            raise ValueError(f"initial_accumulator_value: expected >= 0, got {initial_accumulator_value}")
        self.lr_decay, self.weight_decay = float(lr_decay), float(weight_decay)
        self.initial_accumulator_value, self.eps = float(initial_accumulator_value), float(eps)

    def update(self, param, grad, state):
        g = grad + self.weight_decay * param if self.weight_decay else grad
        total = state.get("sum")
        if total is None:
            total = state["sum"] = np.full_like(param, self.initial_accumulator_value)
        total += g * g
        clr = self.lr / (1 + (self.t - 1) * self.lr_decay)
        param -= clr * g / (np.sqrt(total) + self.eps)


class RMSProp(Optimizer):
    """torch.optim.RMSprop: v = alpha v + (1 - alpha) g^2; p -= lr g / (sqrt(v) + eps)
    (with momentum: buf = momentum buf + g / (sqrt(v) + eps); p -= lr buf)."""

    def __init__(self, model, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0):
        super().__init__(model, lr)
        self.alpha, self.eps, self.weight_decay, self.momentum = alpha, eps, weight_decay, momentum

    def update(self, param, grad, state):
        g = grad + self.weight_decay * param if self.weight_decay else grad
        v = state.setdefault("square_avg", np.zeros_like(param))
        v *= self.alpha
        v += (1 - self.alpha) * g * g
        step = g / (np.sqrt(v) + self.eps)
        if self.momentum:
            buf = state.setdefault("momentum_buffer", np.zeros_like(param))
            buf *= self.momentum
            buf += step
            step = buf
        param -= self.lr * step


class Adam(Optimizer):
    """torch.optim.Adam: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""

    def __init__(self, model, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(model, lr)
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"betas: expected two numbers in [0, 1), got {betas}")
        self.betas, self.eps, self.weight_decay = (float(betas[0]), float(betas[1])), float(eps), float(weight_decay)

    def update(self, param, grad, state):
        # Written with preallocated buffers (one pass of memory per line) because this runs every step.
        b1, b2 = self.betas
        g = grad + self.weight_decay * param if self.weight_decay else grad
        if not state:
            state["m"], state["v"], state["tmp"] = (np.zeros_like(param) for _ in range(3))
        m, v, tmp = state["m"], state["v"], state["tmp"]
        m *= b1
        np.multiply(g, 1 - b1, out=tmp)
        m += tmp                                   # m = b1 m + (1 - b1) g
        v *= b2
        np.multiply(g, 1 - b2, out=tmp)
        tmp *= g
        v += tmp                                   # v = b2 v + (1 - b2) g^2
        bias1, bias2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        # PyTorch's  lr / bias1 * m / (sqrt(v) / sqrt(bias2) + eps), with numerator and denominator multiplied
        # by sqrt(bias2): the same number, one pass over memory fewer. The scalars stay Python floats (math.sqrt,
        # not np.sqrt): a NumPy float64 scalar would make NumPy compute a float32 array in float64, 6x slower.
        np.sqrt(v, out=tmp)
        tmp += self.eps * math.sqrt(bias2)
        np.divide(m, tmp, out=tmp)
        tmp *= self.lr * math.sqrt(bias2) / bias1
        param -= tmp                               # p -= lr m_hat / (sqrt(v_hat) + eps)


class AdamW(Adam):
    """torch.optim.AdamW: decoupled weight decay, p -= lr * weight_decay * p, then Adam's step on the loss gradient
    alone (the decay is not divided by sqrt(v), unlike Adam's weight_decay, which adds weight_decay * p to g)."""

    def __init__(self, model, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(model, lr, betas, eps, weight_decay=0.0)
        self.decoupled_weight_decay = float(weight_decay)

    def update(self, param, grad, state):
        if self.decoupled_weight_decay:
            param *= 1 - self.lr * self.decoupled_weight_decay
        super().update(param, grad, state)
