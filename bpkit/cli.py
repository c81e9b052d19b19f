"""The ``bpkit`` command line, all of it: ``bpkit release ...``, ``bpkit grade ...`` and ``bpkit new-exercise ...`` (``python -m bpkit`` is the
same). Parsing and messages live here; the work is done by ``bpkit.grading`` (engine, intake, gradebook) and
``bpkit.grading.release`` (which keeps its own ``add_arguments``/``run``).
"""
from __future__ import annotations

import argparse
from pathlib import Path
import importlib
import os
import sys

from .sandbox import protocol


def _fail(message: str) -> int:
    print(f"bpkit grade: {message}", file=sys.stderr)
    return 2


def add_grade_arguments(parser) -> None:
    parser.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                        help="notebooks, folders of <student>.ipynb, or nbgrader's submitted/ folder")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--exercise", help="the course's exercise id, e.g. ex03")
    which.add_argument("--source", metavar="NOTEBOOK",
                       help="an instructor's source notebook with its NAME.spec.py beside it (docs/authoring.md)")
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
    parser.add_argument("--force", action="store_true",
                        help="re-grade submissions already graded (and discard OUTDIR's results if they were "
                             "graded with another secret)")
    parser.add_argument("--student", action="append", default=[], metavar="NAME",
                        help="grade only this student (repeatable); everyone else's rows stay as they are")
    parser.add_argument("--canvas-assignment", default=None, metavar='"NAME (ID)"',
                        help="canvas.csv's assignment column header, as Canvas shows it, e.g. "
                             '"Exercise 3 (12345)" (default: the exercise title and id)')
    parser.add_argument("--overrides", default=None, metavar="CSV",
                        help="student,points,late_penalty,reason: adjustments applied at export and shown in "
                             "feedback (grades.json keeps the raw score too); kept as OUTDIR/overrides.csv and "
                             "applied by later runs into OUTDIR")
    parser.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                        help="terminal progress bar (default: when stderr is a terminal)")


def run_grade(args) -> int:
    from .exercises.catalog import get_exercise
    from .grading import gradebook, lms, seeds
    from .grading.engine import Grader
    from .grading.intake import DiscoveryError, discover
    from .sandbox.runner import WorkerError
    if not hasattr(os, "fork"):
        return _fail("grading runs each submission in a forked child process: it needs Linux (or macOS, with "
                     "weaker isolation), not Windows; use WSL there")
    try:
        exercise = get_exercise(args.exercise or str(Path(args.source).resolve()))
    except KeyError as exc:
        return _fail(str(exc))
    if args.jobs < 1 or args.timeout <= 0 or args.memory < 64 or args.max_output <= 0:
        return _fail(f"expected -j >= 1, --timeout > 0, --memory >= 64 and --max-output > 0, got -j {args.jobs}, "
                     f"--timeout {args.timeout:g}, --memory {args.memory:g}, --max-output {args.max_output:g}")
    outdir = Path(args.out).resolve()
    # the overrides given are kept in OUTDIR, so a later run (one student, say) applies them too
    kept = outdir / lms.OVERRIDES_NAME
    source = Path(args.overrides) if args.overrides else (kept if kept.exists() else None)
    overrides = {}
    if source is not None:
        try:
            overrides = lms.read_overrides(source)
        except (OSError, lms.OverridesError) as exc:
            return _fail(str(exc))
    try:
        entries = discover(args.submissions, exercise.id, exercise.notebook, exclude=outdir,
                           functions=[spec.name for spec in exercise.functions])
    except DiscoveryError as exc:
        return _fail(str(exc))
    if args.student:
        wanted = set(args.student)
        unknown = sorted(wanted - {e.student for e in entries})
        if unknown:
            return _fail(f"no submission for {', '.join(map(repr, unknown))} among {len(entries)} found")
        entries = [e for e in entries if e.student in wanted]
    outdir.mkdir(parents=True, exist_ok=True)
    if source is not None and source.resolve() != kept:
        gradebook.write_atomic(kept, source.read_bytes())
    if overrides:
        print(f"overrides: {len(overrides)} students adjusted from {source} (kept as {kept}; edit or delete it there)",
              file=sys.stderr)
    try:
        with gradebook.locked(outdir):
            return _grade_locked(args, exercise, outdir, entries, overrides, Grader, gradebook, seeds, WorkerError)
    except gradebook.OutdirBusy as exc:
        return _fail(str(exc))


