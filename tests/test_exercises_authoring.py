"""Exercises as course content (issue 12): no solution in the installed package, the public check data, and the
authoring path of docs/authoring.md followed end to end in a temporary folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bpkit.exercises import check
from bpkit.exercises.catalog import all_exercises
from bpkit.exercises.public import load as load_public
from bpkit.exercises.source import load_references, solution_lines
from bpkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "exercises" / "source").glob("*.ipynb"))


@pytest.mark.slow
def test_the_wheel_contains_no_solution_line(tmp_path):
    """Build the wheel; no solution line (> 20 characters) of any source notebook appears in any of its files."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q",
                    "-w", str(tmp_path)], check=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("bpkit-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        text = "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    lines = {line for source in SOURCES for line in solution_lines(source) if len(line) > 20}
    assert len(lines) > 50
    found = sorted(line for line in lines if line in text)
    assert not found, found
    assert not [n for n in zipfile.ZipFile(wheel).namelist() if ".spec.py" in n or "exercises/ex0" in n]


def test_the_public_check_data_holds_numbers_only_and_no_solution():
    total = 0
    for source in SOURCES:
        data_path = ROOT / "exercises" / source.name.replace(".ipynb", ".checks.json")
        text = data_path.read_text()
        total += len(text)
        assert len(text) < 250_000, data_path   # small: a few public cases, numbers only
        lines = [line for line in solution_lines(source) if len(line) > 20]
        assert not [line for line in lines if line in text], data_path
        assert "lambda" not in text and "def " not in text
        json.loads(text)
    assert total < 2_000_000


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_the_released_check_data_gives_the_solution_full_marks(source, monkeypatch):
    """check() in the released folder (public data, no spec) agrees with the instructor's view."""
    exercise = load_public(ROOT / "exercises" / source.name.replace(".ipynb", ".checks.json"))
    references = load_references(source, [f.name for f in exercise.functions])
    monkeypatch.chdir(ROOT / "exercises")
    report = check(exercise.id, namespace=references)
    assert report.passed and report.score == report.max_score == all_exercises()[exercise.id].max_points, str(report)


def test_the_references_come_from_the_source_notebooks():
    ex03 = all_exercises()["ex03"]
    assert ex03.source == ROOT / "exercises" / "source" / "ex03_matrix_calculus.ipynb"
    assert ex03.reference("linear_backward").__code__.co_filename.startswith("<ex03_matrix_calculus.ipynb cell")


def test_check_never_hangs_and_explains_bad_input_in_one_line(monkeypatch):
    monkeypatch.chdir(ROOT / "exercises")

    def relu_backward(dout, x):
        while True:
            pass

    import time
    start = time.perf_counter()
    report = check(relu_backward, time_limit=0.5)
    assert time.perf_counter() - start < 2.0
    assert "did not return within 0.5 s" in str(report) and report.score == 0

    def linear_forward(x, W):
        return x @ W
    assert "linear_forward: expected linear_forward(x, W, b); yours takes (x, W)" in str(check(linear_forward))

    def sigmoid_backward(dout, x):
        dx = dout * 0.25  # noqa: F841 - forgot return
    assert "returned None: did you forget `return`?" in str(check(sigmoid_backward))


def test_a_crash_on_one_case_does_not_hide_the_diagnosis_from_the_others(monkeypatch):
    monkeypatch.chdir(ROOT / "exercises")

    def linear_backward(dout, x, W):
        return dout @ W, x.T @ dout, dout.sum(axis=0)   # runs only where W is square
    text = str(check(linear_backward))
    assert "ERROR" in text and "dx needs W transposed" in text
    assert text.count("dx needs W transposed") == 1   # each hint once per function (here on the crashed cases)
    assert "the other cases show it; this one crashed on it" in text
    assert "matmul: the inner sizes do not match" in text and "gufunc" not in text

    def linear_backward(dout, x, W):   # the same crash, and a different mistake in db: the crash gets dx's hint
        return dout @ W, x.T @ dout, dout.mean(axis=0)
    text = str(check(linear_backward))
    crash = text.split("ERROR")[1].split("\n  ok")[0]
    assert "dx needs W transposed" in crash and "1/N" not in crash


def test_finite_differences_get_a_note(monkeypatch):
    monkeypatch.chdir(ROOT / "exercises")
    from bpkit.gradcheck import numerical_gradient

    def sigmoid_backward(dout, x):
        return numerical_gradient(lambda x: 1 / (1 + np.exp(-x)), x.copy(), dout)
    report = check(sigmoid_backward)
    assert report.passed and "looks like finite differences" in str(report)
    assert str(report).count("looks like finite differences") == 1


def test_new_exercise_release_check_and_grade_follow_the_guide(tmp_path, monkeypatch):
    """docs/authoring.md, end to end: scaffold, release, check() in the released folder, grade --source."""
    src, rel, out, subs = tmp_path / "mine", tmp_path / "released", tmp_path / "graded", tmp_path / "submitted"
    assert main(["new-exercise", "act_backward", "--dir", str(src)]) == 0
    assert main(["new-exercise", "act_backward", "--dir", str(src)]) == 2          # never overwrites
    assert main(["new-exercise", "9lives", "--dir", str(src)]) == 2                # any identifier, only those
    assert main(["release", str(src), "--out", str(rel)]) == 0
    assert sorted(p.name for p in rel.iterdir()) == ["act_backward.checks.json", "act_backward.ipynb"]
    released = json.loads((rel / "act_backward.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in released["cells"] if c["cell_type"] == "code")
    assert "raise NotImplementedError(\"the local derivative of tanh" in code and "1 - t ** 2" not in code

    monkeypatch.chdir(rel)
    wrong = {"tanh_backward": lambda dout, x: dout * (1 - x ** 2)}
    report = check("act_backward", namespace=wrong)
    assert not report.passed and "its output; you used 1 - x**2" in str(report)
    assert check("act_backward", namespace={"tanh_backward": lambda d, x: d * (1 - np.tanh(x) ** 2)}).passed

    # a student fills in the released notebook; the instructor grades it from the source
    subs.mkdir()
    for cell in released["cells"]:
        if cell["cell_type"] == "code" and "NotImplementedError" in "".join(cell["source"]):
            cell["source"] = ('def tanh_backward(dout, x):\n    t = np.tanh(x)\n    return dout * (1 - t * t)\n')
    (subs / "ada.ipynb").write_text(json.dumps(released))
    monkeypatch.chdir(tmp_path)
    env_before = dict(os.environ)
    assert main(["grade", "--source", str(src / "act_backward.ipynb"), str(subs), "--out", str(out), "-j", "1",
                 "--seed", "a-secret-of-some-length", "--progress", "off"]) == 0
    assert dict(os.environ) == env_before
    grades = json.loads((out / "grades.json").read_text())
    (row,) = grades if isinstance(grades, list) else grades["students"]
    assert row["score"] == row["max_score"] == 2.0 and not row.get("flags"), row


# ---- Run All through an untouched exercise ----------------------------------------------------------------------

@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "bpkit")
    yield ip
    ip.run_line_magic("unload_ext", "bpkit")


def test_a_provided_cell_that_calls_a_stub_says_so_in_one_line_and_later_cells_too(shell, capsys):
    stub = 'def f(x):\n    raise NotImplementedError("write f")\n'
    assert shell.run_cell(stub).success
    first = shell.run_cell("a = 1\nb = f(a)\nc = b + 1\nc")
    assert first.success and first.result is None
    assert "not run yet: this cell calls `f`, which you have not written yet" in capsys.readouterr().out
    later = shell.run_cell("d = c * 2\nd")
    assert later.success and "this cell needs `c`" in capsys.readouterr().out
    assert shell.run_cell("def f(x):\n    return x + 1\n").success
    assert shell.run_cell("b = f(1)\nc = b + 1\nc").result == 3
    assert shell.run_cell("d = c * 2\nd").result == 6
    # anything else is reported as usual
    assert not shell.run_cell("undefined_name_here + 1").success
    assert not shell.run_cell("raise ValueError('x')").success


def test_a_finished_cell_shows_its_last_expression_as_before(shell):
    assert shell.run_cell("x = [1, 2]\nlen(x)").result == 2
    assert shell.run_cell("for i in range(2):\n    y = i\ny").result == 1
    assert shell.run_cell("z = 3;").success


@pytest.mark.slow
def test_run_all_goes_through_an_untouched_released_exercise():
    """ex06 chains provided cells (a race, then its plot) on the unwritten step: Run All reaches the end."""
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(ROOT / "exercises" / "ex06_gradient_descent.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "exercises")}}).execute()   # raises on any error
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "not run yet" in text


def test_right_results_in_the_wrong_order_are_named_as_such(monkeypatch):
    monkeypatch.chdir(ROOT / "exercises")

    def sgd_momentum_step(w, dw, v, lr, momentum):
        v = momentum * v + dw
        return v, w - lr * v
    assert "the results are right but returned in the wrong order (return them as (w, v))" in \
        str(check(sgd_momentum_step))

    def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * dw * dw
        return m, w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps), v
    assert "return them as (w, m, v)" in str(check(adam_step))


def test_a_step_that_changes_its_inputs_in_place_is_caught(monkeypatch):
    monkeypatch.chdir(ROOT / "exercises")

    def sgd_momentum_step(w, dw, v, lr, momentum):
        v *= momentum
        v += dw
        w -= lr * v
        return w, v
    report = check(sgd_momentum_step)
    assert not report.passed and "FAIL  returns new arrays, leaves w, dw, v unchanged" in str(report)


def test_the_gradebook_notes_a_gradient_computed_by_finite_differences():
    from bpkit.grading import scoring
    from bpkit.grading.engine import Grader
    from bpkit.sandbox import protocol
    from bpkit.sandbox.status import Status
    from bpkit.gradcheck import numerical_gradient
    exercise = all_exercises()["ex03"]
    spec = next(f for f in exercise.functions if f.name == "sigmoid_backward")

    def sigmoid_backward(dout, x):
        return numerical_gradient(lambda x: 1 / (1 + np.exp(-x)), x.copy(), dout)
    cases = Grader(exercise, "/nonexistent", "a-secret-for-the-test").cases_for("ada")
    rows, notes = [], []
    for i, case in enumerate(cases[spec.name]):
        arrays: dict = {}
        values = protocol.decode_values(protocol.encode_values(spec.call(sigmoid_backward, case), "a", arrays),
                                        arrays)
        rows += scoring._grade(spec, case, i, Status.OK, "", values, notes)
    assert all(r.passed for r in rows)
    assert any("looks like finite differences" in r.note for r in rows)


def test_a_row_over_several_outputs_checks_the_ones_each_case_has():
    """ex05's networks of depth 1, 2 and 3: one row for dW1 ... dW3, a depth-1 case checking dW1 alone."""
    from bpkit.exercises.checks import Context, value_check, returns_check

    row = value_check(("dW1", "dW2", "dW3"), 2.0, "central differences")
    shapes = returns_check(("loss", "dW1", "dW2", "dW3"), 0.5)
    assert row.name == "dW1, dW2, dW3 match central differences"
    shallow = {"loss": np.float64(1.0), "dW1": np.ones((3, 2))}
    right = Context({}, dict(shallow), lambda case: shallow, None, [])
    assert row.evaluate(right).passed and shapes.evaluate(right).passed
    deep = {**shallow, "dW2": np.ones((2, 2)), "dW3": np.ones((2, 4))}
    wrong = Context({}, {**deep, "dW3": 2 * np.ones((2, 4))}, lambda case: deep, None, [])
    verdict = row.evaluate(wrong)
    assert not verdict.passed and verdict.keys == ("dW3",) and verdict.message.startswith("dW3: relative error")
    missing = Context({}, shallow, lambda case: deep, None, [])
    assert shapes.evaluate(missing).keys == ("dW2", "dW3") and row.evaluate(missing).keys == ("dW2", "dW3")
