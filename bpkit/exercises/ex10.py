"""ex10, recurrent networks: one step of a tanh RNN, forward and backward.

Shapes: x (N, D) the step's input, h_prev (N, H), Wx (D, H), Wh (H, H), b (H,); h = tanh(x Wx + h_prev Wh + b),
dh (N, H) the gradient reaching h. Backward is checked against central differences of the reference step
(``bpkit.nn.recurrent.rnn_step``); the case holds b so the grader can take them, and h is computed from it.
"""
from __future__ import annotations

import numpy as np

from ..nn.layers import sigmoid
from ..nn.recurrent import rnn_step
from .calling import copies, unpack
from .checks import INPUT, finish_cases, function_spec, gradient, returns_check, unchanged_check, value_check
from .spec import Exercise, Mistake

# (N, D, H): batch size 1, D == H (so swapping Wx and Wh still has the right shapes), D != H
SETUPS = [(1, 3, 2), (4, 3, 3), (3, 2, 5), (5, 4, 4)]


def _cases(rng):
    cases = []
    for n, d, h in SETUPS:
        case = {"x": rng.standard_normal((n, d)), "h_prev": np.tanh(rng.standard_normal((n, h))),
                "Wx": rng.standard_normal((d, h)) / np.sqrt(d), "Wh": rng.standard_normal((h, h)) / np.sqrt(h),
                "b": 0.5 * rng.standard_normal(h), "dh": rng.standard_normal((n, h)),
                "label": f"N={n}, D={d}, H={h}"}
        case["h"] = rnn_step(case["x"], case["h_prev"], case["Wx"], case["Wh"], case["b"])
        cases.append(case)
    return finish_cases(cases)


# ---- rnn_step_forward ------------------------------------------------------------------------------------------

def rnn_step_forward(x, h_prev, Wx, Wh, b):
    """x (N, D), h_prev (N, H), Wx (D, H), Wh (H, H), b (H,) -> h (N, H) = tanh(x Wx + h_prev Wh + b)."""
    return rnn_step(x, h_prev, Wx, Wh, b)


def _call_forward(fn, case):
    x, h_prev, Wx, Wh, b = copies(case, ("x", "h_prev", "Wx", "Wh", "b"))
    out = unpack(fn(x, h_prev, Wx, Wh, b), ("h",), "rnn_step_forward")
    return {**out, INPUT + "x": x, INPUT + "h_prev": h_prev, INPUT + "Wx": Wx, INPUT + "Wh": Wh, INPUT + "b": b}


RNN_STEP_FORWARD = function_spec(
    "rnn_step_forward", "rnn_step_forward(x, h_prev, Wx, Wh, b) -> h", reference=rnn_step_forward,
    make_cases=_cases, call=_call_forward,
    expected=lambda c: {"h": rnn_step(c["x"], c["h_prev"], c["Wx"], c["Wh"], c["b"])},
    checks=[returns_check(("h",), 0.5), unchanged_check(("x", "h_prev", "Wx", "Wh", "b"), 0.5),
            value_check("h", 1.0, "the reference step", hint="h = tanh(x @ Wx + h_prev @ Wh + b), shape (N, H)")],
    mistakes=[
        Mistake("no_tanh", "you returned the pre-activation: squash it with np.tanh",
                lambda x, h_prev, Wx, Wh, b: x @ Wx + h_prev @ Wh + b),
        Mistake("sigmoid", "this RNN uses tanh (outputs in (-1, 1)), not the sigmoid",
                lambda x, h_prev, Wx, Wh, b: sigmoid(x @ Wx + h_prev @ Wh + b)),
        Mistake("no_recurrence", "you left out the previous hidden state: h_prev @ Wh is what carries memory "
                "from step to step", lambda x, h_prev, Wx, Wh, b: np.tanh(x @ Wx + b)),
        Mistake("weights_swapped", "Wx multiplies the input x and Wh the previous state h_prev; you swapped them",
                lambda x, h_prev, Wx, Wh, b: np.tanh(x @ Wh + h_prev @ Wx + b)),
        Mistake("no_bias", "you left out the bias b", lambda x, h_prev, Wx, Wh, b: np.tanh(x @ Wx + h_prev @ Wh)),
    ],
    release_hint="the new state mixes the input and the previous state through their own weights, adds the bias, "
                 "and squashes the sum")


# ---- rnn_step_backward -----------------------------------------------------------------------------------------

