"""The exercise catalog: references pass, stubs score 0, every catalogued mistake gets its own hint, errors name the
student's line, and check() is fast, deterministic and safe with hostile return values."""
from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import sympy

from bpkit.exercises import check, magic_check
from bpkit.exercises.catalog import UnknownName, all_exercises, find_function, get_exercise
from bpkit.exercises.runner import public_cases, run_checks
from bpkit.gradcheck import numerical_gradient
from bpkit.nn.layers import Linear
from test_exercise_ex11 import WRONG as EX11_WRONG
from test_exercises_attention import WRONG as ATTENTION_WRONG
from test_exercise_ex13 import WRONG as EX13_WRONG
from test_exercises_cnn_rnn import WRONG as CNN_RNN_WRONG

ROOT = Path(__file__).resolve().parents[1]

COURSE = {k: v for k, v in all_exercises().items() if re.match(r"ex\d\d$", k)}
SPECS = [(ex.id, spec) for ex in COURSE.values() for spec in ex.functions]
ReferenceValue = get_exercise("ex02").reference("Value")
IDS = [f"{i}-{s.name}" for i, s in SPECS]


def score(rows):
    return sum(r.points for r in rows), sum(r.max_points for r in rows)


# ---- the catalog -----------------------------------------------------------------------------------------------

def test_catalog_has_ex01_to_ex08_with_the_issue_functions():
    names = {s.name for _, s in SPECS}
    assert {"ex01", "ex02", "ex03", "ex04", "ex05", "ex06", "ex07", "ex08"} <= set(all_exercises())
    assert {"dL_dw", "dL_db", "Value", "linear_forward", "linear_backward", "relu_backward", "sigmoid_backward",
            "softmax_cross_entropy", "mse_loss", "mlp_loss", "sgd_momentum_step", "adam_step",
            "numerical_gradient", "layer_gradient_norms"} <= names


def test_lookup_errors_list_what_is_known():
    assert get_exercise("3").id == get_exercise("ex03_matrix_calculus.ipynb").id == "ex03"
    with pytest.raises(UnknownName, match="not an exercise here; known exercises: ex01, ex02"):
        get_exercise("ex99")
    with pytest.raises(KeyError, match="known functions: .*linear_backward"):
        find_function("linear_backwards")
    assert find_function("adam_step")[0].id == "ex07"


@pytest.mark.parametrize("exercise_id, spec", SPECS, ids=IDS)
def test_every_function_has_three_mistakes_and_consistent_points(exercise_id, spec):
    assert len(spec.mistakes) >= 3
    assert len({m.name for m in spec.mistakes}) == len({m.hint for m in spec.mistakes}) == len(spec.mistakes)
    assert spec.release_hint and spec.signature.startswith(("class", spec.name))
    cases = public_cases(spec)
    assert math.isclose(sum(c["weight"] for c in cases), 1.0)
    assert math.isclose(score(run_checks(spec, spec.reference, cases))[1], spec.points)


@pytest.mark.parametrize("exercise_id, spec", SPECS, ids=IDS)
def test_cases_and_outputs_are_plain_values_that_survive_savez(exercise_id, spec):
    """The grader ships cases to a child and outputs back with np.savez / np.load(allow_pickle=False)."""
    for case in spec.make_cases(np.random.default_rng(7)):
        outputs = spec.call(spec.reference, case)
        for payload in (case, outputs):
            buffer = io.BytesIO()
            np.savez(buffer, **{k.replace("!", "_"): np.asarray(v) for k, v in payload.items()})
            buffer.seek(0)
            loaded = np.load(buffer, allow_pickle=False)
            assert all(loaded[k].dtype.kind in "biufU" for k in loaded.files)
        assert all(type(v) in (np.ndarray, float, int, str) for v in outputs.values())


@pytest.mark.parametrize("exercise_id, spec", SPECS, ids=IDS)
def test_outputs_keep_full_marks_through_the_graders_wire_protocol(exercise_id, spec):
    """What the child sends (JSON numbers and raw array bytes) grades exactly like the in-process outputs."""
    protocol = pytest.importorskip("bpkit.sandbox.protocol")
    for case in spec.make_cases(np.random.default_rng(5)):
        arrays: dict = {}
        values = protocol.encode_values(spec.call(spec.reference, case), "a", arrays)
        manifest, payload = protocol.pack_arrays(arrays)
        received = protocol.decode_values(json.loads(json.dumps(values)), protocol.unpack_arrays(manifest, payload))
        rows = spec.grade(case, received)
        assert all(r.passed for r in rows), [r.message for r in rows if not r.passed]


