"""Spec of ex10 (format: docs/authoring.md; the reference solutions are the notebook's solution cells).

ex10, recurrent networks: one step of a tanh RNN, forward and backward.

Shapes: x (N, D) the step's input, h_prev (N, H), Wx (D, H), Wh (H, H), b (H,); h = tanh(x Wx + h_prev Wh + b),
dh (N, H) the gradient reaching h. Backward is checked against central differences of the reference step
(``bpkit.nn.recurrent.rnn_step``); the case holds b so the grader can take them, and h is computed from it.
"""
from bpkit.exercises.authoring import *  # noqa: F403

from bpkit.nn.layers import sigmoid
from bpkit.nn.recurrent import rnn_step

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

RNN_STEP_FORWARD = function_spec(
    "rnn_step_forward", "rnn_step_forward(x, h_prev, Wx, Wh, b) -> h", make_cases=_cases, call=drivers.function("rnn_step_forward", args=("x", "h_prev", "Wx", "Wh", "b"), returns=("h",)),
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

NAMES = ("dx", "dh_prev", "dWx", "dWh", "db")


def _gradients(case):
    arrays = {k: case[k] for k in ("x", "h_prev", "Wx", "Wh", "b")}
    return {f"d{k}": gradient(rnn_step, arrays, k, case["dh"]) for k in ("x", "h_prev", "Wx", "Wh", "b")}


def rnn_step_backward(*args):
    """The source notebook's solution (the reference), for the catalogued mistakes built on it."""
    return EXERCISE.reference("rnn_step_backward")(*args)


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
    make_cases=_cases, call=drivers.function("rnn_step_backward", args=("dh", "x", "h_prev", "h", "Wx", "Wh"), returns=NAMES),
    finite_differences=True, expected=_gradients,
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


EXERCISE = exercise("ex10", "Recurrent networks: one RNN step, forward and backward", [RNN_STEP_FORWARD, RNN_STEP_BACKWARD])
