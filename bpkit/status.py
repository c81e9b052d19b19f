"""One vocabulary for how a check, a case or a whole submission ended (shared by the exercise checks, the sandbox and the grader).

``Status`` is a ``str`` enum, so a status is written to JSON and CSV as its plain value (``"ok"``, ``"timeout"``)
and compares equal to it; what a child sends back is turned into a member with ``Status.parse`` (anything unknown
becomes ``ERROR``: the child controls those bytes).
"""
from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    OK = "ok"                           # ran; its points are whatever the checks gave
    NOT_IMPLEMENTED = "not_implemented"  # still raises NotImplementedError (a row status; a submission says MISSING)
    MISSING = "missing"                 # the function is not defined, or no notebook was submitted
    ERROR = "error"                     # raised, crashed, exited, or sent something malformed
    TIMEOUT = "timeout"                 # ran past its share of the time limit
    MEMORY = "memory"                   # ran out of memory
    INVALID = "invalid"                 # the file is not a notebook that can be read (decided before running)
    UNGRADED = "ungraded"               # found but not graded yet (an interrupted run): no score, not a zero

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def parse(cls, value) -> "Status":
        try:
            return cls(value)
        except ValueError:
            return cls.ERROR

    @property
    def counted(self) -> "Status":
        """The status a submission reports for a row with this status (not implemented counts as missing)."""
        return Status.MISSING if self is Status.NOT_IMPLEMENTED else self

    @property
    def severity(self) -> int:
        """Sort key, most severe first: invalid < timeout < memory < error < missing < ok."""
        return _SEVERITY.index(self.counted)

    @property
    def hit_limit(self) -> bool:
        """True for the statuses a higher limit might change (a rerun with a raised limit re-grades them)."""
        return self in (Status.TIMEOUT, Status.MEMORY)


# A driver that calls a student's class part by part (``bpkit.exercises.calling.attempt``) reports a part that failed
# as outputs[part + PART_STATUS] (a Status value) and outputs[part + PART_MESSAGE]. A part that ran out of time on
# one case is skipped on the later cases when the case names it in case[SKIP_PARTS]: one endless method then costs
# that method, and the other methods are still graded on every case (the in-process check and the sandbox both do).
PART_STATUS, PART_MESSAGE, SKIP_PARTS = "!status", "!message", "__skip_parts__"

_SEVERITY = [Status.UNGRADED, Status.INVALID, Status.TIMEOUT, Status.MEMORY, Status.ERROR, Status.MISSING, Status.OK]
