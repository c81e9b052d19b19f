"""Find the submissions to grade and the student each belongs to.

Accepted, mixed freely on one command line:

- notebook files: ``alice.ipynb`` is student ``alice``; a Canvas download name
  (``login_userid_attachmentid_filename.ipynb``, ``LATE`` included) is student ``login`` with Canvas id ``userid``
  (the canvas.csv ID column), and of several uploads by one student the latest is graded, with a note;
- a folder of notebooks: each ``<student>.ipynb`` (or Canvas download) in it;
- nbgrader's layout, given as the ``submitted`` folder (or any folder of student folders):
  ``submitted/<student>/<assignment>/<notebook>.ipynb``. The exercise's notebook name is looked for first, then a
  notebook whose name starts with the exercise id; a folder with exactly one notebook is graded whatever its name
  (``ex03-Copy1.ipynb``), and of several the most recently modified one that defines the graded functions is; the
  feedback says which. A folder with no notebook becomes a "missing" row.

Student ids are kept as given (any Unicode); ``safe_name`` gives each a distinct, readable file name.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path

from .records import Entry

_CANVAS = re.compile(r"^(?P<login>.+?)_(?:late_)?(?P<uid>\d+)_(?P<attachment>\d+)_(?P<file>.+)$", re.IGNORECASE)
_KEEP = set("._@+-")


class DiscoveryError(ValueError):
    """The command line names no submissions, or two files claim the same student."""


def safe_name(student: str) -> str:
    """A distinct, readable file name for a student id (feedback/<safe>.html, results/<safe>.json).

    Letters and digits of any script are kept (``张伟``, ``zoë``); anything else becomes ``_``. When that changed
    the id (or the id is not NFC-normalized), a short hash of the exact id is appended, so ``a b`` and ``a_b``, or
    ``zoë`` typed two ways, never share a file.
    """
    text = "".join(c if c.isalnum() or c in _KEEP else "_" for c in student).lstrip(".")[:80] or "_"
    if text != student or unicodedata.normalize("NFC", student) != student:
        text += "-" + hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return text


def canvas_name(stem: str) -> tuple[str, str, int] | None:
    """``(login, user_id, attachment_id)`` for a Canvas download name, else None."""
    match = _CANVAS.match(stem)
    if not match:
        return None
    return match.group("login"), match.group("uid"), int(match.group("attachment"))


def _file_entry(path: Path) -> tuple[Entry, int]:
    parsed = canvas_name(path.stem)
    if parsed is None:
        return Entry(path.stem, path), -1
    login, uid, attachment = parsed
    return Entry(login, path, canvas_id=uid), attachment


def discover(paths, exercise_id: str, notebook_name: str, exclude=None, functions=()) -> list[Entry]:
    """All submissions under ``paths``, sorted by student id; raise DiscoveryError on duplicates or nothing.

    ``exclude`` (the grader's OUTDIR) is never taken for a student's folder, even when it lies among them.
    ``functions``: the graded names (to pick among several notebooks in one student's folder).
    """
    skip = Path(exclude).resolve() if exclude is not None else None
    found: list[tuple[Entry, int]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append(_file_entry(path))
        elif path.is_dir():
            found += _from_folder(path, exercise_id, notebook_name, skip, functions)
        else:
            raise DiscoveryError(f"{raw}: no such file or folder")
    if not found:
        raise DiscoveryError(f"no notebooks found in {', '.join(map(str, paths))}: expected <student>.ipynb "
                             "files or nbgrader's submitted/<student>/<assignment>/<notebook>.ipynb")
    by_student: dict[str, tuple[Entry, int]] = {}
    for entry, attachment in found:
        if entry.student in by_student:
            other, other_attachment = by_student[entry.student]
            if attachment >= 0 and other_attachment >= 0:      # two Canvas uploads: the later one counts
                newer, older = (entry, other) if attachment > other_attachment else (other, entry)
                note = f"graded the latest upload {newer.path.name} (also uploaded: {older.path.name})"
                by_student[entry.student] = (Entry(newer.student, newer.path, note, newer.canvas_id),
                                             max(attachment, other_attachment))
                continue
            raise DiscoveryError(f"two submissions for student {entry.student!r}: {other.path} and {entry.path}; "
                                 "grade them separately or remove one")
        by_student[entry.student] = (entry, attachment)
    by_safe: dict[str, str] = {}
    for student in by_student:
        clash = by_safe.get(safe_name(student))
        if clash is not None:      # cannot happen (the hash suffix), but a clobbered file must never be silent
            raise DiscoveryError(f"students {clash!r} and {student!r} map to the same file name "
                                 f"{safe_name(student)!r}; rename one")
        by_safe[safe_name(student)] = student
    return [by_student[s][0] for s in sorted(by_student)]


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _from_folder(folder: Path, exercise_id: str, notebook_name: str, skip: Path | None,
                 functions) -> list[tuple[Entry, int]]:
    entries = [_file_entry(p) for p in sorted(folder.glob("*.ipynb")) if _visible(p)]
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p) and p.resolve() != skip):
        notebooks = [p for p in sorted(sub.rglob("*.ipynb"))
                     if not any(part.startswith(".") for part in p.relative_to(sub).parts)]
        if not notebooks and not any(p.is_dir() for p in sub.iterdir()):
            continue
        entries.append((_pick(sub.name, notebooks, exercise_id, notebook_name, functions), -1))
    return entries


def _defines(path: Path, functions) -> bool:
    """True if the notebook's code defines every graded name (a quick look at its JSON; never raises)."""
    try:
        nb = json.loads(path.read_bytes())
        cells = nb.get("cells") or [c for ws in nb.get("worksheets", []) for c in ws.get("cells", [])]   # nbformat 3
        code = "\n".join("".join(src) if isinstance(src, list) else str(src)
                         for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"
                         for src in [c.get("source", c.get("input", ""))])
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        return False
    return all(re.search(rf"^\s*(?:def|class)\s+{re.escape(f)}\b", code, re.MULTILINE) for f in functions)


def _latest(paths: list[Path]) -> Path:
    return max(paths, key=lambda p: (p.stat().st_mtime, str(p)))


def _pick(student: str, notebooks: list[Path], exercise_id: str, notebook_name: str, functions=()) -> Entry:
    if not notebooks:
        return Entry(student, None, f"no {notebook_name} in the student's folder")
    exact = [p for p in notebooks if p.name == notebook_name]
    if len(exact) == 1:
        return Entry(student, exact[0])
    if exact:
        chosen = _latest(exact)
        return Entry(student, chosen, f"{len(exact)} notebooks named {notebook_name}; graded the most recently "
                                      f"modified one, {chosen.relative_to(chosen.parents[1])}")
    if len(notebooks) == 1:
        return Entry(student, notebooks[0], f"graded {notebooks[0].name}, the only notebook in the folder "
                                            f"(expected the name {notebook_name})")
    defining = [p for p in notebooks if _defines(p, functions)] if functions else []
    prefixed = [p for p in notebooks if p.name.lower().startswith(exercise_id.lower())]
    pool = defining or prefixed or notebooks
    chosen = _latest(pool)
    why = "defines the graded functions" if defining else (f"starts with {exercise_id}" if prefixed else "")
    others = ", ".join(p.name for p in notebooks if p != chosen)
    return Entry(student, chosen, f"graded {chosen.name}, the most recently modified notebook that {why or 'is there'}"
                                  f" (expected the name {notebook_name}; also found {others})")