@pytest.mark.parametrize("exercise_id, spec", SPECS, ids=IDS)
def test_the_reference_passes_every_check_under_hidden_seeds(exercise_id, spec):
    for seed in (None, 1, 2, 3):
        cases = None if seed is None else spec.make_cases(np.random.default_rng(seed))
        rows = run_checks(spec, spec.reference, cases)
        failed = [f"{r.name}: {r.message}" for r in rows if not r.passed]
        assert not failed, failed
        assert all(r.status == "ok" for r in rows)


def test_hidden_seeds_change_the_values_not_the_shapes():
    spec = find_function("linear_backward")[1]
    a, b = (spec.make_cases(np.random.default_rng(s)) for s in (10, 11))
    assert [c["label"] for c in a] == [c["label"] for c in b]
    assert not np.allclose(a[0]["x"], b[0]["x"])


# ---- stubs ------------------------------------------------------------------------------------------------------

def _stub(*args, **kwargs):
    raise NotImplementedError("compute out = x @ W + b")


class StubValue(ReferenceValue):
    """What a released ex02 looks like: the constructor and + work, every solution region raises."""

    @staticmethod
    def _unwritten(out):
        def _backward(g):
            raise NotImplementedError("write this step")
        out._backward = _backward
        return out

    def __mul__(self, other):
        return self._unwritten(ReferenceValue.__mul__(self, other))

    def tanh(self):
        return self._unwritten(ReferenceValue.tanh(self))

    def exp(self):
        return self._unwritten(ReferenceValue.exp(self))

    def __pow__(self, k):
        return self._unwritten(ReferenceValue.__pow__(self, k))

    def backward(self):
        raise NotImplementedError("write this step")


@pytest.mark.parametrize("exercise_id, spec", SPECS, ids=IDS)
def test_a_released_stub_scores_zero_with_not_implemented_yet(exercise_id, spec):
    stub = StubValue if spec.name == "Value" else _stub
    rows = run_checks(spec, stub)
    got, full = score(rows)
    assert got == 0 and math.isclose(full, spec.points)
    given = [r for r in rows if "(given code, no points)" in r.name]       # ex02's forward values: given, 0 points
    assert all(r.passed and r.max_points == 0 for r in given)
    todo = [r for r in rows if r not in given]
    assert {r.status for r in todo} == {"not_implemented"}
    assert all(r.message == "not implemented yet" for r in todo)
    text = str(check(spec.name, namespace={spec.name: stub}))
    assert "not implemented yet" in text and "Traceback" not in text


# ---- every catalogued mistake, written independently here, gets its own hint ----------------------------------

def sig(z):
    return 1 / (1 + np.exp(-z))