class _Deferred:
    """SIGINT/SIGTERM while grading stop the grading (KeyboardInterrupt); while the class files are written they
    are only remembered, so the files on disk always agree with each other."""

    def __init__(self):
        self.raise_now = True
        self.received = None

    def __call__(self, signum, frame):
        self.received = signum
        if self.raise_now:
            raise KeyboardInterrupt


def _grade_locked(args, exercise, outdir, entries, overrides, Grader, gradebook, seeds, WorkerError) -> int:
    import signal
    secret = args.seed or os.environ.get("BPKIT_GRADE_SECRET")
    if secret and len(secret) < 12:
        print("bpkit grade: warning: a secret shorter than 12 characters can be guessed, and with it every "
              "student's hidden inputs", file=sys.stderr)
    if not secret:
        secret, created = seeds.load_or_create_secret(outdir)
        if created:
            print(f"no --seed given: created a secret in {outdir / '.grading-secret'} (keep it to re-grade "
                  "with the same inputs)", file=sys.stderr)
    try:
        if gradebook.check_fingerprint(outdir, seeds.secret_digest(secret), args.force):
            print(f"--force: discarded the results in {outdir} graded with another secret", file=sys.stderr)
    except gradebook.OtherSecret as exc:
        return _fail(str(exc))
    grader = Grader(exercise, outdir, secret, args.timeout, args.memory, args.max_output)
    todo = [e for e in entries if args.force or not grader.is_current(e)]
    print(f"bpkit grade {exercise.id}: {len(entries)} submissions, {len(todo)} to grade "
          f"({len(entries) - len(todo)} unchanged), {args.jobs} workers", file=sys.stderr)
    handler = _Deferred()
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    interrupted = False
    try:
        try:
            grader.grade_all(todo, args.jobs, progress=args.progress)
        except KeyboardInterrupt:
            interrupted = True
        except WorkerError as exc:
            return _fail(f"the grading worker could not start: {exc}")
        handler.raise_now = False
        records = grader.finish(entries, overrides, args.canvas_assignment)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    interrupted = interrupted or handler.received is not None
    counts: dict[str, int] = {}
    for r in records:
        counts[str(r.status)] = counts.get(str(r.status), 0) + 1
    print(f"class: {len(records)} students: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
          + f"; wrote {outdir / 'grades.csv'}, grades.json, canvas.csv, summary.html, feedback/", file=sys.stderr)
    if counts.get("ungraded"):
        print(f"{counts['ungraded']} students are listed as ungraded (empty score in canvas.csv, which Canvas "
              "imports as no change)", file=sys.stderr)
    if interrupted:
        print("interrupted: run the same command again to grade the rest", file=sys.stderr)
        return 130
    return 0


def _module_command(module_name: str):
    def add(parser):
        importlib.import_module(module_name).add_arguments(parser)

    def run(args):
        return importlib.import_module(module_name).run(args)
    return add, run


SUBCOMMANDS = {
    "release": ("make student notebooks from instructor sources", *_module_command("bpkit.grading.release")),
    "grade": ("grade a class's submissions in isolated child processes", add_grade_arguments, run_grade),
    "new-exercise": ("scaffold a source notebook and its spec (docs/authoring.md)",
                     *_module_command("bpkit.exercises.scaffold")),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bpkit", description="bpkit course tools")
    sub = parser.add_subparsers(dest="command", required=True)
    runners = {}
    for name, (help_text, add, run) in SUBCOMMANDS.items():
        add(sub.add_parser(name, help=help_text))
        runners[name] = run
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return int(runners[args.command](args) or 0)
