"""Find the submissions to grade and the student each belongs to.

Accepted, mixed freely on one command line:

- notebook files: ``alice.ipynb`` is student ``alice``;
- a folder of notebooks: each ``<student>.ipynb`` in it;
- nbgrader's layout, given as the ``submitted`` folder (or any folder of student folders):
  ``submitted/<student>/<assignment>/<notebook>.ipynb``. The exercise's notebook name is looked for first, then a
  notebook whose name starts with the exercise id; a student folder without one becomes a "missing" row.
"""
from __future__ import annotations

import re
from pathlib import Path

from .records import Entry

_SAFE = re.compile(r"[^A-Za-z0-9._@+-]")


class DiscoveryError(ValueError):
    """The command line names no submissions, or two files claim the same student."""


def safe_name(student: str) -> str:
    """A file-name-safe version of a student id (feedback/<safe>.html, results/<safe>.json)."""
    name = _SAFE.sub("_", student).lstrip(".")
    return name or "_"


def discover(paths, exercise_id: str, notebook_name: str, exclude=None) -> list[Entry]:
    """All submissions under ``paths``, sorted by student id; raise DiscoveryError on duplicates or nothing.

    ``exclude`` (the grader's OUTDIR) is never taken for a student's folder, even when it lies among them.
    """
    skip = Path(exclude).resolve() if exclude is not None else None
    entries: list[Entry] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            entries.append(Entry(path.stem, path))
        elif path.is_dir():
            entries += _from_folder(path, exercise_id, notebook_name, skip)
        else:
            raise DiscoveryError(f"{raw}: no such file or folder")
    if not entries:
        raise DiscoveryError(f"no notebooks found in {', '.join(map(str, paths))}: expected <student>.ipynb "
                             "files or nbgrader's submitted/<student>/<assignment>/<notebook>.ipynb")
    by_student: dict[str, Entry] = {}
    by_safe: dict[str, str] = {}
    for entry in entries:
        if entry.student in by_student:
            raise DiscoveryError(f"two submissions for student {entry.student!r}: {by_student[entry.student].path} "
                                 f"and {entry.path}; grade them separately or remove one")
        clash = by_safe.get(safe_name(entry.student))
        if clash is not None:
            raise DiscoveryError(f"students {clash!r} and {entry.student!r} map to the same file name "
                                 f"{safe_name(entry.student)!r}; rename one")
        by_student[entry.student] = entry
        by_safe[safe_name(entry.student)] = entry.student
    return [by_student[s] for s in sorted(by_student)]


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _from_folder(folder: Path, exercise_id: str, notebook_name: str, skip: Path | None) -> list[Entry]:
    entries = [Entry(p.stem, p) for p in sorted(folder.glob("*.ipynb")) if _visible(p)]
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p) and p.resolve() != skip):
        notebooks = [p for p in sorted(sub.rglob("*.ipynb"))
                     if not any(part.startswith(".") for part in p.relative_to(sub).parts)]
        if not notebooks and not any(p.is_dir() for p in sub.iterdir()):
            continue
        entries.append(_pick(sub.name, notebooks, exercise_id, notebook_name))
    return entries


def _pick(student: str, notebooks: list[Path], exercise_id: str, notebook_name: str) -> Entry:
    exact = [p for p in notebooks if p.name == notebook_name]
    prefixed = [p for p in notebooks if p.name.lower().startswith(exercise_id.lower())]
    for found in (exact, prefixed):
        if found:
            note = "" if len(found) == 1 else (f"{len(found)} candidate notebooks; graded {found[0]}")
            return Entry(student, found[0], note)
    return Entry(student, None, f"no {notebook_name} in the student's folder")
