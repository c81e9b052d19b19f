"""ex12 (attention_forward, attention_backward, lstm_step_backward): the references earn full marks, stubs earn
nothing, the cases cover what the issue asks (causal and no mask, batch size 1, Tq != Tk, large scores), and each
catalogued mistake, written again independently here (per query row and per gate, the way a student might), is in
WRONG; test_exercises.py checks each fails and gets its own hint and no other mistake's."""
from __future__ import annotations

import numpy as np
import pytest

from bpkit.exercises.catalog import find_function, get_exercise
from bpkit.exercises.runner import public_cases, run_checks


def score(rows):
    return sum(r.points for r in rows), sum(r.max_points for r in rows)


SPECS = get_exercise("ex12").functions


def test_exercise_is_catalogued_with_its_notebook():
    assert get_exercise("12").notebook == "ex12_attention.ipynb"
    assert [s.name for s in SPECS] == ["attention_forward", "attention_backward", "lstm_step_backward"]
    assert find_function("lstm_step_backward")[0].id == "ex12"


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_reference_gets_full_marks_and_a_stub_none(spec):
    got, full = score(run_checks(spec, spec.reference))
    assert got == pytest.approx(full) and full == pytest.approx(spec.points)

    def stub(*args):
        raise NotImplementedError

    assert score(run_checks(spec, stub))[0] == 0


def test_cases_have_causal_and_no_masks_batch_one_and_large_scores():
    for name in ("attention_forward", "attention_backward"):
        cases = public_cases(find_function(name)[1])
        masks = [c["mask"] for c in cases]
        assert any(m.all() for m in masks) and any(not m.all() and np.array_equal(m, np.tri(*m.shape, dtype=bool))
                                                   for m in masks)
        assert any(c["q"].shape[0] == 1 for c in cases) and any(c["q"].shape[1] != c["k"].shape[1] for c in cases)
        scores = [c["q"] @ np.swapaxes(c["k"], -1, -2) / np.sqrt(c["q"].shape[-1]) for c in cases]
        assert max(s.max() for s in scores) > 710            # e^710 overflows: the row's max must come off first
        assert max((s.max(axis=-1) - s.min(axis=-1)).max() for s in scores) > 1000


# ---- independent wrong answers ----------------------------------------------------------------------------------

def _row_softmax(s):
    out = np.zeros_like(s)
    for idx in np.ndindex(s.shape[:-1]):
        row = s[idx]
        e = np.exp(row - row.max())
        out[idx] = e / e.sum()
    return out


def _attention(q, k, v, mask, scale=True, masked=True, where="scores", axis=-1):
    d = q.shape[-1]
    s = np.einsum("nid,njd->nij", q, k) / (np.sqrt(d) if scale else 1.0)
    if masked and where == "scores":
        s = np.where(mask[None], s, -np.inf)
    if axis == -1:
        P = _row_softmax(s)
    else:
        P = np.swapaxes(_row_softmax(np.swapaxes(s, -1, -2)), -1, -2)
    if masked and where == "weights":
        P = P * mask[None]
    return np.einsum("nij,njd->nid", P, v), P


def _attention_backward(dout, q, k, v, mask, diagonal=False, scale_back=True, masked_P=True, mask_dS=False):
    d = q.shape[-1]
    _, P = _attention(q, k, v, mask, masked=masked_P)
    dv = np.einsum("nij,nid->njd", P, dout)
    dP = np.einsum("nid,njd->nij", dout, v)
    dS = np.empty_like(P)
    for n in range(P.shape[0]):
        for i in range(P.shape[1]):
            p, g = P[n, i], dP[n, i]
            jac = np.diag(p) if diagonal else np.diag(p) - np.outer(p, p)
            dS[n, i] = jac @ g
    if mask_dS:
        dS = dS * mask[None]
    c = 1 / np.sqrt(d) if scale_back else 1.0
    return np.einsum("nij,njd->nid", dS, k) * c, np.einsum("nij,nid->njd", dS, q) * c, dv


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _lstm_backward(dh, dc, x, h_prev, c_prev, Wx, Wh, b, swap_if=False, keep_dc=False, no_tanh_prime=False,
                   g_sigmoid=False):
    H = h_prev.shape[1]
    z = x @ Wx + h_prev @ Wh + b
    gates = [z[:, j * H:(j + 1) * H] for j in range(4)]
    i, f, o = _sig(gates[0]), _sig(gates[1]), _sig(gates[3])
    g = np.tanh(gates[2])
    c = f * c_prev + i * g
    through_h = dh * o if no_tanh_prime else dh * o * (1 - np.tanh(c) ** 2)
    total = dc + through_h
    d_i = total * g * i * (1 - i)
    d_f = total * c_prev * f * (1 - f)
    d_g = total * i * (g * (1 - g) if g_sigmoid else (1 - g * g))
    d_o = dh * np.tanh(c) * o * (1 - o)
    dz = np.hstack([d_f, d_i, d_g, d_o] if swap_if else [d_i, d_f, d_g, d_o])
    return (dz @ Wx.T, dz @ Wh.T, total if keep_dc else total * f, x.T @ dz, h_prev.T @ dz, dz.sum(0))


WRONG = {
    ("attention_forward", "no_scale"): lambda q, k, v, mask: _attention(q, k, v, mask, scale=False)[0],
    ("attention_forward", "no_mask"): lambda q, k, v, mask: _attention(q, k, v, mask, masked=False)[0],
    ("attention_forward", "mask_after_softmax"):
        lambda q, k, v, mask: _attention(q, k, v, mask, where="weights")[0],
    ("attention_forward", "softmax_over_queries"): lambda q, k, v, mask: _attention(q, k, v, mask, axis=-2)[0],
    ("attention_backward", "diagonal_jacobian"):
        lambda dout, q, k, v, mask: _attention_backward(dout, q, k, v, mask, diagonal=True),
    ("attention_backward", "no_scale_in_backward"):
        lambda dout, q, k, v, mask: _attention_backward(dout, q, k, v, mask, scale_back=False),
    ("attention_backward", "mask_forgotten_in_backward"):
        lambda dout, q, k, v, mask: _attention_backward(dout, q, k, v, mask, masked_P=False),
    ("attention_backward", "mask_on_gradient_only"):
        lambda dout, q, k, v, mask: _attention_backward(dout, q, k, v, mask, masked_P=False, mask_dS=True),
    ("lstm_step_backward", "forget_gradient_in_wrong_slice"): lambda *a: _lstm_backward(*a, swap_if=True),
    ("lstm_step_backward", "dc_prev_without_forget_gate"): lambda *a: _lstm_backward(*a, keep_dc=True),
    ("lstm_step_backward", "no_tanh_derivative_on_c"): lambda *a: _lstm_backward(*a, no_tanh_prime=True),
    ("lstm_step_backward", "cell_gate_as_sigmoid"): lambda *a: _lstm_backward(*a, g_sigmoid=True),
}


def test_the_right_versions_of_the_independent_answers_earn_full_marks():
    """The loop versions above, with every error switched off, are right: so each WRONG entry has only its error."""
    right = {"attention_forward": lambda q, k, v, mask: _attention(q, k, v, mask)[0],
             "attention_backward": _attention_backward, "lstm_step_backward": _lstm_backward}
    for spec in SPECS:
        got, full = score(run_checks(spec, right[spec.name]))
        assert got == pytest.approx(full), spec.name
