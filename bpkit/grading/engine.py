"""The grading engine: grade a class's submissions for one exercise into one OUTDIR, in parallel, resumably.

Each submission's code cells run in a confined child of a pre-forked worker (``bpkit.sandbox``); its functions are
called on inputs drawn from hidden seeds (``seeds.py``) and the outputs are compared here (``scoring.py``). Results
are written as each submission finishes (``gradebook.py``); a rerun skips unchanged submissions. Outputs:
grades.csv, grades.json, canvas.csv, feedback/<student>.html, summary.html. The command line is ``bpkit/cli.py``.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..sandbox import protocol
from ..sandbox.runner import Worker
from . import feedback, gradebook, scoring, seeds, summary
from .intake import safe_name
from .notebook_source import InvalidNotebook, read_notebook
from .records import Result, Status


def exercise_digest(exercise) -> str:
    """A fingerprint of the exercise's own spec: what its cached grades depend on besides the submission and the
    secret. Another exercise's code, or a new exercise, leaves it unchanged.

    An exercise may say what it depends on (``exercise.digest()``: its spec file and source notebook, or
    ``exercise.spec_files``: paths); otherwise it is the source file that defines its case generators."""
    import inspect
    given = getattr(exercise, "digest", None)
    if callable(given):
        given = given()
    if isinstance(given, str) and given:
        return given
    digest = hashlib.sha256(exercise.id.encode())
    paths = [Path(p) for p in getattr(exercise, "spec_files", None) or ()]
    if not paths:
        for spec in exercise.functions:
            try:
                paths.append(Path(inspect.getsourcefile(spec.make_cases)))
            except (TypeError, OSError):
                continue
    for path in sorted(set(paths)):
        try:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        except OSError:
            digest.update(path.name.encode() + b"\0missing")
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def grader_digest() -> str:
    """A fingerprint of the code that reads, runs, checks and words a submission (bpkit's grading, sandbox and
    exercises packages): an upgraded bpkit re-grades what an older one cached, so its fixes reach every student."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(p for sub in ("grading", "sandbox", "exercises") for p in (package / sub).rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def remove_stale_run_folders() -> None:
    """Remove the run folders of graders that died without cleaning up (SIGKILL, a power cut): each folder's
    name carries its grader's PID, and a folder whose grader is gone is removed by the next run."""
    import glob
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "bpkit-grade-run-*-*")):
        pid = os.path.basename(path).split("-")[3]
        if pid.isdigit() and int(pid) != os.getpid() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(path, ignore_errors=True)


def _copies_the_source(code: str, exercise) -> bool:
    """The submission carries the solution markers and (most of) the source notebook's solution lines."""
    source = getattr(exercise, "source", None)
    if not source or "### BEGIN SOLUTION" not in code:
        return False
    from ..exercises.source import solution_lines
    lines = [line for line in solution_lines(source) if len(line) > 20]
    present = {line.strip() for line in code.split("\n")}
    return bool(lines) and sum(line in present for line in lines) >= 0.8 * len(lines)


