"""``OUTDIR/summary.html``: the class at a glance, opening offline (plotly.js is embedded from the plotly package).

A histogram of scores, the pass rate of every check across the class, the hints most students received (the
mistakes the next lecture should revisit), and the count of each status.
"""
from __future__ import annotations

from collections import Counter
from html import escape

import plotly.graph_objects as go
import plotly.io as pio


def pass_rates(records) -> dict[str, float]:
    """``"function: check"`` -> fraction of check rows passed, over all students and cases."""
    passed: Counter = Counter()
    total: Counter = Counter()
    for record in records:
        for row in record.checks:
            key = f"{row['function']}: {row['name']}"
            total[key] += 1
            passed[key] += bool(row["passed"])
    return {key: passed[key] / total[key] for key in total}


def common_hints(records, top: int = 10) -> list[tuple[str, str, int]]:
    """``(function, hint, students)`` for the hints most students received: the class's common mistakes."""
    counts: Counter = Counter()
    for record in records:
        counts.update({(row["function"], row["hint"]) for row in record.checks
                       if not row["passed"] and row.get("hint")})
    return [(f, h, n) for (f, h), n in counts.most_common(top)]


def render(exercise, records) -> str:
    """The summary page's HTML for a list of result records."""
    scores = [r.score for r in records]
    hist = go.Figure(go.Histogram(x=scores, xbins=dict(start=0, end=exercise.max_points + 1e-9,
                                                         size=max(exercise.max_points / 20, 1e-9)),
                                  marker_color="#3f6fb5"))
    hist.update_layout(title=f"Scores ({len(records)} submissions, max {exercise.max_points:g})",
                       xaxis_title="score", yaxis_title="students", bargap=0.05, template="plotly_white")
    rates = pass_rates(records)
    keys = list(rates)
    bars = go.Figure(go.Bar(x=[rates[k] * 100 for k in keys], y=keys, orientation="h", marker_color="#2e9d5b",
                            text=[f"{rates[k]:.0%}" for k in keys], textposition="auto"))
    bars.update_layout(title="Pass rate of each check", xaxis_title="% of check rows passed",
                       xaxis_range=[0, 100], yaxis_autorange="reversed", template="plotly_white",
                       height=max(300, 28 * len(keys) + 120), margin=dict(l=320))
    statuses = Counter(str(r.status) for r in records)
    mean = sum(scores) / len(scores) if scores else 0.0
    isolation = sorted({r.isolation for r in records if r.isolation})
    rows = "".join(f"<tr><td>{escape(s)}</td><td>{n}</td></tr>" for s, n in sorted(statuses.items()))
    mistakes = "".join(f"<tr><td>{n}</td><td><code>{escape(f)}</code></td><td>{escape(h)}</td></tr>"
                       for f, h, n in common_hints(records))
    mistakes_table = ("<h2>Most common mistakes</h2><table><tr><th>students</th><th>function</th><th>hint they got"
                      f"</th></tr>{mistakes}</table>") if mistakes else ""
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(exercise.id)} summary</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}"
            "td,th{padding:.2rem .8rem;border-bottom:1px solid #ddd}</style></head><body>"
            f"<h1>{escape(exercise.title)}: class summary</h1>"
            f"<p>{len(records)} submissions; mean score {mean:.3g} of {exercise.max_points:g}.</p>"
            + "".join(f"<p class='isolation'>Isolation: {escape(line)}</p>" for line in isolation) +
            f"<table><tr><th>status</th><th>submissions</th></tr>{rows}</table>{mistakes_table}"
            + pio.to_html(hist, include_plotlyjs=True, full_html=False)
            + pio.to_html(bars, include_plotlyjs=False, full_html=False)
            + "</body></html>")
