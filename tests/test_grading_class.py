"""Issue 11: a real class, built from the RELEASED notebooks, graded once (module fixture) with the CLI.

36 honest submissions written the ways students write them (loops, einsum, helpers in other cells, magics,
black-formatted continuation lines, %%writefile, nbformat 4.0-4.5, stored widget state, input(), sys.exit at the end,
CRLF, tabs, Unicode names), one notebook per catalogued mistake (18 of ex03, 2 of ex04), and the odd cases (broken
files, untouched or partial work, renamed notebooks, Canvas download names, an exception that would print the hidden
inputs, reference code inside a graded function). Every student's exact score is asserted: full marks for the honest
ones, and for a mistake the score the same code gets when checked directly in this process on the same hidden
cases (so the sandbox neither costs nor gives a point).
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import time

import numpy as np
import pytest

from bpkit import cli
from bpkit.exercises.catalog import get_exercise
from bpkit.grading import scoring
from bpkit.grading.engine import Grader
from bpkit.grading.intake import safe_name
from bpkit.sandbox import protocol
from bpkit.sandbox.status import Status
from grading_fixtures import ex04_class, real_class

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="grading needs fork (Linux)")
EX3, EX4 = get_exercise("ex03"), get_exercise("ex04")
SECRET = "class-secret-0123456789"
ASSIGNMENT = "Exercise 3: matrix calculus (4242)"


def grade(folder, out, exercise="ex03", *extra):
    return cli.main(["grade", "--exercise", exercise, str(folder), "--out", str(out), "-j", "2", "--timeout", "20",
                     "--seed", SECRET, "--progress", "off", *extra])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    expect = real_class(root / "ex03")
    (root / "overrides.csv").write_text("student,points,late_penalty,reason\nh01_reference,,10%,two days late\n"
                                        "m_db_mean,8,,regrade after office hours\n", encoding="utf-8")
    started = time.monotonic()
    assert grade(root / "ex03", root / "out3", "ex03", "--canvas-assignment", ASSIGNMENT,
                 "--overrides", str(root / "overrides.csv")) == 0
    seconds = time.monotonic() - started
    expect4 = ex04_class(root / "ex04")
    assert grade(root / "ex04", root / "out4", "ex04") == 0
    docs = {ex: json.loads((root / out / "grades.json").read_text()) for ex, out in (("ex03", "out3"),
                                                                                     ("ex04", "out4"))}
    return {"root": root, "out": root / "out3", "expect": {"ex03": expect, "ex04": expect4}, "seconds": seconds,
            "rows": {ex: {s["student"]: s for s in doc["students"]} for ex, doc in docs.items()}, "docs": docs}


def in_process(exercise, student: str, answers: dict[str, str]) -> tuple[float, str]:
    """The score ``answers`` get when run here, directly, on the student's hidden cases (no sandbox)."""
    namespace: dict = {"np": np}
    for code in answers.values():
        exec(code, namespace)
    cases = Grader(exercise, "/nonexistent", SECRET).cases_for(student)
    rows, notes = [], []
    for spec in exercise.functions:
        for i, case in enumerate(cases[spec.name]):
            try:
                outputs = spec.call(namespace[spec.name], case)
                arrays: dict = {}
                values = protocol.decode_values(protocol.encode_values(outputs, "a", arrays), arrays)
            except Exception as exc:  # noqa: BLE001
                rows += spec.failure(case, Status.ERROR, f"raised {type(exc).__name__}")
                continue
            rows += scoring._grade(spec, case, i, Status.OK, "", values, notes)
    result = scoring.summarize(exercise, rows, [])
    return result["score"], str(result["status"])


def expected(exercise, student, what) -> tuple[float, str]:
    """(score, status) this student must get."""
    if what["score"] == "max":
        return exercise.max_points, what["status"]
    if what["score"] == "in-process":       # whether a wrong shape raises depends on the student's hidden shapes
        return in_process(exercise, student, what["answers"])
    if isinstance(what["score"], tuple):
        lost = sum(spec.points for spec in exercise.functions if spec.name in what["score"][1])
        return exercise.max_points - lost, what["status"]
    return float(what["score"]), what["status"]


def raw(row):
    return row["raw_score"] if row.get("raw_score") is not None else row["score"]


@pytest.mark.parametrize("exercise_id", ["ex03", "ex04"])
def test_every_student_gets_the_exact_expected_score_and_status(graded, exercise_id):
    exercise = get_exercise(exercise_id)
    rows, expect = graded["rows"][exercise_id], graded["expect"][exercise_id]
    assert set(rows) == set(expect)
    wrong = {}
    for student, what in expect.items():
        r = rows[student]
        score, status = expected(exercise, student, what)
        if (raw(r), r["status"]) != (pytest.approx(score, abs=1e-9), status):
            wrong[student] = ((raw(r), r["status"]), (score, status), r["message"][:200])
    assert not wrong, wrong


