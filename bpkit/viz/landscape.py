"""Loss landscapes as Plotly figures: a surface and a contour side by side, optimizer or training paths overlaid.

- ``loss_landscape_2d(f, x_range, y_range, paths=...)``: any function of two parameters (lessons 06-07).
- ``network_landscape(model, loss_fn, X, y)``: a trained network's loss on a plane through its weights spanned by two
  filter-normalized random directions (Li et al. 2018), optionally with its training path projected onto the plane.
  It returns a ``NetworkLandscape`` (the numbers); ``.figure()`` draws it.

The computation lives in ``loss_grid`` and ``directions``; this module only assembles and draws.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .directions import (filter_normalized_direction, flatten, parameter_arrays, pca_directions, project_path,
                         unflatten)
from .loss_grid import loss_grid, loss_on_plane

PATH_COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


def function_grid(f, x_range=(-2.0, 2.0), y_range=(-2.0, 2.0), resolution: int = 81):
    """Evaluate ``f(x, y)`` on a grid. f takes two arrays of one shape (NumPy broadcasting) and returns that shape.

    Returns xs (R,), ys (R,), Z (R, R) with Z[i, j] = f(xs[j], ys[i]) (Plotly's row = y convention).
    """
    x_range, y_range = _check_range(x_range, "x_range"), _check_range(y_range, "y_range")
    if int(resolution) < 2:
        raise ValueError(f"resolution: expected at least 2 points per axis, got {resolution}")
    xs, ys = np.linspace(*x_range, int(resolution)), np.linspace(*y_range, int(resolution))
    Xg, Yg = np.meshgrid(xs, ys)
    Z = np.asarray(f(Xg, Yg), dtype=np.float64)
    if Z.shape != Xg.shape:
        raise ValueError(f"f: expected f(x, y) to return the shape of its inputs {Xg.shape} (use NumPy "
                         f"functions so it works on arrays), got shape {Z.shape}")
    return xs, ys, Z


def clip_path_to_window(path, heights, x_range, y_range, z_range):
    """A 3-D path with every point outside the drawn box replaced by NaN (a gap in the line), so a diverging
    optimizer cannot stretch the axes until the surface shrinks to nothing. path (T, 2), heights (T,) ->
    (x, y, z), each (T,)."""
    path = np.asarray(path, dtype=np.float64)
    x, y, z = path[:, 0].copy(), path[:, 1].copy(), np.asarray(heights, dtype=np.float64).copy()
    with np.errstate(invalid="ignore"):
        outside = ((x < x_range[0]) | (x > x_range[1]) | (y < y_range[0]) | (y > y_range[1])
                   | ~np.isfinite(z) | (z > z_range[1]))
    x[outside], y[outside], z[outside] = np.nan, np.nan, np.nan
    return x, y, z


def wrap_title(text: str, width: int = 90) -> str:
    """Break a long title into lines of at most ``width`` characters (Plotly's <br>), at spaces."""
    import textwrap

    return "<br>".join(textwrap.wrap(str(text), width)) if text else ""


def landscape_figure(xs, ys, Z, paths=None, path_z=None, title: str = "", log_scale: bool = False,
                     z_label: str = "loss", axis_labels=("x", "y"), surface: bool = True, height: int = 480,
                     widget: bool = False):
    """Draw Z (len(ys), len(xs)) as a surface (left) and a contour (right), with paths on both.

    paths: {name: (T, 2) array of (x, y)}; path_z: {name: (T,) heights on the surface} (default: no 3-D path).
    log_scale: draw log10(1 + Z - min Z), which shows the floor of a valley that spans decades.
    widget: return a ``go.FigureWidget`` (for dashboards) instead of a ``go.Figure``.
    Both panels keep the landscape's own ranges: a path that leaves it is cut at the edge (the contour's axes are
    fixed; on the surface, points outside the box become gaps), so a diverging path never hides the landscape.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    Z = np.asarray(Z, dtype=np.float64)
    shift = np.nanmin(Z) if log_scale else 0.0
    view = (lambda z: np.log10(1 + np.maximum(np.asarray(z, dtype=np.float64) - shift, 0.0))) if log_scale \
        else (lambda z: np.asarray(z, dtype=np.float64))
    label = f"log10(1 + {z_label} - min)" if log_scale else z_label
    paths, path_z = dict(paths or {}), dict(path_z or {})
    x_range, y_range = [float(xs[0]), float(xs[-1])], [float(ys[0]), float(ys[-1])]
    zv = view(Z)
    z_range = [float(np.nanmin(zv)), float(np.nanmax(zv))]
    if surface:
        fig = make_subplots(rows=1, cols=2, specs=[[{"type": "scene"}, {"type": "xy"}]],
                            column_widths=[0.5, 0.5], horizontal_spacing=0.08)
        fig.add_trace(go.Surface(x=xs, y=ys, z=zv, colorscale="Viridis", showscale=False, name=z_label,
                                 contours={"z": {"show": True, "usecolormap": True, "project_z": True}}),
                      row=1, col=1)
        contour_at = {"row": 1, "col": 2}
    else:
        fig, contour_at = make_subplots(rows=1, cols=1), {"row": 1, "col": 1}
    fig.add_trace(go.Contour(x=xs, y=ys, z=zv, colorscale="Viridis", ncontours=30, name=z_label,
                             colorbar={"title": {"text": label, "side": "right"}, "len": 0.85, "thickness": 14}),
                  **contour_at)
    for k, (name, path) in enumerate(paths.items()):
        path = np.asarray(path, dtype=np.float64)
        color = PATH_COLORS[k % len(PATH_COLORS)]
        fig.add_trace(go.Scatter(x=path[:, 0], y=path[:, 1], mode="lines+markers", name=name, legendgroup=name,
                                 line={"color": color, "width": 2}, marker={"size": 4}), **contour_at)
        if surface and name in path_z:
            px, py, pz = clip_path_to_window(path, view(path_z[name]), x_range, y_range, z_range)
            fig.add_trace(go.Scatter3d(x=px, y=py, z=pz, mode="lines+markers",
                                       name=name, legendgroup=name, showlegend=False,
                                       line={"color": color, "width": 5}, marker={"size": 2, "color": color}),
                          row=1, col=1)
    fig.update_xaxes(title_text=axis_labels[0], range=x_range, **contour_at)
    fig.update_yaxes(title_text=axis_labels[1], range=y_range, **contour_at)
    if surface:
        small = {"title": {"font": {"size": 11}}, "tickfont": {"size": 9}}
        fig.update_scenes(xaxis={"title": {"text": axis_labels[0]}, "range": x_range, **small},
                          yaxis={"title": {"text": axis_labels[1]}, "range": y_range, **small},
                          zaxis={"title": {"text": label}, "range": z_range, **small},
                          aspectmode="manual", aspectratio={"x": 1, "y": 1, "z": 0.7},
                          camera={"eye": {"x": 1.45, "y": -1.45, "z": 0.95}, "center": {"x": 0, "y": 0, "z": -0.1}},
                          domain={"x": [0.0, 0.44], "y": [0.04, 0.96]})
    fig.update_layout(title={"text": wrap_title(title), "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
                      height=height, margin={"l": 30, "r": 20, "t": 70 if "<br>" in wrap_title(title) else 50,
                                             "b": 30},
                      legend={"orientation": "h", "y": -0.12})
    return go.FigureWidget(fig) if widget else fig


def loss_landscape_2d(f, x_range=(-2.0, 2.0), y_range=(-2.0, 2.0), paths=None, resolution: int = 81,
                      title: str = "", log_scale: bool = False, surface: bool = True, axis_labels=("x", "y")):
    """Surface + contour of ``f(x, y)`` with optimizer paths overlaid; returns a ``go.Figure``.

    f: vectorized function of two arrays (e.g. ``lambda x, y: x**2 + 10*y**2``).
    paths: {name: (T, 2) array of points}, e.g. the iterates of each optimizer; drawn on both panels.
    """
    xs, ys, Z = function_grid(f, x_range, y_range, resolution)
    paths = {name: _as_path(p, name) for name, p in (paths or {}).items()}
    heights = {name: np.asarray(f(p[:, 0], p[:, 1]), dtype=np.float64) for name, p in paths.items()}
    return landscape_figure(xs, ys, Z, paths, heights, title=title, log_scale=log_scale, surface=surface,
                            axis_labels=axis_labels, z_label="f")


@dataclass
class NetworkLandscape:
    """A network's loss on the plane theta* + alpha d1 + beta d2: the numbers, and ``figure()`` to draw them.

    alphas (A,), betas (B,), losses (B, A); d1, d2: the directions (lists in ``parameters()`` order);
    path: (T, 2) projected training path or None, path_losses: (T,) the loss at the projected points;
    seconds: the time the grid took.
    """

    alphas: np.ndarray
    betas: np.ndarray
    losses: np.ndarray
    d1: list
    d2: list
    center_loss: float
    path: np.ndarray | None = None
    path_losses: np.ndarray | None = None
    seconds: float = 0.0
    info: dict = field(default_factory=dict)

    def figure(self, title: str | None = None, log_scale: bool = False, surface: bool = True):
        """Surface + contour of the losses, the trained weights marked at (0, 0), the path if there is one."""
        import plotly.graph_objects as go

        paths, heights = {}, {}
        if self.path is not None:
            paths["training path"], heights["training path"] = self.path, self.path_losses
        title = title or f"loss landscape ({self.info.get('directions', 'random')} directions)"
        fig = landscape_figure(self.alphas, self.betas, self.losses, paths, heights, title=title,
                               log_scale=log_scale, surface=surface, axis_labels=("alpha (d1)", "beta (d2)"))
        fig.add_trace(go.Scatter(x=[0.0], y=[0.0], mode="markers", name="trained weights",
                                 marker={"symbol": "x", "size": 10, "color": "white",
                                         "line": {"width": 1, "color": "black"}}),
                      row=1, col=2 if surface else 1)
        return fig


def network_landscape(model, loss_fn, X, y, steps: int = 51, span: float = 1.0, seed=0,
                      include_bias: bool = False, path=None, directions: str = "random", method: str = "auto",
                      dtype=np.float32) -> NetworkLandscape:
    """The loss of ``model`` (its current, trained weights theta*) on a steps x steps grid of
    theta* + alpha d1 + beta d2, alpha and beta in [-span, span].

    directions: "random" (two filter-normalized Gaussian directions drawn from ``seed``; biases zeroed unless
    ``include_bias``) or "pca" (the path's two principal directions, which need ``path``; the grid then spans the
    projected path with a margin). path: optional training path, a list of snapshots (``parameter_vector(model)``
    recorded e.g. once per epoch from ``fit``'s callback), projected onto the plane.
    method/dtype: see ``loss_on_plane``. X: (N, ...) inputs, y: targets for loss_fn.
    """
    steps = int(steps)
    if steps < 2:
        raise ValueError(f"steps: expected at least 2 grid points per axis, got {steps}")
    if not span > 0:
        raise ValueError(f"span: expected a positive half-width, got {span}")
    center = parameter_arrays(model)
    alphas = betas = np.linspace(-span, span, steps)
    if directions == "random":
        d1 = filter_normalized_direction(model, seed=seed, include_bias=include_bias)
        d2 = filter_normalized_direction(model, seed=_next_seed(seed), include_bias=include_bias)
    elif directions == "pca":
        if path is None or len(path) < 2:
            raise ValueError("directions='pca': expected a training path of at least 2 snapshots, got none")
        v1, v2, explained = pca_directions(path, center)
        d1, d2 = unflatten(v1, center), unflatten(v2, center)
        coords = project_path(path, center, v1, v2)
        reach = 1.2 * np.max(np.abs(coords), axis=0) + 1e-12
        alphas, betas = np.linspace(-reach[0], reach[0], steps), np.linspace(-reach[1], reach[1], steps)
    else:
        raise ValueError(f"directions: expected 'random' or 'pca', got {directions!r}")
    start = time.perf_counter()
    losses = loss_grid(model, loss_fn, X, y, d1, d2, alphas, betas, method=method, dtype=dtype)
    seconds = time.perf_counter() - start
    center_loss = float(loss_on_plane(model, loss_fn, X, y, d1, d2, [0.0], [0.0], method=method, dtype=dtype)[0])
    projected = path_losses = None
    if path is not None:
        projected = project_path(path, center, flatten(d1), flatten(d2))
        path_losses = loss_on_plane(model, loss_fn, X, y, d1, d2, projected[:, 0], projected[:, 1],
                                    method=method, dtype=dtype)
    info = {"directions": directions, "samples": len(X), "grid": f"{steps}x{steps}",
            "parameters": int(sum(c.size for c in center))}
    if directions == "pca":
        info["explained_variance"] = [float(e) for e in explained]
    return NetworkLandscape(alphas, betas, losses, d1, d2, center_loss, projected, path_losses, seconds, info)


def _next_seed(seed):
    """A second, independent stream for the second direction (an int seed s gives s and s + 1)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return None if seed is None else int(seed) + 1


def _check_range(r, name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in r)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a pair (low, high) of numbers, got {r!r}") from None
    if not hi > lo:
        raise ValueError(f"{name}: expected low < high, got ({lo}, {hi})")
    return lo, hi


def _as_path(path, name) -> np.ndarray:
    path = np.asarray(path, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] != 2:
        raise ValueError(f"paths[{name!r}]: expected shape (T, 2) of (x, y) points, got shape {path.shape}")
    return path
