"""An instructor's walk through grading (ex02 and ex10), turned into tests.

A small class is built from the RELEASED student notebooks the way students hand them in, graded once per module
with the CLI exactly as the README says, and each test asserts one thing the walk found wrong.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import numpy as np
import pytest

from bpkit import cli
from bpkit.exercises.diagnose import relation

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="grading needs fork (Linux)")
RELEASED = Path(__file__).resolve().parents[1] / "exercises"
SECRET = "walk-secret-0123456789"

# the four backward closures and backward() of ex02, as students fill them in
FILLED = {
    'raise NotImplementedError("each operand': "self.grad += other.data * g\nother.grad += self.data * g",
    'raise NotImplementedError("the local derivative of tanh': "self.grad += (1 - t ** 2) * g",
    'raise NotImplementedError("the derivative of exp': "self.grad += out.data * g",
    'raise NotImplementedError("the power rule': "self.grad += k * self.data ** (k - 1) * g",
    'raise NotImplementedError("order the nodes': "self.grad = 1.0\nfor node in reversed(self.topological_order()):"
                                                  "\n    node._backward(node.grad)",
}


def ex02_notebook(**replace):
    """The released ex02 notebook with every method filled in; ``replace`` maps a line fragment to new text."""
    nb = nbformat.read(RELEASED / "ex02_computational_graphs.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("class Value"))
    lines = []
    for line in cell.source.split("\n"):
        indent = line[: len(line) - len(line.lstrip())]
        body = next((text for frag, text in FILLED.items() if frag in line), None)
        lines += [indent + part for part in body.split("\n")] if body else [line]
    cell.source = "\n".join(lines)
    for old, new in replace.items():
        assert old in cell.source
        cell.source = cell.source.replace(old, new)
    return nb


@pytest.fixture(scope="module")
def ex02(tmp_path_factory):
    root = tmp_path_factory.mktemp("walk")
    folder = root / "submitted"
    folder.mkdir()
    nbformat.write(ex02_notebook(), str(folder / "ann.ipynb"))
    # saved by an older Jupyter (IPython 2/3): nbformat 3, cells inside worksheets, code in "input"
    nbformat.write(nbformat.convert(ex02_notebook(), 3), str(folder / "kim_nbformat3.ipynb"), version=3)
    nbformat.write(ex02_notebook(**{"def tanh(self):": "def tanh(self)"}), str(folder / "ola_syntax.ipynb"))
    nbformat.write(ex02_notebook(**{"self.grad = 1.0\n": "self.grad = 1.0\n        while True:\n            pass\n"}),
                   str(folder / "pat_endless_backward.ipynb"))
    nbformat.write(ex02_notebook(**{"self.grad += out.data * g": "self.grad += self.data * g"}),
                   str(folder / "wes_exp_selfdata.ipynb"))
    assert cli.main(["grade", "--exercise", "ex02", str(folder), "--out", str(root / "out"), "-j", "2",
                     "--timeout", "12", "--seed", SECRET, "--progress", "off"]) == 0
    doc = json.loads((root / "out" / "grades.json").read_text())
    return {s["student"]: s for s in doc["students"]}, root / "out"


def test_honest_answer_gets_full_marks(ex02):
    rows, _ = ex02
    assert rows["ann"]["score"] == rows["ann"]["max_score"] and rows["ann"]["status"] == "ok"


def test_nbformat3_notebook_is_graded_like_any_other(ex02):
    rows, _ = ex02
    kim = rows["kim_nbformat3"]
    assert kim["status"] == "ok", kim["message"]
    assert kim["score"] == kim["max_score"]


def test_syntax_error_in_the_defining_cell_is_named_in_the_headline(ex02):
    rows, out = ex02
    ola = rows["ola_syntax"]
    assert "syntax error" in ola["message"] and "code cell 2" in ola["message"], ola["message"]
    assert ola["status"] != "missing"          # the work is there; it does not run
    hints = {c["hint"] for c in ola["checks"] if not c["passed"]}
    assert not any(h.startswith("define ") for h in hints), hints
    page = (out / "feedback" / "ola_syntax.html").read_text()
    assert "syntax error on line" in page.split("Notes")[0]


def test_a_scalar_or_float32_result_is_not_called_scaled_by_a_constant_factor():
    # any two nonzero scalars differ by a constant factor: saying so tells the student nothing
    assert "constant factor" not in relation("grads", np.array(0.31), np.array(0.77), {})
    # float32 rounding of the right values is not a scaled result
    want = np.random.default_rng(0).standard_normal((3, 4))
    assert "constant factor" not in relation("h", want.astype(np.float32), want, {})
    # a real unnamed scale of an array is still reported
    assert "constant factor" in relation("h", 1.7 * want, want, {})
    # a factor equal to a scalar input is named by the input's name, never its value; the points' share is no input
    assert relation("h", want / 1.7, want, {"g": 1.7}) == "h is missing a factor of g"
    assert relation("h", want * 1.7, want, {"lr": 1.7}) == "h has an extra factor of lr"
    assert "factor of weight" not in relation("h", want * 0.37, want, {"weight": 0.37})


def test_an_endless_backward_costs_backward_not_the_methods_that_work(ex02):
    rows, _ = ex02
    pat = rows["pat_endless_backward"]
    assert pat["status"] == "timeout"
    methods = [c for c in pat["checks"] if not c["name"].startswith("backward")]
    assert methods and all(c["passed"] for c in methods), [(c["name"], c["message"]) for c in methods]
    assert len({c["case"] for c in methods}) > 1          # every case, not only the one before the time-out
    backward_points = sum(c["max_points"] for c in pat["checks"] if c["name"].startswith("backward"))
    assert pat["score"] == pytest.approx(pat["max_score"] - backward_points)


def test_an_upgraded_grader_does_not_reuse_grades_cached_by_the_old_one(tmp_path, monkeypatch):
    # the walk: a fixed bpkit, the same command again, and "0 to grade (2 unchanged)": the fix reached nobody
    from bpkit.exercises.catalog import get_exercise
    from bpkit.grading import engine
    exercise = get_exercise("ex02")
    before = engine.Grader(exercise, tmp_path / "out", SECRET).config
    assert engine.Grader(exercise, tmp_path / "out", SECRET).config == before      # same code: cache kept
    monkeypatch.setattr(engine, "grader_digest", lambda: "another-version")
    assert engine.Grader(exercise, tmp_path / "out", SECRET).config != before


def test_a_wrong_local_derivative_is_not_blamed_on_backward_or_on_plus_equals(ex02):
    rows, _ = ex02
    wes = rows["wes_exp_selfdata"]          # exp's _backward uses self.data, not out.data; backward() is right
    failing = [c for c in wes["checks"] if not c["passed"]]
    assert failing and all(c["name"].startswith("a.exp()") for c in failing), [c["name"] for c in failing]
    backward = [c for c in wes["checks"] if c["name"].startswith("backward()")]
    assert backward and all(c["passed"] for c in backward)      # a right backward() keeps its points
    hints = {c["name"]: c["hint"] for c in failing}
    assert not any("zero_grad()'s job" in h or "sort the nodes" in h or "never =" in h for h in hints.values()), hints
    assert "exp(x), which out.data already holds" in hints[next(n for n in hints if "_backward(g)" in n)], hints
    assert len(set(hints.values())) == 1             # the "used twice" row names the same fault


def test_the_headline_names_the_row_when_the_message_names_no_output(ex02):
    # the walk: "Value: relative error 1.0e+00 > 1e-07" in grades.csv and atop the feedback page, for one of 15 rows
    rows, out = ex02
    wes = rows["wes_exp_selfdata"]
    assert wes["message"].startswith("Value: a.exp(): _backward(g) matches central differences: relative error "), \
        wes["message"]
    assert "Value: a.exp(): _backward(g) matches central differences: relative error" in \
        (out / "feedback" / "wes_exp_selfdata.html").read_text()
