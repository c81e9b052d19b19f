"""The grading building blocks without a sandbox: gradebook files, resume, protocol, notebooks, discovery."""
from __future__ import annotations

import csv
import html
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bpkit.exercises.catalog import all_exercises, get_exercise
from bpkit.grading import feedback, gradebook, lms, seeds
from bpkit.sandbox import protocol
from bpkit.grading.intake import DiscoveryError, discover
from bpkit.grading.records import Result
from bpkit.grading.notebook_source import InvalidNotebook, parse_notebook, read_notebook
from grading_fixtures import RIGHT, write_notebook

EX = get_exercise("ex03")


def record(student, score=1.0, message="", status="ok", file_hash="h", checks=None):
    checks = checks if checks is not None else [
        {"function": "linear_forward", "name": "runs", "passed": score > 0, "points": score, "max_points": 1.0,
         "message": message, "hint": "", "case": "N=1", "rel_error": None, "tolerance": None, "status": status}]
    return Result(student=student, exercise=EX.id, score=score, max_score=EX.max_points, status=status,
                  message=message, checks=checks, file_hash=file_hash)


# ---- gradebook ------------------------------------------------------------------------------------------------

def test_write_atomic_replaces_whole_files_and_leaves_no_temporaries(tmp_path):
    target = tmp_path / "deep" / "grades.csv"
    gradebook.write_atomic(target, "old")
    gradebook.write_atomic(target, b"new")
    assert target.read_text() == "new"
    assert os.listdir(target.parent) == ["grades.csv"]


def test_csv_cells_cannot_become_spreadsheet_formulas():
    text = gradebook.grades_csv(EX, [record("=HYPERLINK(1)", message="+1; -2 @x")])
    line = text.splitlines()[1]
    assert line.startswith("'=HYPERLINK(1)") and "'+1; -2 @x" in line


