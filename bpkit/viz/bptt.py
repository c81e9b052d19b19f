"""Backpropagation through time, drawn: an unrolled RNN whose hidden states light up as the gradient reaches them.

``bptt_figure({0: 0.04, 1: 0.11, 2: 0.37, 3: 1.16})`` draws x1..xT -> h1..hT -> loss (the forward graph), with a
slider "backward steps" from 0 to T: after k steps the last k states are red and labelled with their gradient's
norm |dh_t|. The slider uses Plotly frames, so it works in a static copy of the page as well (no kernel needed).
"""
from __future__ import annotations

import plotly.graph_objects as go

__all__ = ["bptt_figure"]

GREY, RED = "lightgray", "crimson"


def _states(norms: dict[int, float], k: int) -> go.Scatter:
    """The hidden states after k backward steps: states T-1 .. T-k have their gradient (red, with its norm)."""
    T = len(norms)
    done = [t >= T - k for t in range(T)]
    labels = [f"h{t + 1}<br>|dh|={norms[t]:.2f}" if d else f"h{t + 1}" for t, d in enumerate(done)]
    return go.Scatter(x=list(range(T)), y=[1] * T, mode="markers+text", text=labels, textposition="top center",
                      marker=dict(size=34, color=[RED if d else GREY for d in done]), showlegend=False,
                      hoverinfo="skip")


def bptt_figure(norms: dict[int, float], title: str = "backprop through time: the gradient walks from the loss "
                "back to h1") -> go.Figure:
    """The unrolled RNN with a "backward steps" slider (0 .. T).

    norms: {t: |dL/dh_t|} for t = 0 .. T-1 (the printout's count); the figure numbers the states h1 .. hT.
    Returns a ``plotly.graph_objects.Figure`` with T + 1 frames named "0" .. "T"; trace 2 is the hidden states.
    """
    T = len(norms)
    if sorted(norms) != list(range(T)):
        raise ValueError(f"norms must have the keys 0 .. T-1, got {sorted(norms)}")
    fig = go.Figure()
    arrow = dict(xref="x", yref="y", axref="x", ayref="y", arrowhead=2, arrowsize=1.2, showarrow=True, text="")
    for t in range(T):                                   # x_t -> h_t, ending at the rim of the circles
        fig.add_annotation(x=t, y=0.86, ax=t, ay=0.14, **arrow)
        if t:                                            # h_{t-1} -> h_t, labelled W_h above its middle
            fig.add_annotation(x=t - 0.15, y=1, ax=t - 0.85, ay=1, **arrow)
            fig.add_annotation(x=t - 0.5, y=0.9, text="W<sub>h</sub>", showarrow=False, font=dict(size=13))
    fig.add_annotation(x=T - 0.3, y=1.52, ax=T - 0.88, ay=1.12, **arrow)
    fig.add_scatter(x=list(range(T)), y=[0] * T, mode="markers+text", text=[f"x{t + 1}" for t in range(T)],
                    textposition="bottom center", marker=dict(size=26, color="steelblue"), showlegend=False,
                    hoverinfo="skip")
    fig.add_scatter(x=[T - 0.2], y=[1.6], mode="markers+text", text=["loss"], textposition="middle right",
                    marker=dict(size=30, color="orange", symbol="square"), showlegend=False, hoverinfo="skip")
    fig.add_trace(_states(norms, 0))
    fig.frames = [go.Frame(data=[_states(norms, k)], traces=[2], name=str(k)) for k in range(T + 1)]
    fig.update_layout(
        title=title, height=380, width=700, plot_bgcolor="white", margin=dict(t=60, b=20, l=20, r=20),
        xaxis=dict(visible=False, range=[-0.6, T + 0.4]), yaxis=dict(visible=False, range=[-0.5, 2]),
        sliders=[dict(active=0, currentvalue=dict(prefix="backward steps: "), pad=dict(t=10),
                      steps=[dict(label=str(k), method="animate",
                                  args=[[str(k)], dict(mode="immediate", frame=dict(duration=0, redraw=True))])
                             for k in range(T + 1)])])
    return fig