def test_the_class_is_big_enough_to_mean_something(graded):
    kinds = [w["kind"] for ex in ("ex03", "ex04") for w in graded["expect"][ex].values()]
    assert kinds.count("honest") >= 30 and kinds.count("mistake") >= 20 and kinds.count("odd") >= 10


def test_no_honest_student_is_flagged_or_told_of_an_error(graded):
    for ex in ("ex03", "ex04"):
        for student, what in graded["expect"][ex].items():
            r = graded["rows"][ex][student]
            if what["kind"] == "honest":
                assert r["flags"] == [], (student, r["flags"])
                assert r["message"] == "", (student, r["message"])


def test_reference_code_inside_a_graded_function_is_flagged_and_a_provided_cell_using_it_is_not(graded):
    rows = graded["rows"]["ex03"]
    assert any("reference code" in f for f in rows["o_reference_in_graded"]["flags"])
    # the released ex03 has a provided cell calling bpkit.gradcheck.numerical_gradient: a note, no cost, no flag
    assert any("numerical_gradient, which does not run while grading" in n and "costs nothing" in n
               for n in rows["h01_reference"]["notes"])


def test_each_catalogued_mistake_gets_its_own_hint(graded):
    missing = {}
    for ex in ("ex03", "ex04"):
        exercise = get_exercise(ex)
        for student, what in graded["expect"][ex].items():
            if what["kind"] != "mistake":
                continue
            spec = next(s for s in exercise.functions if s.name == what["function"])
            hint = next(m.hint for m in spec.mistakes if m.name == what["mistake"])
            r = graded["rows"][ex][student]
            assert raw(r) < exercise.max_points, student
            hints = {c["hint"] for c in r["checks"] if not c["passed"] and c["function"] == what["function"]}
            if hint not in hints:
                missing[student] = sorted(hints)
    assert not missing, missing


def test_notes_say_what_happened_to_the_odd_ones(graded):
    rows = graded["rows"]["ex03"]
    notes = lambda s: " | ".join(rows[s]["notes"])  # noqa: E731
    assert "skipped IPython-only lines" in notes("h07_magics") and "'!pip list | head -3'" in notes("h07_magics")
    assert "ran the body of %%timeit once" in notes("h07_magics")
    assert "%%writefile wrote mylayers.py" in notes("h09_writefile")
    assert "called input(); it returned an empty string" in notes("h17_input")
    assert "called sys.exit(0)" in notes("h18_sys_exit")
    assert ("linear_forward is defined 2 times (code cells 2 and 3); the last definition, in code cell 3, is the one "
            "graded") in notes("h19_defined_twice")
    for student, what in graded["expect"]["ex03"].items():
        if "note" in what:
            assert what["note"] in notes(student), (student, notes(student))
        if "flag" in what:
            assert any(what["flag"] in f for f in rows[student]["flags"]), student


def test_feedback_shows_the_error_and_the_line_but_never_the_hidden_inputs(graded):
    out = graded["out"]
    page = (out / "feedback" / "o_leaks_inputs.html").read_text()
    assert "ValueError: [...]" in page and "raise ValueError(np.array2string(x, precision=6))" in page
    cases = Grader(EX3, out, SECRET).cases_for("o_leaks_inputs")
    numbers = {f"{v:.6f}".rstrip("0")[:7] for case in cases["relu_backward"] for v in np.ravel(case["x"])
               if abs(v) > 0.01}
    assert numbers and not [n for n in numbers if n in page]
    details = " ".join(graded["rows"]["ex03"]["o_leaks_inputs"]["details"])    # the instructor's copy: full text
    assert any(n in details for n in numbers)


def test_unicode_ids_are_shown_as_given_with_distinct_readable_files(graded):
    rows, out = graded["rows"]["ex03"], graded["out"]
    for student in ("张伟", "李娜", "zoë", "zo\u00e9"):
        assert student in rows and rows[student]["score"] == EX3.max_points
        page = out / "feedback" / f"{safe_name(student)}.html"
        assert page.exists() and student in page.read_text()
    names = {safe_name(s) for s in rows}
    assert len(names) == len(rows)
    assert safe_name("张伟").startswith("张伟") and safe_name("a b") != safe_name("a_b")
    table = list(csv.DictReader((out / "grades.csv").open(encoding="utf-8")))
    assert {"张伟", "李娜", "zoë"} <= {r["student"] for r in table}


