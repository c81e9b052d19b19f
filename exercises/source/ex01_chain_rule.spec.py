"""Spec of ex01 (format: docs/authoring.md; the reference solutions are the notebook's solution cells).

ex01, the chain rule: dL/dw and dL/db of L = (sigmoid(w x + b) - y)^2, written once for SymPy and floats.

Each function is called twice: with four floats (it must return a number) and with four SymPy symbols (it must
return an expression in them). The symbolic answer is evaluated at the case's numbers with ``subs``/``evalf`` in
the student's process, so only floats reach the grader, which compares both with central differences of L.
"""
from bpkit.exercises.authoring import *  # noqa: F403

from bpkit.nn.layers import sigmoid

NAMES = ("w", "x", "b", "y")


def _cases(rng):
    cases = []
    for _ in range(4):
        w, b = rng.uniform(-1.5, 1.5, 2)
        x = rng.uniform(0.4, 2.0) * rng.choice([-1.0, 1.0])   # |x| not 1, so dL/dw and dL/db differ
        y = rng.uniform(0.0, 1.0)
        cases.append({"w": float(w), "x": float(x), "b": float(b), "y": float(y),
                      "label": f"case {len(cases) + 1}"})
    return finish_cases(cases)


def loss(w, x, b, y):
    """L = (sigmoid(w x + b) - y)^2 on floats or arrays."""
    return (sigmoid(np.asarray(w * x + b, dtype=np.float64)) - y) ** 2


def _expected(wrt):
    def expected(case):
        value = gradient(loss, {n: np.array(case[n]) for n in NAMES}, wrt)
        return {"numeric.value": value, "symbolic.value": value}
    return expected


def _checks(name):
    return [returns_check(("numeric.value",), 0.5, name="returns a number for float inputs", part="numeric",
                          hint="with floats in, return a float (use sympy.exp or math.exp consistently)"),
            value_check("numeric.value", 1.0, "central differences", part="numeric",
                        name="the number matches central differences of L"),
            returns_check(("symbolic.value",), 0.5, name="returns a SymPy expression in w, x, b, y for symbols",
                          part="symbolic", hint="use sympy.exp (not math.exp or np.exp) so symbols work too"),
            value_check("symbolic.value", 1.0, "central differences", part="symbolic",
                        name="the expression, evaluated, matches central differences of L",
                        hint=f"{name} = dL/ds * ds/dz * dz/d{name[-1]}: three factors of the chain rule")]


def _sig(z):
    import sympy
    return 1 / (1 + sympy.exp(-z))


def _times_x(w, x, b, y):
    """A wrong dL/db (it multiplies by x): what dL_db looks like with dL_dw's last factor."""
    s = _sig(w * x + b)
    return 2 * (s - y) * s * (1 - s) * x


def _without_x(w, x, b, y):
    """A wrong dL/dw (no factor x): what dL_dw looks like without its last factor."""
    s = _sig(w * x + b)
    return 2 * (s - y) * s * (1 - s)


def _common_mistakes(local):
    """The mistakes both derivatives share; ``local`` is dz/dparameter (x for w, 1 for b)."""
    return [
        Mistake("preactivation", "the sigmoid's derivative is s (1 - s) of its OUTPUT s = sigmoid(z); you used "
                "z (1 - z) of its input", lambda w, x, b, y: 2 * (_sig(w * x + b) - y) * (w * x + b)
                * (1 - (w * x + b)) * local(x)),
        Mistake("no_factor_2", "the outer derivative of (s - y)**2 is 2 (s - y): you lost the 2",
                lambda w, x, b, y: (_sig(w * x + b) - y) * _sig(w * x + b) * (1 - _sig(w * x + b)) * local(x)),
        Mistake("sign_flipped", "the sign is flipped: d/ds (s - y)**2 = 2 (s - y), not 2 (y - s)",
                lambda w, x, b, y: 2 * (y - _sig(w * x + b)) * _sig(w * x + b) * (1 - _sig(w * x + b)) * local(x)),
        Mistake("no_sigmoid_derivative", "you skipped the sigmoid's local derivative s (1 - s) in the chain",
                lambda w, x, b, y: 2 * (_sig(w * x + b) - y) * local(x)),
    ]


DL_DW = function_spec(
    "dL_dw", "dL_dw(w, x, b, y) -> dL/dw", make_cases=_cases, call=drivers.numeric_and_symbolic("dL_dw", NAMES),
    expected=_expected("w"), checks=_checks("dL_dw"),
    mistakes=[Mistake("no_inner_derivative", "you forgot the last link of the chain, dz/dw = x: multiply by x",
                      _without_x)] + _common_mistakes(lambda x: x),
    release_hint="three factors of the chain rule, dL/ds * ds/dz * dz/dw; use sympy.exp so symbols work too")

DL_DB = function_spec(
    "dL_db", "dL_db(w, x, b, y) -> dL/db", make_cases=_cases, call=drivers.numeric_and_symbolic("dL_db", NAMES),
    expected=_expected("b"), checks=_checks("dL_db"),
    mistakes=[Mistake("times_x", "dz/db is 1, not x: the factor x belongs to dL/dw only", _times_x)]
    + _common_mistakes(lambda x: 1),
    release_hint="the same chain as dL_dw, except for its last factor, dz/db")


EXERCISE = exercise("ex01", "The chain rule, by hand and in SymPy", [DL_DW, DL_DB])