class Grader:
    """Grades submissions for one exercise into one OUTDIR (the CLI's engine; also used by tests and bench)."""

    def __init__(self, exercise, outdir, secret: str, timeout: float = 30.0, memory_mb: float = 1024.0,
                 max_output_mb: float = protocol.MAX_OUTPUT / 2**20):
        self.exercise, self.outdir, self.secret = exercise, Path(outdir), secret
        self.timeout, self.memory_mb = float(timeout), float(memory_mb)
        self.max_output = int(max_output_mb * 2**20)
        self.store = gradebook.ResultStore(outdir)
        self.config = hashlib.sha256(json.dumps([exercise.id, seeds.secret_digest(secret), exercise_digest(exercise),
                                                 grader_digest()]).encode()).hexdigest()[:16]
        self.limits = {"timeout": self.timeout, "memory": self.memory_mb, "max_output": self.max_output}
        self.isolation = ""

    def is_current(self, entry) -> bool:
        digest = gradebook.file_hash(entry.path) if entry.path else ""
        return self.store.is_current(self.store.load(entry.student), digest, self.config, self.limits)

    def cases_for(self, student: str) -> dict:
        """This student's hidden cases, per function (the same on every run)."""
        return {spec.name: spec.make_cases(seeds.hidden_rng(self.secret, self.exercise.id, student, spec.name))
                for spec in self.exercise.functions}

    def grade_all(self, entries, jobs: int, progress: str = "off") -> None:
        """Grade ``entries`` with ``jobs`` workers, saving each result the moment it is ready."""
        if not entries:
            return
        from tqdm import tqdm
        jobs = max(1, min(jobs, len(entries)))
        workers: queue.Queue = queue.Queue()
        started = []
        # one run folder holds every scratch folder of every worker and child: removed here whatever happens
        remove_stale_run_folders()
        rundir = tempfile.mkdtemp(prefix=f"bpkit-grade-run-{os.getpid()}-")
        os.chmod(rundir, 0o711)         # a child running under its own uid must reach its scratch folder
        try:
            for _ in range(jobs):           # start them all, then wait: their imports overlap
                started.append(Worker(getattr(self.exercise, "locator", self.exercise.id), wait=False,
                                      rundir=rundir))
            for worker in started:
                worker.wait_ready()
                workers.put(worker)
            self.isolation = started[0].info.get("isolation", "")
            print(f"isolation: {self.isolation}", file=sys.stderr)
            bar = tqdm(total=len(entries), unit="nb", desc=f"grading {self.exercise.id}",
                       disable={"auto": None, "on": False, "off": True}[progress], file=sys.stderr)
            lock = threading.Lock()
            stop = threading.Event()        # set on Ctrl-C: finish nothing more, save nothing half-done

            def one(entry):
                if stop.is_set():
                    return
                worker = workers.get()
                try:
                    try:
                        record = self.grade_one(entry, worker)
                    except Exception as exc:  # noqa: BLE001 - a grader bug must not stop the class
                        if stop.is_set():
                            return
                        print(f"bpkit grade: internal error on {entry.student}: {type(exc).__name__}: {exc}",
                              file=sys.stderr)
                        record = self._record(entry, scoring.unrun(
                            self.exercise, Status.ERROR, f"the grader failed on this submission ({type(exc).__name__})"))
                    if not stop.is_set():
                        self.store.save(record)
                finally:
                    workers.put(worker)
                    with lock:
                        bar.update(1)

            pool = ThreadPoolExecutor(jobs)
            try:
                for future in [pool.submit(one, e) for e in entries]:
                    future.result()
            except BaseException:
                stop.set()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown()
            bar.close()
        finally:
            for worker in started:
                worker.close()
            shutil.rmtree(rundir, ignore_errors=True)

    def grade_one(self, entry, worker) -> Result:
        """The result record for one submission (never raises for anything the submission does)."""
        if entry.path is None:
            return self._record(entry, scoring.unrun(self.exercise, Status.MISSING,
                                                     entry.note or "no notebook submitted"))
        try:
            submission = read_notebook(entry.path, [spec.name for spec in self.exercise.functions])
        except InvalidNotebook as exc:
            return self._record(entry, scoring.unrun(self.exercise, Status.INVALID, str(exc)))
        copies_source = _copies_the_source(submission.code, self.exercise)
        cases = self.cases_for(entry.student)
        arrays: dict = {}
        encoded = {name: [protocol.encode_values(c, f"{name}.{i}.", arrays) for i, c in enumerate(cs)]
                   for name, cs in cases.items()}
        job = protocol.make_frame({"cells": [[c.index, c.source] for c in submission.cells],
                                   "script": submission.code, "cases": encoded}, arrays)
        run = worker.run(job, self.timeout, self.memory_mb, self.max_output)
        result = scoring.score_run(self.exercise, cases, run, self.timeout, self.memory_mb)
        result["notes"] = submission.notes + ([entry.note] if entry.note else []) + result["notes"]
        record = self._record(entry, result, wall=run.wall, cpu=run.cpu,
                              isolation=worker.info.get("isolation", ""))
        if copies_source:
            record.flags.append("submitted the instructor's source notebook (solution markers and the same "
                                "solution code)")
        if record.blocked_imports:
            record.flags.append("used " + ", ".join(record.blocked_imports) +
                                " (bpkit's reference code; refused while grading)")
        return record

    def _record(self, entry, result: dict, **extra) -> Result:
        return Result(student=entry.student, exercise=self.exercise.id, config=self.config, limits=self.limits,
                      file=str(entry.path) if entry.path else None,
                      file_hash=gradebook.file_hash(entry.path) if entry.path else "",
                      canvas_id=entry.canvas_id, **result, **extra)

    def class_records(self, entries) -> list[Result]:
        """The whole class as it stands: every student graded into OUTDIR for this exercise (earlier runs
        included, so grading one student updates only their rows), and each of ``entries`` (this run's) that has
        no current result listed as ungraded, never left out."""
        records = {r.student: r for r in self.store.all(self.exercise.id)}
        for entry in entries:
            record = records.get(entry.student)
            if record is None or not self.is_current(entry):
                why = ("its notebook or the exercise changed since it was graded" if record is not None else
                       "the run stopped before it")
                records[entry.student] = Result(
                    student=entry.student, exercise=self.exercise.id, max_score=self.exercise.max_points,
                    status=Status.UNGRADED, canvas_id=entry.canvas_id,
                    message=f"not graded yet ({why}): run the same command again to grade it")
        return [records[s] for s in sorted(records)]

    def finish(self, entries, overrides=None, canvas_assignment: str | None = None) -> list[Result]:
        """Rebuild the class files, every feedback page and the summary from the saved records (see
        ``class_records``), applying the instructor's ``overrides`` (``lms.read_overrides``) on the way out."""
        records = self.class_records(entries)
        for record in records:
            override = (overrides or {}).get(record.student)
            if override is not None and record.status is not Status.UNGRADED:
                final = override.apply(record.score, record.max_score)
                record.raw_score, record.adjustment = record.score, override.describe(record.score, final)
                record.score = final
        gradebook.write_class_files(self.outdir, self.exercise, records, canvas_assignment)
        for record in records:
            page = self.outdir / "feedback" / f"{safe_name(record.student)}.html"
            if record.status is not Status.UNGRADED:
                gradebook.write_atomic(page, feedback.render(self.exercise, record))
            elif page.exists():
                page.unlink()           # an old page would no longer match the class files
        summary.write(self.outdir, self.exercise, records)
        return records
