"""The words a feedback page and the summary use for each status; the vocabulary itself is ``bpkit.status``."""
from __future__ import annotations

from ..status import Status

__all__ = ["Status", "WORDS"]

# the words a feedback page and the summary use for each submission status
WORDS = {
    Status.OK: "graded", Status.ERROR: "an error stopped part of the grading", Status.TIMEOUT: "ran out of time",
    Status.MEMORY: "ran out of memory", Status.INVALID: "the notebook could not be read",
    Status.MISSING: "missing work", Status.NOT_IMPLEMENTED: "not implemented yet",
    Status.UNGRADED: "not graded yet",
}
