"""``bpkit grade`` end to end: layouts, outputs, reruns, determinism, and a grader killed half way."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from bpkit.exercises.catalog import get_exercise
from bpkit import cli
from bpkit.grading.engine import Grader
from grading_fixtures import RIGHT, ZEROS, write_notebook

EX = get_exercise("ex03")
ROOT = Path(__file__).resolve().parents[1]
FAST = ["--timeout", "2", "--memory", "512", "--seed", "s3cret", "--progress", "off"]


def grade(*args) -> int:
    return cli.main(["grade", "--exercise", "ex03", *map(str, args), *FAST])


def rows(outdir) -> dict:
    with open(Path(outdir) / "grades.csv", newline="") as fh:
        return {r["student"]: r for r in csv.DictReader(fh)}


@pytest.fixture
def nbgrader_class(tmp_path):
    """submitted/<student>/ex03/ex03_matrix_calculus.ipynb, and one student who submitted nothing."""
    sub = tmp_path / "submitted"
    write_notebook(sub / "ann" / "ex03" / EX.notebook, RIGHT)
    write_notebook(sub / "ben" / "ex03" / EX.notebook, RIGHT.replace("x.T @ dout", "dout.T @ x"))
    write_notebook(sub / "cat" / "ex03" / EX.notebook, ZEROS)
    (sub / "dov" / "ex03").mkdir(parents=True)
    return sub


def test_python_m_bpkit_grade_writes_every_output(nbgrader_class, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "bpkit", "grade", "--exercise", "ex03", str(nbgrader_class),
                           "--out", str(out), "-j", "2", *FAST], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # the status vocabulary (bpkit.status) is the grader's own, like bpkit.sandbox: no false alarm for it
    assert "WARNING" not in proc.stderr, proc.stderr
    table = rows(out)
    assert list(table) == ["ann", "ben", "cat", "dov"]
    assert (table["ann"]["score"], table["ann"]["status"]) == ("10", "ok")
    assert float(table["ben"]["score"]) < 10 and table["dov"]["status"] == "missing"
    header = (out / "grades.csv").read_text().splitlines()[0].split(",")
    assert header[:7] == ["student", "exercise", "score", "max_score", "status", "message", "flags"]
    assert any(h.startswith("linear_backward: ") for h in header[7:])
    canvas = list(csv.reader((out / "canvas.csv").open()))
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas[1][0] == "Points Possible" and float(canvas[1][5]) == EX.max_points
    assert [r[3] for r in canvas[2:]] == ["ann", "ben", "cat", "dov"]
    doc = json.loads((out / "grades.json").read_text())
    assert doc["max_score"] == EX.max_points and all(s["checks"] for s in doc["students"])
    summary = (out / "summary.html").read_text()
    assert "Plotly.newPlot" in summary and "cdn.plot.ly" not in summary and len(summary) < 100_000
    assert "<script src='plotly.min.js'>" in summary and (out / "plotly.min.js").stat().st_size > 1_000_000
    assert {p.stem for p in (out / "feedback").glob("*.html")} == {"ann", "ben", "cat", "dov"}
    assert "isolation:" in proc.stderr
    assert not [i for i in doc["isolation"] if "WARNING" in i] and "WARNING" not in summary, doc["isolation"]


def test_rerun_skips_unchanged_regrades_changed_and_force_regrades_all(nbgrader_class, tmp_path, capsys):
    out = tmp_path / "out"
    assert grade(nbgrader_class, "--out", out) == 0
    first = (out / "grades.csv").read_bytes()
    capsys.readouterr()
    assert grade(nbgrader_class, "--out", out) == 0
    assert "0 to grade (4 unchanged)" in capsys.readouterr().err
    assert (out / "grades.csv").read_bytes() == first
    write_notebook(nbgrader_class / "cat" / "ex03" / EX.notebook, RIGHT)
    assert grade(nbgrader_class, "--out", out) == 0
    assert "1 to grade (3 unchanged)" in capsys.readouterr().err
    assert rows(out)["cat"]["score"] == "10"
    assert grade(nbgrader_class, "--out", out, "--force") == 0
    assert "4 to grade (0 unchanged)" in capsys.readouterr().err


def test_same_submission_graded_twice_gets_the_same_score(tmp_path):
    folder = tmp_path / "class"
    for name, code in [("p", RIGHT), ("q", RIGHT.replace("dout.sum(axis=0)", "dout.mean(axis=0)")), ("r", ZEROS)]:
        write_notebook(folder / f"{name}.ipynb", code)
    assert grade(folder, "--out", tmp_path / "one") == 0
    assert grade(folder, "--out", tmp_path / "two", "-j", "2") == 0
    for name in ("grades.csv", "grades.json", "canvas.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_hidden_inputs_differ_per_student_and_secret_but_not_per_run(tmp_path):
    a = Grader(EX, tmp_path, "secret-1")
    b = Grader(EX, tmp_path, "secret-2")
    x = lambda g, s: g.cases_for(s)["linear_backward"][0]["x"]  # noqa: E731
    assert (x(a, "ann") == x(Grader(EX, tmp_path, "secret-1"), "ann")).all()
    assert not (x(a, "ann") == x(a, "ben")).all()
    assert not (x(a, "ann") == x(b, "ann")).all()


def test_killed_grader_resumes_to_the_same_gradebook(tmp_path):
    folder = tmp_path / "class"
    for i in range(4):
        # each sleeper's cell is stopped at its 0.5 s share (a deterministic note): a run takes ~2 s on -j 1
        write_notebook(folder / f"s{i}.ipynb", RIGHT if i % 2 else ZEROS, "import time\ntime.sleep(1.5)")
    write_notebook(folder / "t.ipynb", RIGHT.replace("x.T @ dout", "dout.T @ x"))
    command = [sys.executable, "-m", "bpkit", "grade", "--exercise", "ex03", str(folder), "-j", "1", *FAST,
               "--timeout", "1"]
    interrupted = tmp_path / "interrupted"
    proc = subprocess.Popen(command + ["--out", str(interrupted)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((interrupted / "results").glob("*.json"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5          # its workers and their children die with it (PR_SET_PDEATHSIG)
    while time.monotonic() < deadline and _workers_of(proc.pid):
        time.sleep(0.05)
    assert _workers_of(proc.pid) == []
    done = len(list((interrupted / "results").glob("*.json")))
    assert 2 <= done < 5 and not (interrupted / "grades.csv").exists()
    assert subprocess.run(command + ["--out", str(interrupted)], capture_output=True, timeout=120).returncode == 0
    straight = tmp_path / "straight"
    assert subprocess.run(command + ["--out", str(straight)], capture_output=True, timeout=120).returncode == 0
    for name in ("grades.csv", "grades.json", "canvas.csv"):
        assert (interrupted / name).read_bytes() == (straight / name).read_bytes(), name
    assert "was stopped" in (straight / "grades.json").read_text()


def _workers_of(grader_pid: int) -> list[int]:
    """Grading workers started by ``grader_pid`` and the sandboxed children they forked.

    A forked child keeps its worker's command line (``-m bpkit.sandbox.worker EXERCISE FD GRADER_PID``), so matching
    the command line finds both, and nothing that another grader running in parallel (another test) started.
    """
    marker = str(grader_pid).encode()
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"bpkit.sandbox.worker" in cmdline and marker in cmdline:
            found.append(int(entry))
    return found


def test_a_worker_that_dies_mid_run_is_reported_and_replaced():
    from bpkit.sandbox import protocol
    from bpkit.sandbox.runner import Worker
    worker = Worker("ex03")
    job = lambda code: protocol.make_frame({"cells": [[1, code]], "script": code, "cases": {}})  # noqa: E731
    killer = threading.Timer(0.5, lambda: os.killpg(worker.proc.pid, signal.SIGKILL))
    killer.start()
    try:
        lost = worker.run(job("import time\ntime.sleep(5)"), timeout=3, memory_mb=256)
        assert lost.lost and "stopped answering" in lost.problem
        assert worker.proc.poll() is None                      # a fresh worker took its place
        after = worker.run(job("x = 1"), timeout=3, memory_mb=256)
        assert not after.lost and after.frames[-1][0]["event"] == "done"
    finally:
        killer.cancel()
        worker.close()


def test_unknown_exercise_and_duplicate_students_are_clear_errors(tmp_path, capsys):
    write_notebook(tmp_path / "a" / "ann.ipynb", RIGHT)
    write_notebook(tmp_path / "b" / "ann.ipynb", RIGHT)
    assert cli.main(["grade", "--exercise", "ex99", str(tmp_path / "a"), "--out", str(tmp_path / "o")]) == 2
    assert "unknown exercise 'ex99'" in capsys.readouterr().err
    assert grade(tmp_path / "a", tmp_path / "b", "--out", tmp_path / "o") == 2
    assert "two submissions for student 'ann'" in capsys.readouterr().err
    assert grade(tmp_path / "nowhere", "--out", tmp_path / "o") == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_no_seed_creates_a_private_secret_and_reuses_it(tmp_path):
    write_notebook(tmp_path / "c" / "ann.ipynb", ZEROS)
    args = ["grade", "--exercise", "ex03", str(tmp_path / "c"), "--out", str(tmp_path / "o"), "--timeout", "2",
            "--progress", "off"]
    env_secret = os.environ.pop("BPKIT_GRADE_SECRET", None)
    try:
        assert cli.main(args) == 0
        secret = tmp_path / "o" / ".grading-secret"
        assert secret.stat().st_mode & 0o777 == 0o600 and len(secret.read_text().strip()) == 32
        before = (tmp_path / "o" / "grades.json").read_bytes()
        assert cli.main(args + ["--force"]) == 0
        assert (tmp_path / "o" / "grades.json").read_bytes() == before
    finally:
        if env_secret is not None:
            os.environ["BPKIT_GRADE_SECRET"] = env_secret


SOURCES = sorted((ROOT / "exercises" / "source").glob("ex[0-9][0-9]_*.ipynb"))


@pytest.mark.skipif(not SOURCES, reason="no exercise source notebooks yet")
def test_instructor_solutions_get_full_marks_and_released_stubs_get_none(tmp_path):
    """Every exercise source notebook, graded as a submission, earns every point; its released student version
    (stubs raising NotImplementedError) earns none and says so. Graded together, one batch per exercise."""
    for source in SOURCES:
        exercise_id = source.name[:4]
        released = ROOT / "exercises" / source.name
        folder = tmp_path / exercise_id
        folder.mkdir()
        (folder / "solution.ipynb").write_bytes(source.read_bytes())
        if released.exists():
            (folder / "released.ipynb").write_bytes(released.read_bytes())
        code = cli.main(["grade", "--exercise", exercise_id, str(folder), "--out", str(tmp_path / f"{exercise_id}-out"),
                         "-j", "2", "--timeout", "20", "--seed", "s3cret-s3cret", "--progress", "off"])
        assert code == 0
        table = rows(tmp_path / f"{exercise_id}-out")
        max_points = get_exercise(exercise_id).max_points
        assert float(table["solution"]["score"]) == max_points, (source.name, table["solution"]["message"])
        if released.exists():
            assert float(table["released"]["score"]) == 0 and table["released"]["status"] == "missing"
            assert "not implemented" in table["released"]["message"]


EX08_CHEAT = '''import gc, sys
def _find(name):
    """Everywhere a reference could hide: the caller's globals, the model's code, the garbage collector."""
    frame = sys._getframe(1)
    while frame is not None:
        if name in frame.f_globals and frame.f_globals[name] is not layer_gradient_norms:
            return frame.f_globals[name]
        frame = frame.f_back
    for obj in gc.get_objects():
        if getattr(obj, "__name__", "") == name and obj is not layer_gradient_norms and callable(obj):
            return obj
    raise LookupError(name)
def layer_gradient_norms(model, X, y):
    for cls in type(model).__mro__ + tuple(type(layer) for layer in model.layers):
        for attr in vars(cls).values():
            glob = getattr(attr, "__globals__", {})
            if "layer_gradient_norms" in glob:
                return glob["layer_gradient_norms"](model, X, y)
    return _find("layer_gradient_norms")(model, X, y)
'''


def test_ex08_hands_over_a_model_but_no_reference_solution(tmp_path):
    """ex08's call gives the student a bpkit Sequential; nothing reachable from it, the stack or the heap is the
    reference layer_gradient_norms. The honest submission is the instructor's solution notebook; the cheat is the
    same notebook with layer_gradient_norms replaced by a search for the reference."""
    ex08 = get_exercise("ex08")
    source = ROOT / "exercises" / "source" / ex08.notebook
    honest = nbformat.read(source, as_version=4)
    cheat = nbformat.read(source, as_version=4)
    cell = next(c for c in cheat.cells if c.source.startswith("def layer_gradient_norms"))
    cell.source = EX08_CHEAT
    (tmp_path / "in").mkdir()
    nbformat.write(honest, tmp_path / "in" / "honest.ipynb")
    nbformat.write(cheat, tmp_path / "in" / "cheat.ipynb")
    out = tmp_path / "out"
    assert cli.main(["grade", "--exercise", "ex08", str(tmp_path / "in"), "--out", str(out), *FAST,
                     "--timeout", "10"]) == 0     # the whole solution notebook runs, plots and all
    table = rows(out)
    assert float(table["honest"]["score"]) == ex08.max_points, table["honest"]
    norms_points = next(s.points for s in ex08.functions if s.name == "layer_gradient_norms")
    assert float(table["cheat"]["score"]) == ex08.max_points - norms_points, table["cheat"]