def test_canvas_csv_has_the_import_header_and_points_possible():
    lines = list(csv.reader(io.StringIO(lms.canvas_csv(EX, [record("ann", 7.5)]))))
    assert lines[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{EX.title} ({EX.id})"]
    assert lines[1] == ["Points Possible", "", "", "", "", f"{EX.max_points:g}"]
    assert lines[2] == ["ann", "", "", "ann", "", "7.5"]


def test_check_columns_sum_points_over_cases_in_function_order():
    rows = [{"function": f, "name": n, "passed": True, "points": p, "max_points": 1.0}
            for f, n, p in [("relu_backward", "dx", 0.5), ("linear_forward", "out", 0.25),
                            ("linear_forward", "out", 0.25)]]
    text = gradebook.grades_csv(EX, [record("ann", checks=rows)])
    header, line = text.splitlines()
    assert header.endswith("linear_forward: out,relu_backward: dx")
    assert line.endswith(",0.5,0.5")


def test_no_column_reads_zero_points_for_a_row_that_earns_nothing_by_construction():
    """The walk's grades.csv had "Value: runs", "detection_loss: runs", "saliency: runs" holding 0 for every
    full-mark student ("0 points for runs"): a case that could not be checked is not a check to earn points in."""
    def rows(*spec):
        return [{"function": f, "name": n, "passed": p > 0, "points": p, "max_points": m}
                for f, n, p, m in spec]
    full = record("ann", 1.5, checks=rows(("linear_forward", "out", 1.0, 1.0), ("linear_forward", "free", 0, 0),
                                          ("relu_backward", "dx", 0.5, 0.5)))
    crashed = record("ben", 0.5, status="error", checks=rows(("linear_forward", "runs", 0.0, 1.0),
                                                            ("linear_forward", "free", 0, 0),
                                                            ("relu_backward", "dx", 0.5, 0.5)))
    header, *lines = gradebook.grades_csv(EX, [full, crashed]).splitlines()
    assert header.split(",")[7:] == ["linear_forward: out", "relu_backward: dx"]
    assert [line.split(",")[7:] for line in lines] == [["1", "0.5"], ["0", "0.5"]]
    for line in csv.DictReader(io.StringIO(gradebook.grades_csv(EX, [full, crashed]))):
        assert sum(float(line[c]) for c in line if ": " in c) == float(line["score"])     # columns add up


def test_resume_check_by_hash_config_and_raised_limits(tmp_path):
    store = gradebook.ResultStore(tmp_path)
    limits = {"timeout": 30.0, "memory": 1024.0}
    saved = record("ann")
    saved.config, saved.limits = "c1", limits
    store.save(saved)
    loaded = store.load("ann")
    assert store.is_current(loaded, "h", "c1", limits)
    assert not store.is_current(loaded, "other-hash", "c1", limits)
    assert not store.is_current(loaded, "h", "c2", limits)
    saved.status = "timeout"
    store.save(saved)
    assert store.is_current(store.load("ann"), "h", "c1", limits)
    assert not store.is_current(store.load("ann"), "h", "c1", {**limits, "timeout": 60.0})
    assert store.load("nobody") is None


def test_identical_files_are_flagged_for_the_instructor_only():
    records = [record("ann", file_hash="x"), record("ben", file_hash="x"), record("cat", file_hash="y")]
    gradebook.add_duplicate_flags(records)
    assert records[0].flags == ["identical file to ben"] and records[2].flags == []
    assert "identical" not in feedback.render(EX, records[0])


def test_malformed_messages_from_a_child_cannot_crash_the_scorer():
    from bpkit.grading import scoring
    from bpkit.grading.engine import Grader
    from bpkit.sandbox.runner import RawRun
    cases = Grader(EX, "/nonexistent", "k" * 16).cases_for("ann")
    frames = [({"event": "cells", "notes": {"a": 1}}, {}), ({"event": "calling", "function": ["x"], "case": 0}, {}),
              ({"event": "case", "function": ["x"], "case": 0}, {}),
              ({"event": "case", "function": "linear_forward", "case": 0, "status": "ok", "values": {"out": 3}}, {}),
              ({"event": "case", "function": "linear_forward", "case": 1, "status": "hacked", "values": {}}, {})]
    result = scoring.score_run(EX, cases, RawRun(frames=frames, exit_code=0), timeout=2, memory_mb=256)
    assert result["score"] == 0 and result["status"] == "error"
    assert "malformed" in " ".join(result["notes"])
    assert result["max_score"] == EX.max_points
    assert sum(r["max_points"] for r in result["checks"]) == pytest.approx(EX.max_points)


def test_summary_counts_pass_rates_and_common_mistakes_per_student():
    from bpkit.grading import summary
    mistake = next(m for m in EX.functions[1].mistakes)          # a catalogued mistake of linear_backward
    row = lambda passed, hint="", **kw: {"function": "linear_backward", "name": "dW", "passed": passed,  # noqa: E731
                                         "points": float(passed), "max_points": 1.0, "hint": hint, "case": "c", **kw}
    records = [record("ann", checks=[row(False, mistake.hint, mistake=mistake.name)] * 2),
               record("ben", checks=[row(False, mistake.hint, mistake=mistake.name), row(True)]),
               record("cat", checks=[row(True)])]
    assert summary.pass_rates(records) == {"linear_backward: dW": 1 / 3}   # students, not rows
    assert summary.common_mistakes(EX, records) == [summary.Mistake(2, "linear_backward", mistake.hint,
                                                                    mistake=mistake.name)]
    page = summary.render(EX, records)
    assert "Most common mistakes" in page and html.escape(mistake.hint) in page


def test_a_failed_row_records_its_catalogued_mistake_or_the_row_it_reuses():
    """What the summary counts by: the mistake's name where a catalogued mistake chose the hint, the failing row
    a "this row reuses ..." note points to, and neither for any other failure. (A case that crashed is a "runs" row
    whose hint runner.explain_errors copies from the mistake that crashes alike: the summary matches that hint.)"""
    from bpkit.exercises import check
    from bpkit.exercises.runner import run_checks
    from test_exercises import _patched, _v_unary
    spec = EX.functions[1]
    for mistake in spec.mistakes[:2]:
        failed = [r for r in run_checks(spec, mistake.implementation(None)) if not r.passed and r.name != "runs"]
        assert failed and {(r.mistake, r.hint, r.reuses) for r in failed} == {(mistake.name, mistake.hint, "")}
    scaled = [r for r in run_checks(spec, lambda dout, x, W: (dout @ W.T, x.T @ dout * 1.5, dout.sum(0)))
              if not r.passed]
    assert scaled and {(r.mistake, r.reuses) for r in scaled} == {("", "")}
    report = check("Value", namespace={"Value": _patched(exp=_v_unary("exp", "twice_out"))})
    failed = {r.name: (r.mistake, r.reuses) for row in report.rows for r in row.results if not r.passed}
    assert failed == {"a.exp(): _backward(g) matches central differences": ("", ""),
                      "a.exp(): a leaf used twice receives both contributions (+=)":
                          ("", "a.exp(): _backward(g) matches central differences")}


def test_common_mistakes_count_students_per_catalogued_mistake_not_hint_texts():
    """The walk's ex13 class: hints that embed per-case numbers ("dpred is right in 24 of 32 entries; ...") made
    one student fill five rows, "this row reuses ..." notes were counted as mistakes, and the top 10 came from 2
    students while every catalogued mistake the class made was missing."""
    from bpkit.grading import summary
    spec = EX.functions[1]
    first, second = spec.mistakes[0], spec.mistakes[1]

    def row(name, hint, **kw):
        return {"function": spec.name, "name": name, "passed": False, "points": 0.0, "max_points": 1.0,
                "hint": hint, "case": kw.pop("case", "c"), "status": kw.pop("status", "ok"), **kw}
    numbered = [row("dW matches", f"dW is right in {k} of 32 entries; use x.T @ dout", case=f"case {k}")
                for k in range(20, 26)]                       # one student, six different texts
    echo = row("db matches", 'this row reuses what "dW matches" tests, and that row fails: fix it first; this one '
                             "may then pass too", reuses="dW matches")
    records = [record("ann", checks=numbered + [echo]),
               record("ben", checks=[row("dW matches", first.hint, mistake=first.name, case=c) for c in "abc"]),
               record("cat", checks=[row("dW matches", first.hint, mistake=first.name),
                                     row("dx matches", second.hint, mistake=second.name)]),
               # a crash that runner.explain_errors gave the hint of the mistake that crashes alike (no name field)
               record("dov", checks=[row("runs", second.hint, status="error")]),
               record("eve", checks=[row("runs", "replace the raise NotImplementedError(...) line with your code",
                                         status="not_implemented")]),
               record("fay", checks=[row("runs", "", status="timeout")]),
               # one part of a class stopped (ex02's backward ran out of time): a run that stopped, not a wrong value
               record("gus", checks=[row("dx matches", "", status="timeout"),
                                     row("dW matches", "dW is right in 20 of 32 entries; use x.T @ dout")])]
    table = summary.common_mistakes(EX, records)
    assert [(m.students, m.mistake or m.check) for m in table] == [
        (2, first.name), (2, second.name), (2, "dW matches"), (2, "runs")]
    assert table[0].text == first.hint and table[2].text == "failed for another reason"
    # what the uncatalogued failure's students were told: one count per student per hint, the five most told
    assert table[2].told[0] == ("dW is right in 20 of 32 entries; use x.T @ dout", 2) and len(table[2].told) == 5
    page = summary.render(EX, records)
    listed = page[page.index("Most common mistakes"):]
    assert "reuses" not in page and "NotImplementedError" not in page
    assert "entries" not in listed.split("<details>")[0]          # per-case numbers only in the collapsed list
    assert html.escape(first.hint) in page and "&ldquo;dW matches&rdquo; failed for another reason" in page
    assert "<li>dW is right in 20 of 32 entries; use x.T @ dout (2 students)</li>" in page


def test_feedback_groups_cases_of_a_check():
    rows = [{"function": "linear_backward", "name": "dW", "passed": p, "points": float(p), "max_points": 1.0,
             "message": "" if p else "dW: relative error 0.5", "hint": "" if p else "use x.T @ dout",
             "case": f"case {i}"} for i, p in enumerate([True, False, False])]
    page = feedback.render(EX, record("ann", checks=rows))
    assert "1 of 3 cases passed" in page
    assert page.count("dW: relative error 0.5") == 1 and page.count("use x.T @ dout") == 1
    assert "case 1; case 2" in page


def test_feedback_escapes_what_the_submission_wrote():
    page = feedback.render(EX, record("ann", message="<script>alert(1)</script>", status="error"))
    assert "<script>alert" not in page and "&lt;script&gt;" in page


# ---- protocol -------------------------------------------------------------------------------------------------

def test_values_round_trip_and_subclasses_arrive_as_plain_arrays():
    class Liar(np.ndarray):
        def __eq__(self, other):
            return True
    arrays = {}
    spec = protocol.encode_values({"a": np.arange(3.0).view(Liar), "f": 1.5, "s": "!a bool", "n": None}, "k",
                                  arrays)
    frame = protocol.make_frame({"values": spec}, arrays)
    frames, problem = protocol.parse_frames(frame)
    assert problem == ""
    values = protocol.decode_values(frames[0][0]["values"], frames[0][1])
    assert type(values["a"]) is np.ndarray and values["a"].tolist() == [0.0, 1.0, 2.0]
    assert (values["f"], values["s"], values["n"]) == (1.5, "!a bool", None)
    with pytest.raises(TypeError, match="expected numbers"):
        protocol.encode_values({"o": np.array([object()])}, "k", {})


def test_untrusted_arrays_must_be_plain_numbers_of_the_size_they_claim():
    manifest, payload = protocol.pack_arrays({"a": np.arange(6.0).reshape(2, 3)})
    assert protocol.unpack_arrays(manifest, payload)["a"].tolist() == [[0, 1, 2], [3, 4, 5]]
    bad = [{"a": ["|O", [6], 0, 48]}, {"a": ["<U1", [12], 0, 48]}, {"a": ["|V8", [6], 0, 48]},
           {"a": ["<f8", [10**9], 0, 48]}, {"a": ["<f8", [6], 8, 48]}, {"a": ["<f8", [-6], 0, 48]},
           {"a": ["<f8", [6], 0]}, {"a": "<f8"}, [1, 2]]
    for manifest in bad:
        with pytest.raises(protocol.ProtocolError):
            protocol.unpack_arrays(manifest, payload)
    overlapping = {f"k{i}": ["<f8", [6], 0, 48] for i in range(100)}
    with pytest.raises(protocol.ProtocolError, match="add up"):
        protocol.unpack_arrays(overlapping, payload, max_bytes=1000)


def test_arrays_keep_their_shape_dtype_and_order_across_the_pipe():
    """0-d arrays stay 0-d, big-endian and Fortran-ordered arrays arrive as the same numbers."""
    sent = {"scalar": np.array(2.5), "empty": np.zeros((0, 3)), "int": np.arange(4, dtype=np.int32),
            "big_endian": np.arange(3.0).astype(">f8"), "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
            "bool": np.array([True, False])}
    got = protocol.unpack_arrays(*protocol.pack_arrays(sent))
    for key, arr in sent.items():
        assert got[key].shape == arr.shape and got[key].dtype.kind == arr.dtype.kind, key
        np.testing.assert_array_equal(got[key], arr)


def test_decode_values_refuses_anything_but_plain_scalars_and_known_arrays():
    for bad in ({"x": {"v": [1, 2]}}, {"x": {"v": {"a": 1}}}, {"x": {"a": "missing"}}, {"x": 3}, [1]):
        with pytest.raises(protocol.ProtocolError):
            protocol.decode_values(bad, {})


def test_garbage_in_the_result_stream_keeps_the_frames_before_it():
    good = protocol.make_frame({"event": "cell", "index": 1})
    frames, problem = protocol.parse_frames(good + b"score: 100\n" * 3)
    assert len(frames) == 1 and "not a grader message" in problem
    frames, problem = protocol.parse_frames(good[:-3])
    assert frames == [] and "middle of a message" in problem


# ---- notebooks and discovery --------------------------------------------------------------------------------

def test_invalid_notebooks_get_clear_messages(tmp_path):
    cases = {"empty.ipynb": (b"", "empty file"), "broken.ipynb": (b'{"cells": [', "not valid JSON"),
             "old.ipynb": (json.dumps({"nbformat": 2, "worksheets": []}).encode(), "nbformat 2"),
             "list.ipynb": (b"[1, 2]", "not a notebook"), "bin.ipynb": (b"\xff\xfe\x00", "not UTF-8")}
    for name, (data, words) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InvalidNotebook, match=words):
            read_notebook(tmp_path / name)


