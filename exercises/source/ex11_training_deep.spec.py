"""Spec of ex11, backprop by hand through everything: BatchNorm's backward on its own, then every intermediate of a
two-layer network (linear, BatchNorm, tanh, linear, softmax cross-entropy). Format: docs/authoring.md.

batchnorm_backward is checked against central differences of ``bpkit.nn.functional.batchnorm_forward`` (the course's
open library), so a right answer is right by the definition of the derivative. network_backward's fifteen gradients
are compared with the notebook's solution, one row per intermediate, so the report shows where the chain breaks;
the test suite checks that solution against central differences of the loss.
Cases: N never 2 (with two samples BatchNorm's output is +-1 whatever x, its dx ~ 0), N, D, H and C all different
in most cases, and one case of batch size 3.
"""
from bpkit.exercises.authoring import *  # noqa: F403
from bpkit.nn.functional import batchnorm_forward

# ---- batchnorm_backward ----------------------------------------------------------------------------------------

BN_SHAPES = [(4, 1), (4, 3), (6, 2), (5, 4), (8, 5)]


def _bn_cases(rng):
    return finish_cases([{"dout": rng.standard_normal((n, d)), "x": rng.standard_normal((n, d)) * 2 + 1,
                          "gamma": rng.uniform(0.5, 2.0, d), "eps": 1e-5, "label": f"N={n}, D={d}"}
                         for n, d in BN_SHAPES])


def _bn_expected(case):
    x, gamma, dout = case["x"], case["gamma"], case["dout"]

    def forward(x, gamma, beta):
        return batchnorm_forward(x, gamma, beta, case["eps"])[0]

    arrays = {"x": x, "gamma": gamma, "beta": np.zeros_like(gamma)}
    return {"dx": gradient(forward, arrays, "x", dout), "dgamma": gradient(forward, arrays, "gamma", dout),
            "dbeta": gradient(forward, arrays, "beta", dout)}


def _bn_parts(x, gamma, eps, ddof=0):
    mu = x.mean(axis=0)
    var = x.var(axis=0, ddof=ddof)
    inv_std = 1.0 / np.sqrt(var + eps)
    return (x - mu) * inv_std, inv_std


def _bn_wrong(kind):
    def wrong(dout, x, gamma, eps=1e-5):
        n = x.shape[0]
        xhat, inv_std = _bn_parts(x, gamma, eps, ddof=1 if kind == "unbiased" else 0)
        dxhat = dout * gamma
        mean_term = dxhat.sum(axis=0)
        var_term = xhat * (dxhat * xhat).sum(axis=0)
        if kind == "no_variance_path":
            dx = inv_std / n * (n * dxhat - mean_term)
        elif kind == "no_mean_path":
            dx = inv_std / n * (n * dxhat - var_term)
        elif kind == "direct_only":
            dx = dxhat * inv_std
        else:
            dx = inv_std / n * (n * dxhat - mean_term - var_term)
        return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)
    return wrong


