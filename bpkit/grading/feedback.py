"""Per-student feedback pages: ``OUTDIR/feedback/<student>.html``.

For every check: pass or fail, the points, the message and the hint. Never the hidden inputs, the reference
outputs or another student's name (the identical-file flag is for the instructor's gradebook only). Everything that
came from the submission (error messages, notes) is HTML-escaped: a submission cannot inject script into a page the
instructor or student opens.
"""
from __future__ import annotations

from html import escape

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top;font-size:.92rem}
td:nth-child(3){white-space:nowrap}th{background:#f4f4f4}.pass{color:#1a7f37;font-weight:600}.fail{color:#c62828;font-weight:600}
.score{font-size:1.4rem}.status{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;background:#eee}
.hint{color:#555;font-style:italic}
"""

def _by_check(rows) -> list[tuple[str, list]]:
    """Rows grouped by check name, in first-seen order (one check, several cases)."""
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(row["name"], []).append(row)
    return list(groups.items())


def _details(group) -> str:
    """Each distinct failure message once, with the cases it happened on, then each distinct hint once."""
    e = escape
    messages: dict[str, list[str]] = {}
    hints: list[str] = []
    for row in group:
        if row["passed"]:
            continue
        messages.setdefault(row.get("message") or "", []).append(row.get("case") or "")
        if row.get("hint") and row["hint"] not in hints:
            hints.append(row["hint"])
    out = []
    for message, cases in messages.items():
        where = "; ".join(c for c in cases if c)
        out.append(f"<div>{e(message)}{f' <span class=hint>({e(where)})</span>' if where else ''}</div>")
    out += [f"<div class='hint'>Hint: {e(h)}</div>" for h in hints]
    return "".join(out)


from .records import WORDS as STATUS_WORDS


def render(exercise, record) -> str:
    """The HTML page for one student's result record."""
    e = escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(exercise.id)} feedback: "
             f"{e(record.student)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{e(exercise.title)}</h1>",
             f"<p>Student: <b>{e(record.student)}</b></p>",
             f"<p class='score'>Score: <b>{record.score:.4g}</b> of {record.max_score:.4g}</p>",
             f"<p>Status: <span class='status'>{e(record.status)}</span> "
             f"{e(STATUS_WORDS.get(record.status, ''))}</p>"]
    if record.adjustment:
        parts.append(f"<p class='adjustment'>Adjusted by your instructor: {e(record.adjustment)}</p>")
    if record.message:
        parts.append(f"<p>{e(record.message)}</p>")
    by_function: dict[str, list] = {}
    for row in record.checks:
        by_function.setdefault(row["function"], []).append(row)
    for spec in exercise.functions:
        rows = by_function.get(spec.name, [])
        earned, total = sum(r["points"] for r in rows), sum(r["max_points"] for r in rows)
        parts.append(f"<h2><code>{e(spec.signature)}</code>: {earned:.4g} of {total:.4g} points</h2>")
        parts.append("<table><tr><th>check</th><th>result</th><th>points</th><th>what happened</th></tr>")
        for name, group in _by_check(rows):
            passed = sum(bool(r["passed"]) for r in group)
            verdict = ("<span class='pass'>pass</span>" if passed == len(group) else
                       f"<span class='fail'>fail</span> ({passed} of {len(group)} cases passed)" if len(group) > 1
                       else "<span class='fail'>fail</span>")
            points = sum(r["points"] for r in group), sum(r["max_points"] for r in group)
            parts.append(f"<tr><td>{e(name)}</td><td>{verdict}</td><td>{points[0]:.3g} / {points[1]:.3g}</td>"
                         f"<td>{_details(group)}</td></tr>")
        parts.append("</table>")
    notes = list(record.notes)
    notes += [f"{name} is not available while grading (it is part of the course's reference code)"
              for name in record.blocked_imports]
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    parts.append("<p class='hint'>Inputs were drawn at random for you alone; run check() in your notebook to see "
                 "the public cases.</p></body></html>")
    return "\n".join(parts)
