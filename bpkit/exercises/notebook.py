"""``check(...)`` and ``%check``: a student's self-check in the notebook.

``check(linear_backward)`` checks one function; ``check("ex03")`` checks every function of an exercise, looking
each up by name in the notebook's namespace. In a released folder the expected values come from the public check
data beside the notebook (``exNN_topic.checks.json``); beside a source notebook, from its spec and solutions.
Each call of the student's function has a time limit (``time_limit=`` seconds, default 5). Whatever goes wrong,
``check`` answers with one readable line, never a traceback from inside bpkit.
"""
from __future__ import annotations

import sys

from . import runner
from .catalog import UnknownName, find_function, is_exercise_id, student_exercise
from .own_code import course_code_note, course_names
from .report import CheckReport
from .spec import Exercise, FunctionSpec


def _missing(spec: FunctionSpec):
    return spec.failure(None, "missing", f"{spec.name} is not defined yet",
                        hint=f"run the cell that defines {spec.name}, then this check again")


def _check_specs(specs: list[FunctionSpec], objects: dict, time_limit: float) -> CheckReport:
    results, warnings = [], []
    for spec in specs:
        fn = objects.get(spec.name)
        results += _missing(spec) if fn is None else runner.run_checks(spec, fn, time_limit_s=time_limit)
        if fn is not None:
            warnings.append(course_code_note(spec.name, course_names(fn)))
    report = CheckReport(results, {spec.name: spec.signature for spec in specs})
    report.warnings = [w for w in warnings if w]
    return report


def check(target, namespace: dict | None = None, time_limit: float | None = None) -> CheckReport:
    """Check a function (``check(linear_backward)``), a function by name, or a whole exercise (``check("ex03")``).

    namespace: where names are looked up; by default the caller's globals (the notebook's namespace).
    time_limit: seconds each call of your function may take (default ``runner.TIME_LIMIT``, 5).
    Returns a ``CheckReport`` (``.score``, ``.max_score``, ``.passed``) that shows as a table, or as one line
    saying what is wrong with the argument.
    """
    if namespace is None:
        namespace = sys._getframe(1).f_globals
    limit = runner.TIME_LIMIT if time_limit is None else time_limit
    try:
        if isinstance(target, Exercise):
            exercise = target
        elif isinstance(target, str) and (is_exercise_id(target) or _looks_like_id(target)):
            exercise = student_exercise(target)
        elif isinstance(target, str):
            _, spec = find_function(target.strip())
            return _check_specs([spec], {spec.name: namespace.get(spec.name)}, limit)
        else:
            name = getattr(target, "__name__", None)
            if not callable(target) or name is None:
                return CheckReport.problem(
                    f"check() expects one of your functions (check(linear_backward)), a function's name or an "
                    f"exercise id such as check(\"ex03\"); got {type(target).__name__} {_short(target)}")
            _, spec = find_function(name)
            return _check_specs([spec], {spec.name: target}, limit)
    except UnknownName as exc:
        return CheckReport.problem(str(exc))
    return _check_specs(exercise.functions, {s.name: namespace.get(s.name) for s in exercise.functions}, limit)


def _looks_like_id(text: str) -> bool:
    text = text.strip().lower()
    return text.startswith("ex") and text[2:3].isdigit()


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def magic_check(line: str, user_ns: dict) -> CheckReport:
    """``%check linear_backward relu_backward`` or ``%check ex03``: ``check`` on each name in ``line``."""
    names = line.replace(",", " ").split()
    if not names:
        return CheckReport.problem("%check needs a function name or an exercise id, e.g. %check linear_backward "
                                   "or %check ex03")
    reports = [check(name, namespace=user_ns) for name in names]
    problems = [p for rep in reports for p in rep.problems]
    if problems:   # a mistyped name: IPython shows a LookupError from a magic as one usage line
        raise UnknownName(problems[0])
    report = CheckReport([r for rep in reports for r in rep.results],
                         {k: v for rep in reports for k, v in rep.signatures.items()})
    report.problems = problems
    report.warnings = [w for rep in reports for w in rep.warnings]
    return report