BATCHNORM_BACKWARD = function_spec(
    "batchnorm_backward", "batchnorm_backward(dout, x, gamma, eps) -> (dx, dgamma, dbeta)",
    make_cases=_bn_cases,
    call=drivers.function("batchnorm_backward", args=("dout", "x", "gamma", "eps"), returns=("dx", "dgamma", "dbeta"),
                          unchanged=("dout", "x", "gamma")),
    expected=_bn_expected, finite_differences=True,
    checks=[returns_check(("dx", "dgamma", "dbeta"), 0.5), unchanged_check(("dout", "x", "gamma"), 0.5),
            value_check("dx", 2.0, "central differences",
                        hint="dx = (1 / (N std)) (N dxhat - sum(dxhat) - xhat sum(dxhat xhat)), dxhat = dout gamma, "
                        "sums over the batch (axis 0)"),
            value_check("dgamma", 1.0, "central differences", hint="dgamma = sum over the batch of dout * xhat"),
            value_check("dbeta", 0.5, "central differences", hint="dbeta = sum over the batch of dout")],
    mistakes=[
        Mistake("no_variance_path", "your dx leaves out the path through the variance: subtract also "
                "xhat * sum(dxhat * xhat) (over the batch) before dividing by N std", _bn_wrong("no_variance_path")),
        Mistake("no_mean_path", "your dx leaves out the path through the mean: subtract also sum(dxhat) (over the "
                "batch) before dividing by N std", _bn_wrong("no_mean_path")),
        Mistake("direct_only", "your dx treats the mean and the variance as constants (that is evaluation mode): in "
                "training both depend on every x_i; add the two paths through them", _bn_wrong("direct_only")),
        Mistake("unbiased", "you normalized with the unbiased variance (divided by N - 1): BatchNorm normalizes "
                "with the biased one, x.var(axis=0), divided by N", _bn_wrong("unbiased")),
    ],
    release_hint="recompute xhat and 1/std from x; then dbeta, dgamma, and dx through the direct path, the mean and "
                 "the variance")


# ---- network_backward ------------------------------------------------------------------------------------------

NAMES = ("dlogits", "dW2", "db2", "dh", "dh_bn", "dgamma", "dbeta", "dxhat", "dinv_std", "dvar", "dc", "dmu",
         "dh_pre", "dW1", "dX")
ARGS = ("X", "y", "W1", "gamma", "beta", "W2", "b2")
NET_SHAPES = [(6, 4, 5, 3), (3, 2, 4, 5), (8, 5, 3, 4), (7, 3, 6, 2)]   # (N, D, H, C)


def _net_cases(rng):
    cases = []
    for n, d, h, c in NET_SHAPES:
        cases.append({"X": rng.standard_normal((n, d)), "y": rng.integers(0, c, n),
                      "W1": rng.standard_normal((d, h)) * 0.7,
                      "gamma": rng.uniform(0.5, 1.5, h), "beta": rng.standard_normal(h) * 0.2,
                      "W2": rng.standard_normal((h, c)) * 0.7, "b2": rng.standard_normal(c) * 0.1,
                      "label": f"N={n}, D={d}, H={h}, C={c}"})
    return finish_cases(cases)


def _net_wrong(kind):
    """The solution with one catalogued mistake (``kind``), written independently of the notebook."""
    def wrong(X, y, W1, gamma, beta, W2, b2, eps=1e-5):
        n = X.shape[0]
        h_pre = X @ W1
        mu = h_pre.mean(axis=0, keepdims=True)
        c = h_pre - mu
        var = (c ** 2).mean(axis=0, keepdims=True)
        inv_std = (var + eps) ** -0.5
        xhat = c * inv_std
        h_bn = gamma * xhat + beta
        h = np.tanh(h_bn)
        logits = h @ W2 + b2
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        dlogits = p.copy()
        dlogits[np.arange(n), y] -= 1
        if kind != "no_batch_mean":
            dlogits /= n
        dW2, db2 = h.T @ dlogits, dlogits.sum(axis=0)
        dh = dlogits @ W2.T
        dh_bn = dh * (1 - (h_bn ** 2 if kind == "tanh_from_input" else h ** 2))
        dgamma, dbeta = (dh_bn * xhat).sum(axis=0), dh_bn.sum(axis=0)
        dxhat = dh_bn * gamma
        dinv_std = (dxhat * c).sum(axis=0, keepdims=True)
        dvar = dinv_std * -0.5 * (var + eps) ** -1.5
        if kind == "no_variance_path":
            dc = dxhat * inv_std
        elif kind == "variance_without_1_over_N":
            dc = dxhat * inv_std + dvar * 2 * c
        else:
            dc = dxhat * inv_std + dvar * 2 * c / n
        dmu = -dc.sum(axis=1, keepdims=True) if kind == "mean_wrong_axis" else -dc.sum(axis=0, keepdims=True)
        dh_pre = dc + dmu if kind == "mean_without_1_over_N" else dc + dmu / n
        return (dlogits, dW2, db2, dh, dh_bn, dgamma, dbeta, dxhat, dinv_std, dvar, dc, dmu, dh_pre,
                X.T @ dh_pre, dh_pre @ W1.T)
    return wrong