def test_cells_become_python_as_ipython_makes_it_and_valid_python_is_never_rewritten():
    nb = {"nbformat": 4, "cells": [
        {"cell_type": "code", "source": ["%load_ext bpkit\n", "x = 7 % 3\n", "if x:\n", "    !pip install foo\n"]},
        {"cell_type": "markdown", "source": "# title"},
        {"cell_type": "code", "source": "%%bash\nls"},
        {"cell_type": "code", "source": "%%time\ndef f(x):\n    return x"},
        {"cell_type": "code", "source": "msg = (\"%s and %s\"\n    % (1, 2))\nok = (x\n    != 3)\n"},
        {"cell_type": "code", "source": "%%writefile helpers.py\ndef h(x):\n    return 2 * x\n"}]}
    sub = parse_notebook(nb)
    assert [c.index for c in sub.cells] == [1, 2, 3, 4, 5]
    assert sub.cells[0].source.splitlines() == ["get_ipython().run_line_magic('load_ext', 'bpkit')", "x = 7 % 3",
                                                "if x:", "    get_ipython().system('pip install foo')"]
    compile(sub.cells[0].source, "cell", "exec")
    assert sub.cells[1].source == "" and any("%%bash" in n for n in sub.notes)
    assert sub.cells[2].source.splitlines() == ["", "def f(x):", "    return x"]
    assert sub.cells[3].source == nb["cells"][4]["source"]          # black's continuation lines stay Python
    assert "run_cell_magic('writefile', 'helpers.py'" in sub.cells[4].source


