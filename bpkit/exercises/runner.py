"""The students' in-process pipeline: call the function on each case, grade the outputs, never raise.

The instructor's grader runs the same ``make_cases`` and ``grade`` but calls the student's code in a sandboxed
child process; here (a notebook checking its own work) the call happens in-process.
"""
from __future__ import annotations

import zlib

import numpy as np

from .calling import describe_exception
from .spec import Case, CheckResult, FunctionSpec

NOT_IMPLEMENTED = "not implemented yet"


def public_seed(spec: FunctionSpec) -> int:
    """The fixed seed of a function's self-check cases (the grader draws from hidden seeds instead)."""
    return zlib.crc32(spec.name.encode())


def public_cases(spec: FunctionSpec) -> list[Case]:
    """The cases ``check()`` uses: the same on every run, so a notebook's check output is reproducible."""
    return spec.make_cases(np.random.default_rng(public_seed(spec)))


def run_checks(spec: FunctionSpec, fn, cases: list[Case] | None = None) -> list[CheckResult]:
    """Every check of ``spec`` on every case for the student's ``fn``.

    NotImplementedError becomes status "not_implemented" ("not implemented yet"); any other exception becomes
    status "error" with the message and the student's own line; a grading step that fails on strange outputs
    becomes a failed row rather than a crash.
    """
    cases = public_cases(spec) if cases is None else cases
    rows: list[CheckResult] = []
    for case in cases:
        try:
            outputs = spec.call(fn, case)
        except NotImplementedError:
            rows += spec.failure(case, "not_implemented", NOT_IMPLEMENTED,
                                 hint="replace the raise NotImplementedError(...) line with your code")
            continue
        except Exception as exc:  # noqa: BLE001 - the student's exception is the result
            rows += spec.failure(case, "error", describe_exception(exc),
                                 hint="fix the line named in the message, then run the check again")
            continue
        try:
            rows += spec.grade(case, outputs)
        except Exception as exc:  # noqa: BLE001 - outputs so strange that a comparison failed
            rows += spec.failure(case, "invalid", f"could not check what {spec.name} returned: "
                                 f"{type(exc).__name__}: {exc}")
    return rows