def test_canvas_csv_is_import_ready(graded):
    lines = list(csv.reader((graded["out"] / "canvas.csv").open(encoding="utf-8")))
    assert lines[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert lines[1][0] == "Points Possible" and float(lines[1][5]) == EX3.max_points
    by_login = {line[3]: line for line in lines[2:]}
    assert len(by_login) == len(graded["rows"]["ex03"])
    for login, canvas_id in (("smithjo", "1001"), ("leeann", "1002"), ("ngkim", "1003")):
        assert by_login[login][1] == canvas_id and float(by_login[login][5]) == EX3.max_points


def test_overrides_are_applied_at_export_and_shown_to_the_student(graded):
    rows, out = graded["rows"]["ex03"], graded["out"]
    late = rows["h01_reference"]
    assert (late["raw_score"], late["score"]) == (EX3.max_points, pytest.approx(EX3.max_points * 0.9))
    assert "late penalty of 10%" in late["adjustment"] and "two days late" in late["adjustment"]
    assert "two days late" in (out / "feedback" / "h01_reference.html").read_text()
    regrade = rows["m_db_mean"]
    assert regrade["score"] == 8 and regrade["raw_score"] < EX3.max_points
    canvas = {line[3]: line for line in csv.reader((out / "canvas.csv").open(encoding="utf-8"))}
    assert float(canvas["m_db_mean"][5]) == 8


def _plot(page: str, div: str) -> dict:
    match = re.search(r'Plotly\.newPlot\(\s*"' + div + r'",\s*(\[.*?\]),\s*(\{.*?\}),\s*\{', page, re.S)
    return {"data": json.loads(match.group(1)), "layout": json.loads(match.group(2))}


def test_summary_counts_everyone_is_right_small_and_byte_identical(graded, tmp_path):
    out = graded["out"]
    page = (out / "summary.html").read_text(encoding="utf-8")
    rows = graded["rows"]["ex03"]
    hist = _plot(page, "scores")
    xs = hist["data"][0]["x"]
    assert sorted(xs) == sorted(r["score"] for r in rows.values())      # everyone, full marks and overrides too
    bins = hist["data"][0]["xbins"]
    assert bins["end"] > EX3.max_points        # the full-marks bin is drawn
    bars = _plot(page, "pass-rates")["data"][0]
    assert not [y for y in bars["y"] if y.endswith(": runs")]        # "it ran" is not a check of its own
    first_check = bars["y"][0]
    function, check = first_check.split(": ", 1)
    passed = 0
    for r in rows.values():
        mine = [c for c in r["checks"] if c["function"] == function and c["name"] == check]
        passed += bool(mine) and all(c["passed"] for c in mine)
    assert bars["x"][0] == pytest.approx(100 * passed / len(rows))
    assert len(page.encode()) < 200_000 and "<script src='plotly.min.js'>" in page
    assert (out / "plotly.min.js").stat().st_size > 1_000_000
    # the same inputs again: the same bytes, and plotly.js is not rewritten
    copy = tmp_path / "again"
    shutil.copytree(out, copy)
    stamp = (copy / "plotly.min.js").stat().st_mtime_ns
    assert grade(graded["root"] / "ex03", copy, "ex03", "--canvas-assignment", ASSIGNMENT,
                 "--overrides", str(graded["root"] / "overrides.csv")) == 0
    for name in ("summary.html", "grades.csv", "grades.json", "canvas.csv"):
        assert (copy / name).read_bytes() == (out / name).read_bytes(), name
    assert (copy / "plotly.min.js").stat().st_mtime_ns == stamp


def test_the_class_is_graded_quickly(graded):
    n = len(graded["rows"]["ex03"])
    print(f"\nex03 class: {n} submissions in {graded['seconds']:.1f} s on -j 2 "
          f"({1000 * graded['seconds'] / n:.0f} ms per submission, worker start-up included)")
    assert graded["seconds"] < 120


@pytest.mark.parametrize("exercise_id", sorted(__import__("bpkit.exercises.catalog", fromlist=["x"]).all_exercises()))
def test_every_released_notebook_with_the_solutions_filled_in_gets_full_marks_and_no_flag(tmp_path, exercise_id):
    from grading_fixtures import filled_with_solutions, released, save
    exercise = get_exercise(exercise_id)
    save(filled_with_solutions(exercise_id), tmp_path / "class" / "solved.ipynb")
    save(released(exercise_id), tmp_path / "class" / "untouched.ipynb")
    assert cli.main(["grade", "--exercise", exercise_id, str(tmp_path / "class"), "--out", str(tmp_path / "out"),
                     "-j", "1", "--timeout", "60", "--seed", SECRET, "--progress", "off"]) == 0
    rows = {s["student"]: s for s in json.loads((tmp_path / "out" / "grades.json").read_text())["students"]}
    solved, untouched = rows["solved"], rows["untouched"]
    assert (solved["score"], solved["status"], solved["flags"]) == (exercise.max_points, "ok", []), solved["message"]
    assert (untouched["score"], untouched["status"], untouched["flags"]) == (0, "missing", [])
