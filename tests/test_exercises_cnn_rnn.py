"""ex09 (conv2d_backward, maxpool_backward) and ex10 (rnn_step_forward, rnn_step_backward): the references earn full
marks, stubs earn nothing, and each catalogued mistake, written again independently here (as loops, the way a
student would); test_exercises.py checks each fails and gets its own hint and no other mistake's."""
from __future__ import annotations

import numpy as np
import pytest

from bpkit.exercises.catalog import find_function, get_exercise
from bpkit.exercises.runner import public_cases, run_checks


def score(rows):
    return sum(r.points for r in rows), sum(r.max_points for r in rows)


SPECS = [spec for eid in ("ex09", "ex10") for spec in get_exercise(eid).functions]


def test_exercises_are_catalogued_with_their_notebooks():
    assert get_exercise("9").notebook == "ex09_cnn.ipynb" and get_exercise("ex10").notebook == "ex10_rnn.ipynb"
    assert [s.name for s in SPECS] == ["conv2d_backward", "maxpool_backward", "rnn_step_forward",
                                       "rnn_step_backward"]
    assert find_function("rnn_step_backward")[0].id == "ex10"


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_reference_gets_full_marks_and_a_stub_none(spec):
    got, full = score(run_checks(spec, spec.reference))
    assert got == pytest.approx(full) and full == pytest.approx(spec.points)
    assert len(spec.mistakes) >= 3

    def stub(*args):
        raise NotImplementedError

    rows = run_checks(spec, stub)
    assert score(rows)[0] == 0


def test_cases_cover_batch_one_stride_padding_and_overlap():
    conv = public_cases(find_function("conv2d_backward")[1])
    assert any(c["x"].shape[0] == 1 for c in conv)
    assert {c["stride"] for c in conv} >= {1, 2} and {c["pad"] for c in conv} >= {0, 1, 2}
    pool = public_cases(find_function("maxpool_backward")[1])
    assert any(c["stride"] < c["size"] for c in pool)
    for c in pool:  # no two values of x within 0.05: the max of a window never changes within h
        values = np.sort(c["x"].ravel())
        assert np.min(np.diff(values)) >= 0.05 - 1e-12


# ---- independent wrong answers, written as loops --------------------------------------------------------------

def conv_loop(dout, x, W, b, stride, pad, flip=False, overwrite=False, keep_pad=False, dW_order="right",
              db_mode="sum"):
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    Wuse = W[:, :, ::-1, ::-1] if flip else W
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dW = np.zeros_like(xp), np.zeros_like(W)
    Ho, Wo = dout.shape[2:]
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
                contribution = np.einsum("f,fchw->chw", dout[n, :, i, j], Wuse)
                if overwrite:
                    dxp[n, :, rows, cols] = contribution
                else:
                    dxp[n, :, rows, cols] += contribution
                dW += np.einsum("f,chw->fchw", dout[n, :, i, j], xp[n, :, rows, cols])
    if dW_order == "reshaped":   # the (C kh kw, F) matrix reshaped straight to (F, C, kh, kw)
        dW = dW.reshape(F, -1).T.reshape(W.shape)
    dx = dxp if keep_pad else dxp[:, :, pad:pad + H, pad:pad + Wd]
    db = {"sum": dout.sum(axis=(0, 2, 3)), "batch": dout.sum(axis=0), "mean": dout.mean(axis=(0, 2, 3))}[db_mode]
    return dx, dW, db


def pool_loop(dout, x, size, stride, mode="argmax", overwrite=False):
    dx = np.zeros_like(x)
    N, C, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    r0, c0 = i * stride, j * stride
                    window = x[n, c, r0:r0 + size, c0:c0 + size]
                    k = int(np.argmax(window))
                    r, q = divmod(k, size)
                    g = dout[n, c, i, j]
                    if mode == "mean":
                        dx[n, c, r0:r0 + size, c0:c0 + size] += g / size ** 2
                    elif mode == "all":
                        dx[n, c, r0:r0 + size, c0:c0 + size] += g
                    elif mode == "ones":
                        dx[n, c, r0 + r, c0 + q] += 1.0
                    elif mode == "swapped":
                        dx[n, c, r0 + q, c0 + r] += g
                    elif overwrite:
                        dx[n, c, r0 + r, c0 + q] = g
                    else:
                        dx[n, c, r0 + r, c0 + q] += g
    return dx


