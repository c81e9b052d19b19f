"""Gradient descent on a function of one variable, with a learning-rate slider: too small, right, oscillating,
diverging. The figure shows the iterates on the curve (left) and the loss per step (right)."""
from __future__ import annotations

import numpy as np

from ._dashboard import Dashboard, log_slider


def gradient_descent_1d(df, x0: float, lr: float, steps: int) -> np.ndarray:
    """Iterates x_{t+1} = x_t - lr * df(x_t): returns (steps + 1,), x0 first; stops early once |x| > 1e6."""
    xs = [float(x0)]
    for _ in range(int(steps)):
        xs.append(xs[-1] - lr * float(df(xs[-1])))
        if not abs(xs[-1]) < 1e6:
            break
    return np.array(xs)


def classify_run(xs: np.ndarray, losses: np.ndarray, grads: np.ndarray) -> str:
    """Name what a run did: "diverges" (the loss ends above where it started), "too small" (after all its steps
    the gradient is still above 10% of the first one), "oscillates" (converges, but jumping across the minimum
    on most steps), or "converges" (steadily)."""
    if not np.all(np.isfinite(losses)) or losses[-1] > losses[0]:
        return "diverges"
    if abs(grads[-1]) > 0.1 * abs(grads[0]):
        return "too small"
    steps = np.diff(xs)
    flips = np.mean(np.sign(steps[1:]) != np.sign(steps[:-1])) if len(steps) > 1 else 0.0
    return "oscillates" if flips > 0.5 else "converges"


VERDICTS = {
    "too small": "the learning rate is <b>too small</b>: every step is safe but tiny; it has not arrived yet",
    "converges": "a <b>good</b> learning rate: steady steps down to the minimum",
    "oscillates": "the learning rate is <b>large</b>: each step overshoots the minimum, yet the jumps shrink",
    "diverges": "the learning rate is <b>too large</b>: each overshoot is bigger than the last; the loss explodes",
}


class GradientDescentExplorer(Dashboard):
    """Widgets: ``lr`` (FloatLogSlider), ``steps`` (IntSlider), ``verdict`` (HTML).
    Figure ``fig``: data[0] the curve f, data[1] the iterates (x_t, f(x_t)), data[2] f(x_t) against t.

    f, df: the function and its derivative, vectorized (default f(x) = x^2, whose thresholds are lr = 0.5 for
    "one step lands on the minimum" and lr = 1 for divergence).
    """

    def __init__(self, f=None, df=None, x0: float = 2.5, lr: float = 0.1, steps: int = 20,
                 x_range=(-3.0, 3.0), lr_range=(1e-3, 1.5)):
        import ipywidgets as widgets
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        if (f is None) != (df is None):
            raise ValueError("f and df: expected both (a function and its derivative) or neither")
        self.f = f if f is not None else (lambda x: np.asarray(x, dtype=np.float64) ** 2)
        self.df = df if df is not None else (lambda x: 2.0 * np.asarray(x, dtype=np.float64))
        self.x0, self.x_range = float(x0), x_range
        self.lr = log_slider("learning rate", lr, *lr_range, readout_format=".3f")
        self.steps = widgets.IntSlider(value=steps, min=1, max=100, description="steps", continuous_update=False)
        self.verdict = widgets.HTML()
        grid = np.linspace(*x_range, 301)
        fig = make_subplots(rows=1, cols=2, subplot_titles=("iterates on f(x)", "loss per step"))
        fig.add_trace(go.Scatter(x=grid, y=self.f(grid), mode="lines", name="f(x)",
                                 line={"color": "#888"}), row=1, col=1)
        fig.add_trace(go.Scatter(mode="lines+markers", name="x_t", line={"color": "#d62728"},
                                 marker={"size": 7}), row=1, col=1)
        fig.add_trace(go.Scatter(mode="lines+markers", name="f(x_t)", line={"color": "#1f77b4"}), row=1, col=2)
        fig.update_xaxes(title_text="x", range=list(x_range), row=1, col=1)
        fig.update_yaxes(title_text="f(x)", range=[float(np.min(self.f(grid))) - 0.5,
                                                   float(np.max(self.f(grid))) * 1.1], row=1, col=1)
        fig.update_xaxes(title_text="step t", row=1, col=2)
        fig.update_yaxes(title_text="f(x_t)", type="log", row=1, col=2)
        fig.update_layout(height=380, showlegend=False, margin={"t": 40, "b": 40})
        self.fig = go.FigureWidget(fig)
        self.lr.observe(self.update, names="value")
        self.steps.observe(self.update, names="value")
        self.ui = widgets.VBox([widgets.HBox([self.lr, self.steps]), self.verdict, self.fig])
        self.update()

    def run(self):
        """(xs, losses, verdict) for the current slider values."""
        xs = gradient_descent_1d(self.df, self.x0, self.lr.value, self.steps.value)
        with np.errstate(over="ignore", invalid="ignore"):
            losses = np.asarray(self.f(xs), dtype=np.float64)
            grads = np.asarray(self.df(xs), dtype=np.float64)
        return xs, losses, classify_run(xs, losses, grads)

    def update(self, change=None) -> None:
        xs, losses, verdict = self.run()
        with self.fig.batch_update():
            self.fig.data[1].x, self.fig.data[1].y = xs, losses
            self.fig.data[2].x, self.fig.data[2].y = np.arange(len(xs)), losses
        self.verdict.value = f"lr = {self.lr.value:.3g}: {VERDICTS[verdict]} (f = {losses[-1]:.3g} " \
                             f"after {len(xs) - 1} steps)"
        self.last_verdict = verdict
