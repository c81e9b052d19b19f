"""``bpkit grade``: grade a class's submissions in isolated child processes, in parallel, resumably.

    bpkit grade --exercise ex03 submitted/ --out graded/ -j 2 --seed "$SECRET"

Each submission's code cells run in a confined child of a pre-forked worker (``worker.py``, ``child.py``); its
functions are called on inputs drawn from hidden seeds (``seeds.py``) and the outputs are compared here
(``scoring.py``). Results are written as each submission finishes (``gradebook.py``); a rerun skips unchanged
submissions. Outputs: grades.csv, grades.json, canvas.csv, feedback/<student>.html, summary.html.
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import feedback, gradebook, protocol, scoring, seeds, summary
from .discover import DiscoveryError, discover, safe_name
from .notebook_source import InvalidNotebook, read_notebook
from .runner import Worker, WorkerError


def add_arguments(parser) -> None:
    parser.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                        help="notebooks, folders of <student>.ipynb, or nbgrader's submitted/ folder")
    parser.add_argument("--exercise", required=True, help="the exercise id, e.g. ex03")
    parser.add_argument("--out", required=True, metavar="OUTDIR", help="where grades and feedback go")
    parser.add_argument("-j", "--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="submissions graded at once (default: min(4, CPUs))")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="wall-clock limit per submission (default 30)")
    parser.add_argument("--memory", type=float, default=1024.0, metavar="MB",
                        help="memory a submission may allocate on top of Python, numpy and sympy (default 1024)")
    parser.add_argument("--max-output", type=float, default=protocol.MAX_OUTPUT / 2**20, metavar="MB",
                        help="largest total output a submission may send back (default 64)")
    parser.add_argument("--seed", default=None, metavar="SECRET",
                        help="secret for the hidden inputs (default: $BPKIT_GRADE_SECRET, else a random secret "
                             "kept in OUTDIR/.grading-secret)")
    parser.add_argument("--force", action="store_true", help="re-grade submissions already graded")
    parser.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                        help="terminal progress bar (default: when stderr is a terminal)")


def _catalog_digest() -> str:
    import bpkit.exercises as package
    digest = hashlib.sha256()
    for path in sorted(Path(package.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _fail(message: str) -> int:
    print(f"bpkit grade: {message}", file=sys.stderr)
    return 2


def run(args) -> int:
    from bpkit.exercises.catalog import get_exercise
    if not hasattr(os, "fork"):
        return _fail("grading runs each submission in a forked child process: it needs Linux (or macOS, with "
                     "weaker isolation), not Windows; use WSL there")
    try:
        exercise = get_exercise(args.exercise)
    except KeyError as exc:
        return _fail(str(exc))
    if args.jobs < 1 or args.timeout <= 0 or args.memory < 64 or args.max_output <= 0:
        return _fail(f"expected -j >= 1, --timeout > 0, --memory >= 64 and --max-output > 0, got -j {args.jobs}, "
                     f"--timeout {args.timeout:g}, --memory {args.memory:g}, --max-output {args.max_output:g}")
    outdir = Path(args.out).resolve()
    try:
        entries = discover(args.submissions, exercise.id, exercise.notebook, exclude=outdir)
    except DiscoveryError as exc:
        return _fail(str(exc))
    outdir.mkdir(parents=True, exist_ok=True)
    secret = args.seed or os.environ.get("BPKIT_GRADE_SECRET")
    if secret and len(secret) < 12:
        print("bpkit grade: warning: a secret shorter than 12 characters can be guessed, and with it every "
              "student's hidden inputs", file=sys.stderr)
    if not secret:
        secret, created = seeds.load_or_create_secret(outdir)
        if created:
            print(f"no --seed given: created a secret in {outdir / '.grading-secret'} (keep it to re-grade "
                  "with the same inputs)", file=sys.stderr)
    grader = Grader(exercise, outdir, secret, args.timeout, args.memory, args.max_output)
    todo = [e for e in entries if args.force or not grader.is_current(e)]
    print(f"bpkit grade {exercise.id}: {len(entries)} submissions, {len(todo)} to grade "
          f"({len(entries) - len(todo)} unchanged), {args.jobs} workers", file=sys.stderr)
    interrupted = False
    try:
        grader.grade_all(todo, args.jobs, progress=args.progress)
    except KeyboardInterrupt:
        interrupted = True
    except WorkerError as exc:
        return _fail(f"the grading worker could not start: {exc}")
    records = grader.finish(entries)
    counts = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print(f"graded {len(records)} of {len(entries)}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
          + f"; wrote {outdir / 'grades.csv'}, grades.json, canvas.csv, summary.html, feedback/", file=sys.stderr)
    if grader.isolation:
        print(f"isolation: {grader.isolation}", file=sys.stderr)
    if interrupted:
        print("interrupted: run the same command again to grade the rest", file=sys.stderr)
        return 130
    return 0


class Grader:
    """Grades submissions for one exercise into one OUTDIR (the CLI's engine; also used by tests and bench)."""

    def __init__(self, exercise, outdir, secret: str, timeout: float = 30.0, memory_mb: float = 1024.0,
                 max_output_mb: float = protocol.MAX_OUTPUT / 2**20):
        self.exercise, self.outdir, self.secret = exercise, Path(outdir), secret
        self.timeout, self.memory_mb = float(timeout), float(memory_mb)
        self.max_output = int(max_output_mb * 2**20)
        self.store = gradebook.ResultStore(outdir)
        self.config = hashlib.sha256(json.dumps([exercise.id, seeds.secret_digest(secret), _catalog_digest()])
                                     .encode()).hexdigest()[:16]
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
        try:
            for _ in range(jobs):           # start them all, then wait: their imports overlap
                started.append(Worker(self.exercise.id, wait=False))
            for worker in started:
                worker.wait_ready()
                workers.put(worker)
            self.isolation = started[0].info.get("isolation", "")
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
                        record = self._record(entry)
                        record.update(scoring.unrun(self.exercise, "error",
                                                    f"the grader failed on this submission ({type(exc).__name__})"))
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

    def grade_one(self, entry, worker) -> dict:
        """The result record for one submission (never raises for anything the submission does)."""
        record = self._record(entry)
        if entry.path is None:
            record.update(scoring.unrun(self.exercise, "missing", entry.note or "no notebook submitted"))
            return record
        try:
            submission = read_notebook(entry.path)
        except InvalidNotebook as exc:
            record.update(scoring.unrun(self.exercise, "invalid", str(exc)))
            return record
        cases = self.cases_for(entry.student)
        arrays: dict = {}
        encoded = {name: [protocol.encode_values(c, f"{name}.{i}.", arrays) for i, c in enumerate(cs)]
                   for name, cs in cases.items()}
        job = protocol.make_frame({"cells": [[c.index, c.source] for c in submission.cells],
                                   "script": submission.code, "cases": encoded}, arrays)
        run = worker.run(job, self.timeout, self.memory_mb, self.max_output)
        result = scoring.score_run(self.exercise, cases, run, self.timeout, self.memory_mb)
        result["notes"] = submission.notes + ([entry.note] if entry.note else []) + result["notes"]
        if result["blocked_imports"]:
            record["flags"].append("used " + ", ".join(result["blocked_imports"]) +
                                   " (bpkit's reference code; refused while grading)")
        record.update(result, wall=run.wall, cpu=run.cpu)
        return record

    def _record(self, entry) -> dict:
        return {"student": entry.student, "exercise": self.exercise.id, "config": self.config,
                "limits": self.limits, "file": str(entry.path) if entry.path else None,
                "file_hash": gradebook.file_hash(entry.path) if entry.path else "", "flags": [],
                "wall": 0.0, "cpu": 0.0}

    def finish(self, entries) -> list[dict]:
        """Rebuild the class files and every feedback page from the saved records of ``entries``."""
        records = [r for r in (self.store.load(e.student) for e in entries) if r is not None]
        gradebook.write_class_files(self.outdir, self.exercise, records)
        for record in records:
            gradebook.write_atomic(self.outdir / "feedback" / f"{safe_name(record['student'])}.html",
                                   feedback.render(self.exercise, record))
        gradebook.write_atomic(self.outdir / "summary.html", summary.render(self.exercise, records))
        return records
