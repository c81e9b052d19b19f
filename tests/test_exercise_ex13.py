"""ex13 (the detection loss and saliency): the reference against the loss written as a loop over cells and against
central differences, the gradient exactly zero where it must be, and the catalogued mistakes written again
independently (used by tests/test_exercises.py, which asserts each gets its own hint)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bpkit.exercises.catalog import get_exercise
from bpkit.exercises.runner import public_cases, run_checks
from bpkit.gradcheck import TOLERANCE, numerical_gradient, relative_error
from bpkit.nn.optim import SGD

ROOT = Path(__file__).resolve().parents[1]
EX13 = get_exercise("ex13")
LOSS, SALIENCY = EX13.functions


def _loop_loss(pred, target, box_cells="responsible", cls_cells="responsible", obj_from="same", norm="responsible"):
    """The loss one cell at a time, with switches for the catalogued mistakes."""
    N, K, S, _ = pred.shape
    cells = [(n, i, j) for n in range(N) for i in range(S) for j in range(S)]
    resp = [c for c in cells if target[c[0], 0, c[1], c[2]] == 1]
    obj, box, cls = 0.0, 0.0, 0.0
    for n, i, j in cells:
        z = pred[n, 0, i, j]
        o = target[n, 0, j, i] if obj_from == "transposed" else target[n, 0, i, j]
        obj += np.logaddexp(0.0, z) - o * z
    for n, i, j in (cells if box_cells == "all" else resp):
        box += np.sum((pred[n, 1:5, i, j] - target[n, 1:5, i, j]) ** 2)
    for n, i, j in (cells if cls_cells == "all" else resp):
        s = pred[n, 5:, i, j]
        cls += np.logaddexp.reduce(s) - s[int(target[n, 5, i, j])]
    m = len(cells) if norm == "all" else len(resp)
    return obj / len(cells) + 5.0 * box / (4 * m) + 2.0 * cls / m


def _with_gradient(**switches):
    def wrong(pred, target):
        f = lambda p: _loop_loss(p, target, **switches)  # noqa: E731
        return f(pred), numerical_gradient(f, np.array(pred, dtype=np.float64, copy=True))
    return wrong


def _saliency_of(dscores_fn):
    def wrong(model, x, cls):
        scores = model.forward(x)
        return model.backward(dscores_fn(scores, np.asarray(cls)))
    return wrong


def _onehot(scores, cls):
    out = np.zeros_like(scores)
    out[np.arange(len(cls)), cls] = 1.0
    return out


def _softmax(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _saliency_then(after):
    """The right saliency, then ``after(model, x, cls)`` (which may update the weights)."""
    def fn(model, x, cls):
        scores = model.forward(x)
        dx = model.backward(_onehot(scores, np.asarray(cls)))
        after(model, x, cls)
        return dx
    return fn


def _sgd_step(lr):
    def step(model, x, cls):
        SGD(model, lr=lr).step()
    return step


def _by_hand_with_w_transposed(model, x, cls):
    """Linear's backward (dout @ W.T) for every layer that has a W, the others' own backward: right for the fully
    connected models, a matmul error on Conv2d's (F, C, kh, kw) kernel."""
    up = _onehot(model.forward(x), np.asarray(cls))
    for layer in model.layers[::-1]:
        up = up @ layer.params["W"].T if "W" in layer.params else layer.backward(up)
    return up


WRONG = {
    ("detection_loss", "box_on_empty_cells"): _with_gradient(box_cells="all"),
    ("detection_loss", "class_on_empty_cells"): _with_gradient(cls_cells="all"),
    ("detection_loss", "objectness_wrong_cell"): _with_gradient(obj_from="transposed"),
    ("detection_loss", "mean_over_all_cells"): _with_gradient(norm="all"),
    ("saliency", "all_classes"): _saliency_of(lambda s, c: np.ones_like(s)),
    ("saliency", "probability"): _saliency_of(
        lambda s, c: _softmax(s)[np.arange(len(c)), c][:, None] * (_onehot(s, c) - _softmax(s))),
    ("saliency", "loss"): _saliency_of(lambda s, c: (_softmax(s) - _onehot(s, c)) / len(c)),
    ("saliency", "batch_mean"): _saliency_of(lambda s, c: _onehot(s, c) / len(c)),
    ("saliency", "optimizer_step"): _saliency_then(_sgd_step(0.01)),
    ("saliency", "weights_as_matrices"): _by_hand_with_w_transposed,
}


