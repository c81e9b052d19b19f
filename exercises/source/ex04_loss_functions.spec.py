"""Spec of ex04 (format: docs/authoring.md; the reference solutions are the notebook's solution cells).

ex04, loss functions: softmax cross-entropy with integer labels, and mean squared error, each with its gradient.

Both are means (over the batch for cross-entropy, over every entry for MSE), as in PyTorch; the references are
``bpkit.nn.losses``, and the gradients are checked against central differences of the reference loss. One
cross-entropy case has logits near 800, where a softmax that does not subtract the max overflows.
"""
from bpkit.exercises.authoring import *  # noqa: F403

from bpkit.nn.losses import mse_loss, softmax, softmax_cross_entropy

# (N, C, offset): batch size 1, two classes, and logits shifted by 800 (stability)
CE_SHAPES = [(1, 3, 0.0), (4, 5, 0.0), (6, 2, 0.0), (3, 4, 800.0)]


def _ce_cases(rng):
    cases = []
    for n, c, offset in CE_SHAPES:
        cases.append({"logits": offset + 2.0 * rng.standard_normal((n, c)), "y": rng.integers(0, c, n),
                      "stress": 0, "label": f"N={n}, C={c}" + (f", logits near {offset:g}" if offset else "")})
    # numerics: rows far apart (near 0 and near 800) and a row spanning ~1000, so neither a max over the whole batch
    # nor a missing max shift nor a min in its place survives; the expected values are the exact formulas here
    logits = np.stack([2.0 * rng.standard_normal(5), 800 + 2.0 * rng.standard_normal(5),
                       np.array([-500.0, 480.0, 0.0, 500.0, -20.0]) + rng.standard_normal(5)])
    cases.append({"logits": logits, "y": np.array([1, 3, 1]), "stress": 1,
                  "label": "N=3, C=5, rows near 0, near 800, and spanning 1000"})
    return finish_cases(cases)


def _ce_expected(case):
    loss = lambda logits: softmax_cross_entropy(logits, case["y"])[0]  # noqa: E731
    if case["stress"]:   # central differences lose digits at |logits| ~ 800: the exact (p - onehot) / N instead
        value, grad = softmax_cross_entropy(case["logits"], case["y"])
        return {"loss": np.float64(value), "dlogits": grad}
    return {"loss": np.float64(loss(case["logits"])),
            "dlogits": gradient(loss, {"logits": case["logits"]}, "logits")}


def _onehot(y, c):
    return np.eye(c)[y]


def _ce_naive(logits, y):
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    n = len(y)
    return -np.mean(np.log(p[np.arange(n), y])), (p - _onehot(y, logits.shape[1])) / n


def _ce_summed(logits, y):
    loss, d = softmax_cross_entropy(logits, y)
    return loss * len(y), d * len(y)


def _ce_grad_not_averaged(logits, y):
    loss, d = softmax_cross_entropy(logits, y)
    return loss, d * len(y)


def _ce_sign(logits, y):
    loss, d = softmax_cross_entropy(logits, y)
    return loss, -d


