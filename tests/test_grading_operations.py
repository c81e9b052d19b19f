"""Issue 11, operations: grading into an existing OUTDIR updates, never clobbers; one secret per OUTDIR; one run
at a time; SIGINT and SIGTERM leave consistent class files; no temporary folder outlives a run; a cached grade
depends on its own exercise only."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bpkit import cli
from bpkit.exercises.catalog import get_exercise
from bpkit.grading import gradebook
from bpkit.grading.engine import exercise_digest
from grading_fixtures import RIGHT, ZEROS, write_notebook

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="grading needs fork (Linux)")
EX = get_exercise("ex03")
SECRET = "operations-secret-0123"
FAST = ["--timeout", "5", "--seed", SECRET, "--progress", "off"]


def grade(*args) -> int:
    return cli.main(["grade", "--exercise", "ex03", *map(str, args), "-j", "2", *FAST])


def students(out: Path) -> dict[str, dict]:
    return {s["student"]: s for s in json.loads((out / "grades.json").read_text())["students"]}


@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("ops")
    folder = root / "class"
    write_notebook(folder / "ann.ipynb", RIGHT)
    write_notebook(folder / "ben.ipynb", ZEROS)
    write_notebook(folder / "cat.ipynb", RIGHT.replace("x.T @ dout", "dout.T @ x"))
    out = root / "out"
    assert grade(folder, "--out", out) == 0
    return folder, out


def copy_of(out: Path, tmp_path: Path) -> Path:
    import shutil
    target = tmp_path / "out"
    shutil.copytree(out, target)
    return target


def test_grading_one_student_updates_their_rows_and_keeps_everyone_elses(small_class, tmp_path):
    folder, original = small_class
    out = copy_of(original, tmp_path)
    before = students(out)
    fixed = write_notebook(tmp_path / "new" / "ben.ipynb", RIGHT)       # ben resubmits, graded alone
    assert grade(fixed, "--out", out) == 0
    after = students(out)
    assert set(after) == {"ann", "ben", "cat"}
    assert after["ben"]["score"] == EX.max_points and before["ben"]["score"] < EX.max_points
    assert after["ann"] == before["ann"] and after["cat"] == before["cat"]
    canvas = {line[3]: line[5] for line in csv.reader((out / "canvas.csv").open())}
    assert canvas["ben"] == f"{EX.max_points:g}" and canvas["cat"] == f"{before['cat']['score']:g}"
    assert "3 submissions, 3 graded" in (out / "summary.html").read_text()
    # an overrides file given once stays in force for later runs into the folder
    (tmp_path / "o.csv").write_text("student,points,late_penalty,reason\ncat,9,,regrade\n")
    assert grade(fixed, "--out", out, "--overrides", tmp_path / "o.csv") == 0
    assert grade(fixed, "--out", out) == 0
    assert students(out)["cat"]["score"] == 9 and (out / "overrides.csv").exists()
    (out / "overrides.csv").unlink()
    # --student NAME on the whole folder: only that one is (re)graded
    write_notebook(folder.parent / "class2" / "ann.ipynb", ZEROS)
    write_notebook(folder.parent / "class2" / "cat.ipynb", RIGHT)
    assert grade(folder.parent / "class2", "--out", out, "--student", "cat") == 0
    again = students(out)
    assert again["cat"]["score"] == EX.max_points and again["ann"] == before["ann"]


def test_an_outdir_graded_with_another_secret_is_refused_unless_forced(small_class, tmp_path, capsys):
    folder, original = small_class
    out = copy_of(original, tmp_path)
    command = ["grade", "--exercise", "ex03", str(folder / "ann.ipynb"), "--out", str(out), "-j", "1",
               "--timeout", "5", "--seed", "another-secret-456789", "--progress", "off"]
    assert cli.main(command) == 2
    assert "holds grades made with another secret" in capsys.readouterr().err
    assert set(students(out)) == {"ann", "ben", "cat"}                # nothing was touched
    assert cli.main(command + ["--force"]) == 0
    assert set(students(out)) == {"ann"}                              # the old secret's results are gone
    assert sorted(p.name for p in (out / "feedback").iterdir()) == ["ann.html"]


def test_a_second_run_into_the_same_outdir_is_refused_while_the_first_holds_it(small_class, tmp_path, capsys):
    folder, original = small_class
    out = copy_of(original, tmp_path)
    with gradebook.locked(out):
        assert grade(folder, "--out", out) == 2
        assert f"another bpkit grade (pid {os.getpid()})" in capsys.readouterr().err
    assert grade(folder, "--out", out) == 0                         # released: the next run goes ahead
    assert (out / gradebook.LOCK_NAME).read_text() == ""              # no PID left behind


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_leave_consistent_class_files_and_no_temporary_folder(tmp_path, signum):
    folder = tmp_path / "class"
    for i in range(5):       # each takes ~1 s (its cell sleeps until the cells' share of the time is used)
        write_notebook(folder / f"s{i}.ipynb", RIGHT if i % 2 else ZEROS, "import time\ntime.sleep(5)")
    write_notebook(folder / "crash.ipynb", RIGHT, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "out"
    command = [sys.executable, "-m", "bpkit", "grade", "--exercise", "ex03", str(folder), "--out", str(out),
               "-j", "1", "--timeout", "2", "--seed", SECRET, "--progress", "off"]
    env = {**os.environ, "TMPDIR": str(scratch)}
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((out / "results").glob("*.json"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: run the same command again" in err
    rows = students(out)
    assert set(rows) == {"crash", "s0", "s1", "s2", "s3", "s4"}       # nobody left out
    graded = {s for s in rows if rows[s]["status"] != "ungraded"}
    assert 2 <= len(graded) < 6
    assert graded == {p.stem for p in (out / "results").glob("*.json")}
    canvas = {line[3]: line[5] for line in list(csv.reader((out / "canvas.csv").open()))[2:]}
    assert set(canvas) == set(rows) and all((canvas[s] == "") == (s not in graded) for s in rows)
    table = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert all(table[s]["score"] == f"{rows[s]['score']:g}" for s in graded)
    assert {p.stem for p in (out / "feedback").glob("*.html")} == graded
    assert list(scratch.iterdir()) == []                              # the run folder went with the run
    assert (out / gradebook.LOCK_NAME).read_text() == ""
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert all(r["status"] != "ungraded" for r in students(out).values())
    assert list(scratch.iterdir()) == []


def test_a_grader_killed_outright_leaves_its_run_folder_to_the_next_run(tmp_path):
    folder = tmp_path / "class"
    for i in range(3):
        write_notebook(folder / f"s{i}.ipynb", RIGHT, "import time\ntime.sleep(5)")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    command = [sys.executable, "-m", "bpkit", "grade", "--exercise", "ex03", str(folder), "--out",
               str(tmp_path / "out"), "-j", "1", "--timeout", "2", "--seed", SECRET, "--progress", "off"]
    env = {**os.environ, "TMPDIR": str(scratch)}
    proc = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list((tmp_path / "out" / "results").glob("*.json")):
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert [p.name.startswith(f"bpkit-grade-run-{proc.pid}-") for p in scratch.iterdir()] == [True]
    assert subprocess.run(command, env=env, capture_output=True, timeout=120).returncode == 0
    assert list(scratch.iterdir()) == []


def test_a_cached_grade_depends_on_its_own_exercise_spec_only(tmp_path, monkeypatch):
    import types
    from bpkit.exercises.spec import Exercise, FunctionSpec

    def exercise_from(path: Path, name: str) -> Exercise:
        module = types.ModuleType(name)
        module.__file__ = str(path)
        exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
        spec = FunctionSpec(name="f", signature="f(x)", points=1.0, make_cases=module.make_cases,
                            call=lambda fn, case: {}, grade=lambda case, out: [])
        return Exercise(id=name, title=name, notebook=f"{name}.ipynb", functions=[spec], spec_path=path)

    a, b = tmp_path / "exa.py", tmp_path / "exb.py"
    a.write_text("def make_cases(rng):\n    return []\n")
    b.write_text("def make_cases(rng):\n    return []\n")
    digest_a = exercise_digest(exercise_from(a, "exa"))
    b.write_text("def make_cases(rng):\n    return [1]\n")                       # another exercise changes
    (tmp_path / "exc.py").write_text("def make_cases(rng):\n    return []\n")    # an exercise is added
    assert exercise_digest(exercise_from(a, "exa")) == digest_a
    a.write_text("def make_cases(rng):\n    return [2]\n")                       # its own spec changes
    assert exercise_digest(exercise_from(a, "exa")) != digest_a
    assert exercise_digest(get_exercise("ex03")) != exercise_digest(get_exercise("ex04"))
