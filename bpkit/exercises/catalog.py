"""Where exercises come from: spec files beside source notebooks (instructor), check data beside student notebooks.

An exercise is found by its id ("ex03", "3", "ex03_matrix_calculus.ipynb") in the exercise folders, or given by a
path (a source notebook, its ``.spec.py``, or a ``.checks.json``). The folders searched, in order:

1. ``$BPKIT_EXERCISES`` (folders separated by ``:``), 2. the current folder, 3. ``./exercises/source`` and
   ``./exercises``, 4. the course's own ``exercises/source`` next to an editable install of bpkit.

``all_exercises()`` (the grader's view) loads spec files only; ``student_exercises()`` (``check()``) prefers the
public check data of the current folder and falls back to specs.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .public import SUFFIX as DATA_SUFFIX
from .public import load as load_public
from .source import SPEC_SUFFIX, SpecError, load_spec
from .spec import Exercise, FunctionSpec

_ID = re.compile(r"^ex(\d+)")


class UnknownName(KeyError):
    """An exercise id or function name the catalog does not know; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


def search_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("BPKIT_EXERCISES", "").split(os.pathsep) if p]
    cwd = Path.cwd()
    dirs += [cwd, cwd / "exercises" / "source", cwd / "exercises"]
    course = Path(__file__).resolve().parents[2] / "exercises" / "source"
    dirs.append(course)
    seen, out = set(), []
    for d in dirs:
        try:
            key = d.resolve()
        except OSError:
            continue
        if key not in seen and d.is_dir():
            seen.add(key)
            out.append(d)
    return out


def _exercise_key(name: str) -> str:
    """"ex03_matrix_calculus.spec.py" -> "ex03"; any other name -> itself without suffixes."""
    for suffix in (SPEC_SUFFIX, DATA_SUFFIX, ".ipynb"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    match = _ID.match(name.lower())
    return f"ex{int(match.group(1)):02d}" if match else name


def _files(suffix: str, dirs=None) -> dict[str, Path]:
    """Exercise key -> the first file with ``suffix`` in the search folders."""
    found: dict[str, Path] = {}
    for d in dirs if dirs is not None else search_dirs():
        for path in sorted(Path(d).glob("*" + suffix)):
            found.setdefault(_exercise_key(path.name), path)
    return found


def _normalize(exercise_id) -> str:
    text = str(exercise_id).strip()
    if text.isdigit():
        return f"ex{int(text):02d}"
    return _exercise_key(Path(text).name)


def _is_path(text: str) -> bool:
    return os.sep in text or text.endswith((SPEC_SUFFIX, DATA_SUFFIX)) or (text.endswith(".ipynb") and Path(text).exists())


def all_exercises() -> dict[str, Exercise]:
    """Exercise id -> Exercise for every spec file in the search folders (the instructor's view), in id order."""
    specs = _files(SPEC_SUFFIX)
    return {key: load_spec(path) for key, path in sorted(specs.items())}


def get_exercise(exercise_id) -> Exercise:
    """The instructor's exercise "ex03" (also "3", "EX03", "ex03_matrix_calculus.ipynb", or a path to a source
    notebook or spec file)."""
    text = str(exercise_id)
    if _is_path(text):
        path = Path(text)
        if path.name.endswith(DATA_SUFFIX):
            raise UnknownName(f"{path}: public check data cannot grade (it has no hidden cases); give the spec "
                              "beside the source notebook")
        try:
            return load_spec(path)
        except SpecError as exc:
            raise UnknownName(str(exc)) from None
    specs = _files(SPEC_SUFFIX)
    key = _normalize(text)
    if key not in specs:
        known = ", ".join(sorted(specs)) or "none (no exercise folder found: set BPKIT_EXERCISES)"
        raise UnknownName(f"unknown exercise {exercise_id!r}: it is not an exercise here; known exercises: {known}")
    return load_spec(specs[key])


def student_exercises() -> dict[str, Exercise]:
    """What ``check()`` can check: the public check data of the first folder that has some, else spec files."""
    found: dict[str, Exercise] = {}
    for d in search_dirs():
        data, specs = _files(DATA_SUFFIX, [d]), _files(SPEC_SUFFIX, [d])
        for key, path in sorted(data.items()):
            found.setdefault(key, _load_public_cached(path))
        for key, path in sorted(specs.items()):
            found.setdefault(key, load_spec(path))
    return found


_PUBLIC: dict[str, tuple] = {}


def _load_public_cached(path: Path) -> Exercise:
    key, stamp = str(path.resolve()), path.stat().st_mtime_ns
    if key not in _PUBLIC or _PUBLIC[key][0] != stamp:
        _PUBLIC[key] = (stamp, load_public(path))
    return _PUBLIC[key][1]


def student_exercise(exercise_id) -> Exercise:
    exercises = student_exercises()
    key = _normalize(exercise_id)
    if key not in exercises:
        raise UnknownName(f"unknown exercise {exercise_id!r}: it is not an exercise here; known exercises: "
                          f"{', '.join(exercises) or 'none'}")
    return exercises[key]


def is_exercise_id(text: str) -> bool:
    """``text`` names an exercise check() can find (its id, or its notebook's name)."""
    return _normalize(text) in student_exercises()


def find_function(name: str, exercises: dict[str, Exercise] | None = None) -> tuple[Exercise, FunctionSpec]:
    """The exercise and spec of the function (or class) a student writes, e.g. "linear_backward"."""
    exercises = student_exercises() if exercises is None else exercises
    for exercise in exercises.values():
        for spec in exercise.functions:
            if spec.name == name:
                return exercise, spec
    known = [s.name for e in exercises.values() for s in e.functions]
    raise UnknownName(f"no exercise asks for a function named {name!r}; known functions: {', '.join(known)}")
