"""The LMS side: Canvas's gradebook import file and the instructor's overrides.

``canvas.csv`` is Canvas's gradebook import format: ``Student, ID, SIS User ID, SIS Login ID, Section`` and one
assignment column whose header names the assignment as Canvas shows it, ``Name (12345)`` (``--canvas-assignment``;
Canvas matches the column to the assignment by the number in parentheses). The ID column is the Canvas user id when
the submission came as a Canvas download (``login_userid_attachmentid_name.ipynb``); otherwise students are matched
by SIS Login ID, the id the submission came with. A student who was found but not graded (an interrupted run) is
listed with an empty score, which Canvas imports as "no change", never left out.

An overrides file (``--overrides overrides.csv``) adjusts scores at export, without re-grading:

    student,points,late_penalty,reason
    ann,9,,regrade: her dW was right up to a documented convention
    ben,,10%,two days late

``points`` sets the final score; ``late_penalty`` takes a percentage of the graded score off; ``reason`` is shown
in the student's feedback. grades.json keeps both the raw and the final score. The file is copied to
``OUTDIR/overrides.csv``, and a later run into OUTDIR without ``--overrides`` applies that copy (so re-grading one
student never drops everyone's adjustments); edit or delete it there.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

OVERRIDES_NAME = "overrides.csv"      # the copy kept in OUTDIR: later runs into OUTDIR apply it too


@dataclass(frozen=True)
class Override:
    student: str
    points: float | None = None
    late_penalty: float | None = None     # percent of the graded score taken off
    reason: str = ""

    def apply(self, score: float, max_score: float) -> float:
        if self.points is not None:
            return round(min(max(self.points, 0.0), max_score), 6)
        if self.late_penalty is not None:
            return round(score * (1 - min(max(self.late_penalty, 0.0), 100.0) / 100), 6)
        return score

    def describe(self, raw: float, final: float) -> str:
        how = (f"score set to {final:.4g} (graded {raw:.4g})" if self.points is not None else
               f"late penalty of {self.late_penalty:g}%: {raw:.4g} becomes {final:.4g}")
        return how + (f" ({self.reason})" if self.reason else "")


class OverridesError(ValueError):
    """The overrides file cannot be read; the message names the line."""


def _number(text: str, line: int, column: str) -> float | None:
    text = (text or "").strip().rstrip("%").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise OverridesError(f"overrides line {line}: {column} {text!r} is not a number") from None


def read_overrides(path) -> dict[str, Override]:
    """student -> Override from a CSV with a header ``student,points,late_penalty,reason`` (columns in any order)."""
    text = Path(path).read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    fields = {(f or "").strip().lower() for f in reader.fieldnames or []}
    if "student" not in fields or not fields & {"points", "late_penalty"}:
        raise OverridesError(f"{path}: expected a header with student and points and/or late_penalty (and "
                             f"reason), got {', '.join(reader.fieldnames or []) or 'nothing'}")
    out: dict[str, Override] = {}
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
        student = row.get("student", "").strip()
        if not student:
            continue
        points, penalty = _number(row.get("points"), line, "points"), _number(row.get("late_penalty"), line,
                                                                             "late_penalty")
        if points is None and penalty is None:
            raise OverridesError(f"overrides line {line}: give points or late_penalty for {student!r}")
        if points is not None and penalty is not None:
            raise OverridesError(f"overrides line {line}: give points or late_penalty for {student!r}, not both")
        out[student] = Override(student, points, penalty, row.get("reason", "").strip())
    return out


def _cell(text) -> str:
    """Text for a spreadsheet: a leading = + - @ would make Excel or Sheets run it as a formula."""
    text = "" if text is None else str(text).replace("\r", " ").replace("\n", " ")
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t") else text


def canvas_csv(exercise, records, assignment: str | None = None) -> str:
    """Canvas gradebook import (see the module docstring); ungraded students get an empty score."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                     assignment or f"{exercise.title} ({exercise.id})"])
    writer.writerow(["Points Possible", "", "", "", "", f"{exercise.max_points:.6g}"])
    for r in records:
        score = "" if r.status == "ungraded" else f"{r.score:.6g}"
        writer.writerow([_cell(r.student), _cell(r.canvas_id), "", _cell(r.student), "", score])
    return out.getvalue()
