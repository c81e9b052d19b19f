"""ex11 (backprop by hand through everything): the reference's fifteen gradients against central differences of the
loss taken from each intermediate on, and the catalogued mistakes written again independently (used by
tests/test_exercises.py, which asserts each gets its own hint)."""
from __future__ import annotations

import numpy as np
import pytest

from bpkit.exercises.catalog import get_exercise
from bpkit.exercises.runner import public_cases
from bpkit.gradcheck import TOLERANCE, numerical_gradient, relative_error

EX11 = get_exercise("ex11")
NAMES = ("dlogits", "dW2", "db2", "dh", "dh_bn", "dgamma", "dbeta", "dxhat", "dinv_std", "dvar", "dc", "dmu",
         "dh_pre", "dW1", "dX")
ARGS = ("X", "y", "W1", "gamma", "beta", "W2", "b2")
EPS = 1e-5


def _ce(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    return float(-(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))).mean())


def _from_logits(y):
    return lambda logits: _ce(logits, y)


def _from_h(y, W2, b2):
    return lambda h: _ce(h @ W2 + b2, y)


def _from_h_bn(y, W2, b2):
    return lambda h_bn: _ce(np.tanh(h_bn) @ W2 + b2, y)


def _from_xhat(y, gamma, beta, W2, b2):
    return lambda xhat: _ce(np.tanh(gamma * xhat + beta) @ W2 + b2, y)


def _forward_intermediates(X, W1):
    h_pre = X @ W1
    mu = h_pre.mean(axis=0, keepdims=True)
    c = h_pre - mu
    var = (c ** 2).mean(axis=0, keepdims=True)
    return h_pre, mu, c, var, (var + EPS) ** -0.5


def _loss(X, y, W1, gamma, beta, W2, b2):
    h_pre, mu, c, var, inv_std = _forward_intermediates(X, W1)
    return _from_xhat(y, gamma, beta, W2, b2)(c * inv_std)


@pytest.mark.parametrize("case", public_cases(EX11.functions[1]), ids=lambda c: c["label"])
def test_every_intermediate_gradient_of_the_reference_is_a_central_difference(case):
    args = {k: case[k] for k in ARGS}
    got = dict(zip(NAMES, EX11.reference("network_backward")(**args)))
    X, y, W1, gamma, beta, W2, b2 = (np.array(v, dtype=float) if k != "y" else v for k, v in args.items())
    h_pre, mu, c, var, inv_std = _forward_intermediates(X, W1)
    xhat = c * inv_std
    h_bn = gamma * xhat + beta
    h = np.tanh(h_bn)
    tail = _from_xhat(y, gamma, beta, W2, b2)
    at = {   # name -> (the loss as a function of that value alone, the value)
        "dlogits": (_from_logits(y), h @ W2 + b2), "dh": (_from_h(y, W2, b2), h),
        "dh_bn": (_from_h_bn(y, W2, b2), h_bn), "dxhat": (tail, xhat),
        "dinv_std": (lambda s: tail(c * s), inv_std.copy()),
        "dvar": (lambda v: tail(c * (v + EPS) ** -0.5), var.copy()),
        "dc": (lambda c_: tail(c_ * ((c_ ** 2).mean(axis=0, keepdims=True) + EPS) ** -0.5), c.copy()),
        "dmu": (lambda m: tail((h_pre - m) * (((h_pre - m) ** 2).mean(axis=0, keepdims=True) + EPS) ** -0.5),
                mu.copy()),
        "dh_pre": (lambda hp: tail((hp - hp.mean(axis=0, keepdims=True)) * (
            ((hp - hp.mean(axis=0, keepdims=True)) ** 2).mean(axis=0, keepdims=True) + EPS) ** -0.5), h_pre.copy()),
        "dW2": (lambda w: _ce(h @ w + b2, y), W2.copy()), "db2": (lambda b: _ce(h @ W2 + b, y), b2.copy()),
        "dgamma": (lambda g: _from_h_bn(y, W2, b2)(g * xhat + beta), gamma.copy()),
        "dbeta": (lambda b: _from_h_bn(y, W2, b2)(gamma * xhat + b), beta.copy()),
        "dW1": (lambda w: _loss(X, y, w, gamma, beta, W2, b2), W1.copy()),
        "dX": (lambda x: _loss(x, y, W1, gamma, beta, W2, b2), X.copy()),
    }
    for name, (f, value) in at.items():
        numeric = numerical_gradient(f, value)
        assert got[name].shape == value.shape, name
        assert relative_error(got[name], numeric) <= TOLERANCE, name
    assert set(at) == set(NAMES)
    # a bias before BatchNorm would be absorbed by the mean: dh_pre sums to 0 over the batch
    assert np.abs(got["dh_pre"].sum(axis=0)).max() < 1e-12


