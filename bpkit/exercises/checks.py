"""Grader-side building blocks: checks, the reference values they compare with, and the mistake lookup.

An exercise module describes a function by its reference (``expected(case)``: the values a right answer returns,
gradients taken by central differences of the reference forward where the function is a backward pass) and a list
of ``Check``s; ``function_spec`` turns that into a ``FunctionSpec`` whose ``grade`` evaluates every check on one
case. When a check fails, each catalogued mistake is run on the same case (our code, in the grader's process) and
the first whose output equals the student's on the failing outputs gives its hint.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..gradcheck import TOLERANCE, numerical_gradient, relative_error
from .calling import MESSAGE, STATUS
from .spec import Case, CheckResult, FunctionSpec, Mistake, Outputs

INPUT = "input:"   # outputs["input:x"]: the input x as it was after the student's call (mutation check)


@dataclass
class Verdict:
    """What one check found: the verdict, plain words, and which outputs were wrong (to look up a mistake)."""

    passed: bool
    message: str = ""
    rel_error: float | None = None
    tolerance: float | None = None
    keys: tuple[str, ...] = ()


@dataclass
class Check:
    """One row of the table: a name, its points (split over the cases), and how to evaluate it."""

    name: str
    points: float
    evaluate: Callable[["Context"], Verdict]
    part: str = ""        # the part of ``call`` it depends on ("" = the whole call); see calling.attempt
    hint: str = ""        # a general pointer for a failure no catalogued mistake explains


class Context:
    """One case being graded: the student's outputs, the expected values and the mistakes' outputs (both lazy)."""

    def __init__(self, case: Case, outputs: Outputs, expected: Callable[[Case], dict], call, mistakes):
        self.case, self.outputs = case, outputs
        self._expected_fn, self._call, self.mistakes = expected, call, mistakes
        self._expected: dict | None = None
        self._mistake_outputs: dict[str, Outputs | None] = {}

    @property
    def expected(self) -> dict:
        if self._expected is None:
            self._expected = dict(self._expected_fn(self.case))
        return self._expected

    def mistake_outputs(self, mistake: Mistake) -> Outputs | None:
        if mistake.name not in self._mistake_outputs:
            try:
                with np.errstate(all="ignore"):  # an unstable mistake overflows on purpose
                    self._mistake_outputs[mistake.name] = self._call(mistake.wrong, self.case)
            except Exception:  # noqa: BLE001 - a mistake that crashes on this case cannot match it
                self._mistake_outputs[mistake.name] = None
        return self._mistake_outputs[mistake.name]

    def matching_mistake(self, keys: tuple[str, ...]) -> Mistake | None:
        """The catalogued mistake that is wrong on ``keys`` exactly as the student is.

        A mistake that reproduces every output of the student's is preferred (the most specific explanation);
        otherwise the first that reproduces the failing ``keys``.
        """
        if not keys:
            return None
        candidates = []
        for mistake in self.mistakes:
            theirs = self.mistake_outputs(mistake)
            theirs = None if theirs is None else as_arrays(theirs)
            if theirs is None or any(k not in theirs or k not in self.outputs for k in keys):
                continue
            if all(same(self.outputs[k], theirs[k]) and not same(theirs[k], self.expected_value(k)) for k in keys):
                candidates.append((mistake, theirs))
        for mistake, theirs in candidates:
            if all(k in theirs and same(v, theirs[k]) for k, v in self.outputs.items()):
                return mistake
        return candidates[0][0] if candidates else None

    def expected_value(self, key: str):
        if key.startswith(INPUT):
            return self.case[key[len(INPUT):]]
        return self.expected[key]


def same(a, b, tolerance: float = TOLERANCE) -> bool:
    """Two outputs agree: both arrays of one shape, NaN/inf in the same places, finite parts within tolerance."""
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb) or not np.array_equal(a[~fa], b[~fb], equal_nan=True):
        return False
    return relative_error(a[fa], b[fb]) <= tolerance


def as_arrays(outputs: Outputs) -> Outputs:
    """Numbers as 0-d arrays (a float as float64, an int as int64); arrays and "!..." strings unchanged."""
    return {k: np.asarray(v) if type(v) in (int, float) else v for k, v in outputs.items()}


def describe(value) -> str:
    """A short description of what a student returned, for messages."""
    if isinstance(value, str):
        return value.lstrip("!")
    return f"{value.dtype} array of shape {value.shape}"


# ---- checks ---------------------------------------------------------------------------------------------------

def returns_check(keys: tuple[str, ...], points: float, name: str | None = None, part: str = "",
                  hint: str = "") -> Check:
    """The outputs ``keys`` are arrays (or scalars) with the expected shapes and dtype (float64 in, float64 out)."""
    label = name or f"returns {', '.join(k.split('.')[-1] for k in keys)} with the right shapes and dtype"

    def evaluate(ctx: Context) -> Verdict:
        wrong, notes = [], []
        for key in keys:
            got, want = ctx.outputs.get(key, "!nothing"), np.asarray(ctx.expected[key])
            if isinstance(got, str) or got.shape != want.shape or got.dtype != want.dtype:
                wrong.append(key)
                what = "a scalar" if want.shape == () else f"shape {want.shape}"
                notes.append(f"{key}: expected {what} of dtype {want.dtype}, got {describe(got)}")
        return Verdict(not wrong, "; ".join(notes), keys=tuple(wrong))

    return Check(label, points, evaluate, part, hint or "return exactly what the docstring asks for, in that order")


def unchanged_check(names: tuple[str, ...], points: float, part: str = "", name: str | None = None) -> Check:
    """The inputs ``names`` are untouched after the call (``call`` returns them as ``input:NAME``)."""

    def evaluate(ctx: Context) -> Verdict:
        changed = [n for n in names if not np.array_equal(ctx.outputs.get(INPUT + n), ctx.case[n])]
        return Verdict(not changed, f"{', '.join(changed)} changed by the call" if changed else "",
                       keys=tuple(INPUT + n for n in changed))

    return Check(name or f"leaves {', '.join(names)} unchanged", points, evaluate, part,
                 "work on new arrays (x = x.copy(), or y = x * mask rather than x *= mask)")


def value_check(key: str, points: float, against: str, tolerance: float = TOLERANCE, part: str = "",
                hint: str = "", name: str | None = None) -> Check:
    """The output ``key`` equals the expected value within ``tolerance`` (relative error, the course's policy)."""

    def evaluate(ctx: Context) -> Verdict:
        got, want = ctx.outputs.get(key, "!nothing"), np.asarray(ctx.expected[key], dtype=np.float64)
        if isinstance(got, str):
            return Verdict(False, f"{key}: expected an array of numbers, got {describe(got)}", keys=(key,))
        if got.shape != want.shape:
            return Verdict(False, f"{key}: expected shape {want.shape}, got shape {got.shape}", keys=(key,))
        err = relative_error(got, want)
        ok = err <= tolerance
        message = "" if ok else f"{key}: relative error {err:.1e} > {tolerance:.0e}"
        return Verdict(ok, message, err, tolerance, keys=() if ok else (key,))

    return Check(name or f"{key.split('.')[-1]} matches {against}", points, evaluate, part, hint)


# ---- references ------------------------------------------------------------------------------------------------

def gradient(forward: Callable[..., Any], arrays: dict, wrt: str, dout=None) -> np.ndarray:
    """Central-difference gradient of ``sum(forward(**arrays) * dout)`` with respect to ``arrays[wrt]``.

    Copies the arrays first, so the case is never touched.
    """
    arrays = {k: np.array(v, dtype=np.float64, copy=True) for k, v in arrays.items()}
    return numerical_gradient(lambda _: forward(**arrays), arrays[wrt], dout)


# ---- assembling a FunctionSpec -----------------------------------------------------------------------------------

def finish_cases(cases: list[Case]) -> list[Case]:
    """Give every case an equal share of the points (``weight``) and a ``label``."""
    for case in cases:
        case["weight"] = 1.0 / len(cases)
        case.setdefault("label", "")
    return cases


def _row(spec_name, check, case, weight, verdict=None, status="ok", message="", hint=""):
    passed = verdict.passed if verdict else False
    return CheckResult(
        function=spec_name, name=check.name, passed=passed, points=check.points * weight if passed else 0.0,
        max_points=check.points * weight, message=verdict.message if verdict else message,
        rel_error=verdict.rel_error if verdict else None, tolerance=verdict.tolerance if verdict else None,
        hint="" if passed else hint, status=status, case=str(case.get("label", "")))


def make_grade(name: str, checks: list[Check], expected, call, mistakes: list[Mistake]):
    """``grade(case, outputs) -> list[CheckResult]``: every check on one case, a hint for every failure."""

    def grade(case: Case, outputs: Outputs) -> list[CheckResult]:
        outputs = as_arrays(outputs)
        ctx = Context(case, outputs, expected, call, mistakes)
        weight = float(case.get("weight", 1.0))
        rows = []
        for check in checks:
            status = outputs.get(check.part + STATUS) if check.part else None
            if status:
                rows.append(_row(name, check, case, weight, status=str(status),
                                 message=str(outputs.get(check.part + MESSAGE, status))))
                continue
            if "__invalid__" in outputs:
                rows.append(_row(name, check, case, weight, message=str(outputs["__invalid__"]),
                                 hint="return a tuple in the order of the signature"))
                continue
            verdict = check.evaluate(ctx)
            hint = ""
            if not verdict.passed:
                mistake = ctx.matching_mistake(verdict.keys)
                hint = mistake.hint if mistake else check.hint
            rows.append(_row(name, check, case, weight, verdict, hint=hint))
        return rows

    return grade


def function_spec(name: str, signature: str, *, reference, make_cases, call, expected, checks: list[Check],
                  mistakes: list[Mistake], release_hint: str, part_hints: dict | None = None,
                  hands_over: tuple = ()) -> FunctionSpec:
    """A ``FunctionSpec`` whose points are the sum of its checks' points."""
    spec = FunctionSpec(name=name, signature=signature, points=float(sum(c.points for c in checks)),
                        make_cases=make_cases, call=call, grade=make_grade(name, checks, expected, call, mistakes),
                        mistakes=mistakes, release_hint=release_hint, part_hints=dict(part_hints or {}),
                        reference=reference, checks=list(checks), hands_over=tuple(hands_over))
    return spec
