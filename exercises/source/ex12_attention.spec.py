"""Spec of ex12 (format: docs/authoring.md; the reference solutions are the notebook's solution cells).

ex12, attention and the LSTM: scaled dot-product attention forward and backward (with and without a causal mask),
and one LSTM step's backward pass.

Attention shapes: q (N, Tq, d), k (N, Tk, d), v (N, Tk, dv), mask (Tq, Tk) boolean, True = may attend (all True
means no mask), dout (N, Tq, dv). The backward takes the forward's inputs (its "cache") and recomputes the weights.
LSTM shapes: x (N, D), h_prev and c_prev (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,), gates in PyTorch's order
(input, forget, cell, output); dh and dc (N, H) the gradients reaching the step's outputs h and c.
Gradients are checked against central differences of the package's forward passes (``bpkit.nn.attention``,
``bpkit.nn.lstm``); the forward against the package's stable forward.
"""
from bpkit.exercises.authoring import *  # noqa: F403

from bpkit.nn.attention import scaled_dot_product_attention_forward
from bpkit.nn.layers import sigmoid
from bpkit.nn.lstm import lstm_step_forward

# (N, Tq, Tk, d, dv, causal): batch size 1; Tq != Tk; d != dv; causal masks on square and on 5 x 5 scores
ATTENTION_SETUPS = [(1, 3, 3, 2, 2, False), (2, 4, 4, 3, 2, True), (3, 2, 5, 4, 3, False), (2, 5, 5, 2, 4, True)]


def _mask(tq, tk, causal):
    return np.tri(tq, tk, dtype=bool) if causal else np.ones((tq, tk), dtype=bool)


def _attention_cases(rng, large=False):
    cases = []
    for n, tq, tk, d, dv, causal in ATTENTION_SETUPS:
        cases.append({"q": rng.standard_normal((n, tq, d)), "k": rng.standard_normal((n, tk, d)),
                      "v": rng.standard_normal((n, tk, dv)), "mask": _mask(tq, tk, causal),
                      "dout": rng.standard_normal((n, tq, dv)),
                      "label": f"N={n}, Tq={tq}, Tk={tk}, d={d}, dv={dv}, " +
                               ("causal mask" if causal else "no mask (all True)")})
    if large:  # scores near 1000, spanning more within a row: a softmax without the max shift overflows (e^710)
        q = rng.choice([-1.0, 1.0], (2, 3, 4)) * 80.0
        k = rng.standard_normal((2, 4, 4)) * 10.0
        cases.append({"q": q, "k": k, "v": rng.standard_normal((2, 4, 3)), "mask": _mask(3, 4, True),
                      "dout": rng.standard_normal((2, 3, 3)), "label": "N=2, Tq=3, Tk=4, scores near 1000"})
    return finish_cases(cases)


def _out(q, k, v, mask):
    return scaled_dot_product_attention_forward(q, k, v, mask)[0]


# ---- attention_forward ------------------------------------------------------------------------------------------

def _softmax(s, axis=-1):
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _scores(q, k, scale=True):
    s = q @ np.swapaxes(k, -1, -2)
    return s / np.sqrt(q.shape[-1]) if scale else s


ATTENTION_FORWARD = function_spec(
    "attention_forward", "attention_forward(q, k, v, mask) -> out",
    make_cases=lambda rng: _attention_cases(rng, large=True),
    call=drivers.function("attention_forward", args=("q", "k", "v", "mask"), returns=("out",)),
    expected=lambda c: {"out": _out(c["q"], c["k"], c["v"], c["mask"])},
    checks=[returns_check(("out",), 0.5), unchanged_check(("q", "k", "v", "mask"), 0.5),
            value_check("out", 1.0, "the stable reference", hint="out = softmax(q k^T / sqrt(d), masked, along "
                        "each row) @ v, subtracting each row's max before np.exp")],
    mistakes=[
        Mistake("no_scale", "you left out the 1/sqrt(d): the scores are q @ k^T / sqrt(d), d = q.shape[-1]",
                lambda q, k, v, mask: _softmax(np.where(mask, _scores(q, k, scale=False), -np.inf)) @ v),
        Mistake("no_mask", "the mask is not applied: set the scores where mask is False to -inf before the softmax",
                lambda q, k, v, mask: _softmax(_scores(q, k)) @ v),
        Mistake("mask_after_softmax", "you zeroed the masked weights after the softmax, so the rows no longer sum "
                "to 1: mask the scores (to -inf) before the softmax instead",
                lambda q, k, v, mask: (_softmax(_scores(q, k)) * mask) @ v),
        Mistake("softmax_over_queries", "the softmax runs along each row (over the keys, axis=-1): each query's "
                "weights sum to 1", lambda q, k, v, mask: _softmax(np.where(mask, _scores(q, k), -np.inf),
                                                                   axis=-2) @ v),
    ],
    release_hint="scores q k^T scaled by 1/sqrt(d); -inf where the mask is False; a stable softmax along each row; "
                 "then the weighted average of the values")


