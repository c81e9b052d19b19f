"""Optimizers with PyTorch's update rules and defaults, so trajectories can be compared step by step.

Each rule is a pure function ``xxx_update(w, g, state, lr, ...) -> (new_w, new_state)``:
w: the parameter, g: its gradient (one shape, any shape); state: the rule's memory (``{}`` before the first step,
then what the previous call returned, with arrays of w's shape). It never modifies w, g or state, so a plot or an
exercise can step a bare array (``sgd_update(w, grad(w), state, lr=0.1)``) with exactly the rule that trains networks.

The rule itself is written once, in ``xxx_update_`` (the trailing underscore is PyTorch's mark for "in place"): it
updates w and the arrays of state where they are, which is what the classes run every training step (fresh arrays
for m, v and w at every step would cost a page fault per 4 KB of memory, 4x slower on a 256 x 256 layer);
``xxx_update`` copies w and state, then calls it.

Each class takes a model (anything whose ``parameters()`` yields ``(layer, name)`` pairs, the array being
``layer.params[name]`` and its gradient ``layer.grads[name]``), calls its rule's ``xxx_update_`` for every parameter
in ``step()`` and keeps the state in ``state[i]`` (PyTorch's key names). Scalars stay Python floats (``math.sqrt``,
not ``np.sqrt``): a NumPy float64 scalar would make NumPy compute a float32 array in float64, several times slower.
"""
from __future__ import annotations

import functools
import math

import numpy as np


def _copies(w, g, state):
    """For a pure step: a float copy of w, g as an array, and copies of state's arrays (not the scratch ``tmp``)."""
    w = np.array(w, dtype=None if np.asarray(w).dtype.kind == "f" else np.float64, copy=True)
    return w, np.asarray(g), {k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
                              for k, v in state.items() if k != "tmp"}


