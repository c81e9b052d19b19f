"""The gradebook: one result file per student as it finishes, and the class tables built from them.

``OUTDIR/results/<student>.json`` is written atomically the moment a submission is graded; it records the
submission's SHA-256 and the grading configuration, so a rerun skips what is unchanged (``--force`` re-grades) and a
grader killed half way loses nothing. The class files are rebuilt from those records, sorted by student, with no
timings in them, so an interrupted-and-resumed run produces byte-identical files to an uninterrupted one:

- ``grades.csv``: ``student,exercise,score,max_score,status,message,flags`` + one column per check (points earned,
  summed over cases; no column for a "runs" row, see ``check_columns``);
- ``grades.json``: the same with every check row (relative error, tolerance, hint, case label) and the notes;
- ``canvas.csv``: Canvas's gradebook import format (see ``lms.py``).

``score`` is the final score (after the instructor's overrides, ``lms.py``); grades.json also keeps ``raw_score``,
what the checks gave, and the ``adjustment`` applied.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from . import lms
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

    def all(self, exercise_id: str) -> list[Result]:
        """Every readable record of ``exercise_id`` in the folder."""
        out = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                data = json.loads(path.read_text("utf-8"))
                record = Result.from_dict(data)
            except (OSError, ValueError, TypeError):
                continue
            if record.exercise == exercise_id and path.name == f"{safe_name(record.student)}.json":
                out.append(record)
        return out

    def is_current(self, record: Result | None, digest: str, config: str, limits: dict) -> bool:
        """True if ``record`` graded these exact bytes with this configuration (a run that hit a limit is
        re-graded when the limit has since been raised)."""
        if record is None or record.file_hash != digest or record.config != config:
            return False
        if record.status.hit_limit:
            return all(limits[k] <= record.limits.get(k, 0) for k in limits)
        return True


def check_columns(exercise, records) -> list[str]:
    """``"function: check"`` for every check seen in the class that a student could earn points in, in the
    exercise's function order.

    Left out: a function's "runs" row, which stands for a case that could not be checked (it raised, timed out, was
    not written) and earns nothing by construction, so its column would read "0 points for runs" even for a student
    with full marks (that student has no such row); the points it stands for are missing from the check columns
    instead, and status and message say why. Left out too: a check worth 0 points for everyone."""
    order = {spec.name: i for i, spec in enumerate(exercise.functions)}
    seen: dict[str, tuple] = {}
    worth: set[str] = set()
    for record in records:
        for row in record.checks:
            if row["name"] == "runs":
                continue
            key = f"{row['function']}: {row['name']}"
            if key not in seen:
                seen[key] = (order.get(row["function"], len(order)), len(seen))
            if row.get("max_points"):
                worth.add(key)
    return sorted((k for k in seen if k in worth), key=seen.get)


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
            key = f"{row['function']}: {row['name']}"
            if key in per_check:
                per_check[key] += row["points"]
        writer.writerow([_cell(r.student), exercise.id, _number(r.score), _number(r.max_score),
                         r.status, _cell(r.message), _cell("; ".join(r.flags))]
                        + [_number(per_check[c]) for c in columns])
    return out.getvalue()


def grades_json(exercise, records) -> str:
    keep = ("student", "score", "raw_score", "adjustment", "max_score", "status", "message", "flags", "notes",
            "checks", "details", "file_hash", "canvas_id")
    doc = {"exercise": exercise.id, "title": exercise.title, "max_score": exercise.max_points,
           "isolation": isolation_lines(records),
           "students": [{k: getattr(r, k) for k in keep} for r in records]}
    return json.dumps(doc, indent=1, sort_keys=True, allow_nan=False)


def isolation_lines(records) -> list[str]:
    """The sandbox's isolation lines the class was graded under (one, unless runs on different machines mixed)."""
    return sorted({r.isolation for r in records if r.isolation})


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


def write_class_files(outdir, exercise, records, canvas_assignment: str | None = None) -> None:
    """grades.csv, grades.json and canvas.csv for ``records`` (sorted by student here)."""
    records = sorted(records, key=lambda r: r.student)
    add_duplicate_flags(records)
    outdir = Path(outdir)
    write_atomic(outdir / "grades.csv", grades_csv(exercise, records))
    write_atomic(outdir / "grades.json", grades_json(exercise, records))
    write_atomic(outdir / "canvas.csv", lms.canvas_csv(exercise, records, canvas_assignment))


# ---- the output folder: one run at a time, one secret ------------------------------------------------------------
LOCK_NAME = ".bpkit-grade.lock"
FINGERPRINT_NAME = ".grading-fingerprint"


class OutdirBusy(RuntimeError):
    """Another ``bpkit grade`` is grading into the same OUTDIR (the message gives its PID)."""


class OtherSecret(RuntimeError):
    """OUTDIR holds results graded with another secret."""


@contextmanager
def locked(outdir):
    """Hold ``OUTDIR/.bpkit-grade.lock`` (an flock, with our PID written in it) for the ``with`` block, or raise
    OutdirBusy at once if another run holds it. The kernel drops the lock when a run dies, so a stale file never
    blocks the next run; the file stays, emptied, when the run ends."""
    import fcntl
    path = Path(outdir) / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise OutdirBusy(f"another bpkit grade (pid {holder}) is grading into {outdir}; wait for it to finish "
                             "or stop it, then run this again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)     # the file stays (unlinking it would let two runs lock two files); no PID
    finally:
        os.close(fd)


def check_fingerprint(outdir, secret_digest: str, force: bool) -> bool:
    """Refuse (OtherSecret) an OUTDIR graded with another secret unless ``force``; with ``force``, discard its
    results, feedback pages and class files first. Records the fingerprint. Returns True if results were discarded."""
    outdir = Path(outdir)
    path = outdir / FINGERPRINT_NAME
    try:
        recorded = json.loads(path.read_text("utf-8")).get("secret")
    except (OSError, ValueError, AttributeError):
        recorded = None
    discarded = False
    if recorded is None and (outdir / "results").is_dir() and any((outdir / "results").glob("*.json")):
        recorded = "unknown"          # results from before fingerprints: treat as another secret
    if recorded is not None and recorded != secret_digest:
        if not force:
            raise OtherSecret(f"{outdir} holds grades made with another secret (fingerprint {recorded}, this run's "
                              f"{secret_digest}); their feedback pages would not match. Use another --out, the "
                              "same secret, or --force to discard them and grade again")
        for folder in ("results", "feedback"):
            for old in (outdir / folder).glob("*") if (outdir / folder).is_dir() else []:
                old.unlink()
        for name in ("grades.csv", "grades.json", "canvas.csv", "summary.html"):
            (outdir / name).unlink(missing_ok=True)
        discarded = True
    write_atomic(path, json.dumps({"secret": secret_digest}) + "\n")
    return discarded
