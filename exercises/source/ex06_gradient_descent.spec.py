"""Spec of ex06 (format: docs/authoring.md; the reference solutions are the notebook's solution cells).

ex06, gradient descent: one step of SGD with momentum, with PyTorch's rule.

``sgd_momentum_step(w, dw, v, lr, momentum) -> (w, v)``: v = momentum v + dw; w = w - lr v (torch.optim.SGD with
dampening 0; starting from v = 0, the first step is plain SGD). Checked over three steps in a row from a fresh and
from a mid-training velocity, against the source notebook's
solution (which, unlike a momentum buffer that only exists for momentum > 0, is right at momentum = 0 too).
"""
from bpkit.exercises.authoring import *  # noqa: F403


SHAPES = [(1,), (3,), (2, 3), (4, 2)]
STEPS = 3


def _cases(rng):
    cases = []
    for i, shape in enumerate(SHAPES):
        fresh = i == 0
        cases.append({"w": rng.standard_normal(shape), "v": np.zeros(shape) if fresh else rng.standard_normal(shape), "dw": rng.standard_normal((STEPS, *shape)),
                      "lr": float(rng.uniform(0.01, 0.3)), "momentum": float(rng.choice([0.5, 0.9, 0.99])),
                      "label": f"w of shape {shape}, {'v = 0' if fresh else 'v from earlier steps'}"})
    return finish_cases(cases)


SGD_MOMENTUM_STEP = function_spec(
    "sgd_momentum_step", "sgd_momentum_step(w, dw, v, lr, momentum) -> (w, v)", make_cases=_cases, call=drivers.steps("sgd_momentum_step", state=("v",), hyper=("lr", "momentum")),
    checks=[returns_check(("w", "v"), 0.5), unchanged_check(("w", "dw", "v"), 0.5,
                                                           name="returns new arrays, leaves w, dw, v unchanged"),
            value_check("v_all", 1.0, "PyTorch's SGD", name="v matches PyTorch's SGD, step after step",
                        hint="the new velocity is momentum times the old one plus the gradient (v <- momentum v + dw)"),
            value_check("w_change", 1.0, "PyTorch's SGD", name="w's update matches PyTorch's SGD, step after step",
                        hint="w = w - lr * v, with the new v")],
    mistakes=[
        Mistake("lr_in_velocity", "you folded lr into the velocity (v = momentum v - lr dw; w = w + v, CS231n's "
                "form); PyTorch keeps it out: v <- momentum v + dw, then w <- w - lr v",
                lambda w, dw, v, lr, mu: (w + (mu * v - lr * dw), mu * v - lr * dw)),
        Mistake("dampened", "you averaged (v = momentum v + (1 - momentum) dw): PyTorch adds the whole gradient, "
                "v <- momentum v + dw", lambda w, dw, v, lr, mu: (w - lr * (mu * v + (1 - mu) * dw),
                                                                   mu * v + (1 - mu) * dw)),
        Mistake("step_with_dw", "the step must use the velocity: w = w - lr * v, not w - lr * dw",
                lambda w, dw, v, lr, mu: (w - lr * dw, mu * v + dw)),
        Mistake("old_velocity", "update v first, then step with the new v: w = w - lr * (momentum * v + dw)",
                lambda w, dw, v, lr, mu: (w - lr * v, mu * v + dw)),
        Mistake("sign_flipped", "gradient descent goes downhill: w = w - lr * v (you added it)",
                lambda w, dw, v, lr, mu: (w + lr * (mu * v + dw), mu * v + dw)),
    ],
    release_hint="update the velocity with the gradient first, then step w with the new velocity (PyTorch's rule)")


EXERCISE = exercise("ex06", "Gradient descent: SGD with momentum", [SGD_MOMENTUM_STEP])

