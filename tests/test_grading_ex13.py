"""ex13's saliency graded for a class by ``bpkit grade`` (issue 17): student code runs in the sandboxed child, and
the model's weights are compared before and after each call there too.

Submissions are the released notebook with detection_loss solved and saliency written as the answers of
tests/test_exercise_ex13.py (honest styles, answers that update the weights, one written for Linear layers only).
Every score must equal the score the same code gets when checked here, directly, on that student's hidden cases
(the sandbox neither costs nor gives a point), the honest ones full marks with no flag, the updates their hint.
"""
from __future__ import annotations

import html
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from bpkit import cli
from bpkit.exercises.catalog import get_exercise
from bpkit.grading import scoring
from bpkit.grading.engine import Grader
from bpkit.sandbox import protocol
from bpkit.sandbox.status import Status
from test_exercise_ex13 import HONEST, STEP_HINT, UPDATES, WEIGHTS_NAME

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="grading needs fork (Linux)")
ROOT = Path(__file__).resolve().parents[1]
EX13 = get_exercise("ex13")
SECRET = "ex13-class-secret"
LINEAR_ONLY = '''
def saliency(model, x, cls):
    scores = model.forward(x)
    d = np.zeros_like(scores)
    d[np.arange(len(cls)), cls] = 1
    for layer in reversed(model.layers):
        if type(layer).__name__ == "Linear":
            d = d @ layer.params["W"].T
        elif type(layer).__name__ in ("Tanh", "Sigmoid"):
            d = layer.backward(d)
    return d
'''
SUBMISSIONS = {
    "h_reference": None,                                       # the source notebook's solution
    **{f"h_{k}": HONEST[k] for k in ("layers_loop", "helper_on_the_sequential", "deepcopy_then_anything",
                                     "a_step_undone_exactly")},
    **{f"u_{k}": UPDATES[k] for k in ("sgd_by_hand", "linear_weights_only")},
    "w_linear_only": LINEAR_ONLY,
}


# detection_loss written wrong (saliency right): two students with one catalogued mistake, one with a mistake the
# catalogue does not know (its hints embed each case's counts: "dpred is right in 24 of 32 entries; ..."), and a
# saliency by finite differences (every case notes it), one that raises on every case. The walk's class summary counted hint texts: one student
# filled five rows and the catalogued mistakes were missing.
BOX_ERR = "err = o[:, None] * (pred[:, 1:5] - target[:, 1:5])"
FINITE_DIFFERENCES = '''
def saliency(model, x, cls):
    f = lambda xx: model.forward(xx)[np.arange(len(cls)), cls].sum()
    dx = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += 1e-5
        xm[i] -= 1e-5
        dx[i] = (f(xp) - f(xm)) / 2e-5
    return dx
'''
LOSS_SUBMISSIONS = {      # student: (detection_loss's edits of the solution, saliency (None: the solution))
    "l_box_on_empty_a": ([(BOX_ERR, "err = pred[:, 1:5] - target[:, 1:5]")], None),
    "l_box_on_empty_b": ([(BOX_ERR, "err = (pred[:, 1:5] - target[:, 1:5]) * 1")], None),
    "l_box_grad_halved": ([("grad[:, 1:5] = 5.0 * err / (2 * m)", "grad[:, 1:5] = 5.0 * err / (4 * m)")], None),
    "f_finite_differences": ([], FINITE_DIFFERENCES),
    "x_float_index": ([("[target[:, 5].astype(int)]", "[target[:, 5]]")], None),      # raises IndexError: "runs"
}


def _solution(name: str) -> str:
    """The source notebook's solution cell of ``name``, without the nbgrader markers (as a student would write it)."""
    source = nbformat.read(ROOT / "exercises" / "source" / EX13.notebook, as_version=4)
    cell = next(c for c in source.cells if c.cell_type == "code" and c.source.startswith(f"def {name}("))
    return "\n".join(line for line in cell.source.splitlines() if "### BEGIN" not in line and "### END" not in line)


