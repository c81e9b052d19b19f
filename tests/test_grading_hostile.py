"""The hostile suite: one class graded in one batch; every submission gets the right score and status, and no
submission changes anyone else's result, reads what it must not, or leaves a process behind.

The class (tests/grading_fixtures.py) mixes right answers with wrong, broken and hostile notebooks for ex03,
graded with ``bpkit grade -j 2 --timeout 2 --memory 512``.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from bpkit.exercises.catalog import get_exercise
from bpkit import cli
from bpkit.sandbox import landlock
from bpkit.sandbox.confine import SANDBOX_UID_BASE
from grading_fixtures import hostile_class

EX = get_exercise("ex03")
LANDLOCK = landlock.abi_version()
needs_landlock = pytest.mark.skipif(LANDLOCK < 1, reason="this kernel has no Landlock: a child can read and write "
                                    "what the grader can (bpkit grade says so when it starts)")
POINTS = {spec.name: spec.points for spec in EX.functions}
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="grading needs fork (Linux)")
RUN_MARKER = f"/nonexistent/bpkit-hostile-test-{os.getpid()}"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    folder, outdir = root / "submitted", root / "graded"
    about = hostile_class(folder, outdir)
    started = time.monotonic()
    # the workers keep PATH (and nothing else of ours): a marker in it tells this run's sandbox processes from those
    # of another grading test running at the same time (pytest-xdist) or of another grader on the machine
    path = os.environ["PATH"]
    os.environ["PATH"] = f"{path}:{RUN_MARKER}"
    try:
        code = cli.main(["grade", "--exercise", "ex03", str(folder), "--out", str(outdir), "-j", "2", "--timeout",
                         "2", "--memory", "512", "--max-output", "4", "--seed", "test-secret", "--progress", "off"])
    finally:
        os.environ["PATH"] = path
    seconds = time.monotonic() - started
    assert code == 0
    doc = json.loads((outdir / "grades.json").read_text())
    rows = {s["student"]: s for s in doc["students"]}
    assert set(rows) == set(about)
    return {"rows": rows, "outdir": outdir, "folder": folder, "seconds": seconds, "about": about}


def row(graded, student):
    return graded["rows"][student]


def function_points(record, function):
    return sum(c["points"] for c in record["checks"] if c["function"] == function)


def notes(record):
    return " | ".join(record["notes"])


def test_right_answers_get_full_marks_whatever_else_is_in_the_batch(graded):
    for student in ("right_a", "right_b", "right_c", "template_imports"):
        r = row(graded, student)
        assert (r["score"], r["status"]) == (EX.max_points, "ok"), (student, r["message"])
    assert "skipped IPython-only" in notes(row(graded, "right_a"))     # %load_ext and !ls were skipped, noted


def test_wrong_answer_loses_points_and_gets_the_catalogued_hint(graded):
    r = row(graded, "wrong_dW")
    assert r["status"] == "ok" and r["score"] < EX.max_points
    assert function_points(r, "linear_backward") < POINTS["linear_backward"]
    assert any("transpose" in c["hint"] for c in r["checks"] if not c["passed"])


def test_patching_numpy_and_builtins_in_the_child_changes_nothing(graded):
    zeros, patched = row(graded, "zeros"), row(graded, "zeros_patched")
    assert zeros["score"] < EX.max_points / 2
    assert patched["score"] == zeros["score"]


def test_rigged_eq_objects_and_ndarray_subclasses_cross_as_plain_numbers_or_not_at_all(graded):
    r = row(graded, "rigged")
    value_checks = [c for c in r["checks"] if "matches" in c["name"]]
    assert value_checks and not any(c["passed"] for c in value_checks)
    assert r["score"] <= row(graded, "zeros")["score"]


def test_fake_result_lines_on_stdout_count_for_nothing(graded):
    assert row(graded, "fake_print")["score"] == row(graded, "zeros")["score"]


def test_endless_loop_in_a_cell_is_stopped_and_the_functions_still_count(graded):
    r = row(graded, "loop_cell")
    assert r["score"] == EX.max_points
    assert "was stopped" in notes(r)


def test_endless_loop_in_one_function_costs_only_that_function(graded):
    r = row(graded, "loop_fn")
    assert r["status"] == "timeout"
    assert r["score"] == EX.max_points - POINTS["relu_backward"]
    assert "relu_backward" in r["message"]


def test_loop_that_ignores_the_alarm_is_killed_at_the_timeout(graded):
    r = row(graded, "loop_hard")
    assert (r["score"], r["status"]) == (0, "timeout")
    assert "did not finish within 2 s" in r["message"] and "code cell 2" in r["message"]


def test_memory_bomb_in_a_cell_is_refused_and_noted(graded):
    r = row(graded, "memory_cell")
    assert r["score"] == EX.max_points and "out of memory" in notes(r)


def test_memory_bomb_in_a_function_gets_status_memory(graded):
    r = row(graded, "memory_fn")
    assert r["status"] == "memory"
    assert r["score"] == EX.max_points - POINTS["linear_backward"]


def test_fork_loop_hits_the_process_limit_and_leaves_nothing_behind(graded):
    r = row(graded, "fork_loop")
    assert r["score"] == EX.max_points
    forked = [n for n in r["notes"] if "forked" in n]
    assert forked, r["notes"]
    count = int(forked[0].split("forked ")[1].split(";")[0].split()[0])
    assert 0 < count < 64
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _sandbox_processes():
        time.sleep(0.1)
    assert _sandbox_processes() == []


def _sandbox_processes():
    """This run's processes still alive under a sandbox uid (their environment carries RUN_MARKER)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                uid = os.stat(f"/proc/{entry}").st_uid
                environ = open(f"/proc/{entry}/environ", "rb").read() if uid >= SANDBOX_UID_BASE else b""
            except OSError:
                continue
            if RUN_MARKER.encode() in environ:
                found.append(int(entry))
    return found


