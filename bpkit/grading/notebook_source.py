"""Read a submitted notebook: its code cells, ready to run in a plain Python process, or a clear reason why not.

IPython-only lines cannot run outside a kernel, so they are replaced by ``pass`` (keeping the indentation, so the
cell still parses) and listed in ``notes``: line magics (``%load_ext bpkit``, ``%timeit f()``), shell lines
(``!pip install``, ``files = !ls``), help lines (``f?``), and whole cells that start with a cell magic (``%%bash``);
the body of ``%%time``, ``%%timeit``, ``%%capture`` and ``%%prun`` is Python, so it runs once without the magic.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_NOTEBOOK_BYTES = 50 * 2**20
PYTHON_CELL_MAGICS = {"%%time", "%%timeit", "%%capture", "%%prun"}   # their body is plain Python: keep it
_IPYTHON_LINE = re.compile(r"^(\s*)(%|!|[\w.]+\s*=\s*[!%]|[\w.]+\?\??\s*$|\?\??[\w.]+\s*$)")


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


def read_notebook(path) -> Submission:
    """Parse ``path`` (nbformat 4 JSON) into code cells; raise InvalidNotebook for anything else."""
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
    return parse_notebook(nb, path.name)


def parse_notebook(nb, name: str = "notebook") -> Submission:
    """The code cells of an already-loaded notebook dict (see ``read_notebook``)."""
    if not isinstance(nb, dict):
        raise InvalidNotebook(f"{name} is JSON but not a notebook (the top level is a {type(nb).__name__})")
    major = nb.get("nbformat")
    if major != 4:
        found = f"nbformat {major}" if major is not None else "no nbformat field"
        raise InvalidNotebook(f"{name} has {found}; only nbformat 4 notebooks (Jupyter 4 and later) are graded: "
                              "open it in JupyterLab and save it again")
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
        submission.cells.append(Cell(number, _strip_ipython(source, number, submission.notes)))
    return submission


def _strip_ipython(source: str, number: int, notes: list[str]) -> str:
    if source.lstrip().startswith("%%"):
        magic = source.lstrip().split(None, 1)[0]
        if magic not in PYTHON_CELL_MAGICS:
            notes.append(f"code cell {number} starts with the cell magic {magic} and was skipped")
            return ""
        notes.append(f"code cell {number}: ran the body of {magic} once, without the magic")
        first, _, body = source.lstrip().partition("\n")
        return _strip_ipython("pass\n" + body, number, notes)
    out, skipped = [], []
    for line in source.split("\n"):
        match = _IPYTHON_LINE.match(line)
        if match and not _is_python(line):
            out.append(f"{match.group(1)}pass")
            skipped.append(line.strip())
        else:
            out.append(line)
    if skipped:
        shown = ", ".join(repr(s[:40]) for s in skipped[:3]) + (" ..." if len(skipped) > 3 else "")
        notes.append(f"code cell {number}: skipped IPython-only line{'s' if len(skipped) > 1 else ''} {shown}")
    return "\n".join(out)


def _is_python(line: str) -> bool:
    """``x = a % b`` or ``y = not_x != 2`` look like magics to the pattern but are Python: let them through."""
    stripped = line.strip()
    if stripped.startswith(("%", "!")) or stripped.endswith("?"):
        return False
    try:
        compile(stripped, "<line>", "exec")
        return True
    except SyntaxError:
        return False