def test_a_function_defined_twice_is_graded_as_python_would_and_the_note_says_so():
    nb = {"nbformat": 4, "cells": [{"cell_type": "code", "source": "def f(x):\n    return 1\n"},
                                   {"cell_type": "code", "source": "def f(x):\n    return 2\n"}]}
    sub = parse_notebook(nb, functions=["f", "g"])
    assert sub.notes == ["f is defined 2 times (code cells 1 and 2); the last definition, in code cell 2, is the "
                         "one graded, as Python would"]


def test_discover_reads_files_folders_and_the_nbgrader_layout(tmp_path):
    write_notebook(tmp_path / "flat" / "ann.ipynb", RIGHT)
    write_notebook(tmp_path / "flat" / ".ipynb_checkpoints" / "ann-checkpoint.ipynb", RIGHT)
    write_notebook(tmp_path / "submitted" / "ben" / "ex03" / EX.notebook, RIGHT)
    write_notebook(tmp_path / "submitted" / "cat" / "ex03" / "ex03_renamed.ipynb", RIGHT)
    (tmp_path / "submitted" / "dov" / "ex03").mkdir(parents=True)
    write_notebook(tmp_path / "eve.ipynb", RIGHT)
    entries = discover([tmp_path / "flat", tmp_path / "submitted", tmp_path / "eve.ipynb"], "ex03", EX.notebook)
    assert [(e.student, e.path.name if e.path else None) for e in entries] == [
        ("ann", "ann.ipynb"), ("ben", EX.notebook), ("cat", "ex03_renamed.ipynb"), ("dov", None),
        ("eve", "eve.ipynb")]
    (tmp_path / "submitted" / "graded" / "results").mkdir(parents=True)      # an OUTDIR among the students
    assert "graded" not in [e.student for e in discover([tmp_path / "submitted"], "ex03", EX.notebook,
                                                        exclude=tmp_path / "submitted" / "graded")]
    with pytest.raises(DiscoveryError, match="two submissions"):
        discover([tmp_path / "flat", tmp_path / "flat" / "ann.ipynb"], "ex03", EX.notebook)


