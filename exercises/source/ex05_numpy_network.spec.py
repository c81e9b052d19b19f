"""Spec of ex05 (format: docs/authoring.md; the reference solutions are the notebook's solution cells).

ex05, a NumPy network of any depth: lesson 05 wrote the loss and gradients of a two-layer ReLU network line by
line; here ``mlp_loss(params, X, y, reg)`` does it for L layers (L = 1: softmax regression, no hidden layer), with
L2 weight decay on the weights: loss = mean softmax cross-entropy + 0.5 * reg * sum_l ||W_l||^2 (biases free).

Shapes: X (N, D), y (N,) integer labels, W_l (H_{l-1}, H_l), b_l (H_l,) with H_0 = D and H_L = C; reg a float.
The reference loss is built from ``bpkit.nn`` (Linear, ReLU, softmax_cross_entropy); each gradient is checked
against central differences of it. Smooth cases keep every hidden pre-activation at least 0.05 from ReLU's kink;
the kink case (ReLU'(0) = 0) and the large-scores case are checked against the solution's exact outputs.
"""
from bpkit.exercises.authoring import *  # noqa: F403

from bpkit.nn.layers import Linear, ReLU
from bpkit.nn.losses import softmax_cross_entropy

DEPTH = 3                                                   # the deepest case
NAMES = tuple(f"{p}{l}" for l in range(1, DEPTH + 1) for p in ("W", "b"))
WEIGHTS, BIASES = NAMES[0::2], NAMES[1::2]
MARGIN = 0.05
# (N, widths D, H_1, ..., C, regularized): every named dimension differs within a case, batch size 1 among them;
# the last case has equal hidden and output widths, so a ReLU mask taken from the wrong layer has the right shape
SHAPES = [(4, (3, 5), False), (1, (3, 4), True), (5, (4, 6, 3), True), (6, (3, 4, 2), False),
          (4, (2, 5, 3, 6), True), (3, (2, 4, 4, 4), True)]


def _depth(case) -> int:
    return sum(1 for k in WEIGHTS if k in case)


def _draw(rng, n, widths, regularized, label=""):
    while True:
        case = {"X": rng.standard_normal((n, widths[0])), "y": rng.integers(0, widths[-1], n),
                "reg": float(rng.uniform(0.05, 0.5)) if regularized else 0.0}
        for l, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            case[f"W{l}"] = rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)
            case[f"b{l}"] = 0.1 * rng.standard_normal(fan_out)
        hidden = _hidden(case)
        if all(np.abs(z).min() > MARGIN for z in hidden):
            shape = ", ".join(f"H{l}={h}" for l, h in enumerate(widths[1:-1], start=1))
            layers = f"{len(widths) - 1} layer{'s' * (len(widths) > 2)}"
            case["label"] = (f"{layers}: N={n}, D={widths[0]}, {shape + ', ' if shape else ''}C={widths[-1]}, "
                             f"reg {'> 0' if regularized else '= 0'}{label}")
            return case


def _hidden(case):
    """The pre-activations of the hidden layers."""
    h, out = case["X"], []
    for l in range(1, _depth(case)):
        z = h @ case[f"W{l}"] + case[f"b{l}"]
        out.append(z)
        h = np.maximum(z, 0)
    return out


def _kink_case(rng):
    """A sample of zeros and exact zeros in b1: some hidden pre-activations are exactly 0 (ReLU'(0) = 0)."""
    case = _draw(rng, 3, (2, 4, 3), True)
    case["X"][0] = 0.0
    case["b1"][[0, 2]] = 0.0
    case["label"] = "2 layers: N=3, D=2, H1=4, C=3, reg > 0, some hidden pre-activations exactly 0"
    return case


def _stress_case(rng):
    """Scores far apart: one sample's scores near 0, one's hundreds away, and classes spanning ~1000."""
    case = _draw(rng, 3, (2, 4, 3), True)
    case["X"][1] *= 200.0
    case["b2"] = np.array([-180.0, 320.0, 800.0]) + 0.1 * rng.standard_normal(3)
    h = np.maximum(case["X"] @ case["W1"] + case["b1"], 0)
    scores = h @ case["W2"] + case["b2"]
    case["y"] = np.argsort(scores, axis=1)[:, -2]          # the second-best class: a finite loss
    case["label"] = "2 layers: N=3, D=2, H1=4, C=3, reg > 0, scores far apart (stability)"
    return case


def _cases(rng):
    return finish_cases([_draw(rng, *shape) for shape in SHAPES] + [_kink_case(rng), _stress_case(rng)])


def _params(case):
    return {k: np.array(case[k], dtype=np.float64) for k in NAMES if k in case}


def _exact(case):
    """The solution's own outputs: for the cases at the kink or with huge scores, where central differences do
    not give the convention (ReLU'(0) = 0) or lose digits."""
    params = _params(case)
    loss, grads = EXERCISE.reference("mlp_loss")(params, case["X"].copy(), case["y"].copy(), float(case["reg"]))
    return {"loss": np.float64(loss), **{f"d{k}": np.asarray(grads[k]) for k in params}}


def _reference_loss(X, y, reg, **params):
    depth = len(params) // 2
    h = X
    for l in range(1, depth + 1):
        layer = Linear(*params[f"W{l}"].shape)
        layer.params.update(W=params[f"W{l}"], b=params[f"b{l}"])
        h = layer.forward(h)
        if l < depth:
            h = ReLU().forward(h)
    decay = sum(np.sum(params[f"W{l}"] ** 2) for l in range(1, depth + 1))
    return softmax_cross_entropy(h, np.asarray(y).astype(np.int64))[0] + 0.5 * float(reg) * decay