@pytest.mark.parametrize("case", [c for c in public_cases(LOSS) if not c.get("stable")], ids=lambda c: c["label"])
def test_the_reference_loss_is_the_loop_over_cells_and_its_gradient_a_central_difference(case):
    pred, target = case["pred"], case["target"]
    loss, dpred = EX13.reference("detection_loss")(pred.copy(), target.copy())
    assert loss == pytest.approx(_loop_loss(pred, target), rel=1e-12)
    numeric = numerical_gradient(lambda p: _loop_loss(p, target), pred.copy())
    assert relative_error(dpred, numeric) <= TOLERANCE
    empty = target[:, 0] == 0
    assert np.all(dpred.transpose(0, 2, 3, 1)[empty][:, 1:] == 0)    # no box or class gradient in empty cells
    assert np.all(dpred[:, 0] != 0)                                  # objectness everywhere


def test_the_reference_is_stable_at_logits_of_800():
    case = next(c for c in public_cases(LOSS) if c.get("stable"))
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        loss, dpred = EX13.reference("detection_loss")(case["pred"].copy(), case["target"].copy())
    assert np.isfinite(loss) and np.all(np.isfinite(dpred))


def test_the_reference_scores_full_marks_and_the_mistakes_differ_from_it():
    for spec in (LOSS, SALIENCY):
        rows = run_checks(spec, EX13.reference(spec.name))
        assert all(r.passed for r in rows), [(r.name, r.message) for r in rows if not r.passed]
    case = public_cases(LOSS)[1]
    right = EX13.reference("detection_loss")(case["pred"].copy(), case["target"].copy())[1]
    for (fn, name), wrong in WRONG.items():
        if fn == "detection_loss":
            assert not np.allclose(wrong(case["pred"].copy(), case["target"].copy())[1], right), name


def test_hidden_cases_differ_from_the_public_ones_and_keep_at_least_one_object():
    for seed in (1, 2):
        cases = LOSS.make_cases(np.random.default_rng(seed))
        assert all(c["target"][:, 0].sum() >= 1 for c in cases)
        assert not np.array_equal(cases[0]["pred"], public_cases(LOSS)[0]["pred"])


# ---- saliency: backprop with no update (issue 17) ----------------------------------------------------------------
# Written as source code, the way students write them, so tests/test_grading_ex13.py grades the same answers from
# notebooks in the sandboxed child. bpkit's own optimizers are blocked while grading (graded code must be the
# student's own), so the answers that update weights do it by hand there.

HONEST = {
    "layers_loop": '''
def saliency(model, x, cls):
    scores = model.forward(x)
    grad = np.zeros_like(scores)
    grad[np.arange(len(cls)), cls] = 1.0
    for layer in reversed(model.layers):
        grad = layer.backward(grad)
    return grad
''',
    "helper_on_the_sequential": '''
def input_gradient(seq, upstream):
    """Backprop through a Sequential, returning the gradient for its input."""
    for layer in seq.layers[::-1]:
        upstream = layer.backward(upstream)
    return upstream


def saliency(model, x, cls):
    scores = model(x)
    return input_gradient(model, np.eye(scores.shape[1])[cls])
''',
    "deepcopy_then_anything": '''
import copy


def saliency(model, x, cls):
    m = copy.deepcopy(model)          # the copy may be trained, broken, anything: the caller's model is untouched
    scores = m.forward(x)
    onehot = np.zeros_like(scores)
    onehot[np.arange(len(cls)), cls] = 1
    dx = m.backward(onehot)
    for layer in m.layers:
        for k in layer.params:
            layer.params[k] -= 0.5 * layer.grads[k]
    m.layers[0].params["W"] = m.layers[0].params["W"] * 0
    m.train()
    return dx
''',
    "onehot_backward_with_zero_grad_and_eval": '''
def saliency(model, x, cls):
    model.eval()
    model.zero_grad()
    scores = model.forward(x)
    dscores = np.eye(scores.shape[1], dtype=scores.dtype)[np.asarray(cls)]
    dx = model.backward(dscores)
    model.zero_grad()
    return dx
''',
    "row_by_row": '''
def saliency(model, x, cls):
    rows = []
    for n in range(x.shape[0]):
        s = model.forward(x[n:n + 1])
        up = np.zeros_like(s)
        up[0, cls[n]] = 1.0
        rows.append(model.backward(up))
    return np.concatenate(rows)
''',
    "a_step_undone_exactly": '''
def saliency(model, x, cls):
    saved = [(layer, k, layer.params[k].copy()) for layer in model.layers for k in layer.params]
    scores = model.forward(x)
    up = np.zeros_like(scores)
    up[np.arange(len(cls)), cls] = 1
    dx = model.backward(up)
    for layer, k, _ in saved:                # an experiment, undone exactly
        layer.params[k] -= 0.1 * layer.grads[k]
    for layer, k, w in saved:
        layer.params[k][...] = w
    return dx
''',
}