def test_hidden_seeds_are_stable_and_distinct():
    a = seeds.hidden_seed("k", "ex03", "ann", "linear_backward")
    assert a == seeds.hidden_seed("k", "ex03", "ann", "linear_backward")
    others = {seeds.hidden_seed(*args) for args in [("k", "ex03", "ben", "linear_backward"),
                                                    ("k", "ex03", "ann", "relu_backward"),
                                                    ("j", "ex03", "ann", "linear_backward")]}
    assert a not in others and len(others) == 3
    assert seeds.secret_digest("k") != seeds.secret_digest("j") and "k" not in seeds.secret_digest("k")


def _isolation_warnings(setup: str, exercise_id: str = "ex02") -> list[str]:
    """``isolated_calls``'s warnings in a fresh process that first imports what the worker imports (the sandbox,
    whose child speaks ``bpkit.status.Status``), then runs ``setup``."""
    code = ("from bpkit.sandbox import child, confine, isolate, landlock, netns\n" + setup +
            f"\nprint(repr(isolate.isolated_calls({exercise_id!r})[2]))")
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return eval(proc.stdout.strip())


def test_the_status_vocabulary_the_worker_keeps_is_not_reported_as_reference_code():
    """Every grading run used to print "WARNING reference objects reachable from a submission: class
    bpkit.status.Status, ...": the worker's child reports statuses with that enum, which holds no exercise code."""
    assert _isolation_warnings("") == []


