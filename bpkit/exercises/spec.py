"""The contract between the exercise catalog, the students' ``check()`` and the instructor's grader.

A check is split in two halves so that student code never runs where comparisons happen:

1. ``make_cases(rng)`` (grader side) draws inputs: a list of dicts of plain values (numpy arrays of numbers,
   floats, ints, strings). Every case carries ``"label"`` (a short description such as "N=1, D=3, M=2") and
   ``"weight"`` (its share of the function's points; the weights of one function's cases sum to 1), so the
   ``max_points`` of all rows ``grade`` returns over all cases add up to ``FunctionSpec.points``.
2. ``call(fn, case)`` (student side: the notebook's own process for ``check()``, the sandboxed child process when
   grading) calls the student's object ``fn`` (a function, or a class for ex02) on one case and returns ONLY plain
   values: a dict name -> numpy array of numbers / float / int / str / bool. It also returns the inputs again if
   the grader must see whether they were mutated. It must be written so nothing but such values leave it.
3. ``grade(case, outputs)`` (grader side) compares those outputs with reference values and numerical gradients
   computed in the grader's own process, and turns each check into a ``CheckResult``; when a check fails it
   compares the output with the function's catalogued mistakes (each a wrong implementation run on the same case)
   and attaches the matching hint.

``FunctionSpec.failure(case, status, message)`` gives the rows for a case whose call failed (status
"not_implemented", "error", "timeout", ...): one row named "runs" worth the case's share of the points.
Parts of a class (ex02's ``Value`` methods) or of a function (ex01's symbolic and numeric modes) that raise are
reported by ``call`` itself in the outputs as ``"<part>!status"`` / ``"<part>!message"`` strings, and ``grade``
turns them into rows with that status, so one unfinished method does not zero the others.

The grader serializes cases and outputs with ``np.savez`` / ``np.load(allow_pickle=False)`` or JSON only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

Case = dict[str, Any]
Outputs = dict[str, Any]


@dataclass
class CheckResult:
    """One row of a check table: what was checked, the verdict, points, and the words a student reads."""

    function: str            # the student's function (or class) name, e.g. "linear_backward"
    name: str                # the check, e.g. "dW matches numerical gradient"
    passed: bool
    points: float            # points earned
    max_points: float
    message: str = ""        # plain words: what was expected and what was given
    rel_error: float | None = None
    tolerance: float | None = None
    hint: str = ""           # the most specific catalogued mistake that matches, or a general pointer
    status: str = "ok"       # ok | not_implemented | error | (grading adds timeout, memory, invalid, missing)
    case: str = ""           # which case this row is about, e.g. "N=1, D=3, M=2" (rows of one check share a name)

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in self.__dict__.items()}


@dataclass
class Mistake:
    """A catalogued wrong answer: a wrong implementation run on the same case, and the hint it earns."""

    name: str                # short id, e.g. "dW_transposed"
    hint: str                # plain words: "your dW is the transpose of the right one: use x.T @ dout"
    wrong: Callable[..., Any]  # same signature as the reference; produces the wrong output


@dataclass
class FunctionSpec:
    """One function (or class) a student writes, with everything needed to check it."""

    name: str
    signature: str                              # e.g. "linear_backward(dout, x, W) -> (dx, dW, db)"
    points: float
    make_cases: Callable[[np.random.Generator], list[Case]]
    call: Callable[[Any, Case], Outputs]
    grade: Callable[[Case, Outputs], list[CheckResult]]
    mistakes: list[Mistake] = field(default_factory=list)
    release_hint: str = ""                      # the text released stubs raise with NotImplementedError
    part_hints: dict[str, str] = field(default_factory=dict)  # per method, for a class (ex02's Value): name -> hint
    reference: Any = None                       # the right answer (grader side only: tests, mistakes, notebooks)
    checks: list = field(default_factory=list)  # the checks ``grade`` runs (bpkit.exercises.checks.Check), in order
    hands_over: tuple = ()                      # bpkit classes ``call`` gives the student (ex08's model): the grader
                                                # keeps these, and only these, where a submission could reach them

    def failure(self, case: Case | None, status: str, message: str, hint: str = "") -> list[CheckResult]:
        """The rows for a case on which the student's code could not be checked at all (it raised, timed out, ...).

        One row worth the case's share of the points (``case["weight"]`` of ``points``; all of them when case is
        None), so the maximum score is the same whether the code ran or not.
        """
        weight = 1.0 if case is None else float(case.get("weight", 1.0))
        label = "" if case is None else str(case.get("label", ""))
        return [CheckResult(function=self.name, name="runs", passed=False, points=0.0,
                            max_points=self.points * weight, message=message, hint=hint, status=status,
                            case=label)]


@dataclass
class Exercise:
    """An exercise notebook's worth of functions, e.g. "ex03"."""

    id: str
    title: str
    notebook: str                               # e.g. "ex03_matrix_calculus.ipynb"
    functions: list[FunctionSpec]

    @property
    def max_points(self) -> float:
        return float(sum(f.points for f in self.functions))