def _notebook(code: str | None, loss_edits=()):
    """The released student notebook with detection_loss solved (then ``loss_edits``: (old, new) replacements)
    and saliency written as ``code``."""
    nb = nbformat.read(ROOT / "exercises" / EX13.notebook, as_version=4)
    loss = _solution("detection_loss")
    for old, new in loss_edits:
        assert old in loss, old
        loss = loss.replace(old, new)
    for name, text in (("detection_loss", loss), ("saliency", code or _solution("saliency"))):
        cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(f"def {name}("))
        cell.source = text.strip()
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("ex13")
    (root / "in").mkdir()
    for student, code in SUBMISSIONS.items():
        nbformat.write(_notebook(code), root / "in" / f"{student}.ipynb")
    for student, (edits, code) in LOSS_SUBMISSIONS.items():
        nbformat.write(_notebook(code, edits), root / "in" / f"{student}.ipynb")
    assert cli.main(["grade", "--exercise", "ex13", str(root / "in"), "--out", str(root / "out"), "-j", "2",
                     "--timeout", "20", "--seed", SECRET, "--progress", "off"]) == 0
    doc = json.loads((root / "out" / "grades.json").read_text())
    return {"root": root, "rows": {s["student"]: s for s in doc["students"]}}


def _in_process(student: str, code: str | None) -> float:
    """The saliency points ``code`` gets here, directly, on the student's hidden cases, through the wire format."""
    spec = next(s for s in EX13.functions if s.name == "saliency")
    fn = EX13.reference("saliency") if code is None else _define(code)
    rows, notes = [], []
    for i, case in enumerate(Grader(EX13, "/nonexistent", SECRET).cases_for(student)["saliency"]):
        arrays: dict = {}
        values = protocol.decode_values(protocol.encode_values(spec.call(fn, case), "a", arrays), arrays)
        rows += scoring._grade(spec, case, i, Status.OK, "", values, notes)
    return sum(r.points for r in rows)


def _define(code: str):
    namespace = {"np": np}
    exec(code, namespace)
    return namespace["saliency"]


def _saliency_rows(row) -> list[dict]:
    return [c for c in row["checks"] if c["function"] == "saliency"]


def test_every_submission_scores_in_the_sandbox_what_it_scores_here(graded):
    loss_points = next(s.points for s in EX13.functions if s.name == "detection_loss")
    for student, code in SUBMISSIONS.items():
        row = graded["rows"][student]
        assert row["score"] == pytest.approx(loss_points + _in_process(student, code), abs=1e-6), \
            (student, row["score"], row["message"])


def test_honest_styles_get_full_marks_and_no_flag(graded):
    for student in (s for s in SUBMISSIONS if s.startswith("h_")):
        row = graded["rows"][student]
        assert (row["score"], row["status"], row["flags"]) == (EX13.max_points, "ok", []), (student, row["message"])


def test_an_update_of_the_weights_costs_the_weights_check_with_its_message_and_hint(graded):
    weights_points = next(c.points for s in EX13.functions for c in s.checks if c.kind == "weights")
    for student in (s for s in SUBMISSIONS if s.startswith("u_")):
        row = graded["rows"][student]
        assert row["score"] == pytest.approx(EX13.max_points - weights_points), (student, row["message"])
        failing = [c for c in _saliency_rows(row) if not c["passed"]]
        assert {c["name"] for c in failing} == {WEIGHTS_NAME}
        assert {c["hint"] for c in failing} == {STEP_HINT}
        assert all(c["message"].startswith("saliency changed the model's weights: the ") for c in failing)
        assert row["message"].startswith("saliency: saliency changed the model's weights"), row["message"]
        page = (graded["root"] / "out" / "feedback" / f"{student}.html").read_text()
        assert "changed the model&#x27;s weights" in page and "backprop with no update" in page