def rnn_step_backward(dh, x, h_prev, h, Wx, Wh):
    """dh (N, H) the gradient reaching h, and the step's x, h_prev, h, Wx, Wh ->
    (dx (N, D), dh_prev (N, H), dWx (D, H), dWh (H, H), db (H,)), through da = dh * (1 - h^2)."""
    da = dh * (1 - h * h)
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)


NAMES = ("dx", "dh_prev", "dWx", "dWh", "db")


def _call_backward(fn, case):
    dh, x, h_prev, h, Wx, Wh = copies(case, ("dh", "x", "h_prev", "h", "Wx", "Wh"))
    out = unpack(fn(dh, x, h_prev, h, Wx, Wh), NAMES, "rnn_step_backward")
    return {**out, INPUT + "dh": dh, INPUT + "x": x, INPUT + "h_prev": h_prev, INPUT + "h": h,
            INPUT + "Wx": Wx, INPUT + "Wh": Wh}


def _gradients(case):
    arrays = {k: case[k] for k in ("x", "h_prev", "Wx", "Wh", "b")}
    return {f"d{k}": gradient(rnn_step, arrays, k, case["dh"]) for k in ("x", "h_prev", "Wx", "Wh", "b")}


def _with_da(da_of):
    """A wrong backward whose only error is how da is formed."""
    def wrong(dh, x, h_prev, h, Wx, Wh):
        da = da_of(dh, h)
        return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)
    return wrong


def _replace(index, value_of):
    """The right backward with output ``index`` replaced by ``value_of(da, dh, x, h_prev, h, Wx, Wh)``."""
    def wrong(dh, x, h_prev, h, Wx, Wh):
        out = list(rnn_step_backward(dh, x, h_prev, h, Wx, Wh))
        out[index] = value_of(dh * (1 - h * h), dh, x, h_prev, h, Wx, Wh)
        return tuple(out)
    return wrong


RNN_STEP_BACKWARD = function_spec(
    "rnn_step_backward", "rnn_step_backward(dh, x, h_prev, h, Wx, Wh) -> (dx, dh_prev, dWx, dWh, db)",
    reference=rnn_step_backward, make_cases=_cases, call=_call_backward, expected=_gradients,
    checks=[returns_check(NAMES, 0.5), unchanged_check(("dh", "x", "h_prev", "h", "Wx", "Wh"), 0.5),
            value_check("dx", 0.5, "central differences", hint="dx = da @ Wx.T, with da = dh * (1 - h**2)"),
            value_check("dh_prev", 1.0, "central differences",
                        hint="the gradient for the previous state goes back through Wh: da @ Wh.T"),
            value_check("dWx", 0.5, "central differences", hint="dWx = x.T @ da, shape (D, H)"),
            value_check("dWh", 1.0, "central differences", hint="dWh pairs da with the state that was multiplied "
                        "by Wh, h_prev: h_prev.T @ da"),
            value_check("db", 0.5, "central differences", hint="db sums da over the batch: shape (H,)")],
    mistakes=[
        Mistake("no_tanh_derivative", "you skipped the tanh: first da = dh * (1 - h**2), then the products",
                _with_da(lambda dh, h: dh)),
        Mistake("tanh_derivative_1_minus_h", "tanh's derivative is 1 - h**2 (h squared), not 1 - h",
                _with_da(lambda dh, h: dh * (1 - h))),
        Mistake("dWh_with_h", "dWh must use the state that went INTO this step, h_prev: h_prev.T @ da, "
                "not h.T @ da", _replace(3, lambda da, dh, x, hp, h, Wx, Wh: h.T @ da)),
        Mistake("Wh_not_transposed", "dh_prev needs Wh transposed: da @ Wh.T (the forward multiplied h_prev @ Wh)",
                _replace(1, lambda da, dh, x, hp, h, Wx, Wh: da @ Wh)),
        Mistake("db_not_summed", "db must be summed over the batch: da.sum(axis=0), shape (H,)",
                _replace(4, lambda da, dh, x, hp, h, Wx, Wh: da.copy())),
        Mistake("dh_prev_is_dh", "the previous state does not receive dh unchanged: it went through Wh and the "
                "tanh, so dh_prev = (dh * (1 - h**2)) @ Wh.T",
                _replace(1, lambda da, dh, x, hp, h, Wx, Wh: dh.copy())),
    ],
    release_hint="go back through the tanh first (its derivative is written with its output h), then treat "
                 "x @ Wx and h_prev @ Wh like two linear layers that share the same upstream gradient")


EXERCISE = Exercise("ex10", "Recurrent networks: one RNN step, forward and backward", "ex10_rnn.ipynb",
                    [RNN_STEP_FORWARD, RNN_STEP_BACKWARD])
