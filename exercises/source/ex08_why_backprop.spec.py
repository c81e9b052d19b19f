"""Spec of ex08 (format: docs/authoring.md; the reference solutions are the notebook's solution cells).

ex08, why backprop: numerical differentiation by central differences, and per-layer gradient norms.

``numerical_gradient(f, x, h=1e-5)``: the central-difference gradient of a scalar f (2 evaluations per entry of x,
which is why it does not scale); checked against ``bpkit.gradcheck.numerical_gradient`` on a smooth, non-separable f.
``layer_gradient_norms(model, X, y)``: the L2 norm of dW of each Linear layer of a ``bpkit.nn.Sequential`` under the
mean softmax cross-entropy, first layer first (the measurement behind vanishing gradients); checked against norms
of central-difference gradients of the reference loss.
"""
from bpkit.exercises.authoring import *  # noqa: F403

from bpkit.gradcheck import numerical_gradient as reference_numerical_gradient
from bpkit.nn.layers import Linear
from bpkit.nn.losses import softmax_cross_entropy

# ---- numerical_gradient ----------------------------------------------------------------------------------------

GRAD_SETUPS = [((1,), 0.0), ((4,), 0.0), ((2, 3), 1e-4), ((3, 2, 2), 0.0)]   # (shape of x, h; 0 = the default)


def _grad_cases(rng):
    cases = [{"x": rng.standard_normal(shape), "a": rng.standard_normal(shape), "c": rng.standard_normal(shape),
              "h": h, "label": f"x of shape {shape}" + (f", h={h:g}" if h else "")} for shape, h in GRAD_SETUPS]
    return finish_cases(cases)


def _grad_expected(case):
    x = np.array(case["x"], dtype=np.float64, copy=True)
    return {"grad": reference_numerical_gradient(drivers.objective(case), x, h=case["h"] or 1e-5)}


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
    "numerical_gradient", "numerical_gradient(f, x, h=1e-5) -> grad", make_cases=_grad_cases, call=drivers.gradient_of_objective("numerical_gradient"), expected=_grad_expected,
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


def _norm_cases(rng):
    cases = []
    for n, widths, activation in NORM_SETUPS:
        cases.append(drivers.network_case(rng, n, widths, activation))
    # stability: classes spanning ~1000 (a softmax without its max shift, or with a min, overflows)
    case = {"X": rng.standard_normal((3, 3)), "y": np.array([1, 1, 0]), "activation": "tanh", "layers": 2,
            "W0": rng.standard_normal((3, 4)) * 1.5 / np.sqrt(3), "b0": 0.1 * rng.standard_normal(4),
            "W1": rng.standard_normal((4, 3)) * 1.5 / 2, "b1": np.array([-200.0, 300.0, 800.0]),
            "label": "N=3, widths 3-4-3, tanh, scores spanning 1000 (stability)"}
    cases.append(case)
    return finish_cases(cases)


def _norms_expected(case):
    if np.abs(case["b1"]).max() > 100:   # huge scores: the solution's exact norms, not central differences
        return {"norms": np.asarray(EXERCISE.reference("layer_gradient_norms")(
            drivers.build_model(case), case["X"].copy(), case["y"].copy()))}
    weights = {k: case[k] for k in case if k[0] in "Wb" and k[1:].isdigit()}

    def loss(**w):
        return softmax_cross_entropy(drivers.build_model(case, w).forward(case["X"]), case["y"])[0]

    return {"norms": np.array([np.linalg.norm(gradient(loss, weights, f"W{i}")) for i in range(int(case["layers"]))])}


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
    "layer_gradient_norms", "layer_gradient_norms(model, X, y) -> norms", make_cases=_norm_cases, call=drivers.model_function("layer_gradient_norms", args=("X", "y"), returns=("norms",)), expected=_norms_expected,
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
    hands_over=drivers.MODEL_CLASSES)   # the classes drivers.build_model may use (ex13's CNN ones too)


EXERCISE = exercise("ex08", "Why backprop: numerical gradients and gradient norms per layer", [NUMERICAL_GRADIENT, LAYER_GRADIENT_NORMS])
