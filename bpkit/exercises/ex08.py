"""ex08, why backprop: numerical differentiation by central differences, and per-layer gradient norms.

``numerical_gradient(f, x, h=1e-5)``: the central-difference gradient of a scalar f (2 evaluations per entry of x,
which is why it does not scale); checked against ``bpkit.gradcheck.numerical_gradient`` on a smooth, non-separable f.
``layer_gradient_norms(model, X, y)``: the L2 norm of dW of each Linear layer of a ``bpkit.nn.Sequential`` under the
mean softmax cross-entropy, first layer first (the measurement behind vanishing gradients); checked against norms
of central-difference gradients of the reference loss.
"""
from __future__ import annotations

import numpy as np

from ..gradcheck import numerical_gradient as reference_numerical_gradient
from ..nn.layers import Linear, Sigmoid, Tanh
from ..nn.losses import softmax_cross_entropy
from ..nn.model import Sequential
from .calling import copies, unpack
from .checks import INPUT, finish_cases, function_spec, gradient, returns_check, unchanged_check, value_check
from .spec import Exercise, Mistake

# ---- numerical_gradient ----------------------------------------------------------------------------------------

GRAD_SETUPS = [((1,), 0.0), ((4,), 0.0), ((2, 3), 1e-4), ((3, 2, 2), 0.0)]   # (shape of x, h; 0 = the default)


def _grad_cases(rng):
    cases = [{"x": rng.standard_normal(shape), "a": rng.standard_normal(shape), "c": rng.standard_normal(shape),
              "h": h, "label": f"x of shape {shape}" + (f", h={h:g}" if h else "")} for shape, h in GRAD_SETUPS]
    return finish_cases(cases)


def _objective(case):
    """f(x) = sum(c sin x) + (sum(a x))^2 / 2: smooth, and every entry of the gradient depends on all of x."""
    a, c = np.array(case["a"], dtype=np.float64), np.array(case["c"], dtype=np.float64)
    return lambda x: float(np.sum(c * np.sin(x)) + 0.5 * np.sum(a * x) ** 2)


def _call_grad(fn, case):
    (x,) = copies(case, ("x",))
    f = _objective(case)
    result = fn(f, x) if not case["h"] else fn(f, x, case["h"])
    return {**unpack(result, ("grad",), "numerical_gradient"), INPUT + "x": x}


def _grad_expected(case):
    x = np.array(case["x"], dtype=np.float64, copy=True)
    return {"grad": reference_numerical_gradient(_objective(case), x, h=case["h"] or 1e-5)}


def numerical_gradient(f, x, h=1e-5):
    """f: a scalar function of the float64 array x (any shape) -> the gradient (x's shape), 2 f-calls per entry."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def _differences(kind):
    """A catalogued wrong numerical gradient: "forward", "over_h", "not_restored" or "all_at_once"."""
    def wrong(f, x, h=1e-5):
        if kind == "all_at_once":
            return np.full_like(x, (f(x + h) - f(x - h)) / (2 * h))
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + h
            plus = f(x)
            if kind == "forward":
                x[i] = old
                grad[i] = (plus - f(x)) / h
                continue
            x[i] = old - h
            minus = f(x)
            if kind != "not_restored":
                x[i] = old
            grad[i] = (plus - minus) / (h if kind == "over_h" else 2 * h)
        return grad
    return wrong


NUMERICAL_GRADIENT = function_spec(
    "numerical_gradient", "numerical_gradient(f, x, h=1e-5) -> grad", reference=numerical_gradient,
    make_cases=_grad_cases, call=_call_grad, expected=_grad_expected,
    checks=[returns_check(("grad",), 0.5), unchanged_check(("x",), 0.5),
            value_check("grad", 2.0, "central differences", hint="for each entry i: (f(x + h e_i) - f(x - h e_i)) "
                        "/ (2h), changing only x[i] and putting it back")],
    mistakes=[
        Mistake("not_restored", "you did not put x[i] back after perturbing it, so x changed and every later entry "
                "was measured at the wrong point: set x[i] = old after the two evaluations",
                _differences("not_restored")),
        Mistake("forward_difference", "that is a one-sided difference (f(x + h) - f(x)) / h, with an error of "
                "order h; central differences (f(x + h) - f(x - h)) / (2h) are accurate to order h**2",
                _differences("forward")),
        Mistake("over_h", "divide by 2h: the two points x + h and x - h are 2h apart", _differences("over_h")),
        Mistake("all_at_once", "you moved every entry at once (that is a directional derivative): perturb one entry "
                "x[i] at a time, for i in np.ndindex(x.shape)", _differences("all_at_once")),
    ],
    release_hint="move one entry at a time by +h and by -h, evaluate f at both, put the entry back, and "
                 "divide the difference by the distance between the two points")


# ---- layer_gradient_norms --------------------------------------------------------------------------------------

NORM_SETUPS = [(1, [3, 4, 2], "tanh"), (5, [4, 5, 5, 3], "sigmoid"), (4, [3, 4, 4, 4, 3], "tanh"),
               (6, [2, 3, 2], "sigmoid")]   # (N, layer widths from input to classes, activation)
ACTIVATIONS = {"tanh": Tanh, "sigmoid": Sigmoid}


def _norm_cases(rng):
    cases = []
    for n, widths, activation in NORM_SETUPS:
        case = {"X": rng.standard_normal((n, widths[0])), "y": rng.integers(0, widths[-1], n),
                "activation": activation, "layers": len(widths) - 1,
                "label": f"N={n}, widths {'-'.join(map(str, widths))}, {activation}"}
        for i, (d, m) in enumerate(zip(widths[:-1], widths[1:])):
            case[f"W{i}"] = rng.standard_normal((d, m)) * 1.5 / np.sqrt(d)
            case[f"b{i}"] = 0.1 * rng.standard_normal(m)
        cases.append(case)
    return finish_cases(cases)


def _model(case, weights=None):
    """The case's network as a bpkit Sequential (Linear, activation, ..., Linear), weights copied in."""
    weights = weights or {k: case[k] for k in case if k[0] in "Wb" and k[1:].isdigit()}
    layers = []
    for i in range(int(case["layers"])):
        W = np.array(weights[f"W{i}"], dtype=np.float64, copy=True)
        linear = Linear(*W.shape)
        linear.params.update(W=W, b=np.array(weights[f"b{i}"], dtype=np.float64, copy=True))
        layers += [linear, ACTIVATIONS[str(case["activation"])]()] if i < int(case["layers"]) - 1 else [linear]
    return Sequential(*layers)


