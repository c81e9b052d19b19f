"""SGD, Momentum, Nesterov, Adagrad, RMSProp and Adam raced on a 2-D landscape (surface and contour), each at its
own learning rate: the best one of a sweep on that landscape (``point_optimizers.lr_sweep``), times a common factor
the student moves. Sliders for that factor, the betas and the number of steps. The update rules are
``bpkit.nn.optim``'s (see ``point_optimizers``)."""
from __future__ import annotations

import numpy as np

from ._dashboard import Dashboard, log_slider
from .landscape import PATH_COLORS, clip_path_to_window, function_grid, wrap_title
from .point_optimizers import OPTIMIZERS, best_learning_rates, lr_sweep, race
from .surfaces import SURFACES, get_surface

LR_GRID = np.geomspace(1e-4, 10.0, 31)   # the learning rates a sweep tries: 6 per decade
MAX_DRAWN = 200                          # points drawn per path (the race itself runs every step)
RACES_KEPT = 64                          # races remembered per widget (a 1000-step race of six is ~100 KB)


def tuned_learning_rates(surface, optimizers=OPTIMIZERS, steps: int | None = None, beta1: float = 0.9,
                         beta2: float = 0.999, lrs=LR_GRID) -> dict:
    """{optimizer: its best learning rate on ``surface``}: the lowest f after ``steps`` (default surface.steps)."""
    surface = get_surface(surface)
    sweep = lr_sweep(surface, lrs, steps or surface.steps, optimizers, beta1, beta2)
    return best_learning_rates(sweep, lrs)


def thin(path: np.ndarray, max_points: int = MAX_DRAWN) -> np.ndarray:
    """At most ``max_points`` rows of ``path``, evenly spaced, the first and the last always kept."""
    if len(path) <= max_points:
        return path
    keep = np.unique(np.round(np.linspace(0, len(path) - 1, max_points)).astype(int))
    return path[keep]