def sp_sig(z):
    return 1 / (1 + sympy.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _ce(logits, y):
    p = _softmax(logits)
    n = len(y)
    return float(-np.mean(np.log(p[np.arange(n), y]))), p


def _onehot(y, c):
    out = np.zeros((len(y), c))
    out[np.arange(len(y)), y] = 1
    return out


def _mlp(params, X, y, reg, bias_decay=False, decay_grad=1.0, relu_last=False, mask_above=False, sum_b=True,
         scale=1.0, depth=None):
    """ex05's mlp_loss with one mistake switched on, written here independently of the spec: the forward values
    of every layer kept in lists (pre-activations zs, outputs hs), the backward pass walking them in reverse."""
    L = depth or sum(k.startswith("W") for k in params)
    Ws = [params[f"W{i + 1}"] for i in range(L)]
    bs = [params[f"b{i + 1}"] for i in range(L)]
    hs, zs = [X], []
    for i in range(L):
        zs.append(hs[-1] @ Ws[i] + bs[i])
        hs.append(np.maximum(zs[-1], 0) if i < L - 1 or relu_last else zs[-1])
    data, p = _ce(hs[-1], y)
    decay = sum(float((W ** 2).sum()) for W in Ws) + (sum(float((b ** 2).sum()) for b in bs) if bias_decay else 0)
    loss = scale * data + reg / 2 * decay
    d = scale * (p - _onehot(y, p.shape[1])) / len(y)
    if relu_last:
        d = d * (zs[-1] > 0)
    grads = {}
    for i in reversed(range(L)):
        grads[f"W{i + 1}"] = hs[i].T @ d + decay_grad * reg * Ws[i]
        grads[f"b{i + 1}"] = (d.sum(0) if sum_b else d) + (reg * bs[i] if bias_decay else 0)
        if i:
            d = d @ Ws[i].T * ((zs[i] if mask_above else zs[i - 1]) > 0)
    return loss, grads


def _adam(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, correct=True, shift=0, inside=False,
          square=True):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * (dw ** 2 if square else abs(dw))
    mh, vh = (m / (1 - beta1 ** (t + shift)), v / (1 - beta2 ** (t + shift))) if correct else (m, v)
    return w - lr * mh / (np.sqrt(vh + eps) if inside else np.sqrt(vh) + eps), m, v


def _numgrad(f, x, h=1e-5, kind=""):
    g = np.zeros_like(x)
    if kind == "vector":
        return np.ones_like(x) * (f(x + h) - f(x - h)) / (2 * h)
    for i in np.ndindex(x.shape):
        keep = x[i]
        x[i] = keep + h
        fp = f(x)
        if kind == "forward":
            x[i] = keep
            g[i] = (fp - f(x)) / h
            continue
        x[i] = keep - h
        fm = f(x)
        if kind != "keep":
            x[i] = keep
        g[i] = (fp - fm) / (h if kind == "h" else 2 * h)
    return g


def _norms(model, X, y, what="W", grads=True, power=1, reverse=False):
    _, p = _ce(model.forward(X), y)
    model.backward((p - _onehot(y, p.shape[1])) / len(y))
    found = [(layer.grads if grads else layer.params)[what] for layer in model.layers if isinstance(layer, Linear)]
    norms = np.array([np.sqrt((a * a).sum()) ** power for a in found])
    return norms[::-1] if reverse else norms


def _relu_in_place(dout, x):
    dout *= (x > 0)
    return dout


def _lift(self, v):
    return v if hasattr(v, "parents") else type(self)(v)


def _node(self, data, parents):
    return type(self)(data, _parents=parents)


def _v_mul(kind):
    def __mul__(self, other):
        other = _lift(self, other)
        out = _node(self, self.data * other.data, (self, other))

        def _backward(g):
            if kind == "over":
                self.grad = other.data * g
                other.grad = self.data * g
            else:
                self.grad += self.data * g
                other.grad += other.data * g
        out._backward = _backward
        return out
    return __mul__


def _v_unary(op, kind):
    """op in tanh/exp/pow; kind: over (=), input (1 - x**2), pass (no local derivative), nok (no factor k), x (times
    the input), twice_out (2 out), nog (g left out)."""
    def method(self, k=None):
        x = self.data
        y = math.tanh(x) if op == "tanh" else math.exp(x) if op == "exp" else x ** k
        d = {"tanh": 1 - y * y, "exp": y, "pow": k * x ** (k - 1) if k is not None else 0}[op]
        d = {"input": 1 - x * x, "pass": 1.0, "nok": x ** (k - 1) if k is not None else 0, "x": x,
             "twice_out": 2 * y}.get(kind, d)
        out = _node(self, y, (self,))

        def _backward(g):
            self.grad = (0 if kind == "over" else self.grad) + d * (1.0 if kind == "nog" else g)
        out._backward = _backward
        return out
    return method


def _patched(**methods):
    """The reference class with methods replaced, as a fresh copy (nodes are built as Value(...))."""
    cls = get_exercise("ex02").fresh_reference("Value")
    for name, method in methods.items():
        setattr(cls, name, method)
    return cls


def _order(root):
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node.parents)
    return order


def _backward_no_topo(self):
    self.grad = 1.0

    def walk(node):  # depth first, no ordering: a shared node runs before all its gradient arrived
        node._backward(node.grad)
        for parent in node.parents:
            walk(parent)
    walk(self)


def _backward_no_seed(self):
    for v in _order(self)[::-1]:
        v._backward(v.grad)


def _backward_forward_order(self):
    self.grad = 1.0
    for v in _order(self):           # leaves first: forgot reversed()
        v._backward(v.grad)


def _backward_resets(self):
    order = _order(self)
    for v in order:
        v.grad = 0.0
    self.grad = 1.0
    for v in order[::-1]:
        v._backward(v.grad)


VALUE_WRONG = {"overwrites": dict(__mul__=_v_mul("over")), "mul_own_value": dict(__mul__=_v_mul("own")),
               "tanh_overwrites": dict(tanh=_v_unary("tanh", "over")), "exp_overwrites": dict(exp=_v_unary("exp", "over")),
               "pow_overwrites": dict(__pow__=lambda self, k: _v_unary("pow", "over")(self, k)),
               "tanh_from_input": dict(tanh=_v_unary("tanh", "input")), "exp_passthrough": dict(exp=_v_unary("exp", "pass")),
               "exp_input_value": dict(exp=_v_unary("exp", "x")),
               "pow_no_exponent": dict(__pow__=lambda self, k: _v_unary("pow", "nok")(self, k)),
               "no_topological_order": dict(backward=_backward_no_topo), "no_seed": dict(backward=_backward_no_seed),
               "forward_order": dict(backward=_backward_forward_order),
               "resets_grads": dict(backward=_backward_resets)}


