"""Instructor-side files: a source notebook's solution code (the references) and the spec file beside it.

``exercises/source/ex03_matrix_calculus.ipynb`` holds the solutions between nbgrader's markers;
``exercises/source/ex03_matrix_calculus.spec.py`` says how to check them (docs/authoring.md). Both are trusted
instructor files: the grader runs them in its own process. Neither is ever given to a student's code.
"""
from __future__ import annotations

import ast
import hashlib
import json
import sys
import types
from pathlib import Path

from .. import _pyparse

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SPEC_SUFFIX = ".spec.py"


class SpecError(ValueError):
    """A spec file or source notebook that cannot be used; the message names the file."""


def code_cells(path: Path) -> list[str]:
    """The source of every code cell of the notebook at ``path`` (JSON read directly: no nbformat needed)."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecError(f"{path}: not a readable notebook ({type(exc).__name__}: {exc})") from None
    cells = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            cells.append("".join(src) if isinstance(src, list) else str(src))
    return cells


def solution_lines(path: Path) -> list[str]:
    """Every line between the solution markers of the notebook at ``path``, stripped (for the no-leak test)."""
    lines, inside = [], False
    for source in code_cells(path):
        for line in source.split("\n"):
            marker = line.strip()
            if marker.startswith(BEGIN):
                inside = True
            elif marker.startswith(END):
                inside = False
            elif inside and marker:
                lines.append(marker)
    return lines


def _python_only(source: str) -> str:
    """The cell without IPython-only lines (``%magic``, ``!shell``), which a definition cell never needs."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


def _defines_only(tree: ast.Module) -> bool:
    """A cell of imports, defs, classes and constant assignments: safe and quick to run to get definitions."""
    allowed = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    for node in tree.body:
        if isinstance(node, allowed):
            continue
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and not any(
                isinstance(n, ast.Call) for n in ast.walk(node)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):   # a docstring
            continue
        return False
    return True


def load_references(path: Path, names: list[str]) -> dict:
    """Run the source notebook's definition cells (imports, defs, classes) and return ``names`` from them.

    Cells that do anything else (checks, plots, training) are skipped, so this is quick and has no side effects.
    Raises SpecError naming what the notebook does not define.
    """
    namespace = definitions(path)
    missing = [n for n in names if n not in namespace]
    if missing:
        raise SpecError(f"{path}: defines no {', '.join(missing)} (the spec's functions must be defined in "
                        "the source notebook, their bodies between the solution markers)")
    return {n: namespace[n] for n in names}


def definitions(path: Path) -> dict:
    """The namespace left by running the notebook's definition cells (see ``load_references``)."""
    namespace: dict = {"__name__": f"bpkit_reference_{Path(path).stem}"}
    for index, source in enumerate(code_cells(path), start=1):
        code = _python_only(source)
        try:
            tree = _pyparse.parse(code)
        except SyntaxError as exc:
            raise SpecError(f"{path}, code cell {index}: not valid Python ({exc.msg}, line {exc.lineno})") from None
        if tree.body and _defines_only(tree):
            exec(_pyparse.compile_tree(tree, f"<{Path(path).name} cell {index}>"), namespace)  # noqa: S102 - trusted
    return namespace


def spec_path_for(notebook: Path) -> Path:
    notebook = Path(notebook)
    return notebook.with_name(notebook.name[: -len(".ipynb")] + SPEC_SUFFIX)


def notebook_for(spec_path: Path) -> Path:
    spec_path = Path(spec_path)
    return spec_path.with_name(spec_path.name[: -len(SPEC_SUFFIX)] + ".ipynb")


_LOADED: dict[str, object] = {}


def load_spec(path: Path):
    """The ``Exercise`` defined by the spec file at ``path`` (``EXERCISE = exercise(...)``), loaded once.

    The module is registered as ``bpkit.exercises.loaded_<name>`` so the grader's isolation treats it as
    reference code (dropped before student code runs, checked for leaks).
    """
    from .spec import Exercise

    path = Path(path).resolve()
    if not path.name.endswith(SPEC_SUFFIX):
        path = spec_path_for(path) if path.suffix == ".ipynb" else path
    if not path.is_file():
        raise SpecError(f"{path}: no such spec file")
    key = str(path)
    stamp = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    cached = _LOADED.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    stem = path.name[: -len(SPEC_SUFFIX)]
    module_name = "bpkit.exercises.loaded_" + "".join(c if c.isalnum() else "_" for c in stem) + "_" + stamp
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    sys.modules[module_name] = module
    try:   # compiled here rather than imported: no __pycache__ is written beside the instructor's files
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)  # noqa: S102
    except Exception as exc:
        del sys.modules[module_name]
        raise SpecError(f"{path}: the spec raised {type(exc).__name__}: {exc}") from exc
    exercise = getattr(module, "EXERCISE", None)
    if not isinstance(exercise, Exercise):
        raise SpecError(f"{path}: expected EXERCISE = exercise(...), got {type(exercise).__name__}")
    exercise.spec_path = path
    if exercise.source is None and notebook_for(path).exists():
        exercise.source = notebook_for(path)
    if not exercise.notebook:
        exercise.notebook = notebook_for(path).name
    _LOADED[key] = (stamp, exercise)
    return exercise
