"""The catalog: every exercise module ``bpkit/exercises/exNN.py`` and its ``EXERCISE``, found automatically.

Adding an exercise is adding a module named ``exNN`` that defines ``EXERCISE = Exercise(...)``; nothing else
needs to know about it.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from functools import lru_cache

from . import __path__ as _package_path
from .spec import Exercise, FunctionSpec

_MODULE = re.compile(r"^ex\d\d$")


class UnknownName(KeyError):
    """An exercise id or function name the catalog does not know; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


@lru_cache(maxsize=1)
def all_exercises() -> dict[str, Exercise]:
    """Exercise id -> Exercise, in id order, for every module ``bpkit.exercises.exNN``."""
    found = {}
    for info in sorted(pkgutil.iter_modules(_package_path), key=lambda m: m.name):
        if not _MODULE.match(info.name):
            continue
        module = importlib.import_module(f"{__package__}.{info.name}")
        exercise = getattr(module, "EXERCISE", None)
        if not isinstance(exercise, Exercise):
            raise TypeError(f"bpkit.exercises.{info.name}: expected EXERCISE = Exercise(...), "
                            f"got {type(exercise).__name__}")
        found[exercise.id] = exercise
    return found


def _normalize(exercise_id) -> str:
    text = str(exercise_id).strip().lower()
    if text.isdigit():
        return f"ex{int(text):02d}"
    match = re.match(r"^ex(\d+)", text)
    return f"ex{int(match.group(1)):02d}" if match else text


def get_exercise(exercise_id) -> Exercise:
    """The exercise "ex03" (also accepts "3", "EX03" or a notebook name "ex03_matrix_calculus.ipynb")."""
    exercises = all_exercises()
    key = _normalize(exercise_id)
    if key not in exercises:
        raise UnknownName(f"unknown exercise {exercise_id!r}; known exercises: {', '.join(exercises)}")
    return exercises[key]


def is_exercise_id(text: str) -> bool:
    return _normalize(text) in all_exercises()


def find_function(name: str) -> tuple[Exercise, FunctionSpec]:
    """The exercise and spec of the function (or class) a student writes, e.g. "linear_backward"."""
    for exercise in all_exercises().values():
        for spec in exercise.functions:
            if spec.name == name:
                return exercise, spec
    known = [s.name for e in all_exercises().values() for s in e.functions]
    raise UnknownName(f"no exercise asks for a function named {name!r}; known functions: {', '.join(known)}")
