"""Spec of ex07 (format: docs/authoring.md; the reference solutions are the notebook's solution cells).

ex07, optimizers: one step of Adam, with PyTorch's rule and defaults.

``adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8) -> (w, m, v)``:
m = b1 m + (1 - b1) dw; v = b2 v + (1 - b2) dw^2; m_hat = m / (1 - b1^t); v_hat = v / (1 - b2^t);
w = w - lr m_hat / (sqrt(v_hat) + eps); t counts from 1. Checked over three steps in a row (from t = 1 and from a
mid-training state, once with the defaults, once with gradients so small that eps matters) against the
source notebook's solution (itself tested against ``bpkit.nn.optim.Adam``, PyTorch's rule, in tests/).
"""
from bpkit.exercises.authoring import *  # noqa: F403


STEPS = 3
# (shape, first t, gradient scale, use the default hyper-parameters)
SETUPS = [((1,), 1, 1.0, True), ((3,), 1, 1.0, False), ((2, 3), 7, 1.0, False), ((4,), 4, 1e-4, True)]


def _cases(rng):
    cases = []
    for shape, t, scale, defaults in SETUPS:
        fresh = t == 1
        case = {"w": rng.standard_normal(shape), "dw": scale * rng.standard_normal((STEPS, *shape)),
                "m": np.zeros(shape) if fresh else 0.1 * scale * rng.standard_normal(shape),
                "v": np.zeros(shape) if fresh else (scale * rng.uniform(0.2, 1.0, shape)) ** 2,
                "t": t, "defaults": int(defaults),
                "lr": 1e-3 if defaults else float(rng.uniform(0.005, 0.05)),
                "beta1": 0.9 if defaults else float(rng.uniform(0.5, 0.9)),
                "beta2": 0.999 if defaults else float(rng.uniform(0.9, 0.99)),
                "label": f"w of shape {shape}, t from {t}" + (", default hyper-parameters" if defaults else "")
                + (", tiny gradients" if scale < 1 else "")}
        cases.append(case)
    return finish_cases(cases)


def _variant(kind):
    def step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * (np.abs(dw) if kind == "v_not_squared" else dw * dw)
        tt = t + 1 if kind == "t_off_by_one" else t
        m_hat, v_hat = (m, v) if kind == "no_bias_correction" else (m / (1 - beta1 ** tt), v / (1 - beta2 ** tt))
        denominator = np.sqrt(v_hat + eps) if kind == "eps_inside_sqrt" else np.sqrt(v_hat) + eps
        return w - lr * m_hat / denominator, m, v
    return step


ADAM_STEP = function_spec(
    "adam_step", "adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8) -> (w, m, v)",
    make_cases=_cases, call=drivers.steps("adam_step", state=("m", "v"), hyper=("lr", "beta1", "beta2"), counter="t",
                      defaults_flag="defaults"),
    checks=[returns_check(("w", "m", "v"), 0.5), unchanged_check(("w", "dw", "m", "v"), 0.5,
                                                           name="returns new arrays, leaves w, dw, m, v unchanged"),
            value_check("m_all", 0.5, "PyTorch's Adam", name="m matches PyTorch's Adam, step after step",
                        hint="m <- beta1 m + (1 - beta1) dw"),
            value_check("v_all", 0.5, "PyTorch's Adam", name="v matches PyTorch's Adam, step after step",
                        hint="v <- beta2 v + (1 - beta2) dw**2"),
            value_check("w_change", 1.0, "PyTorch's Adam", name="w's update matches PyTorch's Adam, step after step",
                        hint="w = w - lr * m_hat / (sqrt(v_hat) + eps) with the bias-corrected moments")],
    mistakes=[
        Mistake("no_bias_correction", "Adam without bias correction: divide m by (1 - beta1**t) and v by "
                "(1 - beta2**t) before the step; without it the first steps are too large (with the defaults the first is "
                "about 3.2 lr instead of lr: m / sqrt(v) = 0.1 / sqrt(0.001) at t = 1)",
                _variant("no_bias_correction")),
        Mistake("t_off_by_one", "your bias correction uses t + 1: t is already the number of this step (1 for "
                "the first), so use beta1**t and beta2**t", _variant("t_off_by_one")),
        Mistake("eps_inside_sqrt", "eps goes outside the square root: sqrt(v_hat) + eps, not sqrt(v_hat + eps)",
                _variant("eps_inside_sqrt")),
        Mistake("v_not_squared", "v averages the squared gradient: v <- beta2 v + (1 - beta2) dw**2, not |dw|",
                _variant("v_not_squared")),
    ],
    release_hint="update both moments, correct them for bias with the step number t, then step w (PyTorch's rule)")


EXERCISE = exercise("ex07", "Optimizers: Adam", [ADAM_STEP])
