"""``check(...)`` and ``%check``: a student's self-check in the notebook.

``check(linear_backward)`` checks one function; ``check("ex03")`` checks every function of an exercise, looking
each up by name in the notebook's namespace. The result shows as a table (HTML in JupyterLab, plain text
elsewhere) with each check's verdict, relative error against the tolerance, points, and a hint for each failure.
"""
from __future__ import annotations

import sys

from .catalog import find_function, get_exercise, is_exercise_id
from .report import CheckReport
from .runner import run_checks
from .spec import Exercise, FunctionSpec


def _missing(spec: FunctionSpec):
    return spec.failure(None, "missing", f"{spec.name} is not defined yet",
                        hint=f"run the cell that defines {spec.name}, then this check again")


def _check_specs(specs: list[FunctionSpec], objects: dict) -> CheckReport:
    results = []
    for spec in specs:
        fn = objects.get(spec.name)
        results += _missing(spec) if fn is None else run_checks(spec, fn)
    return CheckReport(results, {spec.name: spec.signature for spec in specs})


def check(target, namespace: dict | None = None) -> CheckReport:
    """Check a function (``check(linear_backward)``), a function by name, or a whole exercise (``check("ex03")``).

    namespace: where names are looked up; by default the caller's globals (the notebook's namespace).
    Returns a ``CheckReport`` (``.score``, ``.max_score``, ``.passed``) that shows as a table.
    """
    if namespace is None:
        namespace = sys._getframe(1).f_globals
    if isinstance(target, Exercise) or (isinstance(target, str) and is_exercise_id(target)):
        exercise = target if isinstance(target, Exercise) else get_exercise(target)
        return _check_specs(exercise.functions, {s.name: namespace.get(s.name) for s in exercise.functions})
    if isinstance(target, str):
        _, spec = find_function(target.strip())
        return _check_specs([spec], {spec.name: namespace.get(spec.name)})
    name = getattr(target, "__name__", None)
    if not callable(target) or name is None:
        raise TypeError(f"check: expected a function, a class, a function name or an exercise id such as "
                        f"'ex03', got {type(target).__name__}")
    _, spec = find_function(name)
    return _check_specs([spec], {spec.name: target})


def magic_check(line: str, user_ns: dict) -> CheckReport:
    """``%check linear_backward relu_backward`` or ``%check ex03``: ``check`` on each name in ``line``."""
    names = line.replace(",", " ").split()
    if not names:
        raise ValueError("%check: expected a function name or an exercise id, e.g. %check linear_backward "
                         "or %check ex03; got nothing")
    reports = [check(name, namespace=user_ns) for name in names]
    return CheckReport([r for rep in reports for r in rep.results],
                       {k: v for rep in reports for k, v in rep.signatures.items()})