_FORWARD_BACKWARD = '''
def saliency(model, x, cls):
    scores = model.forward(x)
    up = np.zeros_like(scores)
    up[np.arange(len(cls)), cls] = 1.0
    dx = model.backward(up)
'''
UPDATES = {    # each returns the right dx and changes the caller's weights
    "sgd_by_hand": _FORWARD_BACKWARD + '''
    for layer in model.layers:
        for k in layer.params:
            layer.params[k] -= 0.01 * layer.grads[k]
    return dx
''',
    "linear_weights_only": _FORWARD_BACKWARD + '''
    for layer in model.layers:
        if "W" in layer.params and layer.params["W"].ndim == 2:
            layer.params["W"] = layer.params["W"] - 0.05 * layer.grads["W"]   # a new array, not in place
    return dx
''',
    "loss_backward_then_a_step": '''
def saliency(model, x, cls):
    scores = model.forward(x)
    up = np.zeros_like(scores)
    up[np.arange(len(cls)), cls] = 1.0
    dx = model.backward(up)
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    model.forward(x)
    model.backward((p - up) / len(cls))            # the cross-entropy's gradient ...
    for layer in model.layers:
        for k in layer.params:
            layer.params[k] -= 0.1 * layer.grads[k]   # ... applied, as a training step would
    return dx
''',
    "float32_for_speed": '''
def saliency(model, x, cls):
    dx = _right(model, x, cls)                    # (float64, on a copy: this test is about the weights)
    model.astype(np.float32)                       # the caller's weights rounded to float32
    return dx
''',
}


def _define(code: str, name: str = "saliency"):
    namespace = {"np": np}
    exec(code, namespace)
    return namespace[name]


def _exact_saliency(model, x, cls):
    """What the reference returns, computed on a copy (float64), for the float32 student above."""
    import copy
    m = copy.deepcopy(model)
    return EX13.reference("saliency")(m, x, cls)


WEIGHTS_NAME = "leaves the model's weights unchanged"
STEP_HINT = next(m.hint for m in SALIENCY.mistakes if m.name == "optimizer_step")


@pytest.mark.parametrize("style", HONEST)
def test_honest_saliency_styles_get_full_marks(style):
    rows = run_checks(SALIENCY, _define(HONEST[style]))
    assert all(r.passed for r in rows), [(r.name, r.case, r.message) for r in rows if not r.passed]
    assert sum(r.points for r in rows) == pytest.approx(SALIENCY.points)


@pytest.mark.parametrize("style", UPDATES)
def test_a_saliency_that_updates_the_weights_loses_the_weights_check_and_is_told_why(style):
    namespace = {"np": np, "_right": _exact_saliency}
    exec(UPDATES[style], namespace)
    rows = run_checks(SALIENCY, namespace["saliency"])
    failing = [r for r in rows if not r.passed]
    assert {r.name for r in failing} == {WEIGHTS_NAME}, [(r.name, r.message) for r in failing]
    assert len(failing) == len(public_cases(SALIENCY))
    assert {r.hint for r in failing} == {STEP_HINT}
    assert all(r.message.startswith("saliency changed the model's weights: the ") for r in failing)
    lost = sum(r.max_points - r.points for r in rows)
    assert lost == pytest.approx(next(c.points for c in SALIENCY.checks if c.kind == "weights"))


def test_a_saliency_that_changes_the_models_layers_is_caught_too():
    # parameters alone missed it: appending a layer keeps every existing weight as it was
    grows = _define(_FORWARD_BACKWARD + '''
    model.layers.append(type(model.layers[1])())
    return dx
''')
    rows = [r for r in run_checks(SALIENCY, grows) if r.name == WEIGHTS_NAME]
    assert rows and not any(r.passed for r in rows)
    assert all(r.message.startswith("saliency changed the model's weights: its list of layers changed (they were ")
               and "; now they are" in r.message for r in rows), [r.message for r in rows]


def test_the_message_names_the_layer_and_how_far_it_moved():
    nudge = _define(_FORWARD_BACKWARD + '''
    model.layers[-1].params["W"] += 0.03
    return dx
''')
    rows = {r.case: r for r in run_checks(SALIENCY, nudge) if r.name == WEIGHTS_NAME}
    assert rows["N=1, widths 4-5-3, tanh"].message == \
        "saliency changed the model's weights: the W of model.layers[2] (Linear) moved by up to 0.03"
    cnn = next(r for label, r in rows.items() if "CNN" in label)
    assert cnn.message == "saliency changed the model's weights: the W of model.layers[4] (Linear) moved by up to 0.03"

    transposed = _define(_FORWARD_BACKWARD + '''
    model.layers[0].params["W"] = model.layers[0].params["W"].T
    model.layers[0].params["b"][0] += 1e-12
    return dx
''')
    row = next(r for r in run_checks(SALIENCY, transposed) if r.name == WEIGHTS_NAME and r.case.startswith("N=1,"))
    assert row.message == ("saliency changed the model's weights: the W of model.layers[0] (Linear) became an array "
                           "of shape (5, 4) (it was an array of shape (4, 5)), and 1 more weight array changed")
    assert row.hint == STEP_HINT