def test_a_saliency_for_linear_layers_only_loses_the_cnn_cases(graded):
    row = graded["rows"]["w_linear_only"]
    failing = [c for c in _saliency_rows(row) if not c["passed"]]
    assert failing and all("CNN" in c["case"] for c in failing)
    assert any("Conv2d, MaxPool2d and Flatten" in c["hint"] for c in failing)


@pytest.mark.parametrize("exercise_id", ["ex08", "ex13"])
def test_the_model_drivers_calls_are_isolated_with_only_the_model_classes_handed_over(exercise_id):
    """build_model uses the CNN classes too: every spec driving it hands over drivers.MODEL_CLASSES, so the child
    keeps those classes and nothing else of bpkit (a fresh process, as the grader's worker is)."""
    code = ("from bpkit.sandbox.isolate import isolated_calls; "
            f"print(repr(isolated_calls({exercise_id!r})[2]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout


def test_the_summary_counts_students_per_catalogued_mistake(graded):
    """One count per student per catalogued mistake, with its hint; a failure no mistake explains is one row per
    check ("failed for another reason"), however many per-case numbers its hints carry."""
    from bpkit.grading import summary
    from bpkit.grading.records import Result
    records = [Result.from_dict(json.loads(p.read_text())) for p in (graded["root"] / "out" / "results").glob("*.json")]
    table = {(m.function, m.mistake or m.check): m for m in summary.common_mistakes(EX13, records)}
    loss = "detection_loss"
    assert table[(loss, "box_on_empty_cells")].students == 2
    assert table[(loss, "dpred matches central differences")].students == 1
    assert table[(loss, "dpred matches central differences")].text == "failed for another reason"
    assert table[("saliency", "optimizer_step")].students == 2                         # the u_ students
    # w_linear_only: its CNN cases return the wrong shape, which no catalogued mistake reproduces
    assert table[(loss, "runs")].students == 1 and "raised an error" in table[(loss, "runs")].text
    assert set(table) == {(loss, "box_on_empty_cells"), (loss, "dpred matches central differences"), (loss, "runs"),
                          ("saliency", "optimizer_step"), ("saliency", "returns dx with the right shapes and dtype"),
                          ("saliency", "dx matches central differences")}, sorted(table)
    assert [m.mistake or m.check for m in summary.common_mistakes(EX13, records)][:2] == [
        "box_on_empty_cells", "optimizer_step"]          # most students first, then the exercise's order
    page = (graded["root"] / "out" / "summary.html").read_text()
    mistakes = page[page.index("Most common mistakes"):page.index("</table>", page.index("Most common mistakes"))]
    assert "entries" not in mistakes and mistakes.count("<tr>") == 1 + len(table)
    box = next(m for m in get_exercise("ex13").functions[0].mistakes if m.name == "box_on_empty_cells")
    assert "<tr><td>2</td><td><code>detection_loss</code></td><td>" + html.escape(box.hint) in mistakes


def test_a_finite_difference_saliency_is_noted_once_not_once_per_case(graded):
    row = graded["rows"]["f_finite_differences"]
    assert row["score"] == EX13.max_points
    noted = [n for n in row["notes"] if "looks like finite differences" in n]
    cases = len({c["case"] for c in _saliency_rows(row)})
    assert len(noted) == 1 and noted[0].startswith("saliency: passes") and f"(seen on {cases} cases)" in noted[0]
    page = (graded["root"] / "out" / "feedback" / "f_finite_differences.html").read_text()
    assert page.count("looks like finite differences") == 1


def test_grades_csv_has_no_runs_columns_and_its_check_columns_add_up(graded):
    import csv
    with open(graded["root"] / "out" / "grades.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    checks = [c for c in table[0] if ": " in c]
    assert checks and not [c for c in checks if c.endswith(": runs")], checks
    assert [line["status"] for line in table if line["student"] == "x_float_index"] == ["error"]   # it has a runs row
    for line in table:
        assert sum(float(line[c]) for c in checks) == pytest.approx(float(line["score"])), line["student"]