WRONG = {
    ("dL_dw", "no_inner_derivative"): lambda w, x, b, y: 2 * (sp_sig(w * x + b) - y) * sp_sig(w * x + b)
    * (1 - sp_sig(w * x + b)),
    ("dL_dw", "preactivation"): lambda w, x, b, y: 2 * (sp_sig(w * x + b) - y) * (w * x + b) * (1 - w * x - b) * x,
    ("dL_dw", "no_factor_2"): lambda w, x, b, y: (sp_sig(w * x + b) - y) * sp_sig(w * x + b)
    * (1 - sp_sig(w * x + b)) * x,
    ("dL_dw", "sign_flipped"): lambda w, x, b, y: -2 * (sp_sig(w * x + b) - y) * sp_sig(w * x + b)
    * (1 - sp_sig(w * x + b)) * x,
    ("dL_dw", "no_sigmoid_derivative"): lambda w, x, b, y: 2 * (sp_sig(w * x + b) - y) * x,
    ("dL_db", "times_x"): lambda w, x, b, y: x * 2 * (sp_sig(w * x + b) - y) * sp_sig(w * x + b)
    * (1 - sp_sig(w * x + b)),
    ("dL_db", "preactivation"): lambda w, x, b, y: 2 * (sp_sig(w * x + b) - y) * (w * x + b) * (1 - (w * x + b)),
    ("dL_db", "no_factor_2"): lambda w, x, b, y: (sp_sig(w * x + b) - y) * sp_sig(w * x + b) * (1 - sp_sig(w * x + b)),
    ("dL_db", "sign_flipped"): lambda w, x, b, y: 2 * (y - sp_sig(w * x + b)) * sp_sig(w * x + b)
    * (1 - sp_sig(w * x + b)),
    ("dL_db", "no_sigmoid_derivative"): lambda w, x, b, y: 2 * (sp_sig(w * x + b) - y),
    ("linear_forward", "no_bias"): lambda x, W, b: np.dot(x, W),
    ("linear_forward", "W_transposed"): lambda x, W, b: np.dot(x, W.T) + b,
    ("linear_forward", "bias_per_row"): lambda x, W, b: np.dot(x, W) + b.reshape(-1, 1),
    ("linear_backward", "dW_transposed"): lambda d, x, W: (d @ W.T, (x.T @ d).T, d.sum(0)),
    ("linear_backward", "dx_W_not_transposed"): lambda d, x, W: (d @ W, x.T @ d, d.sum(0)),
    ("linear_backward", "db_not_summed"): lambda d, x, W: (d @ W.T, x.T @ d, d),
    ("linear_backward", "db_wrong_axis"): lambda d, x, W: (d @ W.T, x.T @ d, np.sum(d, axis=-1)),
    ("linear_backward", "db_mean"): lambda d, x, W: (d @ W.T, x.T @ d, d.sum(0) / d.shape[0]),
    ("linear_backward", "sign_flipped"): lambda d, x, W: (-d @ W.T, -x.T @ d, -d.sum(0)),
    ("relu_backward", "in_place"): _relu_in_place,
    ("relu_backward", "passthrough"): lambda d, x: d + 0.0,
    ("relu_backward", "mask_from_dout"): lambda d, x: np.where(d > 0, d, 0.0),
    ("relu_backward", "mask_inverted"): lambda d, x: np.where(x > 0, 0.0, d),
    ("relu_backward", "mask_only"): lambda d, x: np.where(x > 0, 1.0, 0.0),
    ("relu_backward", "kink_included"): lambda d, x: np.where(x < 0, 0.0, d),
    ("sigmoid_backward", "from_preactivation"): lambda d, x: d * (x - x * x),
    ("sigmoid_backward", "passthrough"): lambda d, x: d * 1.0,
    ("sigmoid_backward", "no_upstream"): lambda d, x: sig(x) - sig(x) ** 2,
    ("sigmoid_backward", "sigmoid_only"): lambda d, x: sig(x) * d,
    ("softmax_cross_entropy", "unstable"): lambda z, y: (
        float(-np.mean(np.log((np.exp(z) / np.exp(z).sum(1, keepdims=True))[np.arange(len(y)), y]))),
        (np.exp(z) / np.exp(z).sum(1, keepdims=True) - _onehot(y, z.shape[1])) / len(y)),
    ("softmax_cross_entropy", "grad_not_averaged"): lambda z, y: (_ce(z, y)[0], _ce(z, y)[1] - _onehot(y, z.shape[1])),
    ("softmax_cross_entropy", "summed"): lambda z, y: (_ce(z, y)[0] * len(y), _ce(z, y)[1] - _onehot(y, z.shape[1])),
    ("softmax_cross_entropy", "sign_flipped"): lambda z, y: (_ce(z, y)[0],
                                                             (_onehot(y, z.shape[1]) - _ce(z, y)[1]) / len(y)),
    ("softmax_cross_entropy", "softmax_wrong_axis"): lambda z, y: (
        float(-np.mean(np.log(_softmax(z.T).T[np.arange(len(y)), y]))),
        (_softmax(z.T).T - _onehot(y, z.shape[1])) / len(y)),
    ("softmax_cross_entropy", "onehot_forgotten"): lambda z, y: (_ce(z, y)[0], _ce(z, y)[1] / len(y)),
    ("mse_loss", "no_factor_2"): lambda p, t: (float(((p - t) ** 2).mean()), (p - t) / p.size),
    ("mse_loss", "not_averaged"): lambda p, t: (float(((p - t) ** 2).mean()), 2 * (p - t)),
    ("mse_loss", "mean_over_rows"): lambda p, t: (float(((p - t) ** 2).sum() / len(p)), 2 * (p - t) / len(p)),
    ("mse_loss", "sign_flipped"): lambda p, t: (float(((p - t) ** 2).mean()), 2 * (t - p) / p.size),
    ("mlp_loss", "bias_regularized"): lambda params, X, y, reg: _mlp(params, X, y, reg, bias_decay=True),
    ("mlp_loss", "reg_factor_2"): lambda params, X, y, reg: _mlp(params, X, y, reg, decay_grad=2.0),
    ("mlp_loss", "relu_on_scores"): lambda params, X, y, reg: _mlp(params, X, y, reg, relu_last=True),
    ("mlp_loss", "mask_from_layer_above"): lambda params, X, y, reg: _mlp(params, X, y, reg, mask_above=True),
    ("mlp_loss", "db_not_summed"): lambda params, X, y, reg: _mlp(params, X, y, reg, sum_b=False),
    ("mlp_loss", "not_averaged"): lambda params, X, y, reg: _mlp(params, X, y, reg, scale=len(y)),
    ("mlp_loss", "two_layers_only"): lambda params, X, y, reg: _mlp(params, X, y, reg, depth=2),
    ("sgd_momentum_step", "lr_in_velocity"): lambda w, dw, v, lr, mu: (w + mu * v - lr * dw, mu * v - lr * dw),
    ("sgd_momentum_step", "dampened"): lambda w, dw, v, lr, mu: (w - lr * (mu * v + (1 - mu) * dw),
                                                                 mu * v + (1 - mu) * dw),
    ("sgd_momentum_step", "step_with_dw"): lambda w, dw, v, lr, mu: (w - lr * dw, mu * v + dw),
    ("sgd_momentum_step", "old_velocity"): lambda w, dw, v, lr, mu: (w - lr * v, mu * v + dw),
    ("sgd_momentum_step", "sign_flipped"): lambda w, dw, v, lr, mu: (w + lr * (mu * v + dw), mu * v + dw),
    ("adam_step", "no_bias_correction"): lambda *a, **k: _adam(*a, **k, correct=False),
    ("adam_step", "t_off_by_one"): lambda *a, **k: _adam(*a, **k, shift=1),
    ("adam_step", "eps_inside_sqrt"): lambda *a, **k: _adam(*a, **k, inside=True),
    ("adam_step", "v_not_squared"): lambda *a, **k: _adam(*a, **k, square=False),
    ("numerical_gradient", "not_restored"): lambda f, x, h=1e-5: _numgrad(f, x, h, "keep"),
    ("numerical_gradient", "forward_difference"): lambda f, x, h=1e-5: _numgrad(f, x, h, "forward"),
    ("numerical_gradient", "over_h"): lambda f, x, h=1e-5: _numgrad(f, x, h, "h"),
    ("numerical_gradient", "all_at_once"): lambda f, x, h=1e-5: _numgrad(f, x, h, "vector"),
    ("layer_gradient_norms", "weights"): lambda m, X, y: _norms(m, X, y, grads=False),
    ("layer_gradient_norms", "reversed"): lambda m, X, y: _norms(m, X, y, reverse=True),
    ("layer_gradient_norms", "squared"): lambda m, X, y: _norms(m, X, y, power=2),
    ("layer_gradient_norms", "bias"): lambda m, X, y: _norms(m, X, y, what="b"),
}