_ROW_HINTS = {
    "dlogits": "softmax cross-entropy averaged over the batch: (probs - onehot(y)) / N",
    "dW2": "dW2 = h.T @ dlogits, shape (H, C)", "db2": "b2 is added to every row: sum dlogits over the batch",
    "dh": "dh = dlogits @ W2.T, shape (N, H)", "dh_bn": "tanh's local derivative is 1 - h**2, h its output",
    "dgamma": "gamma multiplies xhat in every row: sum dh_bn * xhat over the batch",
    "dbeta": "beta is added to every row: sum dh_bn over the batch", "dxhat": "h_bn = gamma * xhat + beta: the local derivative for xhat is gamma",
    "dinv_std": "inv_std (1, H) multiplied every row of c: sum dxhat * c over the batch, keepdims",
    "dvar": "inv_std = (var + eps) ** -0.5: its local derivative is -0.5 (var + eps) ** -1.5",
    "dc": "c is used twice, in xhat and in var: add dxhat * inv_std and dvar * 2 c / N",
    "dmu": "c = h_pre - mu with mu broadcast over the batch: dmu = -(sum of dc over the batch), keepdims",
    "dh_pre": "h_pre is used twice, in c and in mu = mean(h_pre): add dc and what the mean sends back to each "
              "row, dmu / N",
    "dW1": "dW1 = X.T @ dh_pre, shape (D, H)",
    "dX": "dX = dh_pre @ W1.T, shape (N, D)",
}

NETWORK_BACKWARD = function_spec(
    "network_backward", "network_backward(X, y, W1, gamma, beta, W2, b2) -> (dlogits, ..., dX)",
    make_cases=_net_cases,
    call=drivers.function("network_backward", args=ARGS, returns=NAMES, unchanged=tuple(a for a in ARGS if a != "y")),
    checks=[returns_check(NAMES, 1.0), unchanged_check(tuple(a for a in ARGS if a != "y"), 0.5)]
    + [value_check(name, 0.5, "the solution", hint=_ROW_HINTS[name]) for name in NAMES],
    mistakes=[
        Mistake("no_batch_mean", "the loss is the MEAN over the batch: dlogits = (probs - onehot(y)) / N; without "
                "the 1/N every gradient after it is off by the factor N", _net_wrong("no_batch_mean")),
        Mistake("tanh_from_input", "tanh's local derivative is 1 - h**2 with h = tanh(h_bn), its output; you used "
                "1 - h_bn**2", _net_wrong("tanh_from_input")),
        Mistake("no_variance_path", "c is used twice, in xhat and in var: dc must also collect the gradient coming "
                "back through the variance, dvar * 2 c / N", _net_wrong("no_variance_path")),
        Mistake("variance_without_1_over_N", "var is a MEAN of c**2: the gradient it sends to c is dvar * 2 c / N, "
                "you left out the 1/N", _net_wrong("variance_without_1_over_N")),
        Mistake("mean_without_1_over_N", "mu is the MEAN of h_pre over the batch: each h_pre gets dmu / N from it, "
                "you left out the 1/N", _net_wrong("mean_without_1_over_N")),
        Mistake("mean_wrong_axis", "mu (1, H) was broadcast over the batch (axis 0): sum dc over axis 0 with "
                "keepdims, not over axis 1", _net_wrong("mean_wrong_axis")),
    ],
    release_hint="walk the forward pass backwards, one line per intermediate; keep each gradient the shape of its "
                 "value, sum over the batch what was broadcast, add up what was used twice")


EXERCISE = exercise("ex11", "Backprop by hand through everything: BatchNorm and a whole network, backward",
                    [BATCHNORM_BACKWARD, NETWORK_BACKWARD])