def _expected(case):
    if any(np.any(z == 0) for z in _hidden(case)) or max(np.abs(case[k]).max() for k in BIASES if k in case) > 100:
        return _exact(case)
    arrays = {"X": case["X"], "y": case["y"], "reg": case["reg"], **_params(case)}
    grads = {f"d{k}": gradient(_reference_loss, arrays, k) for k in _params(case)}
    return {"loss": np.float64(_reference_loss(**arrays)), **grads}


def _net(params, X, y, reg, mistake=""):
    """The analytic forward and backward pass, or one catalogued mistake in it."""
    depth = 2 if mistake == "two_layers_only" else len(params) // 2
    n = X.shape[0]
    acts = [X]
    for l in range(1, depth + 1):
        z = acts[-1] @ params[f"W{l}"] + params[f"b{l}"]
        acts.append(np.maximum(z, 0) if l < depth or mistake == "relu_on_scores" else z)
    loss, dz = softmax_cross_entropy(acts[-1], y)
    if mistake == "not_averaged":
        loss, dz = loss * n, dz * n
    if mistake == "relu_on_scores":
        dz = dz * (acts[-1] > 0)
    grads = {}
    for l in range(depth, 0, -1):
        W, b = params[f"W{l}"], params[f"b{l}"]
        loss += 0.5 * reg * np.sum(W * W)
        grads[f"W{l}"] = acts[l - 1].T @ dz + (2 if mistake == "reg_factor_2" else 1) * reg * W
        grads[f"b{l}"] = dz if mistake == "db_not_summed" else dz.sum(axis=0)
        if mistake == "bias_regularized":
            loss += 0.5 * reg * np.sum(b * b)
            grads[f"b{l}"] = grads[f"b{l}"] + reg * b
        if l > 1:
            mask = acts[l] > 0 if mistake == "mask_from_layer_above" else acts[l - 1] > 0
            dz = (dz @ W.T) * mask
    return float(loss), grads


def _mistake(kind):
    return lambda params, X, y, reg: _net(params, X, y, reg, kind)


GRAD_KEYS = tuple(f"d{k}" for k in NAMES)
CHECKS = [returns_check(("loss", *GRAD_KEYS), 0.5, name="returns the loss and a gradient for every parameter, with "
                        "the right shapes and dtype", hint="return (loss, grads) with grads a dict holding a key "
                        "for every key of params, each gradient shaped like its parameter"),
          unchanged_check(("X", *NAMES), 0.5),
          value_check("loss", 1.0, "the reference loss", hint="scores: Linear then ReLU for every layer but the "
                      "last, Linear only for the last; the loss is the mean softmax cross-entropy over the batch "
                      "plus 0.5 * reg * (the sum of the squared entries of every W)"),
          value_check(tuple(f"d{k}" for k in WEIGHTS), 2.0, "central differences",
                      name="the weight gradients dW1 ... dWL match central differences",
                      hint="grads['Wl'] = (the input of layer l).T @ dz_l + reg * Wl; go back through the layers "
                      "in reverse order, one chain-rule step each"),
          value_check(tuple(f"d{k}" for k in BIASES), 2.0, "central differences",
                      name="the bias gradients db1 ... dbL match central differences",
                      hint="grads['bl'] = dz_l summed over the batch; biases are not regularized")]

MLP_LOSS = function_spec(
    "mlp_loss", "mlp_loss(params, X, y, reg) -> (loss, grads)", make_cases=_cases,
    call=drivers.params_function("mlp_loss", params=NAMES, args=("X", "y", "reg")),
    finite_differences=True, expected=_expected, checks=CHECKS,
    mistakes=[
        Mistake("bias_regularized", "you regularized the biases too: weight decay is 0.5 * reg * ||W||^2 on the "
                "weights only; leave the b's out of the penalty and out of its gradient", _mistake("bias_regularized")),
        Mistake("reg_factor_2", "your weight-decay gradient is 2 * reg * W: the penalty has a factor 0.5, "
                "so the derivative of 0.5 * reg * ||W||^2 is reg * W", _mistake("reg_factor_2")),
        Mistake("relu_on_scores", "you applied ReLU to the last layer's scores too: the last layer is Linear only "
                "(its scores go straight into the softmax); ReLU follows every layer but the last",
                _mistake("relu_on_scores")),
        Mistake("mask_from_layer_above", "your ReLU mask comes from the wrong layer: going back from layer l "
                "into layer l-1, multiply by (h_{l-1} > 0), the activations of layer l-1 (the input of layer l), "
                "not by those of layer l", _mistake("mask_from_layer_above")),
        Mistake("db_not_summed", "the bias gradients must be summed over the batch (axis=0): one entry per unit, "
                "shaped like b", _mistake("db_not_summed")),
        Mistake("not_averaged", "you summed the cross-entropy over the batch instead of averaging it: divide the "
                "data loss and dscores = p - onehot(y) by N (the weight-decay term is not divided); with reg = 0 "
                "your loss and gradients are N times too big", _mistake("not_averaged")),
        Mistake("two_layers_only", "your function handles two layers only: read the depth from params "
                "(L = len(params) // 2) and loop over the layers, W1 ... WL; it must work for L = 1 (no hidden "
                "layer) and for L = 3", _mistake("two_layers_only")),
    ],
    release_hint="forward: for l = 1..L, z = h @ Wl + bl, ReLU for every layer but the last; then softmax "
                 "cross-entropy plus 0.5 * reg * sum ||Wl||^2; backward: the layers in reverse, one chain-rule "
                 "step each, + reg * Wl for each weight")


EXERCISE = exercise("ex05", "A NumPy network of any depth: an MLP's loss, weight decay and gradients", [MLP_LOSS])
