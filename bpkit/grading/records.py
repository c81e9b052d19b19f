"""The grader's typed records: what discovery found (``Entry``) and what grading one submission produced
(``Result``), saved as JSON in ``OUTDIR/results/`` and read back to build the class files.

Statuses are ``bpkit.sandbox.status.Status`` members everywhere (a ``str`` enum: JSON holds the plain value).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..sandbox.status import WORDS, Status

__all__ = ["Entry", "Result", "Status", "WORDS"]


@dataclass(frozen=True)
class Entry:
    """One student's submission as found on disk (``path`` None: a folder without a notebook for the exercise)."""

    student: str
    path: Path | None
    note: str = ""
    canvas_id: str = ""      # the Canvas user id parsed from a Canvas download name (login_userid_submissionid_...)


@dataclass
class Result:
    """One student's graded submission: the record behind their rows, feedback page and summary entry."""

    student: str
    exercise: str
    score: float = 0.0
    max_score: float = 0.0
    status: Status = Status.OK
    message: str = ""
    checks: list = field(default_factory=list)      # CheckResult.to_dict() rows, in the exercise's order
    notes: list = field(default_factory=list)       # plain sentences for the student
    flags: list = field(default_factory=list)       # for the instructor only
    blocked_imports: list = field(default_factory=list)
    details: list = field(default_factory=list)     # full exception texts (hidden inputs and all): grades.json only
    file: str | None = None
    file_hash: str = ""
    config: str = ""        # what the result depends on besides the file (exercise spec, secret); see engine
    limits: dict = field(default_factory=dict)
    canvas_id: str = ""
    raw_score: float | None = None   # what the checks gave, when an override changed ``score`` (set at export)
    adjustment: str = ""            # the override applied at export, in words
    isolation: str = ""     # the sandbox's own account of what was isolated when this submission ran
    wall: float = 0.0
    cpu: float = 0.0

    def __post_init__(self):
        self.status = Status.parse(self.status)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Result":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