# the CNN/RNN wrong answers (ex09, ex10) are loop versions that live beside their own tests
WRONG.update(CNN_RNN_WRONG)
WRONG.update(EX11_WRONG)
WRONG.update(ATTENTION_WRONG)  # ex12's, written per row and per gate beside its own tests
WRONG.update(EX13_WRONG)
WRONG.update({("Value", name): _patched(**methods) for name, methods in VALUE_WRONG.items()})
MISTAKES = [(spec, m) for _, spec in SPECS for m in spec.mistakes]


def test_every_catalogued_mistake_has_a_wrong_function_here():
    assert {(s.name, m.name) for s, m in MISTAKES} == set(WRONG)


@pytest.mark.parametrize("spec, mistake", MISTAKES, ids=[f"{s.name}-{m.name}" for s, m in MISTAKES])
def test_each_mistake_fails_and_gets_its_own_hint(spec, mistake):
    with np.errstate(all="ignore"):
        rows = run_checks(spec, WRONG[(spec.name, mistake.name)])
    got, full = score(rows)
    assert got < full
    failing = [r for r in rows if not r.passed]
    # a mistake that only fits square shapes (W transposed) raises on the other cases: that is an error row
    assert {r.status for r in failing} <= {"ok", "error"}, [r.message for r in failing]
    assert mistake.hint in {r.hint for r in failing}
    others = {m.hint for m in spec.mistakes if m is not mistake}
    assert not others & {r.hint for r in failing}