class OptimizerRace(Dashboard):
    """Widgets: ``surface`` (Dropdown of ``SURFACES``), ``lr_scale`` (FloatLogSlider: every optimizer runs at its
    own tuned learning rate times this factor), ``beta1`` (the momentum of Momentum and Nesterov, Adam's beta1),
    ``beta2`` (RMSProp's alpha, Adam's beta2), ``steps`` (IntSlider), ``show_3d`` (Checkbox), ``summary`` (HTML).

    learning_rates: {surface name: {optimizer: lr}}, e.g. from the sweep a lesson shows; a landscape missing from
    it is swept when first chosen (``tuned_learning_rates``).
    Figures: ``fig`` (2-D) data[0] the contour, data[1 + k] optimizer k's path (in ``optimizers`` order);
    ``fig3d`` (drawn only while ``show_3d`` is ticked: a 3-D redraw in the browser is what makes a slider slow)
    data[0] the surface, data[1 + k] the paths lifted onto it. ``path_traces(name)`` returns the pair.
    ``paths`` holds the current full {name: (T + 1, 2) array}; at most ``MAX_DRAWN`` points of each are drawn.

    Races are remembered per (landscape, lr factor, betas): a path is deterministic, so fewer steps is a prefix of
    more, and moving the steps slider down or returning to a setting redraws without re-running (``races_run``
    counts the runs).
    """

    def __init__(self, surface="ill-conditioned quadratic", optimizers=OPTIMIZERS, learning_rates: dict | None = None,
                 beta1: float = 0.9, beta2: float = 0.999, steps: int | None = None, resolution: int = 81,
                 show_3d: bool = False):
        import ipywidgets as widgets

        self.optimizers = tuple(optimizers)
        self.resolution = int(resolution)
        self.learning_rates = {name: dict(lrs) for name, lrs in (learning_rates or {}).items()}
        first = get_surface(surface)
        if first.name not in SURFACES:
            raise ValueError(f"surface: the race offers {sorted(SURFACES)}, got {first.name!r}")
        self.surface = widgets.Dropdown(options=list(SURFACES), value=first.name, description="landscape")
        self.lr_scale = log_slider("lr x tuned", 1.0, 0.01, 10.0, ".2g")
        self.beta1 = widgets.FloatSlider(value=beta1, min=0.0, max=0.99, step=0.01, description="beta1",
                                         continuous_update=False)
        self.beta2 = widgets.FloatSlider(value=beta2, min=0.5, max=0.999, step=0.001, description="beta2",
                                         readout_format=".3f", continuous_update=False)
        self.steps = widgets.IntSlider(value=steps or first.steps, min=10, max=1000, step=10, description="steps",
                                       continuous_update=False)
        self.show_3d = widgets.Checkbox(value=bool(show_3d), description="3-D view", indent=False)
        self.summary = widgets.HTML()
        self.paths: dict = {}
        self._races: dict = {}
        self.races_run = 0
        self.fig, self.fig3d = self._figures(first)
        self._box3d = widgets.Box([self.fig3d] if self.show_3d.value else [])
        for w in (self.lr_scale, self.beta1, self.beta2, self.steps):
            w.observe(self.update, names="value")
        self.surface.observe(self._on_surface, names="value")
        self.show_3d.observe(self._on_show_3d, names="value")
        controls = widgets.VBox([widgets.HBox([self.surface, self.lr_scale, self.steps]),
                                 widgets.HBox([self.beta1, self.beta2, self.show_3d])])
        self.ui = widgets.VBox([controls, widgets.HBox([self.fig, self.summary]), self._box3d])
        self._draw_landscape(first)
        self.update()

    def path_traces(self, name: str):
        """(contour Scatter, surface Scatter3d) of optimizer ``name``."""
        k = self.optimizers.index(name)
        return self.fig.data[1 + k], self.fig3d.data[1 + k]

    def tuned(self, surface=None) -> dict:
        """{optimizer: tuned learning rate} on ``surface`` (default: the chosen one), swept once if not given."""
        surface = get_surface(surface or self.surface.value)
        if surface.name not in self.learning_rates:
            self.learning_rates[surface.name] = tuned_learning_rates(surface, self.optimizers)
        return self.learning_rates[surface.name]

    def current_learning_rates(self) -> dict:
        """{optimizer: the learning rate it runs at now} (tuned x the slider's factor)."""
        return {name: lr * self.lr_scale.value for name, lr in self.tuned().items()}

    def _view(self, surface, z):
        if surface.log_scale:
            return np.log10(1 + np.maximum(np.asarray(z, dtype=np.float64) - self._shift, 0.0))
        return np.asarray(z, dtype=np.float64)

    def _figures(self, surface):
        import plotly.graph_objects as go

        flat = go.Figure([go.Contour(colorscale="Viridis", ncontours=30, name="f",
                                     colorbar={"len": 0.9, "thickness": 14})])
        lifted = go.Figure([go.Surface(colorscale="Viridis", showscale=False, name="f",
                                       contours={"z": {"show": True, "usecolormap": True, "project_z": True}})])
        for k, name in enumerate(self.optimizers):
            color = PATH_COLORS[k % len(PATH_COLORS)]
            flat.add_trace(go.Scatter(mode="lines+markers", name=name, line={"color": color, "width": 2},
                                      marker={"size": 4}))
            # lines only in 3-D: markers make each WebGL redraw ~30% slower, and the 2-D panel shows the steps
            lifted.add_trace(go.Scatter3d(mode="lines", name=name, showlegend=False,
                                          line={"color": color, "width": 5}))
        flat.update_layout(height=470, width=580, margin={"l": 50, "r": 10, "t": 60, "b": 40},
                           xaxis_title="x", yaxis_title="y", title={"font": {"size": 13}, "x": 0.01},
                           legend={"orientation": "h", "y": -0.14})
        small = {"title": {"font": {"size": 11}}, "tickfont": {"size": 9}}
        lifted.update_layout(height=430, width=580, margin={"l": 0, "r": 0, "t": 0, "b": 0},
                             scene={"xaxis": {"title": {"text": "x"}, **small},
                                    "yaxis": {"title": {"text": "y"}, **small},
                                    "zaxis": {"title": {"text": "f"}, **small},
                                    "aspectmode": "manual", "aspectratio": {"x": 1, "y": 1, "z": 0.75},
                                    "camera": {"eye": {"x": 1.25, "y": -1.25, "z": 0.8},
                                               "center": {"x": 0, "y": 0, "z": -0.15}}})
        return go.FigureWidget(flat), go.FigureWidget(lifted)

    def _draw_landscape(self, surface) -> None:
        xs, ys, Z = function_grid(surface.f, surface.x_range, surface.y_range, self.resolution)
        self._shift = float(Z.min())         # log-scaled views draw log10(1 + f - min f)
        view = self._view(surface, Z)
        self._z_range = (float(view.min()), float(view.max()))
        label = "log10(1 + f - min)" if surface.log_scale else "f"
        contour = self.fig.data[0]
        contour.x, contour.y, contour.z = xs, ys, view
        contour.colorbar.title.text = label
        self.fig.layout.title.text = wrap_title(f"{surface.name}: {surface.note}", 75)
        self.fig.layout.xaxis.range, self.fig.layout.yaxis.range = list(surface.x_range), list(surface.y_range)
        if self.show_3d.value:
            self._draw_surface(surface, xs, ys, view, label)

    def _draw_surface(self, surface, xs=None, ys=None, view=None, label=None) -> None:
        if view is None:
            xs, ys, view = self.fig.data[0].x, self.fig.data[0].y, np.asarray(self.fig.data[0].z)
            label = self.fig.data[0].colorbar.title.text
        self.fig3d.data[0].x, self.fig3d.data[0].y, self.fig3d.data[0].z = xs, ys, view
        scene = self.fig3d.layout.scene
        scene.xaxis.range, scene.yaxis.range = list(surface.x_range), list(surface.y_range)
        scene.zaxis.range, scene.zaxis.title.text = list(self._z_range), label

    def _on_surface(self, change) -> None:
        """A new landscape: redraw it and its paths, one message per figure."""
        surface = get_surface(self.surface.value)
        with self.fig.batch_update(), self.fig3d.batch_update():
            self._draw_landscape(surface)
            self._redraw_paths(surface)

    def _on_show_3d(self, change) -> None:
        surface = get_surface(self.surface.value)
        if self.show_3d.value:
            with self.fig3d.batch_update():
                self._draw_surface(surface)
                self._redraw_paths(surface, flat=False)
            self._box3d.children = [self.fig3d]
        else:
            self._box3d.children = []

    def update(self, change=None) -> None:
        """Re-run every optimizer with the current settings and redraw the paths and the summary."""
        surface = get_surface(self.surface.value)
        with self.fig.batch_update(), self.fig3d.batch_update():
            self._redraw_paths(surface)

    def _race(self, surface, lrs: dict, steps: int) -> dict:
        """{name: path} for ``steps`` steps at ``lrs``: a remembered race's prefix when one at least as long exists."""
        key = (surface.name, float(self.lr_scale.value), float(self.beta1.value), float(self.beta2.value))
        known = self._races.get(key)
        if known is None or known[0] < steps:
            known = (steps, race(surface, self.optimizers, lrs, steps, self.beta1.value, self.beta2.value))
            self.races_run += 1
            self._races.pop(key, None)
            if len(self._races) >= RACES_KEPT:
                self._races.pop(next(iter(self._races)))
            self._races[key] = known
        return {name: path[:steps + 1] for name, path in known[1].items()}

    def _redraw_paths(self, surface, flat: bool = True) -> None:
        lrs = self.current_learning_rates()
        self.paths = self._race(surface, lrs, self.steps.value)
        rows = []
        for k, (name, path) in enumerate(self.paths.items()):
            flat_trace, lifted = self.path_traces(name)
            drawn = thin(path)
            if flat:
                flat_trace.x, flat_trace.y = drawn[:, 0], drawn[:, 1]
            if self.show_3d.value:
                heights = np.asarray(surface.f(drawn[:, 0], drawn[:, 1]), dtype=np.float64)
                lifted.x, lifted.y, lifted.z = clip_path_to_window(drawn, self._view(surface, heights),
                                                                   surface.x_range, surface.y_range, self._z_range)
            diverged = len(path) < self.steps.value + 1
            status = f"diverged after {len(path) - 1} steps" if diverged else f"f = {surface.value(path[-1]):.3g}"
            rows.append(f"<tr><td style='color:{PATH_COLORS[k % len(PATH_COLORS)]}'><b>{name}</b></td>"
                        f"<td>{lrs[name]:.3g}</td><td>{status}</td>"
                        f"<td>({path[-1, 0]:.3f}, {path[-1, 1]:.3f})</td></tr>")
        self.summary.value = ("<table style='margin-top:60px; white-space:nowrap; font-size:12px'><tr><th>optimizer</th><th>learning rate</th>"
                              "<th>final loss</th><th>final point</th></tr>" + "".join(rows) + "</table>")