def test_os_exit_inside_a_function_keeps_the_earlier_functions(graded):
    r = row(graded, "os_exit")
    assert r["status"] == "error" and "exited with code 3" in r["message"]
    assert r["score"] == EX.max_points - POINTS["sigmoid_backward"]


def test_sys_exit_in_a_cell_is_survived_and_in_a_function_is_an_error(graded):
    r = row(graded, "sys_exit")
    assert "sys.exit(1)" in notes(r)
    assert r["status"] == "error" and "sys.exit" in r["message"]
    assert r["score"] == EX.max_points - POINTS["relu_backward"]


def test_exception_inside_a_function_names_the_students_line(graded):
    r = row(graded, "raises")
    assert r["status"] == "error"
    assert "ValueError: oops" in r["message"] and "code cell 1, line" in r["message"]
    assert r["score"] == EX.max_points - POINTS["linear_forward"]


@needs_landlock
@pytest.mark.skipif(LANDLOCK < 6 and os.geteuid() != 0, reason="signal scoping needs Landlock ABI 6 (or root)")
def test_the_child_cannot_read_notebooks_outdir_proc_or_signal_the_worker(graded):
    r = row(graded, "peek")
    assert "RuntimeError: nothing readable" in notes(r), notes(r)
    assert "RuntimeError: LEAKED" not in notes(r)
    assert r["score"] == EX.max_points


@needs_landlock
def test_another_students_notebook_cannot_be_copied(graded):
    r = row(graded, "steal")
    assert r["score"] == 0 and r["status"] == "missing"
    assert "PermissionError" in notes(r)


@needs_landlock
def test_writing_into_outdir_or_other_submissions_is_refused(graded):
    assert row(graded, "write_out")["score"] == EX.max_points
    assert not (graded["outdir"] / "results" / "zz_fake.json").exists()
    assert row(graded, "right_a")["score"] == EX.max_points
    assert "score: 100" not in (graded["folder"] / "right_b.ipynb").read_text()
    assert "score: 100" not in (graded["outdir"] / "grades.csv").read_text()


