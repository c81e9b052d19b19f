"""What ``check()`` shows: one row per check (its cases folded together), as an HTML table and as plain text.

Both forms are deterministic (no timings; a passing relative error is shown as the verdict "<= 1e-07", a failing
one with one significant digit), so a notebook's check output is the same on every run and nbval can compare it.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

from .spec import CheckResult

_SHORT = {"not_implemented": "TODO", "missing": "MISSING", "error": "ERROR", "timeout": "TIMEOUT",
          "memory": "MEMORY", "invalid": "INVALID"}
_STATUS_WORDS = {"not_implemented": "not implemented yet", "missing": "not defined yet", "error": "raised an error",
                 "timeout": "timed out", "memory": "ran out of memory", "invalid": "returned something unusable"}


@dataclass
class Row:
    """One check of one function, over all its cases."""

    function: str
    name: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def points(self) -> float:
        return sum(r.points for r in self.results)

    @property
    def max_points(self) -> float:
        return sum(r.max_points for r in self.results)

    @property
    def status(self) -> str:
        bad = [r.status for r in self.results if r.status != "ok"]
        return bad[0] if bad else "ok"

    @property
    def cases(self) -> str:
        return f"{sum(r.passed for r in self.results)}/{len(self.results)} cases"

    @property
    def first_failure(self) -> CheckResult | None:
        return next((r for r in self.results if not r.passed), None)

    @property
    def rel_error(self) -> str:
        """The relative error as words: "" when not measured, the verdict when it passed, one digit when not."""
        measured = [r for r in self.results if r.rel_error is not None and r.tolerance is not None]
        if not measured or len(measured) < len([r for r in self.results if r.status == "ok"]):
            return ""   # some case had the wrong shape (or no number): a relative error would mislead
            return ""
        worst = max(measured, key=lambda r: r.rel_error / r.tolerance)
        if worst.rel_error <= worst.tolerance:
            return f"<= {worst.tolerance:.0e}"
        return f"{worst.rel_error:.0e} > {worst.tolerance:.0e}"

    @property
    def verdict(self) -> str:
        """One word: ok, FAIL, or the status (TODO, ERROR, MISSING, ...)."""
        if self.passed:
            return "ok"
        return _SHORT.get(self.status, "FAIL")

    @property
    def title(self) -> str:
        return "runs without an error" if self.name == "runs" else self.name

    @property
    def note(self) -> str:
        return next((r.note for r in self.results if r.note), "")

    @property
    def worst_failure(self) -> CheckResult | None:
        """The failing case the relative-error column quotes (the largest error against its tolerance), else the
        first failing case."""
        measured = [r for r in self.results if not r.passed and r.rel_error is not None and r.tolerance]
        if measured:
            return max(measured, key=lambda r: r.rel_error / r.tolerance)
        return self.first_failure

    @property
    def details(self) -> tuple[str, str]:
        """(message, hint) of the worst failing case, the message naming that case."""
        bad = self.worst_failure
        if bad is None:
            return "", ""
        label = bad.case if bad.case.startswith("case") else f"case {bad.case}"
        where = f" ({label})" if bad.case and bad.status not in ("not_implemented", "missing") else ""
        return (bad.message + where if bad.message else ""), bad.hint


def _points(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if abs(x - round(x, 2)) < 1e-9 else f"{x:.2f}"


class CheckReport:
    """The result of ``check(...)``: ``.score``, ``.max_score``, ``.passed``, ``.results``; shows as a table."""

    def __init__(self, results: list[CheckResult], signatures: dict[str, str] | None = None):
        self.problems: list[str] = []   # one-line answers to a check() that could not run (bad argument, ...)
        self.warnings: list[str] = []   # what the checks cannot show but the grader will (own_code: bpkit used)
        self.results = list(results)
        self.signatures = dict(signatures or {})
        self.rows: list[Row] = []
        index: dict[tuple[str, str], Row] = {}
        for r in self.results:
            key = (r.function, r.name)
            if key not in index:
                index[key] = Row(r.function, r.name)
                self.rows.append(index[key])
            index[key].results.append(r)

    @classmethod
    def problem(cls, text: str) -> "CheckReport":
        """A report that is just one line saying why nothing could be checked."""
        report = cls([])
        report.problems = [text]
        return report

    def _hints(self, name: str, kind: str = "hint") -> dict[int, str]:
        """Row index -> hint (or note, or message), each distinct text shown once per function (on its first row)."""
        shown, out = set(), {}
        for i, row in enumerate(self._function_rows(name)):
            text = {"hint": row.details[1], "note": row.note, "message": row.details[0]}[kind]
            if kind == "message":   # the same error on every row of a part: once, without its case
                text = text.split(" (case ")[0] if text else text
            key = text.split(" (the other cases show it")[0]
            if text and key not in shown:
                shown.add(key)
                out[i] = text
            elif text and kind == "hint" and not row.passed:
                out[i] = "the same as above"     # a failing row never stands without a word
        return out

    @property
    def score(self) -> float:
        return round(sum(r.points for r in self.results), 9)

    @property
    def max_score(self) -> float:
        return round(sum(r.max_points for r in self.results), 9)

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    def functions(self) -> list[str]:
        return list(dict.fromkeys(r.function for r in self.results))

    def _function_rows(self, name: str) -> list[Row]:
        return [row for row in self.rows if row.function == name]

    @staticmethod
    def _summary(rows: list[Row]) -> str:
        if all(row.passed for row in rows):
            return f"all {len(rows)} checks pass" if len(rows) > 1 else "passes"
        statuses = {row.status for row in rows}
        if len(statuses) == 1 and (only := statuses.pop()) in _STATUS_WORDS:
            return _STATUS_WORDS[only]
        failed = sum(not row.passed for row in rows)
        return f"{failed} of {len(rows)} checks fail"

    # ---- plain text (what nbval compares) ----

    def __str__(self) -> str:
        lines = [f"check: {p}" for p in self.problems]
        for name in self.functions():
            rows = self._function_rows(name)
            hints, notes, messages = self._hints(name), self._hints(name, "note"), self._hints(name, "message")
            got, full = sum(r.points for r in rows), sum(r.max_points for r in rows)
            lines.append(f"{self.signatures.get(name, name)}: {_points(got)}/{_points(full)} points, "
                         f"{self._summary(rows)}")
            collapsed = len(rows) == 1 and rows[0].name == "runs"
            for i, row in enumerate(rows):
                if not collapsed:
                    error = f"  rel. error {row.rel_error}" if row.rel_error else ""
                    lines.append(f"  {row.verdict:<5} {row.title}"
                                 f"{error}  [{row.cases}, {_points(row.points)}/{_points(row.max_points)}]")
                message, hint = (row.details[0] if i in messages else ""), hints.get(i, "")
                if message and not (collapsed and row.status == "not_implemented"):
                    lines.append(f"        {message}")
                if hint:
                    lines.append(f"        hint: {hint}")
                if i in notes:
                    lines.append(f"        note: {notes[i]}")
        if len(self.functions()) > 1:
            lines.append(f"Total: {_points(self.score)}/{_points(self.max_score)} points")
        if self.warnings:
            lines.append("(grading will not give these points: read the warning below)")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    # ---- HTML (what a student sees in JupyterLab) ----

    def _repr_html_(self) -> str:
        e = html.escape
        out = [f'<p style="color:#cf222e;text-align:left"><b>check:</b> {e(p)}</p>' for p in self.problems]
        if not self.results:
            return "".join(out)
        cell = "text-align:left;vertical-align:top;padding:2px 8px"
        out += ['<table class="bpkit-check" style="border-collapse:collapse;text-align:left;width:100%;'
                'table-layout:auto">',
                "".join(f'<col style="width:{w}">' for w in ("18%", "22%", "5%", "8%", "6%", "6%", "35%")),
                "<thead><tr>" + "".join(f'<th style="{cell}">{h}</th>' for h in (
                    "function", "check", "result", "relative error", "cases", "points", "what to do")) +
                "</tr></thead><tbody>"]
        for name in self.functions():
            rows = self._function_rows(name)
            hints, notes, messages = self._hints(name), self._hints(name, "note"), self._hints(name, "message")
            for i, row in enumerate(rows):
                color = "#1a7f37" if row.passed else "#cf222e" if row.status in ("ok", "error") else "#9a6700"
                message, hint = (row.details[0] if i in messages else ""), hints.get(i, "")
                advice = "<br>".join(x for x in (e(message), f"<b>hint:</b> {e(hint)}" if hint else "",
                                                 f"<b>note:</b> {e(notes[i])}" if i in notes else "") if x)
                first = (f'<td rowspan="{len(rows)}" style="{cell}"><code style="white-space:normal">'
                         f'{e(self.signatures.get(name, name))}</code></td>') if i == 0 else ""
                figure = f"{cell};white-space:nowrap"         # "<= 1e-07", "4/4 cases": never split
                out.append(f"<tr>{first}<td style=\"{cell}\">{e(row.title)}</td>"
                           f'<td style="{cell};color:{color};font-weight:bold">{e(row.verdict)}</td>'
                           f'<td style="{figure}">{e(row.rel_error)}</td><td style="{figure}">{e(row.cases)}</td>'
                           f'<td style="{figure}">{_points(row.points)}&nbsp;/&nbsp;{_points(row.max_points)}</td>'
                           f'<td style="{cell}">{advice}</td></tr>')
        out.append("</tbody></table>")
        verdict = "every check passes" if self.passed else "some checks fail"
        if self.warnings:
            verdict += ", but read the warning below: grading will not give these points"
        out.append(f'<p style="text-align:left"><b>Score: {_points(self.score)} / {_points(self.max_score)}</b> '
                   f"({verdict})</p>")
        out += [f'<p style="color:#9a6700;text-align:left"><b>warning:</b> {e(w)}</p>' for w in self.warnings]
        return "".join(out)