@pytest.mark.parametrize("kept, named", [
    ("from bpkit.exercises import drivers\nkeep = drivers.function", "bpkit.exercises.drivers"),
    ("from bpkit.nn import Linear as keep", "class bpkit.nn.layers.Linear"),
    ("from bpkit.status import Status\nfrom bpkit.exercises.catalog import get_exercise as keep", "bpkit.exercises"),
])
def test_real_bpkit_code_left_in_the_worker_is_still_reported(kept, named):
    warnings = _isolation_warnings(kept)
    assert len(warnings) == 1 and warnings[0].startswith("reference objects reachable from a submission: ")
    assert named in warnings[0] and "bpkit.status" not in warnings[0], warnings


def test_the_shared_vocabulary_the_isolation_check_trusts_imports_nothing_from_bpkit():
    """``bpkit.status`` counts as the grader's own (like bpkit.sandbox) because it is plain words: keep it so, or
    it could carry reference code past the check."""
    import ast
    import importlib
    from bpkit.sandbox import isolate
    vocabulary = [m for m in isolate._GRADERS_OWN if m != "bpkit.sandbox"]
    assert vocabulary == ["bpkit.status"]       # a new entry deserves a look
    for name in vocabulary:
        tree = ast.parse(open(importlib.import_module(name).__file__, encoding="utf-8").read())
        imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        modules = [a.name for n in imports if isinstance(n, ast.Import) for a in n.names]
        modules += ["." * n.level + (n.module or "") for n in imports if isinstance(n, ast.ImportFrom)]
        assert not [m for m in modules if m.startswith((".", "bpkit"))], (name, modules)


@pytest.mark.parametrize("exercise_id", sorted(all_exercises()))
def test_isolated_calls_leave_no_reference_implementation_in_the_worker(exercise_id):
    """Every exercise in the catalog: the worker keeps copies of the calls and nothing a submission could copy."""
    code = ("from bpkit.sandbox import isolate\nimport gc, sys\n"
            f"names, calls, warnings = isolate.isolated_calls({exercise_id!r})\nassert not warnings, warnings\n"
            "assert not [m for m in sys.modules if m.startswith('bpkit.') and not m.startswith('bpkit.sandbox')]\n"
            "assert not [o for o in gc.get_objects() if getattr(o, '__name__', '') in names and o not in "
            "calls.values()]\nprint(len(calls))")
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(len(get_exercise(exercise_id).functions))