def test_an_unknown_mistake_gets_a_diagnosis_and_the_general_pointer_not_a_wrong_hint():
    spec = find_function("linear_backward")[1]
    rows = run_checks(spec, lambda dout, x, W: (dout @ W.T, x.T @ dout * 1.5, dout.sum(0)))
    bad = [r for r in rows if not r.passed]
    assert bad and {r.name for r in bad} == {"dW matches central differences"}
    assert {r.hint for r in bad} == {"dW is the right one scaled by a constant factor; "
                                     "dW has W's shape (D, M): x.T (D, N) times dout (N, M)"}
    assert all(r.rel_error > r.tolerance for r in bad)


def test_a_wrong_local_derivative_costs_its_op_and_the_rows_that_reuse_it_point_back_to_it():
    # not catalogued: exp's local derivative doubled. backward() is right and keeps its points (its graph's nodes
    # carry the driver's closures); the "used twice" row fails with it and says where the fault is
    report = check("Value", namespace={"Value": _patched(exp=_v_unary("exp", "twice_out"))})
    failing = {row.name: {r.hint for r in row.results if not r.passed} for row in report.rows if not row.passed}
    assert set(failing) == {"a.exp(): _backward(g) matches central differences",
                            "a.exp(): a leaf used twice receives both contributions (+=)"}, failing
    (twice,) = failing["a.exp(): a leaf used twice receives both contributions (+=)"]
    assert "never =" not in twice and 'reuses what "a.exp(): _backward(g) matches central differences"' in twice


def test_a_backward_that_skips_leaves_by_their_op_is_right_on_the_drivers_graph():
    class SkipsLeaves(ReferenceValue):
        def backward(self):
            self.grad = 1.0
            for node in reversed(_order(self)):
                if node.op:                        # leaves have no op and nothing to pass on
                    node._backward(node.grad)

    report = check("Value", namespace={"Value": SkipsLeaves})
    assert report.score == report.max_score, [(r.name, r.status) for r in report.rows if not r.passed]


def test_a_second_graph_row_does_not_blame_a_reset_that_never_happens():
    # the walk: backward() hands 1.0 to every node instead of node.grad and resets nothing; the "adds to the
    # leaves' grads" row used to say "never resets the leaves' grads: that is zero_grad()'s job"
    class PassesOne(ReferenceValue):
        def backward(self):
            self.grad = 1.0
            for node in reversed(_order(self)):
                node._backward(1.0)

    report = check("Value", namespace={"Value": PassesOne})
    failing = {row.name: {r.hint for r in row.results if not r.passed} for row in report.rows if not row.passed}
    second = failing["backward() on a second graph adds to the leaves' grads (PyTorch's convention)"]
    assert not any("zero_grad" in h for h in second) and all("reuses" in h for h in second), second


