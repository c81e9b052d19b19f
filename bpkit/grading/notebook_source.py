"""Read a submitted notebook: its code cells as plain Python, ready to run outside a kernel, or a clear reason why not.

A cell becomes Python exactly as IPython itself would make it (``IPython.core.inputtransformer2.TransformerManager``,
which needs no kernel): ``%load_ext bpkit`` becomes ``get_ipython().run_line_magic('load_ext', 'bpkit')``, ``!ls``
becomes ``get_ipython().system('ls')``, and a line that merely starts with ``%`` or ``!=`` inside a statement
(black's continuation lines ``    % (a, b)``) stays the Python it is. The grading child answers those
``get_ipython()`` calls itself (``bpkit.sandbox.child``): a magic that cannot run there is skipped, for that line
only, with a note; ``%%writefile`` writes its file into the submission's scratch folder, so a later ``import`` finds
it. The body of ``%%time``, ``%%timeit``, ``%%capture`` and ``%%prun`` is Python, so it runs once without the magic;
any other cell magic (``%%bash``, ``%%html``) skips its cell with a note.
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

from .. import _pyparse

MAX_NOTEBOOK_BYTES = 50 * 2**20
PYTHON_CELL_MAGICS = {"%%time", "%%timeit", "%%capture", "%%prun"}   # their body is plain Python: keep it
RUNNABLE_CELL_MAGICS = {"%%writefile", "%%file"}                      # the child carries them out


class InvalidNotebook(ValueError):
    """The file is not a notebook we can grade; the message says why, in words for the student."""


@dataclass
class Cell:
    index: int          # position among the notebook's code cells, from 1 (what a student sees as "code cell 3")
    source: str


@dataclass
class Submission:
    cells: list[Cell]
    notes: list[str] = field(default_factory=list)

    @property
    def code(self) -> str:
        """All cells as one script, each under a ``# cell N`` banner (what the child's workdir holds)."""
        return "\n".join(f"# ---- code cell {c.index} ----\n{c.source}\n" for c in self.cells)


def read_notebook(path, functions=()) -> Submission:
    """Parse ``path`` (nbformat 4 or 3 JSON) into code cells; raise InvalidNotebook for anything else."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidNotebook(f"cannot read {path.name}: {exc.strerror}") from None
    if size == 0:
        raise InvalidNotebook(f"{path.name} is an empty file, not a notebook")
    if size > MAX_NOTEBOOK_BYTES:
        raise InvalidNotebook(f"{path.name} is {size >> 20} MB; notebooks over {MAX_NOTEBOOK_BYTES >> 20} MB "
                              "are not graded (clear the outputs and submit again)")
    try:
        nb = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidNotebook(f"{path.name} is not UTF-8 text, so it is not a notebook") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidNotebook(f"{path.name} is not valid JSON ({getattr(exc, 'msg', exc)} at line "
                              f"{getattr(exc, 'lineno', '?')}): the file may be damaged or only partly "
                              "uploaded") from None
    return parse_notebook(nb, path.name, functions)


def parse_notebook(nb, name: str = "notebook", functions=()) -> Submission:
    """The code cells of an already-loaded notebook dict (see ``read_notebook``); ``functions`` are the names the
    exercise grades (a note says which definition is graded when one is defined more than once)."""
    if not isinstance(nb, dict):
        raise InvalidNotebook(f"{name} is JSON but not a notebook (the top level is a {type(nb).__name__})")
    major = nb.get("nbformat")
    if major == 3:      # IPython 2-3 (and tools that still write it): cells inside worksheets, code in "input"
        nb = {"cells": [dict(c, source=c.get("input", "")) if isinstance(c, dict) and c.get("cell_type") == "code"
                        else c for ws in nb.get("worksheets") or [] if isinstance(ws, dict)
                        for c in ws.get("cells") or []]}
    elif major != 4:
        found = f"nbformat {major}" if major is not None else "no nbformat field"
        raise InvalidNotebook(f"{name} has {found}; only nbformat 3 and 4 notebooks (IPython 2 and later) are "
                              "graded: open it in JupyterLab and save it again")
    raw_cells = nb.get("cells")
    if not isinstance(raw_cells, list):
        raise InvalidNotebook(f"{name} has no list of cells")
    submission = Submission(cells=[])
    number = 0
    for raw in raw_cells:
        if not isinstance(raw, dict) or raw.get("cell_type") != "code":
            continue
        number += 1
        source = raw.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if not isinstance(source, str):
            raise InvalidNotebook(f"{name}: code cell {number} has no text source")
        submission.cells.append(Cell(number, to_python(source, number, submission.notes)))
    submission.notes += redefinitions(submission.cells, functions)
    return submission


_MANAGER = None


def _transform(source: str) -> str:
    global _MANAGER
    if _MANAGER is None:
        from IPython.core.inputtransformer2 import TransformerManager
        _MANAGER = TransformerManager()
    try:
        return _MANAGER.transform_cell(source)
    except Exception:  # noqa: BLE001 - IPython could not tokenize it: the child reports the syntax error
        return source


def to_python(source: str, number: int, notes: list[str]) -> str:
    """One code cell as the Python IPython would run (see the module docstring)."""
    stripped = source.lstrip()
    if stripped.startswith("%%"):
        magic = stripped.split(None, 1)[0]
        if magic in PYTHON_CELL_MAGICS:
            notes.append(f"code cell {number}: ran the body of {magic} once, without the magic")
            return "\n" + _transform(stripped.partition("\n")[2])   # keeps line numbers one off, as the cell
        if magic not in RUNNABLE_CELL_MAGICS:
            notes.append(f"code cell {number} starts with the cell magic {magic}, which cannot run while "
                         "grading; the cell was skipped")
            return ""
    return _transform(source)


def redefinitions(cells, functions) -> list[str]:
    """Notes for graded names defined more than once: the last definition run is the one graded."""
    where: dict[str, list[int]] = {}
    for cell in cells:
        try:
            tree = _pyparse.parse(cell.source)
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in functions:
                where.setdefault(node.name, []).append(cell.index)
    notes = []
    for name in functions:
        cells_seen = where.get(name, [])
        if len(cells_seen) > 1:
            places = ", ".join(str(c) for c in cells_seen[:-1]) + f" and {cells_seen[-1]}"
            same = len(set(cells_seen)) == 1
            notes.append(f"{name} is defined {len(cells_seen)} times (code cell{'' if same else 's'} "
                         f"{cells_seen[0] if same else places}); the last definition, in code cell "
                         f"{cells_seen[-1]}, is the one graded, as Python would")
    return notes
