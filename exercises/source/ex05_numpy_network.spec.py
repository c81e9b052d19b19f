"""Spec of ex05 (format: docs/authoring.md; the reference solutions are the notebook's solution cells).

ex05, a NumPy network: the loss and every parameter gradient of a two-layer ReLU net with softmax cross-entropy.

Shapes: X (N, D), y (N,) integer labels, W1 (D, H), b1 (H,), W2 (H, C), b2 (C,). The reference loss is built from
``bpkit.nn`` (Linear, ReLU, softmax_cross_entropy); each gradient is checked against central differences of it.
Inputs are drawn so that no hidden pre-activation is within 0.05 of ReLU's kink.
"""
from bpkit.exercises.authoring import *  # noqa: F403

from bpkit.nn.layers import Linear, ReLU
from bpkit.nn.losses import softmax_cross_entropy

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


def _kink_case(rng):
    """A sample of zeros and exact zeros in b1: some hidden pre-activations are exactly 0 (ReLU'(0) = 0)."""
    case = _draw(rng, 3, 2, 4, 3)
    case["X"][0] = 0.0
    case["b1"][[0, 2]] = 0.0
    case["label"] = "N=3, D=2, H=4, C=3, some hidden pre-activations exactly 0"
    return case


def _stress_case(rng):
    """Scores far apart: one sample's scores near 0, one's hundreds away, and classes spanning ~1000."""
    case = _draw(rng, 3, 2, 4, 3)
    case["X"][1] *= 200.0
    case["b2"] = np.array([-180.0, 320.0, 800.0]) + 0.1 * rng.standard_normal(3)
    h = np.maximum(case["X"] @ case["W1"] + case["b1"], 0)
    scores = h @ case["W2"] + case["b2"]
    case["y"] = np.argsort(scores, axis=1)[:, -2]          # the second-best class: a finite loss
    case["label"] = "N=3, D=2, H=4, C=3, scores far apart (stability)"
    return case


def _cases(rng):
    return finish_cases([_draw(rng, *shape) for shape in SHAPES] + [_kink_case(rng), _stress_case(rng)])


def _exact(case):
    """The solution's own outputs: for the cases at the kink or with huge scores, where central differences do
    not give the convention (ReLU'(0) = 0) or lose digits."""
    params = {k: np.array(case[k], dtype=np.float64) for k in NAMES}
    loss, grads = EXERCISE.reference("two_layer_net")(params, case["X"].copy(), case["y"].copy())
    return {"loss": np.float64(loss), **{f"d{k}": np.asarray(grads[k]) for k in NAMES}}


def _reference_loss(X, y, W1, b1, W2, b2):
    first, second = Linear(*W1.shape), Linear(*W2.shape)
    first.params.update(W=W1, b=b1)
    second.params.update(W=W2, b=b2)
    return softmax_cross_entropy(second.forward(ReLU().forward(first.forward(X))), y)[0]


def _expected(case):
    z = case["X"] @ case["W1"] + case["b1"]
    if np.any(z == 0) or np.abs(case["b2"]).max() > 100:
        return _exact(case)
    arrays = {k: case[k] for k in ("X", "y", *NAMES)}
    grads = {f"d{k}": gradient(_reference_loss, arrays, k) for k in NAMES}
    return {"loss": np.float64(_reference_loss(**arrays)), **grads}


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
    "two_layer_net", "two_layer_net(params, X, y) -> (loss, grads)", make_cases=_cases, call=drivers.params_function("two_layer_net", params=NAMES, args=("X", "y")),
    finite_differences=True, expected=_expected, checks=CHECKS,
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


EXERCISE = exercise("ex05", "A NumPy network: a two-layer net's loss and gradients", [TWO_LAYER_NET])
