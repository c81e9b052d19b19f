"""Optimizer steps as pure functions, for ex06 and ex07: the reference (``bpkit.nn.optim``'s PyTorch rules) and
the student-side loop that runs a few steps in a row and reports the trajectory.

A step function takes ``(w, dw, *state, *hyper)`` and returns ``(w, *state)``; the case holds the starting ``w``
and state, a stack of gradients ``dw`` (K, *w.shape) for K steps, and the hyper-parameters.
"""
from __future__ import annotations

import numpy as np

from ..nn.layers import Layer
from ..nn.optim import SGD, Adam
from .calling import plain


class _Slot(Layer):
    """A one-parameter "model", so the nn optimizers can step a bare array."""

    def __init__(self, w, dw):
        super().__init__()
        self.params, self.grads = {"w": w}, {"w": dw}


def sgd_momentum_reference(w, dw, v, lr, momentum):
    """One step of torch.optim.SGD with momentum: v = momentum v + dw; w = w - lr v. Returns new (w, v)."""
    w = np.array(w, dtype=np.float64, copy=True)
    opt = SGD(_Slot(w, np.array(dw, dtype=np.float64)), lr=lr, momentum=momentum)
    opt.state[0]["momentum_buffer"] = np.array(v, dtype=np.float64, copy=True)
    opt.step()
    return w, opt.state[0]["momentum_buffer"]


def adam_reference(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Step ``t`` (1 for the first) of torch.optim.Adam from moments m, v. Returns new (w, m, v)."""
    w = np.array(w, dtype=np.float64, copy=True)
    opt = Adam(_Slot(w, np.array(dw, dtype=np.float64)), lr=lr, betas=(beta1, beta2), eps=eps)
    opt.state[0].update(m=np.array(m, dtype=np.float64, copy=True), v=np.array(v, dtype=np.float64, copy=True),
                        tmp=np.zeros_like(w))
    opt.t = int(t) - 1
    opt.step()
    return w, opt.state[0]["m"], opt.state[0]["v"]


def run_steps(fn, case, state: tuple[str, ...], name: str, hyper=lambda k: ()) -> dict:
    """Run ``fn`` for the K gradients of the case, chaining w and state; return the trajectory as plain arrays.

    Outputs: ``w`` and each state name after the first step (for the shape/dtype check), ``w_change`` (K, ...)
    the change of w at each step, ``<state>_all`` (K, ...) the state after each step, and ``input:dw``.
    A step that returns the wrong number of values or shapes ends the run with a message in the trajectory keys.
    """
    w = np.array(case["w"], copy=True)
    values = [np.array(case[s], copy=True) for s in state]
    grads = np.array(case["dw"], copy=True)
    changes, history, first = [], [], None
    problem = ""
    for k in range(grads.shape[0]):
        result = fn(w.copy(), grads[k], *(v.copy() for v in values), *hyper(k))  # in place is harmless
        if not isinstance(result, (tuple, list)) or len(result) != 1 + len(state):
            return {"__invalid__": f"{name} should return {1 + len(state)} values ({', '.join(('w', *state))})"}
        out = [plain(r) for r in result]
        if first is None:
            first = out
        if any(isinstance(o, str) or o.shape != w.shape for o in out):
            problem = "!a step returned something that is not an array of w's shape"
            break
        changes.append(out[0] - w)
        history.append(out[1:])
        w, values = out[0], out[1:]
    outputs = {"w": first[0], **{s: first[1 + i] for i, s in enumerate(state)}, "input:dw": grads}
    outputs["w_change"] = problem or np.stack(changes)
    for i, s in enumerate(state):
        outputs[f"{s}_all"] = problem or np.stack([h[i] for h in history])
    return outputs


def reference_trajectory(step, case, state: tuple[str, ...], hyper=lambda k: ()) -> dict:
    """What ``run_steps`` returns for the reference step (grader side)."""
    return {k: v for k, v in run_steps(step, case, state, "reference", hyper).items() if k != "input:dw"}