def test_a_tiny_change_still_counts_but_grads_may_change_freely():
    """Exact equality: a change of one float64 ulp is a change; layer.grads are not weights (backward fills them)."""
    def ulp(model, x, cls):
        dx = EX13.reference("saliency")(model, x, cls)
        W = model.layers[0].params["W"]
        W.flat[0] = np.nextafter(W.flat[0], np.inf)
        return dx

    def scribbles_on_grads(model, x, cls):
        dx = EX13.reference("saliency")(model, x, cls)
        for layer in model.layers:
            for k in layer.grads:
                layer.grads[k] = layer.grads[k] * 7 + 1
        return dx

    failing = [r for r in run_checks(SALIENCY, ulp) if not r.passed]
    assert failing and {r.name for r in failing} == {WEIGHTS_NAME}
    assert all("moved by up to " in r.message for r in failing)
    assert all(r.passed for r in run_checks(SALIENCY, scribbles_on_grads))


def test_a_saliency_written_for_linear_layers_only_fails_the_cnn_cases_and_only_those():
    by_hand = _define('''
def saliency(model, x, cls):
    scores = model.forward(x)
    d = np.zeros_like(scores)
    d[np.arange(len(cls)), cls] = 1
    for layer in reversed(model.layers):
        name = type(layer).__name__
        if name == "Linear":
            d = d @ layer.params["W"].T
        elif name == "Tanh":
            d = d * (1 - layer.cache ** 2)
        elif name == "Sigmoid":
            d = d * layer.cache * (1 - layer.cache)
    return d
''')
    rows = run_checks(SALIENCY, by_hand)
    failing = [r for r in rows if not r.passed]
    assert failing and all("CNN" in r.case for r in failing)
    assert {r.name for r in failing} == {"returns dx with the right shapes and dtype", "dx matches central differences"}
    assert any("Conv2d, MaxPool2d and Flatten" in r.hint for r in failing)
    assert all(r.passed for r in rows if "CNN" not in r.case)


def test_the_cnn_cases_are_lesson_09s_layers_and_away_from_the_kinks():
    from bpkit.exercises import drivers
    from bpkit.nn.conv import Conv2d, MaxPool2d
    from bpkit.nn.layers import Flatten, Linear, ReLU

    for seed in (None, 1, 2, 3):
        cases = public_cases(SALIENCY) if seed is None else SALIENCY.make_cases(np.random.default_rng(seed))
        cnn = [c for c in cases if c.get("conv")]
        assert len(cnn) == 2 and {c["x"].shape[2] != c["x"].shape[3] for c in cnn} == {True}   # non-square
        for case in cnn:
            model = drivers.build_model(case)
            assert [type(layer) for layer in model.layers] == [Conv2d, ReLU, MaxPool2d, Flatten, Linear]
            pre = model.layers[0].forward(case["x"])
            assert np.abs(pre).min() >= 1e-3                     # no ReLU kink within reach of h = 1e-5


def test_the_weights_check_travels_in_the_public_check_data(monkeypatch):
    """check() in a released folder reads the driver's description from ex13_detection.checks.json: the weights are
    compared there too."""
    from bpkit.exercises import check
    monkeypatch.chdir(ROOT / "exercises")
    report = check("saliency", {"saliency": _define(UPDATES["sgd_by_hand"])})
    failing = [r for r in report.results if not r.passed]
    assert failing and {r.name for r in failing} == {WEIGHTS_NAME} and {r.hint for r in failing} == {STEP_HINT}
    assert check("saliency", {"saliency": _define(HONEST["deepcopy_then_anything"])}).passed


def _reference_with(channel_scale):
    """The reference detection_loss with dpred's channels scaled: {(start, stop): factor}."""
    reference = EX13.reference("detection_loss")

    def detection_loss(pred, target):
        loss, dpred = reference(pred, target)
        dpred = dpred.copy()
        for (start, stop), factor in channel_scale.items():
            dpred[:, start:stop] *= factor
        return loss, dpred
    return detection_loss


@pytest.mark.parametrize("scale, words", [
    ({(0, 1): -1.0}, "objectness has the wrong sign (it is minus the right one) (box and class are right)"),
    ({(1, 5): 0.5}, "box is 1/2 times the right one (objectness and class are right)"),
    ({(5, None): 0.5}, "class is 1/2 times the right one (objectness and box are right)"),
])
def test_an_uncatalogued_dpred_mistake_is_described_channel_by_channel(scale, words):
    # the walk: a sign flipped in the objectness gradient alone got "dpred is right in 28 of 32 entries"
    rows = run_checks(LOSS, _reference_with(scale))
    hints = {r.hint for r in rows if not r.passed and r.name.startswith("dpred")}
    assert hints and all(h.startswith(words) for h in hints), hints