def test_a_closure_that_forgets_g_is_told_it_misses_a_factor_of_g():
    # the walk: tanh's _backward without the upstream gradient got only the general pointer
    report = check("Value", namespace={"Value": _patched(tanh=_v_unary("tanh", "nog"))})
    failing = {row.name: {r.hint for r in row.results if not r.passed} for row in report.rows if not row.passed}
    hints = failing["a.tanh(): _backward(g) matches central differences"]
    assert hints and all(h.startswith("the result is missing a factor of g") for h in hints), hints


def test_backward_is_graded_on_its_own_graph_even_when_every_op_is_unfinished():
    class OpsUnfinished(ReferenceValue):
        def __mul__(self, other):
            raise NotImplementedError("later")

    report = check("Value", namespace={"Value": OpsUnfinished})
    rows = {row.name: row for row in report.rows}
    assert rows["a * b: forward value (given code, no points)"].status == "not_implemented"
    assert all(row.passed for name, row in rows.items() if name.startswith("backward()")), rows


# ---- errors, hostile outputs, partial credit ---------------------------------------------------------------------

def test_an_exception_names_the_students_own_line():
    def linear_backward(dout, x, W):
        dx = dout @ W.T
        dW = x @ dout  # the student's bug: shapes do not align
        return dx, dW, dout.sum(axis=0)

    rows = run_checks(find_function("linear_backward")[1], linear_backward)
    errors = [r for r in rows if r.status == "error"]
    assert errors and all(r.points == 0 for r in errors)
    assert "ValueError" in errors[0].message and "dW = x @ dout" in errors[0].message
    assert "of linear_backward in test_exercises.py" in errors[0].message
    assert "bpkit" not in errors[0].message.split("(line")[1]


def test_one_unfinished_method_does_not_zero_the_others():
    class Partial(ReferenceValue):
        def tanh(self):
            raise NotImplementedError("later")

    report = check("Value", namespace={"Value": Partial})
    statuses = {row.name: row.status for row in report.rows}
    assert statuses["a.tanh(): forward value (given code, no points)"] == "not_implemented"
    assert statuses["a * b: _backward(g) matches central differences"] == "ok"
    assert 0 < report.score < report.max_score


class Liar(np.ndarray):
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("returned", [
    "0.5", None, {"dx": 1}, [[object()]],
])
def test_strange_return_values_fail_with_words_not_crashes(returned):
    spec = find_function("relu_backward")[1]
    rows = run_checks(spec, lambda dout, x: returned)
    # only "leaves dout, x unchanged" can pass; None is told apart: "did you forget `return`?"
    assert score(rows)[0] == (0 if returned is None else 0.5)
    if returned is None:
        assert all("returned None: did you forget `return`?" in r.message for r in rows)
    assert all(r.status == "ok" for r in rows)
    assert any(("expected" in r.message or "returned None" in r.message) for r in rows if not r.passed)


def test_an_ndarray_subclass_with_a_lying_eq_gains_nothing():
    spec = find_function("relu_backward")[1]
    rows = run_checks(spec, lambda dout, x: np.zeros_like(dout).view(Liar))
    assert not any(r.passed for r in rows if "central differences" in r.name)


def test_a_wrong_number_of_returns_is_explained():
    rows = run_checks(find_function("linear_backward")[1], lambda dout, x, W: (dout @ W.T, x.T @ dout))
    assert score(rows)[0] == 0
    assert "should return 3 values (dx, dW, db), got a tuple of 2" in rows[0].message


# ---- check(), %check and the report ------------------------------------------------------------------------------

def linear_forward(x, W, b):
    return x @ W + b


def test_check_finds_functions_in_the_callers_namespace_and_reports_missing_ones():
    report = check("ex03")
    by_function = {name: [r for r in report.rows if r.function == name] for name in report.functions()}
    assert all(row.passed for row in by_function["linear_forward"])
    assert by_function["linear_backward"][0].status == "missing"
    assert "linear_backward is not defined yet" in str(report)
    assert report.max_score == get_exercise("ex03").max_points and not report.passed


def test_check_accepts_a_function_a_name_and_answers_nonsense_in_one_line():
    assert check(linear_forward).passed
    assert check("linear_forward").passed
    for target, words in [(3, "check() expects one of your functions"), ("not_a_function", "known functions"),
                          ("ex99", "unknown exercise 'ex99': it is not an exercise here; known exercises: ex01")]:
        report = check(target)
        assert not report.passed and report.results == []
        assert str(report).startswith("check: ") and words in str(report) and "\n" not in str(report)
        assert "Traceback" not in report._repr_html_()