def test_deleting_a_function_after_defining_it_makes_it_missing(graded):
    r = row(graded, "deleted")
    assert r["status"] == "missing" and "linear_backward is not defined" in r["message"]
    assert r["score"] == EX.max_points - POINTS["linear_backward"]


def test_warnings_on_stderr_cost_nothing(graded):
    r = row(graded, "warns")
    assert (r["score"], r["status"]) == (EX.max_points, "ok")


def test_reference_implementations_cannot_be_reached_and_are_flagged(graded):
    r = row(graded, "frame_walk")
    for function in ("linear_forward", "linear_backward", "relu_backward"):
        assert function_points(r, function) == 0, function
    assert function_points(r, "sigmoid_backward") == POINTS["sigmoid_backward"]
    assert any("bpkit.nn.ReLU" in f for f in r["flags"])
    assert "not available while grading" in r["message"]
    assert row(graded, "template_imports")["flags"] == []       # importing is harmless; using is refused


def test_numerical_gradients_from_bpkit_cannot_stand_in_for_backprop(graded):
    r = row(graded, "numerical")
    assert r["status"] == "error" and function_points(r, "linear_backward") == 0
    assert any("bpkit.gradcheck.numerical_gradient" in f for f in r["flags"])


@pytest.mark.parametrize("student, words", [("empty", "empty file"), ("not_json", "not valid JSON"),
                                            ("nbformat2", "nbformat 2")])
def test_unreadable_files_are_invalid_with_a_clear_message(graded, student, words):
    r = row(graded, student)
    assert (r["score"], r["status"]) == (0, "invalid") and words in r["message"]


def test_syntax_error_is_reported_where_its_functions_are_looked_for(graded):
    r = row(graded, "syntax")
    assert (r["score"], r["status"]) == (0, "error") and "syntax error" in notes(r)
    assert "code cell 1, which defines it, has a syntax error on line" in r["message"]


def test_missing_function_costs_its_points(graded):
    r = row(graded, "missing_fn")
    assert r["status"] == "missing" and r["score"] == POINTS["linear_forward"]


def test_wrong_signature_says_what_was_expected(graded):
    r = row(graded, "signature")
    assert r["status"] == "error" and "expected linear_backward(dout, x, W)" in r["message"]


def test_nan_outputs_fail_and_are_noted(graded):
    r = row(graded, "nan")
    assert function_points(r, "linear_backward") < POINTS["linear_backward"]
    assert "NaN" in notes(r)


def test_wrong_shape_fails_the_shape_check(graded):
    r = row(graded, "wrong_shape")
    shape_rows = [c for c in r["checks"] if c["function"] == "linear_backward" and "shape" in c["name"]]
    assert shape_rows and not all(c["passed"] for c in shape_rows)
    assert r["score"] < EX.max_points


def test_huge_output_is_refused_without_hurting_the_grader(graded):
    r = row(graded, "huge")
    assert r["status"] == "error" and "MB" in r["message"]
    assert r["score"] == EX.max_points - POINTS["linear_forward"]


def test_feedback_pages_escape_and_do_not_leak_other_students(graded):
    for student in graded["rows"]:
        page = (graded["outdir"] / "feedback" / f"{student}.html").read_text()
        assert "<script" not in page
        assert "identical file" not in page
    page = (graded["outdir"] / "feedback" / "raises.html").read_text()
    assert "ValueError: oops" in page


def test_feedback_never_shows_the_hidden_inputs(graded):
    from bpkit.grading.engine import Grader
    for student in ("wrong_dW", "nan", "wrong_shape"):
        page = (graded["outdir"] / "feedback" / f"{student}.html").read_text()
        cases = Grader(EX, graded["outdir"], "test-secret").cases_for(student)
        values = {f"{v:.6g}"[:7] for cs in cases.values() for case in cs for key, arr in case.items()
                  if key not in ("label", "weight") for v in np.ravel(arr) if abs(v) > 0.01}
        assert values and not [v for v in values if v in page], student


def test_the_batch_is_fast(graded):
    # 33 submissions, four of which run into 1-2 s limits, on 2 workers
    assert graded["seconds"] < 40