def rnn_back(dh, x, h_prev, h, Wx, Wh, da_mode="right", dWh_state="prev", Wh_T=True, db_sum=True, dh_prev_raw=False):
    da = {"right": dh * (1 - h ** 2), "none": dh, "1-h": dh * (1 - h)}[da_mode]
    dh_prev = dh if dh_prev_raw else (da @ Wh.T if Wh_T else da @ Wh)
    dWh = (h_prev if dWh_state == "prev" else h).T @ da
    return da @ Wx.T, dh_prev, x.T @ da, dWh, (da.sum(axis=0) if db_sum else da)


WRONG = {
    ("conv2d_backward", "overlap_overwritten"): lambda *a: conv_loop(*a, overwrite=True),
    ("conv2d_backward", "filter_flipped"): lambda *a: conv_loop(*a, flip=True)[:1] + conv_loop(*a)[1:],
    ("conv2d_backward", "padding_kept"): lambda *a: conv_loop(*a, keep_pad=True),
    ("conv2d_backward", "dW_reshaped_not_transposed"): lambda *a: conv_loop(*a, dW_order="reshaped"),
    ("conv2d_backward", "db_batch_only"): lambda *a: conv_loop(*a, db_mode="batch"),
    ("conv2d_backward", "db_mean"): lambda *a: conv_loop(*a, db_mode="mean"),
    ("maxpool_backward", "spread_evenly"): lambda *a: pool_loop(*a, mode="mean"),
    ("maxpool_backward", "mask_without_dout"): lambda *a: pool_loop(*a, mode="ones"),
    ("maxpool_backward", "overlap_overwritten"): lambda *a: pool_loop(*a, overwrite=True),
    ("maxpool_backward", "argmax_row_col_swapped"): lambda *a: pool_loop(*a, mode="swapped"),
    ("maxpool_backward", "gradient_to_all"): lambda *a: pool_loop(*a, mode="all"),
    ("rnn_step_forward", "no_tanh"): lambda x, hp, Wx, Wh, b: x @ Wx + hp @ Wh + b,
    ("rnn_step_forward", "sigmoid"): lambda x, hp, Wx, Wh, b: 1 / (1 + np.exp(-(x @ Wx + hp @ Wh + b))),
    ("rnn_step_forward", "no_recurrence"): lambda x, hp, Wx, Wh, b: np.tanh(x @ Wx + b),
    ("rnn_step_forward", "weights_swapped"): lambda x, hp, Wx, Wh, b: np.tanh(x @ Wh + hp @ Wx + b),
    ("rnn_step_forward", "no_bias"): lambda x, hp, Wx, Wh, b: np.tanh(x @ Wx + hp @ Wh),
    ("rnn_step_backward", "no_tanh_derivative"): lambda *a: rnn_back(*a, da_mode="none"),
    ("rnn_step_backward", "tanh_derivative_1_minus_h"): lambda *a: rnn_back(*a, da_mode="1-h"),
    ("rnn_step_backward", "dWh_with_h"): lambda *a: rnn_back(*a, dWh_state="h"),
    ("rnn_step_backward", "Wh_not_transposed"): lambda *a: rnn_back(*a, Wh_T=False),
    ("rnn_step_backward", "db_not_summed"): lambda *a: rnn_back(*a, db_sum=False),
    ("rnn_step_backward", "dh_prev_is_dh"): lambda *a: rnn_back(*a, dh_prev_raw=True),
}
def test_the_loop_versions_of_the_right_answers_are_right():
    """The loops above, with no mistake switched on, earn full marks: the wrong versions differ by one thing."""
    for name, fn in [("conv2d_backward", conv_loop), ("maxpool_backward", pool_loop),
                     ("rnn_step_backward", rnn_back)]:
        spec = find_function(name)[1]
        got, full = score(run_checks(spec, fn))
        assert got == full, name


def test_an_unknown_conv_mistake_gets_the_general_pointer():
    spec = find_function("conv2d_backward")[1]
    rows = run_checks(spec, lambda *a: (conv_loop(*a)[0], 2 * conv_loop(*a)[1], conv_loop(*a)[2]))
    bad = [r for r in rows if not r.passed]
    assert bad and {r.name for r in bad} == {"dW matches central differences"}
    assert all(r.hint.startswith("dW is 2 times the right one; dW[f, c, i, j] = sum over images") for r in bad)
