"""ex13 (the detection loss and saliency): the reference against the loss written as a loop over cells and against
central differences, the gradient exactly zero where it must be, and the catalogued mistakes written again
independently (used by tests/test_exercises.py, which asserts each gets its own hint)."""
from __future__ import annotations

import numpy as np
import pytest

from bpkit.exercises.catalog import get_exercise
from bpkit.exercises.runner import public_cases, run_checks
from bpkit.gradcheck import TOLERANCE, numerical_gradient, relative_error

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