def test_batchnorm_backward_reference_matches_bpkits_layer():
    import bpkit.nn.functional as F

    for case in public_cases(EX11.functions[0]):
        dx, dgamma, dbeta = EX11.reference("batchnorm_backward")(case["dout"], case["x"], case["gamma"], case["eps"])
        want = F.batchnorm_backward(case["dout"], F.batchnorm_forward(case["x"], case["gamma"],
                                                                      np.zeros_like(case["gamma"]))[1])
        for a, b in zip((dx, dgamma, dbeta), want):
            assert np.allclose(a, b, rtol=1e-12, atol=1e-14)


# ---- the catalogued mistakes, written again independently ---------------------------------------------------------

def _bn(dout, x, gamma, eps=1e-5, paths=("mean", "var"), ddof=0):
    n = len(x)
    centred = x - x.mean(0)
    std = np.sqrt(x.var(0, ddof=ddof) + eps)
    xhat = centred / std
    g = dout * gamma
    dx = g.copy()
    if "mean" in paths:
        dx = dx - g.mean(0)
    if "var" in paths:
        dx = dx - xhat * (g * xhat).mean(0)
    return dx / std, (dout * xhat).sum(0), dout.sum(0)


def _net(X, y, W1, gamma, beta, W2, b2, eps=1e-5, mistake=""):
    n = len(X)
    hp = X @ W1
    m = hp.mean(0, keepdims=True)
    c = hp - m
    v = (c * c).mean(0, keepdims=True)
    s = 1 / np.sqrt(v + eps)
    xh = c * s
    hb = gamma * xh + beta
    h = np.tanh(hb)
    z = h @ W2 + b2
    p = np.exp(z - z.max(1, keepdims=True))
    p = p / p.sum(1, keepdims=True)
    dz = p - np.eye(z.shape[1])[y]
    dz = dz if mistake == "no_batch_mean" else dz / n
    dh = dz @ W2.T
    dhb = dh * (1 - hb * hb) if mistake == "tanh_from_input" else dh * (1 - h * h)
    dxh = dhb * gamma
    ds = np.sum(dxh * c, axis=0, keepdims=True)
    dv = ds * (-0.5) * s ** 3
    dc = dxh * s
    if mistake != "no_variance_path":
        dc = dc + dv * 2 * c * (1 if mistake == "variance_without_1_over_N" else 1 / n)
    dm = -np.sum(dc, axis=1 if mistake == "mean_wrong_axis" else 0, keepdims=True)
    dhp = dc + dm * (1 if mistake == "mean_without_1_over_N" else 1 / n)
    return (dz, h.T @ dz, dz.sum(0), dh, dhb, (dhb * xh).sum(0), dhb.sum(0), dxh, ds, dv, dc, dm, dhp,
            X.T @ dhp, dhp @ W1.T)


WRONG = {
    ("batchnorm_backward", "no_variance_path"): lambda d, x, g, eps=1e-5: _bn(d, x, g, eps, paths=("mean",)),
    ("batchnorm_backward", "no_mean_path"): lambda d, x, g, eps=1e-5: _bn(d, x, g, eps, paths=("var",)),
    ("batchnorm_backward", "direct_only"): lambda d, x, g, eps=1e-5: _bn(d, x, g, eps, paths=()),
    ("batchnorm_backward", "unbiased"): lambda d, x, g, eps=1e-5: _bn(d, x, g, eps, ddof=1),
    **{("network_backward", name): (lambda name: lambda *a, **k: _net(*a, **k, mistake=name))(name)
       for name in ("no_batch_mean", "tanh_from_input", "no_variance_path", "variance_without_1_over_N",
                    "mean_without_1_over_N", "mean_wrong_axis")},
}


def test_the_independent_mistakes_differ_from_the_reference_and_the_right_one_does_not():
    case = public_cases(EX11.functions[1])[0]
    args = [case[k] for k in ARGS]
    right = EX11.reference("network_backward")(*args)
    assert all(np.allclose(a, b) for a, b in zip(_net(*args), right))
    for (fn, name), wrong in WRONG.items():
        if fn == "network_backward":
            assert not all(np.allclose(a, b) for a, b in zip(wrong(*args), right)), name
