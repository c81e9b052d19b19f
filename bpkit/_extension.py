"""What ``%load_ext bpkit`` does, and how ``%unload_ext bpkit`` undoes it.

Loading the extension
- registers the course magics: ``%check NAME`` (run an exercise's checks on your function), ``%bpkit_seed N``
  (seed NumPy's and Python's global random generators) and ``%lessons`` (list the lessons and exercises as links);
- sets Plotly's default renderer to ``plotly_mimetype``, which JupyterLab draws with the renderer that ships inside
  the plotly wheel (no build step, no plotly.js embedded in every notebook);
- sets readable NumPy print options (4 decimals, no scientific notation for small numbers, wider lines).

Unloading restores the previous renderer and print options and removes the magics (putting back any magic of the
same name that was there before). Loading twice is harmless: the state saved is the one from before the first load.
"""
from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PRINT_OPTIONS = {"precision": 4, "suppress": True, "linewidth": 110}
RENDERER = "plotly_mimetype"
MAGICS = ("check", "bpkit_seed", "lessons")

_saved: dict = {}


# ---------------------------------------------------------------------------------------------------------- magics
def check_magic(ipython, line: str):
    """``%check NAME [NAME ...]`` or ``%check exNN``: run the exercise checks on the notebook's own NAME.

    A mistyped or missing name is a usage error (one clear line, no traceback); errors raised by the student's
    code are reported by the checks themselves.
    """
    from IPython.core.error import UsageError

    import bpkit.exercises as exercises  # an error inside the package itself should surface, not be hidden

    if not line.strip():
        raise UsageError("%check expects a function name or an exercise id, e.g. %check linear_backward or "
                         "%check ex03")
    try:
        return exercises.magic_check(line, ipython.user_ns)
    except LookupError as error:  # the catalog's UnknownName: no exercise asks for that name
        raise UsageError(f"%check: {error.args[0] if error.args else error}") from None


def seed_magic(line: str) -> int:
    """``%bpkit_seed N``: seed ``np.random`` and ``random`` (the global generators) with N and say so."""
    from IPython.core.error import UsageError

    text = line.strip()
    try:
        seed = int(text)
    except ValueError:
        raise UsageError(f"%bpkit_seed expects one integer between 0 and 2**32 - 1, e.g. %bpkit_seed 0; "
                         f"got {text!r}") from None
    if not 0 <= seed < 2**32:
        raise UsageError(f"%bpkit_seed expects an integer between 0 and 2**32 - 1; got {seed}")
    np.random.seed(seed)
    random.seed(seed)
    print(f"Seeded NumPy's global generator (np.random.seed({seed})) and Python's (random.seed({seed})).\n"
          f"bpkit's own functions ignore these: they take seed= or a np.random.Generator.")
    return seed


@dataclass
class LessonList:
    """The lessons and exercises of the course, shown as a Markdown table of links (plain text outside Lab)."""

    rows: list  # (section, number, title, path relative to the working directory)

    def _repr_markdown_(self) -> str:
        if not self.rows:
            return _NOT_FOUND
        lines = ["| | # | title |", "|---|---|---|"]
        for section, number, title, rel in self.rows:
            link = f"[{title}]({Path(rel).as_posix().replace(' ', '%20')})"
            lines.append(f"| {section} | {number} | {link} |")
        return "\n".join(lines)

    def __repr__(self) -> str:
        if not self.rows:
            return _NOT_FOUND
        return "\n".join(f"{section:<8} {number:>3}  {title}  ({rel})" for section, number, title, rel in self.rows)


_NOT_FOUND = "No lessons/ folder found here or in a parent folder: start JupyterLab in the course folder."


def find_course_root(start=None) -> Path | None:
    """The nearest folder at or above ``start`` (default: the working directory) holding a ``lessons/`` folder."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "lessons").is_dir():
            return folder
    return None


def _title(path: Path) -> str:
    """The first Markdown heading of a notebook, or its file name when it has none (or cannot be read)."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return path.stem
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        for text in (source.splitlines() if isinstance(source, str) else "".join(source).splitlines()):
            if text.startswith("#"):
                return text.lstrip("#").strip()
    return path.stem


def lessons_magic(line: str = "", start=None) -> LessonList:
    """``%lessons``: every lesson and released exercise notebook, numbered, titled, linked from here."""
    root = find_course_root(start)
    if root is None:
        return LessonList([])
    cwd = Path(start or os.getcwd()).resolve()
    rows = []
    for section, folder in (("lesson", root / "lessons"), ("exercise", root / "exercises")):
        for path in sorted(folder.glob("*.ipynb")):
            number = "".join(ch for ch in path.stem.split("_")[0] if ch.isdigit())
            rows.append((section, number, _title(path), os.path.relpath(path, cwd)))
    return LessonList(rows)


# ------------------------------------------------------------------------------------------------ load / unload
def load(ipython) -> None:
    """Register the magics and set the renderer and print options, remembering what was there before."""
    import plotly.io as pio

    if not _saved:  # a second load must not overwrite the state from before the first one
        manager = ipython.magics_manager
        _saved["magics"] = {name: manager.magics["line"].get(name) for name in MAGICS}
        _saved["user_magics"] = {name: vars(manager.user_magics).get(name) for name in MAGICS}
        _saved["renderer"] = pio.renderers.default
        _saved["printoptions"] = np.get_printoptions()

    def check(line):
        return check_magic(ipython, line)

    check.__doc__ = check_magic.__doc__
    ipython.register_magic_function(check, "line", "check")
    ipython.register_magic_function(seed_magic, "line", "bpkit_seed")
    ipython.register_magic_function(lessons_magic, "line", "lessons")
    from .exercises.unfinished import install   # Run All goes through an exercise whose stubs still raise
    install(ipython)
    pio.renderers.default = RENDERER
    np.set_printoptions(**PRINT_OPTIONS)


def unload(ipython) -> None:
    """Undo :func:`load`: remove the magics (restoring shadowed ones), the renderer and the print options."""
    import plotly.io as pio

    if not _saved:
        return
    manager = ipython.magics_manager
    for table, saved in ((manager.magics["line"], _saved.pop("magics")),
                         (vars(manager.user_magics), _saved.pop("user_magics"))):
        for name, previous in saved.items():
            if previous is None:
                table.pop(name, None)
            else:
                table[name] = previous
    from .exercises.unfinished import uninstall
    uninstall(ipython)
    pio.renderers.default = _saved.pop("renderer")
    np.set_printoptions(**_saved.pop("printoptions"))
