"""How long a student's ``check()`` takes for each exercise function, in a released folder (the public check data),
the reference answer checked once to warm up (the data is read once per kernel), then timed.

A check should feel instant in a notebook: this prints the median wall time of each function's check and the slowest
one against a budget of 0.5 s. It was a timed test once; on a shared machine a timed assert fails on load, not on
code, so it is a benchmark that prints figures instead.
Run: .venv/bin/python bench/check_time.py [--repeats N]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from pathlib import Path

import sympy

from bpkit.exercises import check
from bpkit.exercises.catalog import all_exercises

BUDGET = 0.5
ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sympy.symbols("w")                      # sympy is imported once per kernel, not per check
    os.chdir(ROOT / "exercises")
    rows = []
    for ex_id, ex in all_exercises().items():
        if not re.match(r"ex\d\d$", ex_id):
            continue
        for spec in ex.functions:
            namespace = {spec.name: spec.reference}
            check(spec.name, namespace)     # warm-up: the check data is read once per kernel
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                check(spec.name, namespace)
                times.append(time.perf_counter() - start)
            rows.append((statistics.median(times), ex_id, spec.name))
    for seconds, ex_id, name in rows:
        print(f"{ex_id} {name:<28} {seconds * 1e3:8.1f} ms")
    slowest = max(rows)
    print(f"slowest: {slowest[1]} {slowest[2]} {slowest[0]:.3f} s; budget {BUDGET} s; "
          f"slowest / budget = {slowest[0] / BUDGET:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