def _call_norms(fn, case):
    X, y = copies(case, ("X", "y"))
    return {**unpack(fn(_model(case), X, y), ("norms",), "layer_gradient_norms"), INPUT + "X": X, INPUT + "y": y}


def _norms_expected(case):
    weights = {k: case[k] for k in case if k[0] in "Wb" and k[1:].isdigit()}

    def loss(**w):
        return softmax_cross_entropy(_model(case, w).forward(case["X"]), case["y"])[0]

    return {"norms": np.array([np.linalg.norm(gradient(loss, weights, f"W{i}")) for i in range(int(case["layers"]))])}


def layer_gradient_norms(model, X, y):
    """model: a Sequential; X (N, D); y (N,) labels -> (L,) the norm of dW of each Linear layer, first layer first."""
    _, dscores = softmax_cross_entropy(model.forward(X), y)
    model.backward(dscores)
    return np.array([np.linalg.norm(layer.grads["W"]) for layer in model.layers if isinstance(layer, Linear)])


def _norm_variant(kind):
    def wrong(model, X, y):
        _, dscores = softmax_cross_entropy(model.forward(X), y)
        model.backward(dscores)
        linears = [layer for layer in model.layers if isinstance(layer, Linear)]
        if kind == "weights":
            return np.array([np.linalg.norm(layer.params["W"]) for layer in linears])
        if kind == "bias":
            return np.array([np.linalg.norm(layer.grads["b"]) for layer in linears])
        norms = np.array([np.linalg.norm(layer.grads["W"]) for layer in linears])
        return norms ** 2 if kind == "squared" else norms[::-1].copy()
    return wrong


LAYER_GRADIENT_NORMS = function_spec(
    "layer_gradient_norms", "layer_gradient_norms(model, X, y) -> norms", reference=layer_gradient_norms,
    make_cases=_norm_cases, call=_call_norms, expected=_norms_expected,
    checks=[returns_check(("norms",), 0.5, hint="return a 1-D array with one norm per Linear layer"),
            unchanged_check(("X", "y"), 0.5),
            value_check("norms", 2.0, "norms of central-difference gradients",
                        hint="forward, softmax_cross_entropy, backward; then np.linalg.norm(layer.grads['W']) for "
                        "each Linear layer, first layer first")],
    mistakes=[
        Mistake("weights", "those are the norms of the weights: measure the gradients, layer.grads['W']",
                _norm_variant("weights")),
        Mistake("reversed", "your norms run from the output back: list them first layer first, in model.layers "
                "order", _norm_variant("reversed")),
        Mistake("squared", "those are squared norms: take the square root (np.linalg.norm does)",
                _norm_variant("squared")),
        Mistake("bias", "those are the bias gradients: measure layer.grads['W']", _norm_variant("bias")),
    ],
    release_hint="run forward, the loss and backward, then measure each Linear layer's weight gradient, first layer first",
    hands_over=(Sequential, Linear, *ACTIVATIONS.values()))


EXERCISE = Exercise("ex08", "Why backprop: numerical gradients and gradient norms per layer",
                    "ex08_why_backprop.ipynb", [NUMERICAL_GRADIENT, LAYER_GRADIENT_NORMS])
