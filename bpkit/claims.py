"""Executable claims: a lesson's quantitative sentence, checked right after the output it describes.

A lesson that writes "backprop costs less than five forward passes" follows the output with::

    claim(ratio < 5, "backprop costs less than five forward passes")

which prints one stable line (``claim holds: backprop costs less than five forward passes``) that the strict nbval run
compares with the committed output, or raises :class:`ClaimFailed` naming the sentence and the measured values, so a
notebook whose prose stops matching its numbers fails its test instead of misleading a reader.

Measured numbers are passed as keyword arguments: they are shown only when the claim fails (timings and float noise
would otherwise make the printed line differ from run to run).
"""
from __future__ import annotations

__all__ = ["claim", "ClaimFailed"]


class ClaimFailed(AssertionError):
    """A sentence of a lesson no longer matches the lesson's own output."""


def _describe(measured: dict) -> str:
    return ", ".join(f"{name} = {value!r}" for name, value in measured.items())


def claim(holds, statement: str, **measured) -> None:
    """Print ``claim holds: <statement>`` when ``holds`` is true; raise ClaimFailed with the measured values if not.

    holds: a bool (or anything with a truth value, e.g. a NumPy bool); an array is refused, as its truth is ambiguous.
    statement: the sentence of the lesson being checked, in the lesson's own words.
    measured: the numbers the claim rests on (``ratio=3.2``), reported only when the claim fails.
    """
    if not isinstance(statement, str) or not statement.strip():
        raise TypeError("claim(holds, statement): statement must be the sentence being checked, a non-empty str")
    if hasattr(holds, "shape") and getattr(holds, "shape", ()) not in ((), (1,)):
        raise TypeError(
            f"claim(holds, ...): expected one truth value, got an array of shape {holds.shape}; "
            "reduce it first, e.g. with .all() or .any()")
    if bool(holds):
        print(f"claim holds: {statement}")
        return
    detail = f" (measured: {_describe(measured)})" if measured else ""
    raise ClaimFailed(f"claim does not hold: {statement}{detail}")
