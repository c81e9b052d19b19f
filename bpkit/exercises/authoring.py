"""Everything a spec file needs (``from bpkit.exercises.authoring import *``); see docs/authoring.md.

A spec file ``exercises/source/NAME.spec.py`` sits beside the source notebook ``NAME.ipynb`` and defines
``EXERCISE = exercise("NAME", "title", [function_spec(...), ...])``. The reference solutions are not in it: they are
the solution cells of the notebook.
"""
from __future__ import annotations

import numpy as np

from . import drivers
from .checks import (Check, finish_cases, function_spec, gradient, returns_check, unchanged_check,
                     value_check, weights_check)
from .spec import Exercise, FunctionSpec, Mistake

__all__ = ["np", "drivers", "Check", "finish_cases", "function_spec", "gradient", "returns_check",
           "unchanged_check", "value_check", "weights_check", "Exercise", "FunctionSpec", "Mistake", "exercise"]


def exercise(id: str, title: str, functions: list[FunctionSpec], notebook: str = "") -> Exercise:
    """The exercise: its id (used in hidden seeds and ``check("id")``), title and functions. ``notebook`` defaults
    to the source notebook beside the spec file."""
    return Exercise(id, title, notebook, list(functions))
