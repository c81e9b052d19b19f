"""The ``bpkit`` command line, all of it: ``bpkit release ...`` and ``bpkit grade ...`` (``python -m bpkit`` is the
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


def run_grade(args) -> int:
    from .exercises.catalog import get_exercise
    from .grading import seeds
    from .grading.engine import Grader
    from .grading.intake import DiscoveryError, discover
    from .sandbox.runner import WorkerError
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
    counts: dict[str, int] = {}
    for r in records:
        counts[str(r.status)] = counts.get(str(r.status), 0) + 1
    print(f"graded {len(records)} of {len(entries)}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
          + f"; wrote {outdir / 'grades.csv'}, grades.json, canvas.csv, summary.html, feedback/", file=sys.stderr)
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
