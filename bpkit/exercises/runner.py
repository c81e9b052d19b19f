"""The students' in-process pipeline: call the function on each case (with a time limit), grade, never raise.

The instructor's grader runs the same ``grade`` but calls the student's code in a sandboxed child process; here (a
notebook checking its own work) the call happens in-process, each call limited to ``time_limit`` seconds.
"""
from __future__ import annotations

import re

import numpy as np

from .calling import SIGNATURE, CallTimeout, describe_exception, time_limit
from .checks import MISTAKES, RAISES
from .public import public_seed
from .spec import Case, CheckResult, FunctionSpec, Status
from ..status import PART_MESSAGE, PART_STATUS, SKIP_PARTS

NOT_IMPLEMENTED = "not implemented yet"
TIME_LIMIT = 5.0     # seconds per call of the student's function; check(..., time_limit=...) changes it


def public_cases(spec: FunctionSpec) -> list[Case]:
    """The cases ``check()`` uses: the same on every run, so a notebook's check output is reproducible."""
    return spec.make_cases(np.random.default_rng(public_seed(spec.name)))


def run_checks(spec: FunctionSpec, fn, cases: list[Case] | None = None,
               time_limit_s: float | None = TIME_LIMIT) -> list[CheckResult]:
    """Every check of ``spec`` on every case for the student's ``fn``.

    NotImplementedError becomes status "not_implemented"; any other exception becomes status "error" with the
    message and the student's own line, for that case only (the other cases are still graded and diagnosed); a
    call past the time limit becomes "timeout" and the remaining cases are skipped (so a loop that never ends costs
    one time limit, not one per case). When only one part of a call ran out of time (one method of a class), the
    later cases skip that part alone and still check the others.
    """
    cases = public_cases(spec) if cases is None else cases
    rows: list[CheckResult] = []
    timed_out = False
    skipped: set[str] = set()       # parts that ran out of time on an earlier case
    for case in cases:
        case_run = {**case, SKIP_PARTS: tuple(sorted(skipped))} if skipped else case
        if timed_out:
            rows += spec.failure(case, Status.TIMEOUT, f"skipped: an earlier case did not return within "
                                 f"{time_limit_s:g} s", hint="look for a loop that never ends")
            continue
        try:
            with np.errstate(all="ignore"), time_limit(time_limit_s):
                outputs = spec.call(fn, case_run)
        except CallTimeout as exc:
            partial = getattr(exc, "partial_outputs", None)
            if partial is None:
                timed_out = True
                rows += spec.failure(case, Status.TIMEOUT, f"did not return within {time_limit_s:g} s",
                                     hint="look for a loop that never ends, or work far larger than the inputs need")
                continue
            outputs = partial       # the parts that returned are graded; the part that ran out says "timeout"
            stopped = {key[:-len(PART_STATUS)] for key, value in partial.items()
                       if key.endswith(PART_STATUS) and value == Status.TIMEOUT}
            for part in stopped:
                outputs[part + PART_MESSAGE] = (f"did not return within {time_limit_s:g} s (an endless loop? "
                                                "check(..., time_limit=seconds) allows longer)")
            skipped |= stopped
        except NotImplementedError:
            rows += spec.failure(case, Status.NOT_IMPLEMENTED, NOT_IMPLEMENTED,
                                 hint="replace the raise NotImplementedError(...) line with your code")
            continue
        except TypeError as exc:
            if not str(exc).startswith(f"{spec.name}: {SIGNATURE}"):
                rows += spec.failure(case, Status.ERROR, describe_exception(exc),
                                     hint="fix the line named in the message, then run the check again")
                continue
            rows += spec.failure(case, Status.ERROR, str(exc), hint="keep the parameters of the provided signature")
            continue
        except Exception as exc:  # noqa: BLE001 - the student's exception is the result
            rows += spec.failure(case, Status.ERROR, describe_exception(exc),
                                 hint="fix the line named in the message, then run the check again")
            continue
        try:
            rows += spec.grade(case, outputs)
        except Exception as exc:  # noqa: BLE001 - outputs so strange that a comparison failed
            rows += spec.failure(case, Status.INVALID, f"could not check what {spec.name} returned: "
                                 f"{type(exc).__name__}: {exc}")
    explain_errors(rows, {spec.name: spec}, {spec.name: cases})
    return rows


def explain_errors(rows: list[CheckResult], specs: dict | None = None, cases: dict | None = None) -> None:
    """A crash on one case must not hide a diagnosis other cases support.

    For each function, a case that raised gets the hint of the catalogued mistake that raises the same exception
    on that case (when ``specs`` and ``cases`` are given: name -> FunctionSpec, name -> list of cases), preferring
    one the other cases were diagnosed with; without that, the one hint the function's other cases agree on.
    """
    by_function: dict[str, list[CheckResult]] = {}
    for r in rows:
        by_function.setdefault(r.function, []).append(r)
    for function, group in by_function.items():
        diagnosed = {r.hint for r in group if r.status == "ok" and not r.passed and r.hint}
        spec = (specs or {}).get(function)
        labelled = {str(c.get("label", "")): c for c in (cases or {}).get(function, [])}
        for r in group:
            if r.status != "error" or r.name != "runs":
                continue
            hint = _crash_hint(spec, labelled.get(r.case), r.message, diagnosed) if spec is not None else ""
            if not hint and len(diagnosed) == 1:
                hint = next(iter(diagnosed))
            if hint:
                r.hint = f"{hint} (the other cases show it; this one crashed on it)" if hint in diagnosed else hint


def _crash_hint(spec: FunctionSpec, case, message: str, diagnosed: set) -> str:
    """The hint of a catalogued mistake that raises the student's exception type on ``case``."""
    if case is None:
        return ""
    match = re.search(r"\b([A-Za-z_]\w*(?:Error|Exception))\b", message)   # "ValueError: ...", "f: raised ValueError"
    kind = match.group(1) if match else ""
    found = []
    stored = case.get(MISTAKES)
    for mistake in spec.mistakes:
        if stored is not None:   # public check data: which mistakes crash on this case was recorded at release
            if (stored.get(mistake.name) or {}).get(RAISES) == kind:
                found.append(mistake.hint)
            continue
        if mistake.derived:
            continue
        try:
            with np.errstate(all="ignore"):
                spec.call(mistake.implementation(None), case)
        except Exception as exc:  # noqa: BLE001 - the mistake crashes here too: a candidate
            if type(exc).__name__ == kind:
                found.append(mistake.hint)
    preferred = [h for h in found if h in diagnosed]
    return (preferred or found or [""])[0]
