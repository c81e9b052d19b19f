"""``OUTDIR/summary.html``: the class at a glance.

A histogram of scores (every graded submission, full marks included), the share of students who passed each check
(a student whose function did not run fails every check of it), how many students made each catalogued mistake
and how many failed a check for a reason no catalogued mistake explains (what the next lecture should revisit),
and the count of each status. plotly.js is written once beside it
(``OUTDIR/plotly.min.js``) and referenced, so the page stays small and opens offline; the page is byte-identical
when re-run on the same inputs (fixed element ids, no dates).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from html import escape
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

from .records import Status

PLOTLY_JS = "plotly.min.js"


def _graded(records):
    return [r for r in records if r.status is not Status.UNGRADED]


def pass_rates(records) -> dict[str, float]:
    """``"function: check"`` -> share of students who passed that check on every case.

    A student whose function did not run at all (only a "runs" row) counts as failing each of its checks; the
    denominator of a check is every student graded, not only those whose code got that far."""
    names: dict[str, list[str]] = {}          # function -> its check names, in first-seen order
    for record in records:
        for row in record.checks:
            checks = names.setdefault(row["function"], [])
            if row["name"] not in checks:
                checks.append(row["name"])
    passed: Counter = Counter()
    total: Counter = Counter()
    for record in _graded(records):
        verdict: dict[tuple[str, str], bool] = {}
        for row in record.checks:
            key = (row["function"], row["name"])
            verdict[key] = verdict.get(key, True) and bool(row["passed"])
        for function, checks in names.items():
            for name in checks:
                if name == "runs":           # "it ran" is not a check: a run that failed fails every check
                    continue
                key = f"{function}: {name}"
                total[key] += 1
                passed[key] += bool(verdict.get((function, name), False))
    return {key: passed[key] / total[key] for key in total}


@dataclass(frozen=True)
class Mistake:
    """One row of the "Most common mistakes" table: a catalogued mistake (``mistake`` its name, ``text`` its hint),
    or the failures of one check row that no catalogued mistake explains (``mistake`` "", ``check`` the row)."""

    students: int
    function: str
    text: str
    mistake: str = ""
    check: str = ""
    told: tuple = ()         # an uncatalogued failure: (hint, students) it was explained with, most students first


_STOPPED = (Status.ERROR, Status.TIMEOUT, Status.MEMORY)     # a "runs" row that counts (missing work does not)
_TOLD = 5                 # hints listed under an uncatalogued failure
_ECHO = " (the other cases show it; this one crashed on it)"     # what runner.explain_errors adds to a crash's hint


def _catalogued(spec, row) -> str:
    """The name of the catalogued mistake behind a failed row: recorded by the checks (``row["mistake"]``), or, for
    a case that crashed (its hint copied from the mistake that crashes alike) and for records written before that
    field existed, the mistake whose hint the row got word for word."""
    if row.get("mistake"):
        return row["mistake"]
    hint = row.get("hint") or ""
    for mistake in getattr(spec, "mistakes", ()) if hint else ():
        if hint == mistake.hint or hint == mistake.hint + _ECHO:
            return mistake.name
    return ""


def common_mistakes(exercise, records) -> list[Mistake]:
    """The class's mistakes, most students first: each catalogued mistake counted once per student who made it
    (on any case), and per check row the students whose failure no catalogued mistake explains (with the hints
    they got, one count per student per hint); code that raised, ran out of time or of memory is one row per
    function (``check`` "runs"), whether a whole case or one part of a class stopped. Not counted: rows that failed only because they reuse another
    failing row (``row["reuses"]``: that row is counted), and work not done (missing, not implemented)."""
    specs = {spec.name: spec for spec in exercise.functions}
    order = {name: i for i, name in enumerate(specs)}
    hints, check_order = {}, {}
    for spec in exercise.functions:
        for i, mistake in enumerate(spec.mistakes):
            hints[(spec.name, mistake.name)] = (mistake.hint, i)
        for i, check in enumerate(getattr(spec, "checks", ())):
            check_order[(spec.name, check.name)] = i
    counts: Counter = Counter()
    told: dict[tuple, Counter] = {}           # an uncatalogued failure: what its students were told
    for record in _graded(records):
        mine, hints_mine = set(), set()
        for row in record.checks:
            if row["passed"] or row.get("reuses"):
                continue
            name = _catalogued(specs.get(row["function"]), row)
            status = Status.parse(row.get("status", "ok"))
            if name:
                key = (row["function"], "mistake", name)
            elif status is not Status.OK:     # a "runs" row, or a part of a class that stopped (ex02's backward)
                if status not in _STOPPED:
                    continue
                key = (row["function"], "check", "runs")
            else:
                key = (row["function"], "check", row["name"])
                if row.get("hint"):
                    hints_mine.add((key, row["hint"]))
            mine.add(key)
        counts.update(mine)
        for key, hint in hints_mine:
            told.setdefault(key, Counter())[hint] += 1
    out = []
    for (function, kind, name), n in counts.items():
        if kind == "mistake":
            hint, rank = hints.get((function, name), (name, 0))
            out.append(((-n, order.get(function, len(order)), 0, rank), Mistake(n, function, hint, mistake=name)))
        else:
            rank = check_order.get((function, name), len(check_order))
            text = "failed for another reason" if name != "runs" else \
                "raised an error, ran out of time or of memory, and no catalogued mistake does the same"
            said = sorted(told.get((function, "check", name), Counter()).items(), key=lambda t: (-t[1], t[0]))
            out.append(((-n, order.get(function, len(order)), 1, rank, name),
                        Mistake(n, function, text, check=name, told=tuple(said[:_TOLD]))))
    return [m for _, m in sorted(out, key=lambda t: t[0])]


def _mistakes_table(exercise, records) -> str:
    rows = []
    for m in common_mistakes(exercise, records):
        if m.mistake:
            what = f"{escape(m.text)} <span class='name'>({escape(m.mistake)})</span>"
        elif m.check == "runs":
            what = f"<span class='other'>{escape(m.text)}</span>"
        else:
            what = f"<span class='other'>&ldquo;{escape(m.check)}&rdquo; {escape(m.text)}</span>"
        if m.told:
            what += ("<details><summary>what they were told</summary><ul>" +
                     "".join(f"<li>{escape(h)} ({n} student{'s' * (n > 1)})</li>" for h, n in m.told) +
                     "</ul></details>")
        rows.append(f"<tr><td>{m.students}</td><td><code>{escape(m.function)}</code></td><td>{what}</td></tr>")
    if not rows:
        return ""
    return ("<h2>Most common mistakes</h2><p class='explain'>Students per catalogued mistake (the hint they got; "
            "one count per student, however many cases it cost) and, per check, the students whose failure no "
            "catalogued mistake explains (&ldquo;what they were told&rdquo; lists their hints), most students "
            "first. Work not done (missing, not implemented) is in the status table.</p>"
            "<table><tr><th>students</th><th>function</th><th>mistake (the hint they got)</th></tr>"
            + "".join(rows) + "</table>")


def render(exercise, records, plotly_src: str = PLOTLY_JS) -> str:
    """The summary page's HTML for a list of result records (plotly.js loaded from ``plotly_src``)."""
    graded = _graded(records)
    scores = [r.score for r in graded]
    top = exercise.max_points
    size = max(top / 20, 1e-9)
    # bins [0, size), ..., [top - size, top + size): full marks fall in the last bin, never off the end
    hist = go.Figure(go.Histogram(x=scores, xbins=dict(start=0, end=top + size, size=size), marker_color="#3f6fb5"))
    hist.update_layout(title=f"Scores ({len(graded)} graded submissions, max {top:g})", xaxis_title="score",
                       yaxis_title="students", bargap=0.05, template="plotly_white", xaxis_range=[0, top + size])
    rates = pass_rates(records)
    keys = list(rates)
    bars = go.Figure(go.Bar(x=[rates[k] * 100 for k in keys], y=keys, orientation="h", marker_color="#2e9d5b",
                            text=[f"{rates[k]:.0%}" for k in keys], textposition="auto"))
    bars.update_layout(title="Students who passed each check", xaxis_title="% of students", xaxis_range=[0, 100],
                       yaxis_autorange="reversed", template="plotly_white", height=max(300, 28 * len(keys) + 120),
                       margin=dict(l=320))
    statuses = Counter(str(r.status) for r in records)
    mean = sum(scores) / len(scores) if scores else 0.0
    isolation = sorted({r.isolation for r in records if r.isolation})
    rows = "".join(f"<tr><td>{escape(s)}</td><td>{n}</td></tr>" for s, n in sorted(statuses.items()))
    mistakes_table = _mistakes_table(exercise, records)
    config = {"displaylogo": False, "responsive": True}
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(exercise.id)} summary</title>"
            f"<script src='{escape(plotly_src)}'></script>"
            "<style>body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}"
            "td,th{padding:.2rem .8rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
            "details{color:#555;font-size:.9rem}details ul{margin:.2rem 0}"
            ".isolation,.explain{color:#555;font-size:.9rem}.name{color:#777;font-size:.85rem}.other{font-style:italic}</style></head><body>"
            f"<h1>{escape(exercise.title)}: class summary</h1>"
            f"<p>{len(records)} submissions, {len(graded)} graded; mean score {mean:.3g} of {top:g}.</p>"
            + "".join(f"<p class='isolation'>Isolation: {escape(line)}</p>" for line in isolation) +
            f"<table><tr><th>status</th><th>submissions</th></tr>{rows}</table>{mistakes_table}"
            + pio.to_html(hist, include_plotlyjs=False, full_html=False, div_id="scores", config=config)
            + pio.to_html(bars, include_plotlyjs=False, full_html=False, div_id="pass-rates", config=config)
            + "</body></html>")


def write(outdir, exercise, records) -> None:
    """``OUTDIR/summary.html``, and ``OUTDIR/plotly.min.js`` once (rewritten only if plotly changed)."""
    from plotly.offline import get_plotlyjs

    from .gradebook import write_atomic
    outdir = Path(outdir)
    js = get_plotlyjs().encode("utf-8")
    target = outdir / PLOTLY_JS
    if not target.exists() or target.stat().st_size != len(js) or target.read_bytes() != js:
        write_atomic(target, js)
    write_atomic(outdir / "summary.html", render(exercise, records))