# ---- SGD -------------------------------------------------------------------------------------------------------
def sgd_update_(w, g, state, lr: float, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
                nesterov: bool = False) -> None:
    """One step of torch.optim.SGD, in place on w (...) and state ({} or {"momentum_buffer": (...)}).

    g += weight_decay w; with momentum: buf = g at the first step, then buf = momentum buf + (1 - dampening) g;
    the step direction is g + momentum buf with ``nesterov`` (the look-ahead), else buf; w -= lr direction.
    """
    if weight_decay:
        g = g + weight_decay * w
    if momentum:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = np.array(g, copy=True)
        else:
            buf *= momentum
            buf += (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    w -= lr * g


def sgd_update(w, g, state, lr: float, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
               nesterov: bool = False):
    """One step of torch.optim.SGD (the rule: ``sgd_update_``), pure.

    w, g: (...) of one shape; state: {} or {"momentum_buffer": (...)}. Returns (new_w: (...), new_state).
    """
    w, g, state = _copies(w, g, state)
    sgd_update_(w, g, state, lr, momentum, dampening, weight_decay, nesterov)
    return w, state


class Optimizer:
    """Holds the (layer, name) slots, one state dict per parameter and the step count ``t``.

    A subclass defines ``update(param, grad, state)``, which runs its rule in place (``xxx_update_``).
    """

    def __init__(self, model, lr: float):
        if not lr > 0:
            raise ValueError(f"lr: expected a positive learning rate, got {lr}")
        self.lr = float(lr)
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
            self.update(param, grad, state)        # in place: the layer (and anyone else) keeps its array

    def update(self, param, grad, state) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def zero_grad(self) -> None:
        for _, grad, _ in self.pairs():
            grad.fill(0.0)


class SGD(Optimizer):
    """torch.optim.SGD (``sgd_update_``): momentum, dampening, weight decay and Nesterov's look-ahead."""

    def __init__(self, model, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(model, lr)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov: needs momentum > 0 and dampening = 0")
        self.momentum, self.dampening = float(momentum), float(dampening)
        self.weight_decay, self.nesterov = float(weight_decay), bool(nesterov)

    def update(self, param, grad, state):
        sgd_update_(param, grad, state, self.lr, self.momentum, self.dampening, self.weight_decay, self.nesterov)


# ---- Adagrad -------------------------------------------------------------------------------------------------
def adagrad_update_(w, g, state, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                    initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
    """One step of torch.optim.Adagrad, in place on w (...) and state ({} or {"step": int, "sum": (...)}): every
    coordinate's step shrinks with the squared gradients it has seen.

    g += weight_decay w; step t (1 for the first) uses clr = lr / (1 + (t - 1) lr_decay);
    sum += g^2 (sum starts at initial_accumulator_value); w -= clr g / (sqrt(sum) + eps).
    """
    t = state["step"] = state.get("step", 0) + 1
    if weight_decay:
        g = g + weight_decay * w
    clr = lr / (1 + (t - 1) * lr_decay)
    total = state.get("sum")
    if total is None:
        total = state["sum"] = np.full_like(w, initial_accumulator_value)
    total += g * g
    denom = np.sqrt(total)
    denom += eps
    w -= clr * g / denom


def adagrad_update(w, g, state, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                   initial_accumulator_value: float = 0.0, eps: float = 1e-10):
    """One step of torch.optim.Adagrad (the rule: ``adagrad_update_``), pure.

    w, g: (...) of one shape; state: {} or {"step": int, "sum": (...)}. Returns (new_w: (...), new_state).
    """
    w, g, state = _copies(w, g, state)
    adagrad_update_(w, g, state, lr, lr_decay, weight_decay, initial_accumulator_value, eps)
    return w, state


class Adagrad(Optimizer):
    """torch.optim.Adagrad (``adagrad_update_``), its defaults: lr 1e-2, eps 1e-10. Each coordinate's step shrinks
    as its squared gradients pile up: nothing is ever forgotten (RMSProp's running average is the fix)."""

    def __init__(self, model, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        super().__init__(model, lr)
        if initial_accumulator_value < 0:
            raise ValueError(f"initial_accumulator_value: expected >= 0, got {initial_accumulator_value}")
        self.lr_decay, self.weight_decay, self.eps = float(lr_decay), float(weight_decay), float(eps)
        self.initial_accumulator_value = float(initial_accumulator_value)

    def update(self, param, grad, state):
        state["step"] = self.t - 1                 # the optimizer's count, as Adam's
        adagrad_update_(param, grad, state, self.lr, self.lr_decay, self.weight_decay,
                        self.initial_accumulator_value, self.eps)


# ---- RMSProp -------------------------------------------------------------------------------------------------
def rmsprop_update_(w, g, state, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                    weight_decay: float = 0.0, momentum: float = 0.0) -> None:
    """One step of torch.optim.RMSprop, in place on w (...) and state ({} or {"square_avg": (...)[,
    "momentum_buffer": (...)]}): a running average of squared gradients scales each coordinate's step.

    g += weight_decay w; v = alpha v + (1 - alpha) g^2 (v starts at 0); step = g / (sqrt(v) + eps);
    with momentum: buf = momentum buf + step (buf starts at 0), step = buf; w -= lr step.
    """
    if weight_decay:
        g = g + weight_decay * w
    v = state.get("square_avg")
    if v is None:
        v = state["square_avg"] = np.zeros_like(w)
    v *= alpha
    v += (1 - alpha) * g * g
    step = g / (np.sqrt(v) + eps)
    if momentum:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = np.zeros_like(w)
        buf *= momentum
        buf += step
        step = buf
    w -= lr * step


def rmsprop_update(w, g, state, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                   momentum: float = 0.0):
    """One step of torch.optim.RMSprop (the rule: ``rmsprop_update_``), pure.

    w, g: (...) of one shape; state: {} or {"square_avg": (...)[, "momentum_buffer": (...)]}.
    Returns (new_w: (...), new_state).
    """
    w, g, state = _copies(w, g, state)
    rmsprop_update_(w, g, state, lr, alpha, eps, weight_decay, momentum)
    return w, state


class RMSProp(Optimizer):
    """torch.optim.RMSprop (``rmsprop_update_``), its defaults: lr 1e-2, alpha 0.99, eps 1e-8."""

    def __init__(self, model, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0):
        super().__init__(model, lr)
        self.alpha, self.eps = float(alpha), float(eps)
        self.weight_decay, self.momentum = float(weight_decay), float(momentum)

    def update(self, param, grad, state):
        rmsprop_update_(param, grad, state, self.lr, self.alpha, self.eps, self.weight_decay, self.momentum)


# ---- Adam and AdamW --------------------------------------------------------------------------------------------
def adam_update_(w, g, state, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
    """One step of torch.optim.Adam, in place on w (...) and state ({} or {"step": int, "m": (...), "v": (...)}):
    momentum (m) divided by a running RMS (sqrt v), both bias-corrected.

    g += weight_decay w (L2, coupled: it is divided by sqrt(v) too; see ``adamw_update_``);
    m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2 (both start at 0); at step t (1 for the first)
    w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    Written with one scratch array (state["tmp"]) so that each line is one pass over memory and nothing is allocated
    after the first step.
    """
    b1, b2 = float(betas[0]), float(betas[1])
    t = state["step"] = state.get("step", 0) + 1
    if weight_decay:
        g = g + weight_decay * w
    if state.get("m") is None:
        state["m"], state["v"] = np.zeros_like(w), np.zeros_like(w)
    if state.get("tmp") is None:
        state["tmp"] = np.empty_like(w)
    m, v, tmp = state["m"], state["v"], state["tmp"]
    m *= b1
    np.multiply(g, 1 - b1, out=tmp)
    m += tmp                                   # m = b1 m + (1 - b1) g
    v *= b2
    np.multiply(g, 1 - b2, out=tmp)
    tmp *= g
    v += tmp                                   # v = b2 v + (1 - b2) g^2
    bias1, bias2 = 1 - b1 ** t, 1 - b2 ** t
    # lr / bias1 * m / (sqrt(v) / sqrt(bias2) + eps), numerator and denominator times sqrt(bias2): the same number,
    # one pass over memory fewer.
    np.sqrt(v, out=tmp)
    tmp += eps * math.sqrt(bias2)
    np.divide(m, tmp, out=tmp)
    tmp *= lr * math.sqrt(bias2) / bias1
    w -= tmp                                   # w -= lr m_hat / (sqrt(v_hat) + eps)


def adam_update(w, g, state, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
    """One step of torch.optim.Adam (the rule: ``adam_update_``), pure.

    w, g: (...) of one shape; state: {} or {"step": int, "m": (...), "v": (...)}. Returns (new_w: (...), new_state).
    """
    w, g, state = _copies(w, g, state)
    adam_update_(w, g, state, lr, betas, eps, weight_decay)
    state.pop("tmp", None)
    return w, state



def adamw_update_(w, g, state, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                  weight_decay: float = 1e-2) -> None:
    """One step of torch.optim.AdamW, in place on w (...) and state (as ``adam_update_``'s): decoupled weight decay,
    w *= 1 - lr weight_decay, then Adam's step on g alone (the decay is not divided by sqrt(v), unlike Adam's
    weight_decay, which adds weight_decay w to g)."""
    if weight_decay:
        w *= 1 - lr * weight_decay
    adam_update_(w, g, state, lr, betas, eps)


def adamw_update(w, g, state, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2):
    """One step of torch.optim.AdamW (the rule: ``adamw_update_``), pure.

    w, g: (...) of one shape; state as ``adam_update``'s. Returns (new_w: (...), new_state)."""
    w, g, state = _copies(w, g, state)
    adamw_update_(w, g, state, lr, betas, eps, weight_decay)
    state.pop("tmp", None)
    return w, state


class Adam(Optimizer):
    """torch.optim.Adam (``adam_update_``), its defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8.

    The step count is ``t`` (shared by every parameter, as they all step together).
    """

    def __init__(self, model, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(model, lr)
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"betas: expected two numbers in [0, 1), got {betas}")
        self.betas, self.eps, self.weight_decay = (float(betas[0]), float(betas[1])), float(eps), float(weight_decay)

    def update(self, param, grad, state):
        state["step"] = self.t - 1                 # the optimizer's count: setting opt.t resumes from there
        adam_update_(param, grad, state, self.lr, self.betas, self.eps, self.weight_decay)


class AdamW(Adam):
    """torch.optim.AdamW (``adamw_update_``), its defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2
    (decoupled: ``decoupled_weight_decay``)."""

    def __init__(self, model, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(model, lr, betas, eps, weight_decay=0.0)
        self.decoupled_weight_decay = float(weight_decay)

    def update(self, param, grad, state):
        state["step"] = self.t - 1
        adamw_update_(param, grad, state, self.lr, self.betas, self.eps, self.decoupled_weight_decay)


# ---- optimizers by name (the optimizer race, the training dashboard) --------------------------------------------
OPTIMIZERS = ("SGD", "Momentum", "Nesterov", "Adagrad", "RMSProp", "Adam")


def _named(name: str, beta1: float, beta2: float):
    """(class, in-place rule, hyper-parameters) of optimizer ``name``. beta1 is the momentum of Momentum and Nesterov
    and Adam's first beta; beta2 is RMSProp's averaging constant alpha and Adam's second beta (the same role in
    both: how long squared gradients are kept). SGD and Adagrad use neither."""
    beta1, beta2 = float(beta1), float(beta2)
    if name == "SGD":
        return SGD, sgd_update_, {}
    if name == "Momentum":
        return SGD, sgd_update_, {"momentum": beta1}
    if name == "Nesterov":       # PyTorch refuses Nesterov without momentum; with none it is plain SGD
        return SGD, sgd_update_, {"momentum": beta1, "nesterov": True} if beta1 > 0 else {}
    if name == "Adagrad":
        return Adagrad, adagrad_update_, {}
    if name == "RMSProp":
        return RMSProp, rmsprop_update_, {"alpha": beta2}
    if name == "Adam":
        return Adam, adam_update_, {"betas": (beta1, beta2)}
    raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {name!r}")


def make_optimizer(name: str, model, lr: float, beta1: float = 0.9, beta2: float = 0.999) -> Optimizer:
    """The optimizer called ``name`` (one of ``OPTIMIZERS``) for ``model``; beta1 and beta2 as in ``make_update``."""
    cls, _, hyper = _named(name, beta1, beta2)
    return cls(model, lr, **hyper)


def make_update(name: str, lr: float, beta1: float = 0.9, beta2: float = 0.999):
    """The in-place step ``step_(w, g, state)`` of the optimizer called ``name`` (one of ``OPTIMIZERS``): its
    ``xxx_update_`` with these hyper-parameters, for a loop that steps a bare array (w, g: (...); state: a dict,
    ``{}`` at the start). beta1 is the momentum of Momentum and Nesterov and Adam's first beta; beta2 is RMSProp's
    alpha and Adam's second beta. The numbers are those of ``make_optimizer(name, ...)``'s ``step()``."""
    _, rule_, hyper = _named(name, beta1, beta2)
    return functools.partial(rule_, lr=float(lr), **hyper)
