"""The gradebook: one result file per student as it finishes, and the class tables built from them.

``OUTDIR/results/<student>.json`` is written atomically the moment a submission is graded; it records the
submission's SHA-256 and the grading configuration, so a rerun skips what is unchanged (``--force`` re-grades) and a
grader killed half way loses nothing. The class files are rebuilt from those records, sorted by student, with no
timings in them, so an interrupted-and-resumed run produces byte-identical files to an uninterrupted one:

- ``grades.csv``: ``student,exercise,score,max_score,status,message,flags`` + one column per check (points);
- ``grades.json``: the same with every check row (relative error, tolerance, hint, case label) and the notes;
- ``canvas.csv``: Canvas's gradebook import format (Student, ID, SIS User ID, SIS Login ID, Section, assignment).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

from .intake import safe_name
from .records import Result, Status

COLUMNS = ["student", "exercise", "score", "max_score", "status", "message", "flags"]


def write_atomic(path, data) -> None:
    """Write ``data`` (str or bytes) to ``path`` so a reader sees the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def file_hash(path) -> str:
    """SHA-256 of a file's bytes ("" for no file)."""
    if path is None:
        return ""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ResultStore:
    """``OUTDIR/results/``: one JSON record per student."""

    def __init__(self, outdir):
        self.folder = Path(outdir) / "results"

    def path(self, student: str) -> Path:
        return self.folder / f"{safe_name(student)}.json"

    def load(self, student: str) -> Result | None:
        try:
            data = json.loads(self.path(student).read_text("utf-8"))
            record = Result.from_dict(data) if isinstance(data, dict) else None
        except (OSError, ValueError, TypeError):
            return None
        return record if record is not None and record.student == student else None

    def save(self, record: Result) -> None:
        write_atomic(self.path(record.student), json.dumps(record.to_dict(), indent=1, sort_keys=True))

    def is_current(self, record: Result | None, digest: str, config: str, limits: dict) -> bool:
        """True if ``record`` graded these exact bytes with this configuration (a run that hit a limit is
        re-graded when the limit has since been raised)."""
        if record is None or record.file_hash != digest or record.config != config:
            return False
        if record.status.hit_limit:
            return all(limits[k] <= record.limits.get(k, 0) for k in limits)
        return True


def check_columns(exercise, records) -> list[str]:
    """``"function: check"`` for every check seen in the class, in the exercise's function order."""
    order = {spec.name: i for i, spec in enumerate(exercise.functions)}
    seen: dict[str, tuple] = {}
    for record in records:
        for row in record.checks:
            key = f"{row['function']}: {row['name']}"
            if key not in seen:
                seen[key] = (order.get(row["function"], len(order)), len(seen))
    return sorted(seen, key=seen.get)


def _cell(text) -> str:
    """Text for a spreadsheet: a leading = + - @ would make Excel or Sheets run it as a formula."""
    text = "" if text is None else str(text).replace("\r", " ").replace("\n", " ")
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t") else text


def _number(x: float) -> str:
    return f"{x:.6g}"


def grades_csv(exercise, records) -> str:
    columns = check_columns(exercise, records)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS + columns)
    for r in records:
        per_check = {c: 0.0 for c in columns}
        for row in r.checks:
            per_check[f"{row['function']}: {row['name']}"] += row["points"]
        writer.writerow([_cell(r.student), exercise.id, _number(r.score), _number(r.max_score),
                         r.status, _cell(r.message), _cell("; ".join(r.flags))]
                        + [_number(per_check[c]) for c in columns])
    return out.getvalue()


def grades_json(exercise, records) -> str:
    keep = ("student", "score", "max_score", "status", "message", "flags", "notes", "checks", "file_hash")
    doc = {"exercise": exercise.id, "title": exercise.title, "max_score": exercise.max_points,
           "isolation": isolation_lines(records),
           "students": [{k: getattr(r, k) for k in keep} for r in records]}
    return json.dumps(doc, indent=1, sort_keys=True, allow_nan=False)


def isolation_lines(records) -> list[str]:
    """The sandbox's isolation lines the class was graded under (one, unless runs on different machines mixed)."""
    return sorted({r.isolation for r in records if r.isolation})


def canvas_csv(exercise, records) -> str:
    """Canvas gradebook import: match students by SIS Login ID (the id the submission came with)."""
    assignment = f"{exercise.title} ({exercise.id})"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment])
    writer.writerow(["Points Possible", "", "", "", "", _number(exercise.max_points)])
    for r in records:
        writer.writerow([_cell(r.student), "", "", _cell(r.student), "", _number(r.score)])
    return out.getvalue()


def add_duplicate_flags(records) -> None:
    """Flag submissions whose files are byte-identical to another student's (worth a look, not a penalty)."""
    by_hash: dict[str, list[str]] = {}
    for r in records:
        if r.file_hash:
            by_hash.setdefault(r.file_hash, []).append(r.student)
    for r in records:
        others = [s for s in by_hash.get(r.file_hash, []) if s != r.student]
        flags = [f for f in r.flags if not f.startswith("identical file to ")]
        if others:
            flags.append("identical file to " + ", ".join(others[:5]) + (" ..." if len(others) > 5 else ""))
        r.flags = flags


def write_class_files(outdir, exercise, records) -> None:
    """grades.csv, grades.json and canvas.csv for ``records`` (sorted by student here)."""
    records = sorted(records, key=lambda r: r.student)
    add_duplicate_flags(records)
    outdir = Path(outdir)
    write_atomic(outdir / "grades.csv", grades_csv(exercise, records))
    write_atomic(outdir / "grades.json", grades_json(exercise, records))
    write_atomic(outdir / "canvas.csv", canvas_csv(exercise, records))
