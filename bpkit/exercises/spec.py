"""The records shared by the exercise framework, the students' ``check()`` and the instructor's grader.

An exercise's *content* (its cases, checks, mistakes and hints) lives in a spec file beside the instructor's source
notebook (``exercises/source/exNN_topic.spec.py``, format in docs/authoring.md); its *reference* is the solution
code of that notebook. This module only defines the vocabulary.

A check is split in two halves so that student code never runs where comparisons happen:

1. ``make_cases(rng)`` (grader side) draws inputs: a list of dicts of plain values (numpy arrays of numbers,
   floats, ints, strings). Every case carries ``"label"`` and ``"weight"`` (its share of the function's points).
2. ``call(fn, case)`` (student side: the notebook for ``check()``, the sandboxed child when grading) calls the
   student's object on one case and returns ONLY plain values (``bpkit.exercises.drivers`` builds it from a short
   description, so the student side needs no exercise code).
3. ``grade(case, outputs)`` (grader side, or the notebook with the released public check data) compares those
   outputs with the expected ones and turns each check into a ``CheckResult``, with a hint for every failure.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..status import Status  # noqa: F401 - the one vocabulary of statuses, re-exported for specs

Case = dict[str, Any]
Outputs = dict[str, Any]


@dataclass
class CheckResult:
    """One row of a check table: what was checked, the verdict, points, and the words a student reads."""

    function: str            # the student's function (or class) name, e.g. "linear_backward"
    name: str                # the check, e.g. "dW matches central differences"
    passed: bool
    points: float            # points earned
    max_points: float
    message: str = ""        # plain words: what was expected and what was given
    rel_error: float | None = None
    tolerance: float | None = None
    hint: str = ""           # the most specific explanation found (catalogued mistake, diagnosis, general pointer)
    status: str = "ok"       # a Status value
    case: str = ""           # which case this row is about, e.g. "N=1, D=3, M=2" (rows of one check share a name)
    note: str = ""           # an observation that costs nothing (e.g. "looks like finite differences")
    mistake: str = ""        # the catalogued mistake (Mistake.name) whose hint this failure got, if one explained it
    reuses: str = ""         # the failing row whose output this one reuses (its hint says: fix that one first)

    def to_dict(self) -> dict:
        out = {}
        for k, v in self.__dict__.items():
            if isinstance(v, float) and not np.isfinite(v):
                v = None
            out[k] = v.value if isinstance(v, Status) else v
        return out


@dataclass
class Mistake:
    """A catalogued wrong answer: a wrong implementation run on the same case, and the hint it earns.

    ``wrong`` has the reference's signature. With ``derived=True`` it is instead a function of the reference
    returning the wrong implementation (e.g. a subclass of the reference class with one method broken).
    """

    name: str
    hint: str
    wrong: Callable[..., Any] | None = None
    derived: bool = False

    def implementation(self, reference):
        return self.wrong(reference) if self.derived else self.wrong


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
    checks: list = field(default_factory=list)  # the checks ``grade`` runs (bpkit.exercises.checks.Check), in order
    hands_over: tuple = ()                      # bpkit classes ``call`` gives the student (ex08's model)
    driver: tuple = ()                          # (driver name, kwargs): how ``call`` was built (drivers.build)
    finite_differences: bool = False            # a backward pass: note answers that look like finite differences
    expected: Any = field(default=None, repr=False)   # case -> the right outputs (grader side)
    exact: Any = field(default=None, repr=False)      # case -> the reference's exact outputs (finite_differences)
    exercise: Any = field(default=None, repr=False)   # the Exercise it belongs to (set by Exercise)

    @property
    def reference(self):
        """The right answer: the solution in the source notebook (grader side only; loaded on first use)."""
        if self.exercise is None:
            raise LookupError(f"{self.name}: no exercise, so no source notebook to take the reference from")
        return self.exercise.reference(self.name)

    def failure(self, case: Case | None, status: str, message: str, hint: str = "") -> list[CheckResult]:
        """The rows for a case on which the student's code could not be checked at all (it raised, timed out, ...).

        One row worth the case's share of the points (``case["weight"]`` of ``points``; all of them when case is
        None), so the maximum score is the same whether the code ran or not.
        """
        weight = 1.0 if case is None else float(case.get("weight", 1.0))
        label = "" if case is None else str(case.get("label", ""))
        return [CheckResult(function=self.name, name="runs", passed=False, points=0.0,
                            max_points=self.points * weight, message=message, hint=hint, status=str(status),
                            case=label)]


@dataclass
class Exercise:
    """An exercise notebook's worth of functions, e.g. "ex03"."""

    id: str
    title: str
    notebook: str                               # e.g. "ex03_matrix_calculus.ipynb"
    functions: list[FunctionSpec]
    source: Path | None = None                  # the instructor's source notebook (the references live there)
    spec_path: Path | None = None               # the spec file this exercise was loaded from
    _references: dict | None = field(default=None, repr=False)

    def __post_init__(self):
        for spec in self.functions:
            spec.exercise = self

    @property
    def max_points(self) -> float:
        return float(sum(f.points for f in self.functions))

    @property
    def locator(self) -> str:
        """What ``catalog.get_exercise`` resolves to this exercise in any process (the spec's absolute path)."""
        return str(Path(self.spec_path).resolve()) if self.spec_path else self.id

    @property
    def spec_files(self) -> list:
        """The files this exercise's grades depend on (the grading cache key): its spec and its source notebook."""
        return [p for p in (self.spec_path, self.source) if p]

    def reference(self, name: str):
        """The solution of ``name`` from the source notebook (executed once, in this process)."""
        if self._references is None:
            if self.source is None:
                raise LookupError(f"{self.id}: no source notebook, so no reference solutions")
            from .source import load_references
            self._references = load_references(Path(self.source), [f.name for f in self.functions])
        return self._references[name]

    def fresh_reference(self, name: str):
        """A new copy of the solution ``name`` (the notebook's cells run again in a fresh namespace), e.g. to break
        one method of a reference class for a catalogued mistake without touching the reference itself."""
        from .source import load_references
        return load_references(Path(self.source), [name])[name]

    def fresh_namespace(self) -> dict:
        """Everything the source notebook's definition cells define, run again (helpers included)."""
        from .source import definitions
        return definitions(Path(self.source))

    def digest(self) -> str:
        """A short hash of what decides this exercise's grades: its spec file and its source notebook."""
        import hashlib
        h = hashlib.sha256(self.id.encode())
        for path in (self.spec_path, self.source):
            if path and Path(path).exists():
                h.update(b"\0" + Path(path).read_bytes())
        return h.hexdigest()[:16]