# ---- attention_backward -----------------------------------------------------------------------------------------

ATTENTION_NAMES = ("dq", "dk", "dv")


def _attention_gradients(case):
    arrays = {k: case[k] for k in ("q", "k", "v")}
    mask = case["mask"]
    return {f"d{name}": gradient(lambda q, k, v: _out(q, k, v, mask), arrays, name, case["dout"])
            for name in ("q", "k", "v")}


def _wrong_backward(dS_of, P_masked=True, mask_dS=False, scale_back=True):
    """A backward whose only errors are the ones switched on."""
    def wrong(dout, q, k, v, mask):
        S = _scores(q, k)
        P = _softmax(np.where(mask, S, -np.inf) if P_masked else S)
        dv = np.swapaxes(P, -1, -2) @ dout
        dP = dout @ np.swapaxes(v, -1, -2)
        dS = dS_of(P, dP)
        if mask_dS:
            dS = np.where(mask, dS, 0.0)
        scale = 1 / np.sqrt(q.shape[-1]) if scale_back else 1.0
        return (dS @ k) * scale, (np.swapaxes(dS, -1, -2) @ q) * scale, dv
    return wrong


def _right_dS(P, dP):
    return P * (dP - (dP * P).sum(axis=-1, keepdims=True))


ATTENTION_BACKWARD = function_spec(
    "attention_backward", "attention_backward(dout, q, k, v, mask) -> (dq, dk, dv)",
    make_cases=lambda rng: _attention_cases(rng, large=True),
    call=drivers.function("attention_backward", args=("dout", "q", "k", "v", "mask"), returns=ATTENTION_NAMES),
    finite_differences=True, expected=_attention_gradients,
    checks=[returns_check(ATTENTION_NAMES, 0.5), unchanged_check(("dout", "q", "k", "v", "mask"), 0.5),
            value_check("dq", 1.0, "central differences", hint="dq = dS @ k / sqrt(d), with dS the gradient of the "
                        "scores: back through the softmax, row by row"),
            value_check("dk", 1.0, "central differences", hint="dk = dS^T @ q / sqrt(d) (swap the last two axes of "
                        "dS), shape (N, Tk, d)"),
            value_check("dv", 0.5, "central differences", hint="dv = P^T @ dout, with P the (masked) weights")],
    mistakes=[
        Mistake("diagonal_jacobian", "the softmax's Jacobian is diag(p) - p p^T, not diagonal: dS = P * (dP - "
                "sum(dP * P, along the row)); you kept only P * dP",
                _wrong_backward(lambda P, dP: P * dP)),
        Mistake("no_scale_in_backward", "the forward divided the scores by sqrt(d), so dq and dk carry the same "
                "factor 1/sqrt(d): dq = dS @ k / sqrt(d), dk = dS^T @ q / sqrt(d)",
                _wrong_backward(_right_dS, scale_back=False)),
        Mistake("mask_forgotten_in_backward", "the weights you recomputed in the backward pass ignore the mask, so "
                "they are not the weights the forward used: mask the scores before the softmax here too",
                _wrong_backward(_right_dS, P_masked=False)),
        Mistake("mask_on_gradient_only", "you masked the gradient dS but computed the weights without the mask: "
                "mask the scores before the softmax; then the masked weights are 0 and dS needs no mask",
                _wrong_backward(_right_dS, P_masked=False, mask_dS=True)),
    ],
    release_hint="recompute the masked weights P as in the forward; then dv from P, dP from v, dS through the "
                 "softmax's Jacobian row by row, and dq, dk from dS (remember the scale)")


# ---- lstm_step_backward -----------------------------------------------------------------------------------------

# (N, D, H): batch size 1, D == H (swapped weights keep their shapes), D != H
LSTM_SETUPS = [(1, 3, 2), (4, 3, 3), (3, 2, 5), (2, 4, 4)]
LSTM_ARGS = ("x", "h_prev", "c_prev", "Wx", "Wh", "b")
LSTM_NAMES = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")


def _lstm_cases(rng):
    cases = []
    for n, d, h in LSTM_SETUPS:
        cases.append({"dh": rng.standard_normal((n, h)), "dc": rng.standard_normal((n, h)),
                      "x": rng.standard_normal((n, d)), "h_prev": np.tanh(rng.standard_normal((n, h))),
                      "c_prev": rng.standard_normal((n, h)), "Wx": rng.standard_normal((d, 4 * h)) / np.sqrt(d),
                      "Wh": rng.standard_normal((h, 4 * h)) / np.sqrt(h), "b": 0.5 * rng.standard_normal(4 * h),
                      "label": f"N={n}, D={d}, H={h}"})
    return finish_cases(cases)


