"""Spec of ex03, matrix calculus: a linear layer's forward and backward pass, and the backward of ReLU and sigmoid.

The format is described in docs/authoring.md. The reference solutions are the notebook's solution cells; here:
the cases, how each function is called (a driver), the checks with their points, and catalogued mistakes.

Shapes: x (N, D), W (D, M), b (M,), dout (N, M). Gradients are checked against central differences of a forward
pass (``bpkit.nn``, the course's open library), so a right answer is right by the definition of the derivative.
Cases include batch size 1, shapes where N, D and M all differ, a square W (so a transposed product still runs and
is diagnosed), and, for ReLU, inputs exactly at the kink (the course's convention, PyTorch's: ReLU'(0) = 0).
"""
from bpkit.exercises.authoring import *  # noqa: F403
from bpkit.nn.layers import Linear, sigmoid

# (N, D, M): batch size 1; a square W; N == M; every dimension different
SHAPES = [(1, 3, 2), (4, 3, 3), (3, 5, 3), (5, 2, 4), (2, 4, 6)]


def _label(n, d, m=None):
    return f"N={n}, D={d}" + (f", M={m}" if m is not None else "")


def _away_from_zero(rng, shape, low=0.1, high=2.0):
    """Entries with |x| in [low, high]: far from ReLU's kink at 0 compared with the step h = 1e-5."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def _linear_cases(rng):
    cases = []
    for n, d, m in SHAPES:
        cases.append({"x": rng.standard_normal((n, d)), "W": rng.standard_normal((d, m)),
                      "b": rng.standard_normal(m), "dout": rng.standard_normal((n, m)), "label": _label(n, d, m)})
    return finish_cases(cases)


def _elementwise_cases(rng, kink=False):
    cases = [{"x": _away_from_zero(rng, (n, d)), "dout": rng.standard_normal((n, d)),
              "label": _label(n, d)} for n, d, _ in SHAPES[:4]]
    if kink:   # exact zeros among the inputs: the derivative there is the convention, 0, stated by hand
        x = _away_from_zero(rng, (3, 4))
        x[0, 1] = x[1, 3] = x[2, 0] = 0.0
        cases.append({"x": x, "dout": rng.standard_normal((3, 4)),
                      "label": "N=3, D=4, some x exactly 0 (ReLU'(0) = 0)"})
    return finish_cases(cases)


def _linear(x, W, b):
    layer = Linear(W.shape[0], W.shape[1])
    layer.params["W"], layer.params["b"] = W, b
    return layer.forward(x)


# ---- linear_forward --------------------------------------------------------------------------------------------

LINEAR_FORWARD = function_spec(
    "linear_forward", "linear_forward(x, W, b) -> out",
    make_cases=_linear_cases,
    call=drivers.function("linear_forward", args=("x", "W", "b"), returns=("out",)),
    expected=lambda c: {"out": _linear(c["x"], c["W"], c["b"])},
    checks=[returns_check(("out",), 0.5), unchanged_check(("x", "W", "b"), 0.5),
            value_check("out", 1.0, "the reference forward", hint="out = x @ W + b: (N, D) @ (D, M) gives (N, M)")],
    mistakes=[
        Mistake("no_bias", "you left out the bias: add b (shape (M,)) to every row of x @ W",
                lambda x, W, b: x @ W),
        Mistake("W_transposed", "you multiplied by W.T: W has shape (D, M), so x @ W is already (N, M)",
                lambda x, W, b: x @ W.T + b),
        Mistake("bias_per_row", "you added b down the rows (b[:, None]): b belongs to the M outputs, so plain "
                "x @ W + b broadcasts it over the batch", lambda x, W, b: x @ W + b[:, None]),
    ],
    release_hint="multiply the batch by the weights and add the bias; out has shape (N, M)")


# ---- linear_backward -------------------------------------------------------------------------------------------

def _linear_gradients(case):
    arrays = {"x": case["x"], "W": case["W"], "b": case["b"]}
    return {f"d{k}": gradient(_linear, arrays, k, case["dout"]) for k in ("x", "W", "b")}


LINEAR_BACKWARD = function_spec(
    "linear_backward", "linear_backward(dout, x, W) -> (dx, dW, db)",
    make_cases=_linear_cases,
    call=drivers.function("linear_backward", args=("dout", "x", "W"), returns=("dx", "dW", "db")),
    expected=_linear_gradients, finite_differences=True,
    checks=[returns_check(("dx", "dW", "db"), 0.5), unchanged_check(("dout", "x", "W"), 0.5),
            value_check("dx", 1.0, "central differences", hint="dx has x's shape (N, D): dout (N, M) times W.T (M, D)"),
            value_check("dW", 1.0, "central differences", hint="dW has W's shape (D, M): x.T (D, N) times dout (N, M)"),
            value_check("db", 1.0, "central differences",
                        hint="b is added to every row, so db collects dout over the batch: shape (M,)")],
    mistakes=[
        Mistake("dW_transposed", "your dW is the transpose of the right one: use x.T @ dout, shape (D, M)",
                lambda dout, x, W: (dout @ W.T, dout.T @ x, dout.sum(axis=0))),
        Mistake("dx_W_not_transposed", "dx needs W transposed: dx = dout @ W.T (shape (N, D)), not dout @ W",
                lambda dout, x, W: (dout @ W, x.T @ dout, dout.sum(axis=0))),
        Mistake("db_not_summed", "db must be summed over the batch (axis 0), leaving one entry per output: shape (M,)",
                lambda dout, x, W: (dout @ W.T, x.T @ dout, dout.copy())),
        Mistake("db_wrong_axis", "db is summed over the wrong axis: sum over the batch, dout.sum(axis=0), "
                "which leaves one entry per output (M,)",
                lambda dout, x, W: (dout @ W.T, x.T @ dout, dout.sum(axis=1))),
        Mistake("db_mean", "db has a 1/N too many: the batch average is already inside dout, so sum (do not "
                "average) over the batch", lambda dout, x, W: (dout @ W.T, x.T @ dout, dout.mean(axis=0))),
        Mistake("sign_flipped", "your gradients have the wrong sign: backward passes multiply by the local "
                "derivative, nothing subtracts here", lambda dout, x, W: (-(dout @ W.T), -(x.T @ dout),
                                                                          -dout.sum(axis=0))),
    ],
    release_hint="dx, dW and db have the shapes of x (N, D), W (D, M) and b (M,): let the shapes pick each product")


# ---- relu_backward ---------------------------------------------------------------------------------------------

def _elementwise_gradient(forward, at_kink=None):
    def expected(case):
        if at_kink is not None and np.any(case["x"] == 0):   # a case at the kink: the convention, by hand
            return {"dx": at_kink(case["dout"], case["x"])}
        return {"dx": gradient(lambda x: forward(x), {"x": case["x"]}, "x", case["dout"])}
    return expected


def _relu_in_place(dout, x):
    dout[x <= 0] = 0
    return dout


RELU_BACKWARD = function_spec(
    "relu_backward", "relu_backward(dout, x) -> dx",
    make_cases=lambda rng: _elementwise_cases(rng, kink=True),
    call=drivers.function("relu_backward", args=("dout", "x"), returns=("dx",)),
    expected=_elementwise_gradient(lambda x: np.maximum(x, 0), at_kink=lambda dout, x: dout * (x > 0)),
    finite_differences=True,
    checks=[returns_check(("dx",), 0.5), unchanged_check(("dout", "x"), 0.5),
            value_check("dx", 1.0, "central differences (and ReLU'(0) = 0)",
                        hint="ReLU's local derivative is 1 where x > 0, else 0 (also at x = 0); multiply it into "
                        "dout")],
    mistakes=[
        Mistake("in_place", "you changed dout in place (dout[x <= 0] = 0): the caller still needs it; build a new "
                "array, dx = dout * (x > 0)", _relu_in_place),
        Mistake("passthrough", "you passed dout straight through: multiply by ReLU's local derivative (x > 0)",
                lambda dout, x: dout.copy()),
        Mistake("mask_from_dout", "the mask must come from the forward input x, not from dout: dx = dout * (x > 0)",
                lambda dout, x: dout * (dout > 0)),
        Mistake("mask_inverted", "your mask is inverted: the gradient flows where x > 0 and stops where x <= 0",
                lambda dout, x: dout * (x <= 0)),
        Mistake("mask_only", "you returned the local derivative alone: chain it with the upstream gradient, "
                "dx = dout * (x > 0)", lambda dout, x: (x > 0).astype(np.float64)),
        Mistake("kink_included", "at x = 0 the course (like PyTorch) takes ReLU's derivative as 0: use x > 0, "
                "not x >= 0", lambda dout, x: dout * (x >= 0)),
    ],
    release_hint="the gradient flows where the forward input was positive and stops elsewhere; build a new array")


# ---- sigmoid_backward ------------------------------------------------------------------------------------------

SIGMOID_BACKWARD = function_spec(
    "sigmoid_backward", "sigmoid_backward(dout, x) -> dx",
    make_cases=_elementwise_cases,
    call=drivers.function("sigmoid_backward", args=("dout", "x"), returns=("dx",)),
    expected=_elementwise_gradient(sigmoid), finite_differences=True,
    checks=[returns_check(("dx",), 0.5), unchanged_check(("dout", "x"), 0.5),
            value_check("dx", 1.0, "central differences",
                        hint="sigmoid's local derivative is s * (1 - s) with s = sigmoid(x)")],
    mistakes=[
        Mistake("from_preactivation", "you used x * (1 - x): the formula s * (1 - s) takes the sigmoid's output "
                "s = sigmoid(x), not its input x", lambda dout, x: dout * x * (1 - x)),
        Mistake("passthrough", "you passed dout straight through: multiply by the local derivative s * (1 - s)",
                lambda dout, x: dout.copy()),
        Mistake("no_upstream", "you returned the local derivative alone: multiply it by dout (the chain rule)",
                lambda dout, x: sigmoid(x) * (1 - sigmoid(x))),
        Mistake("sigmoid_only", "the derivative of sigmoid is s * (1 - s), not s itself",
                lambda dout, x: dout * sigmoid(x)),
    ],
    release_hint="recompute the sigmoid of x; its local derivative is written with the output, not the input")


EXERCISE = exercise("ex03", "Matrix calculus: a linear layer, ReLU and sigmoid, backward",
                    [LINEAR_FORWARD, LINEAR_BACKWARD, RELU_BACKWARD, SIGMOID_BACKWARD])
