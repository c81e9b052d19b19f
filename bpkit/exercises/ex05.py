"""ex05, a NumPy network: the loss and every parameter gradient of a two-layer ReLU net with softmax cross-entropy.

Shapes: X (N, D), y (N,) integer labels, W1 (D, H), b1 (H,), W2 (H, C), b2 (C,). The reference loss is built from
``bpkit.nn`` (Linear, ReLU, softmax_cross_entropy); each gradient is checked against central differences of it.
Inputs are drawn so that no hidden pre-activation is within 0.05 of ReLU's kink.
"""
from __future__ import annotations

import numpy as np

from ..nn.layers import Linear, ReLU
from ..nn.losses import softmax_cross_entropy
from .calling import copies, plain
from .checks import INPUT, finish_cases, function_spec, gradient, returns_check, unchanged_check, value_check
from .spec import Exercise, Mistake

NAMES = ("W1", "b1", "W2", "b2")
SHAPES = [(1, 3, 4, 3), (5, 4, 6, 3), (4, 2, 5, 5), (6, 3, 3, 2)]   # (N, D, H, C)
MARGIN = 0.05


def _draw(rng, n, d, h, c):
    while True:
        case = {"X": rng.standard_normal((n, d)), "y": rng.integers(0, c, n),
                "W1": rng.standard_normal((d, h)) / np.sqrt(d), "b1": 0.1 * rng.standard_normal(h),
                "W2": rng.standard_normal((h, c)) / np.sqrt(h), "b2": 0.1 * rng.standard_normal(c),
                "label": f"N={n}, D={d}, H={h}, C={c}"}
        if np.abs(case["X"] @ case["W1"] + case["b1"]).min() > MARGIN:
            return case


def _cases(rng):
    return finish_cases([_draw(rng, *shape) for shape in SHAPES])


def _reference_loss(X, y, W1, b1, W2, b2):
    first, second = Linear(*W1.shape), Linear(*W2.shape)
    first.params.update(W=W1, b=b1)
    second.params.update(W=W2, b=b2)
    return softmax_cross_entropy(second.forward(ReLU().forward(first.forward(X))), y)[0]


def _expected(case):
    arrays = {k: case[k] for k in ("X", "y", *NAMES)}
    grads = {f"d{k}": gradient(_reference_loss, arrays, k) for k in NAMES}
    return {"loss": np.float64(_reference_loss(**arrays)), **grads}


def _call(fn, case):
    X, y, *values = copies(case, ("X", "y", *NAMES))
    params = dict(zip(NAMES, values))
    result = fn(params, X, y)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return {"__invalid__": "two_layer_net should return 2 values (loss, grads)"}
    loss, grads = result
    outputs = {"loss": plain(loss), INPUT + "X": X, INPUT + "y": y}
    for name in NAMES:
        got = grads.get(name, "!nothing") if isinstance(grads, dict) else "!nothing"
        outputs[f"d{name}"] = got if isinstance(got, str) else plain(got)
        outputs[INPUT + name] = params[name]
    return outputs


def _net(params, X, y, mistake=""):
    """The analytic forward and backward pass, or one catalogued mistake in it."""
    W1, b1, W2, b2 = (params[k] for k in NAMES)
    z = X @ W1 + b1
    h = np.maximum(z, 0)
    loss, dscores = softmax_cross_entropy(h @ W2 + b2, y)
    n = X.shape[0]
    if mistake == "not_averaged":
        dscores = dscores * n
    if mistake == "sign":
        dscores = -dscores
    dW2 = dscores.T @ h if mistake == "dW2_transposed" else h.T @ dscores
    db2 = dscores if mistake == "db_not_summed" else dscores.sum(axis=0)
    dh = dscores @ W2.T
    dz = dh if mistake == "relu_forgotten" else dh * (z > 0)
    dW1 = X.T @ dz
    db1 = dz if mistake == "db_not_summed" else dz.sum(axis=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def two_layer_net(params, X, y):
    """params W1 (D, H), b1 (H,), W2 (H, C), b2 (C,); X (N, D); y (N,) -> (loss, grads with params' keys)."""
    return _net(params, X, y)


def _mistake(kind):
    return lambda params, X, y: _net(params, X, y, kind)


CHECKS = [returns_check(("loss", "dW1", "db1", "dW2", "db2"), 0.5, name="returns the loss and grads W1, b1, W2, b2 "
                        "with the right shapes and dtype", hint="return (loss, grads) with grads a dict holding "
                        "W1, b1, W2, b2, each shaped like its parameter"),
          unchanged_check(("X", *NAMES), 0.5),
          value_check("loss", 1.0, "the reference loss", hint="scores = relu(X @ W1 + b1) @ W2 + b2, then the mean "
                      "softmax cross-entropy over the batch")]
CHECKS += [value_check(f"d{k}", 1.0, "central differences", hint=f"grads['{k}'] has the shape of {k}; go back "
                       "through the layers in reverse order, one chain-rule step each") for k in NAMES]

TWO_LAYER_NET = function_spec(
    "two_layer_net", "two_layer_net(params, X, y) -> (loss, grads)", reference=two_layer_net,
    make_cases=_cases, call=_call, expected=_expected, checks=CHECKS,
    mistakes=[
        Mistake("relu_forgotten", "the gradient went through ReLU unchanged: multiply dh by ReLU's local "
                "derivative (z > 0), with z = X @ W1 + b1", _mistake("relu_forgotten")),
        Mistake("dW2_transposed", "your dW2 is transposed: dW2 = h.T @ dscores, shape (H, C)",
                _mistake("dW2_transposed")),
        Mistake("db_not_summed", "db1 and db2 must be summed over the batch (axis=0): one entry per unit",
                _mistake("db_not_summed")),
        Mistake("not_averaged", "your gradients are N times too big: the loss is a mean, so dscores = "
                "(p - onehot(y)) / N", _mistake("not_averaged")),
        Mistake("sign_flipped", "your gradients have the wrong sign: dscores = p - onehot(y)", _mistake("sign")),
    ],
    release_hint="forward through Linear, ReLU, Linear and softmax cross-entropy, then back through them "
                 "in reverse order, one chain-rule step each")


EXERCISE = Exercise("ex05", "A NumPy network: a two-layer net's loss and gradients", "ex05_numpy_network.ipynb",
                    [TWO_LAYER_NET])
