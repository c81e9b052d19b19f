"""A classifier's decision regions on a 2-D dataset, drawn as a Plotly heatmap that redraws while the model trains.

    boundary = DecisionBoundary(model, X, y)
    boundary.fig                                     # a go.FigureWidget: shows live in JupyterLab
    fit(model, ..., callback=boundary.callback)      # redraws every ``every`` epochs
    boundary.figure()                                # a static go.Figure of the current state (kept in the notebook)
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, require_ndim
from ..nn.layers import sigmoid
from ..nn.losses import softmax
from ..nn.model import predict

CLASS_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


class DecisionBoundary:
    """Heatmap of ``model``'s prediction over the plane around X (N, 2), with the labelled points on top.

    Two classes (two logits, or one logit for ``bce_with_logits``): the heatmap is P(class 1), from 0 to 1.
    More classes: the predicted class (argmax), one color per class.
    Attributes: ``fig`` (go.FigureWidget; ``fig.data[0]`` the heatmap, then one scatter per class), ``xs``, ``ys``.
    """

    def __init__(self, model, X, y, resolution: int = 120, margin: float = 0.25, every: int = 10,
                 title: str = "decision regions"):
        import plotly.graph_objects as go

        X = as_float_array(X, "X")
        require_ndim(X, 2, "X", "(N, 2)")
        if X.shape[1] != 2:
            raise ValueError(f"X: expected 2 features (a point in the plane) per row, got shape {X.shape}")
        self.model, self.X, self.y = model, X, np.asarray(y)
        self.every, self.title = max(1, int(every)), title
        lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
        self.xs, self.ys = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
        gx, gy = np.meshgrid(self.xs, self.ys)
        self._grid = np.column_stack([gx.ravel(), gy.ravel()])
        self.classes = np.unique(self.y)
        z = self.values()
        heat = go.Heatmap(x=self.xs, y=self.ys, z=z, opacity=0.55, hoverinfo="skip", **self._colors())
        points = [go.Scatter(x=X[self.y == c, 0], y=X[self.y == c, 1], mode="markers", name=f"class {c}",
                             marker={"color": CLASS_COLORS[i % len(CLASS_COLORS)], "size": 6,
                                     "line": {"width": 0.5, "color": "white"}})
                  for i, c in enumerate(self.classes)]
        layout = go.Layout(title=title, height=460, width=560, xaxis={"title": "x1", "range": [lo[0], hi[0]]},
                           yaxis={"title": "x2", "range": [lo[1], hi[1]], "scaleanchor": "x"},
                           margin={"l": 40, "r": 10, "t": 50, "b": 40})
        self.fig = go.FigureWidget(data=[heat, *points], layout=layout)

    def values(self) -> np.ndarray:
        """The heatmap (len(ys), len(xs)): P(class 1) for two classes, else the predicted class index."""
        out = predict(self.model, self._grid.astype(self.X.dtype))
        if out.ndim == 1 or out.shape[1] == 1:
            z = sigmoid(out.reshape(-1))
        elif len(self.classes) <= 2 and out.shape[1] == 2:
            z = softmax(out)[:, 1]
        else:
            z = out.argmax(axis=1).astype(np.float64)
        return z.reshape(len(self.ys), len(self.xs))

    def update(self, subtitle: str = "") -> None:
        """Recompute the heatmap from the model's current weights and redraw it."""
        with self.fig.batch_update():
            self.fig.data[0].z = self.values()
            self.fig.layout.title.text = f"{self.title}{' - ' + subtitle if subtitle else ''}"

    def callback(self, history, epoch: int) -> None:
        """For ``fit(..., callback=boundary.callback)``: redraw every ``every`` epochs, with the epoch and loss."""
        if (epoch + 1) % self.every == 0 or epoch == 0:
            text = f"epoch {epoch + 1}, loss {history.epoch_loss[-1]:.3f}"
            if history.epoch_accuracy:
                text += f", accuracy {history.epoch_accuracy[-1]:.2f}"
            self.update(text)

    def figure(self):
        """A static ``go.Figure`` copy of the current state (it stays visible in a saved notebook)."""
        import plotly.graph_objects as go
        return go.Figure(self.fig)

    def _colors(self) -> dict:
        if len(self.classes) <= 2:
            return {"colorscale": [[0, CLASS_COLORS[0]], [0.5, "#ffffff"], [1, CLASS_COLORS[1]]], "zmin": 0,
                    "zmax": 1, "colorbar": {"title": {"text": "P(class 1)"}}}
        k = len(self.classes)
        scale = []
        for i in range(k):
            color = CLASS_COLORS[i % len(CLASS_COLORS)]
            scale += [[i / k, color], [(i + 1) / k, color]]
        return {"colorscale": scale, "zmin": -0.5, "zmax": k - 0.5, "showscale": False}