def test_magic_check_checks_each_name_in_the_line():
    ns = {"linear_forward": linear_forward, "mse_loss": find_function("mse_loss")[1].reference}
    report = magic_check("linear_forward, mse_loss", ns)
    assert report.passed and report.functions() == ["linear_forward", "mse_loss"]
    assert "Total: 5/5 points" in str(report)
    assert "%check linear_backward" in str(magic_check("  ", ns))
    with pytest.raises(KeyError, match="no exercise asks for a function named 'nope'"):
        magic_check("linear_forward nope", ns)


def test_the_text_report_is_deterministic_and_shows_verdicts_not_digits():
    spec = find_function("linear_backward")[1]
    namespace = {"linear_backward": WRONG[("linear_backward", "dW_transposed")]}
    first, second = (str(check("linear_backward", namespace)) for _ in range(2))
    assert first == second
    assert "rel. error <= 1e-07" in first and "FAIL  dW matches central differences" in first
    assert "hint: your dW is the transpose" in first
    assert "s\n" not in first.replace("cases", "")  # no timings
    html = check("linear_backward", namespace)._repr_html_()
    assert html.startswith("<table") and "transpose" in html and spec.signature.split(" ->")[0] in html


def test_scores_and_results_serialize_for_the_gradebook():
    report = check("linear_backward", {"linear_backward": WRONG[("linear_backward", "db_mean")]})
    rows = json.loads(json.dumps([r.to_dict() for r in report.results]))
    assert {"function", "name", "passed", "points", "max_points", "hint", "status", "case"} <= set(rows[0])
    assert report.score == pytest.approx(sum(r["points"] for r in rows))


@pytest.mark.parametrize("exercise_id, spec", SPECS, ids=IDS)
def test_check_passes_in_a_released_folder(exercise_id, spec, monkeypatch):
    """In a released folder (the public check data) the reference passes its own check. How long a check takes is
    measured by bench/check_time.py (a timed assert failed on a loaded machine, not on the code)."""
    monkeypatch.chdir(ROOT / "exercises")
    sympy.symbols("w")  # sympy is imported once per kernel, not per check
    assert check(spec.name, {spec.name: spec.reference}).passed


def test_reference_gradients_are_central_differences_of_the_forward():
    """The ex03 reference agrees with bpkit.gradcheck itself: the checks test against the definition."""
    case = public_cases(find_function("linear_backward")[1])[1]
    x = case["x"].copy()
    num = numerical_gradient(lambda x_: x_ @ case["W"] + case["b"], x, case["dout"])
    assert np.allclose(num, case["dout"] @ case["W"].T, rtol=1e-7, atol=1e-9)


def test_an_endless_backward_in_check_costs_backward_not_the_methods_that_work():
    # the student's check(): an endless loop in backward() used to turn every row of the case into TIMEOUT
    def backward(self):
        while True:
            pass

    _, spec = find_function("Value")
    rows = run_checks(spec, _patched(backward=backward), time_limit_s=1.0)
    timed_out = [r for r in rows if r.status == "timeout"]
    methods = [r for r in rows if not r.name.startswith("backward")]
    assert timed_out and all(r.name.startswith("backward") for r in timed_out), \
        [(r.name, r.status) for r in timed_out]
    # every op is graded on every case (the cases after the time-out skip backward() alone), one time limit spent
    assert methods and all(r.passed for r in methods), [(r.name, r.case, r.message) for r in methods if not r.passed]
    assert len({r.case for r in methods}) == len(public_cases(spec)) > 1
    assert sum(r.points for r in rows) == pytest.approx(sum(r.max_points for r in methods))
    later = [r for r in timed_out if r.case != timed_out[0].case]
    assert later and all("earlier case" in r.message for r in later), [r.message for r in later]
    # the first says how long it was given and how to give it longer
    assert "within 1 s" in timed_out[0].message and "time_limit=" in timed_out[0].message, timed_out[0].message


def test_a_failing_row_quotes_its_worst_case_and_never_stands_without_a_hint():
    # the walk: the column said "1e+00 > 1e-07" while the row's detail quoted case 1's 6.5e-02; and the second row
    # failing for the same reason showed an empty "what to do"
    report = check("Value", namespace={"Value": _patched(tanh=_v_unary("tanh", "nog"), exp=_v_unary("exp", "x"))})
    rows = {row.name: row for row in report.rows}
    grads = rows["a.tanh(): _backward(g) matches central differences"]
    worst = max(r.rel_error for r in grads.results)
    assert f"{worst:.1e}" in grads.details[0] and grads.rel_error.startswith(f"{worst:.0e}")
    text = str(report)
    twice = text.split("a.exp(): a leaf used twice")[1].split("\n  ")[0:3]
    assert any("hint: the same as above" in line for line in twice), twice