def _ce_wrong_axis(logits, y):
    shifted = logits - logits.max(axis=0, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
    n = len(y)
    return -np.mean(logp[np.arange(n), y]), (np.exp(logp) - _onehot(y, logits.shape[1])) / n


def _ce_no_onehot(logits, y):
    loss, _ = softmax_cross_entropy(logits, y)
    return loss, softmax(logits) / len(y)


SOFTMAX_CROSS_ENTROPY = function_spec(
    "softmax_cross_entropy", "softmax_cross_entropy(logits, y) -> (loss, dlogits)", make_cases=_ce_cases, call=drivers.function("softmax_cross_entropy", args=("logits", "y"), returns=("loss", "dlogits")),
    finite_differences=True, expected=_ce_expected,
    checks=[returns_check(("loss", "dlogits"), 0.5, hint="return the loss as a float and dlogits with the shape "
                          "of logits (N, C)"),
            unchanged_check(("logits", "y"), 0.5),
            value_check("loss", 1.0, "the reference loss", hint="loss = mean over the batch of "
                        "-log softmax(logits)[i, y[i]]; subtract each row's max before np.exp"),
            value_check("dlogits", 1.5, "central differences",
                        hint="dlogits = (softmax(logits) - onehot(y)) / N")],
    mistakes=[
        Mistake("unstable", "your softmax overflows for large logits (np.exp(800) is inf): subtract each row's "
                "max first, logits - logits.max(axis=1, keepdims=True); softmax does not change", _ce_naive),
        Mistake("summed", "you summed over the batch instead of averaging: divide the loss and dlogits by N",
                _ce_summed),
        Mistake("grad_not_averaged", "dlogits is missing the 1/N of the mean: dlogits = (p - onehot(y)) / N",
                _ce_grad_not_averaged),
        Mistake("sign_flipped", "dlogits has the wrong sign: it is p - onehot(y) (the loss falls as the right "
                "class's logit rises)", _ce_sign),
        Mistake("softmax_wrong_axis", "softmax must normalize each row (axis=1, over the classes), not each "
                "column (over the batch)", _ce_wrong_axis),
        Mistake("onehot_forgotten", "you forgot to subtract 1 at the true class: dlogits = (p - onehot(y)) / N",
                _ce_no_onehot),
    ],
    release_hint="softmax of each row (stably), the mean of -log of the true class's probability, and "
                 "dlogits with the shape of logits")


# ---- mse_loss --------------------------------------------------------------------------------------------------

MSE_SHAPES = [(1, 1), (5, 2), (3, 4), (7,)]


def _mse_cases(rng):
    cases = [{"pred": rng.standard_normal(shape), "target": rng.standard_normal(shape),
              "label": "shape " + "x".join(map(str, shape))} for shape in MSE_SHAPES]
    return finish_cases(cases)


def _mse_expected(case):
    loss = lambda pred: mse_loss(pred, case["target"])[0]  # noqa: E731
    return {"loss": np.float64(loss(case["pred"])), "dpred": gradient(loss, {"pred": case["pred"]}, "pred")}


def _mse_rows(pred, target):
    diff = pred - target
    n = diff.shape[0]
    return float(np.sum(diff ** 2) / n), 2 * diff / n


MSE_LOSS = function_spec(
    "mse_loss", "mse_loss(pred, target) -> (loss, dpred)", make_cases=_mse_cases, call=drivers.function("mse_loss", args=("pred", "target"), returns=("loss", "dpred")),
    finite_differences=True, expected=_mse_expected,
    checks=[returns_check(("loss", "dpred"), 0.5, hint="return the loss as a float and dpred with pred's shape"),
            unchanged_check(("pred", "target"), 0.5),
            value_check("loss", 1.0, "the reference loss", hint="loss = mean of (pred - target)**2 over every entry"),
            value_check("dpred", 1.0, "central differences", hint="dpred = 2 (pred - target) / pred.size")],
    mistakes=[
        Mistake("no_factor_2", "dpred is missing the 2 from the square: d/dp (p - t)^2 = 2 (p - t)",
                lambda p, t: (mse_loss(p, t)[0], (p - t) / p.size)),
        Mistake("not_averaged", "dpred is missing the 1/size of the mean: dpred = 2 (pred - target) / pred.size",
                lambda p, t: (mse_loss(p, t)[0], 2 * (p - t))),
        Mistake("mean_over_rows", "you averaged over the rows only: the mean runs over every entry, so divide by "
                "pred.size, not len(pred)", _mse_rows),
        Mistake("sign_flipped", "dpred has the wrong sign: it is 2 (pred - target) / size (moving pred towards "
                "target lowers the loss)", lambda p, t: (mse_loss(p, t)[0], -mse_loss(p, t)[1])),
    ],
    release_hint="the mean of the squared differences over every entry, and its gradient with the shape of pred")


EXERCISE = exercise("ex04", "Loss functions: softmax cross-entropy and mean squared error", [SOFTMAX_CROSS_ENTROPY, MSE_LOSS])
