"""SGD, Momentum, RMSProp and Adam raced on a 2-D landscape (contour and surface), with sliders for the learning
rate, the betas and the number of steps. The update rules are ``bpkit.nn.optim``'s (see ``point_optimizers``)."""
from __future__ import annotations

import numpy as np

from ._dashboard import Dashboard, log_slider
from .landscape import PATH_COLORS, function_grid, landscape_figure
from .point_optimizers import OPTIMIZERS, race
from .surfaces import SURFACES, get_surface


class OptimizerRace(Dashboard):
    """Widgets: ``surface`` (Dropdown of ``SURFACES``), ``lr`` (FloatLogSlider), ``beta1`` (Momentum's momentum,
    Adam's beta1), ``beta2`` (RMSProp's alpha, Adam's beta2), ``steps`` (IntSlider), ``summary`` (HTML table).

    Figure ``fig``: data[0] the surface, data[1] the contour, then for each optimizer k (in ``optimizers`` order)
    its path on the contour (a Scatter) and on the surface (a Scatter3d): ``path_traces(name)`` returns the pair.
    ``paths`` holds the current {name: (T + 1, 2) array}.
    """

    def __init__(self, surface="ill-conditioned quadratic", optimizers=OPTIMIZERS, lr: float | None = None,
                 beta1: float = 0.9, beta2: float = 0.999, steps: int = 150, resolution: int = 81):
        import ipywidgets as widgets

        self.optimizers = tuple(optimizers)
        self.resolution = int(resolution)
        first = get_surface(surface)
        if first.name not in SURFACES:
            raise ValueError(f"surface: the race offers {sorted(SURFACES)}, got {first.name!r}")
        self.surface = widgets.Dropdown(options=list(SURFACES), value=first.name, description="landscape")
        self.lr = log_slider("learning rate", lr if lr is not None else first.lr, 1e-4, 1.0, ".2g")
        self.beta1 = widgets.FloatSlider(value=beta1, min=0.0, max=0.99, step=0.01, description="beta1",
                                         continuous_update=False)
        self.beta2 = widgets.FloatSlider(value=beta2, min=0.5, max=0.999, step=0.001, description="beta2",
                                         readout_format=".3f", continuous_update=False)
        self.steps = widgets.IntSlider(value=steps, min=10, max=1000, step=10, description="steps",
                                       continuous_update=False)
        self.summary = widgets.HTML()
        self.paths: dict = {}
        self.fig = self._figure(first)
        for w in (self.lr, self.beta1, self.beta2, self.steps):
            w.observe(self.update, names="value")
        self.surface.observe(self._on_surface, names="value")
        controls = widgets.VBox([widgets.HBox([self.surface, self.lr, self.steps]),
                                 widgets.HBox([self.beta1, self.beta2])])
        self.ui = widgets.VBox([controls, self.fig, self.summary])
        self.update()

    def path_traces(self, name: str):
        """(contour Scatter, surface Scatter3d) of optimizer ``name``."""
        k = self.optimizers.index(name)
        return self.fig.data[2 + 2 * k], self.fig.data[3 + 2 * k]

    def _grid(self, surface):
        xs, ys, Z = function_grid(surface.f, surface.x_range, surface.y_range, self.resolution)
        self._shift = float(Z.min())         # log-scaled views draw log10(1 + f - min f)
        return xs, ys, Z

    def _view(self, surface, z):
        return np.log10(1 + np.asarray(z) - self._shift) if surface.log_scale else np.asarray(z)

    def _figure(self, surface):
        # landscape_figure adds, per path, its contour Scatter then its Scatter3d: indices 2 + 2k and 3 + 2k
        xs, ys, Z = self._grid(surface)
        return landscape_figure(xs, ys, Z, {name: np.zeros((1, 2)) for name in self.optimizers},
                                {name: np.zeros(1) for name in self.optimizers}, title=surface.note,
                                log_scale=surface.log_scale, z_label="f", widget=True, height=480)

    def _on_surface(self, change) -> None:
        """A new landscape: redraw it, reset the learning rate to one that suits it, and re-run the race."""
        surface = get_surface(self.surface.value)
        xs, ys, Z = self._grid(surface)
        with self.fig.batch_update():
            for trace in self.fig.data[:2]:
                trace.x, trace.y, trace.z = xs, ys, self._view(surface, Z)
            self.fig.layout.title.text = surface.note
            self.fig.layout.xaxis.range = list(surface.x_range)
            self.fig.layout.yaxis.range = list(surface.y_range)
            self.fig.data[1].colorbar.title.text = "log10(1 + f - min)" if surface.log_scale else "f"
        with self.lr.hold_trait_notifications():
            self.lr.unobserve(self.update, names="value")
            self.lr.value = surface.lr
            self.lr.observe(self.update, names="value")
        self.update()

    def update(self, change=None) -> None:
        """Re-run every optimizer with the current settings and redraw the paths and the summary."""
        surface = get_surface(self.surface.value)
        self.paths = race(surface, self.optimizers, self.lr.value, self.steps.value, self.beta1.value,
                          self.beta2.value)
        rows = []
        with self.fig.batch_update():
            for name, path in self.paths.items():
                flat, lifted = self.path_traces(name)
                heights = np.asarray(surface.f(path[:, 0], path[:, 1]), dtype=np.float64)
                flat.x, flat.y = path[:, 0], path[:, 1]
                lifted.x, lifted.y = path[:, 0], path[:, 1]
                lifted.z = self._view(surface, heights)
                diverged = len(path) < self.steps.value + 1
                status = f"diverged after {len(path) - 1} steps" if diverged else f"f = {heights[-1]:.3g}"
                rows.append(f"<tr><td style='color:{PATH_COLORS[self.optimizers.index(name) % len(PATH_COLORS)]}'>"
                            f"<b>{name}</b></td><td>{status}</td>"
                            f"<td>({path[-1, 0]:.3f}, {path[-1, 1]:.3f})</td></tr>")
        self.summary.value = ("<table><tr><th>optimizer</th><th>final loss</th><th>final point</th></tr>"
                              + "".join(rows) + "</table>")