def _h_and_c(x, h_prev, c_prev, Wx, Wh, b):
    h, c, _ = lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
    return np.concatenate([h, c], axis=1)


def _lstm_gradients(case):
    arrays = {k: case[k] for k in LSTM_ARGS}
    dout = np.concatenate([case["dh"], case["dc"]], axis=1)
    return {f"d{k}": gradient(_h_and_c, arrays, k, dout) for k in LSTM_ARGS}


def _wrong_lstm(forget_in_input_slot=False, dc_prev_without_f=False, no_tanh_c_derivative=False,
                g_as_sigmoid=False):
    """An LSTM step backward whose only errors are the ones switched on."""
    def wrong(dh, dc, x, h_prev, c_prev, Wx, Wh, b):
        H = h_prev.shape[1]
        a = x @ Wx + h_prev @ Wh + b
        i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 3 * H:])
        g = np.tanh(a[:, 2 * H:3 * H])
        c = f * c_prev + i * g
        tc = np.tanh(c)
        dc_total = dc + dh * o * (1.0 if no_tanh_c_derivative else 1 - tc ** 2)
        di = dc_total * g * i * (1 - i)
        df = dc_total * c_prev * f * (1 - f)
        dg = dc_total * i * (g * (1 - g) if g_as_sigmoid else 1 - g ** 2)
        do = dh * tc * o * (1 - o)
        blocks = [df, di, dg, do] if forget_in_input_slot else [di, df, dg, do]
        da = np.concatenate(blocks, axis=1)
        dc_prev = dc_total if dc_prev_without_f else dc_total * f
        return da @ Wx.T, da @ Wh.T, dc_prev, x.T @ da, h_prev.T @ da, da.sum(axis=0)
    return wrong


LSTM_STEP_BACKWARD = function_spec(
    "lstm_step_backward", "lstm_step_backward(dh, dc, x, h_prev, c_prev, Wx, Wh, b) -> (dx, dh_prev, dc_prev, "
    "dWx, dWh, db)",
    make_cases=_lstm_cases,
    call=drivers.function("lstm_step_backward", args=("dh", "dc", *LSTM_ARGS), returns=LSTM_NAMES),
    finite_differences=True, expected=_lstm_gradients,
    checks=[returns_check(LSTM_NAMES, 0.5), unchanged_check(("dh", "dc", *LSTM_ARGS), 0.5),
            value_check("dx", 0.5, "central differences", hint="dx = da @ Wx.T, with da the four gates' "
                        "pre-activation gradients side by side (N, 4H)"),
            value_check("dh_prev", 0.5, "central differences", hint="dh_prev = da @ Wh.T"),
            value_check("dc_prev", 1.0, "central differences", hint="the cell path: dc_prev = (dc + dh * o * (1 - "
                        "tanh(c)**2)) * f"),
            value_check("dWx", 0.5, "central differences", hint="dWx = x.T @ da, shape (D, 4H)"),
            value_check("dWh", 0.5, "central differences", hint="dWh = h_prev.T @ da, shape (H, 4H)"),
            value_check("db", 0.5, "central differences", hint="db sums da over the batch: shape (4H,)")],
    mistakes=[
        Mistake("forget_gradient_in_wrong_slice", "the forget gate's gradient belongs in the SECOND block of da "
                "(columns H:2H; PyTorch's order is input, forget, cell, output); you put it in the input gate's",
                _wrong_lstm(forget_in_input_slot=True)),
        Mistake("dc_prev_without_forget_gate", "c = f * c_prev + i * g, so the cell path multiplies by the forget "
                "gate: dc_prev = dc_total * f", _wrong_lstm(dc_prev_without_f=True)),
        Mistake("no_tanh_derivative_on_c", "h = o * tanh(c): the gradient reaching c from h is dh * o * (1 - "
                "tanh(c)**2); you left out tanh's derivative", _wrong_lstm(no_tanh_c_derivative=True)),
        Mistake("cell_gate_as_sigmoid", "the cell candidate g is a tanh, so its derivative is 1 - g**2, not "
                "g * (1 - g)", _wrong_lstm(g_as_sigmoid=True)),
    ],
    release_hint="recompute the gates and c; the gradient reaching c is dc plus what comes from h through tanh; "
                 "then each gate's pre-activation gradient, side by side in PyTorch's order, feeds dx, dh_prev, "
                 "dWx, dWh and db")


EXERCISE = exercise("ex12", "Attention and the LSTM: attention forward and backward, one LSTM step backward",
                    [ATTENTION_FORWARD, ATTENTION_BACKWARD, LSTM_STEP_BACKWARD])
