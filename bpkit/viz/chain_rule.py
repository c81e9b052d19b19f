"""Lesson 01's chain-rule explorer for one neuron, L = (sigmoid(w x + b) - y)^2.

Sliders for w, b, x, y. Every move recomputes the forward pass (z, a, L), every local derivative
(dL/da, da/dz, dz/dw, dz/db) and every product along the chain (dL/dz, dL/dw, dL/db), shown in an HTML table,
and redraws L as a function of w and of b with the tangent line whose slope is the chain-rule product.

Layout: the sliders and the table in a column on the left, the figure beside them (one screen at 1440x900); both
panels share one y-range, from 0 to a little above the larger of the two curves, so their heights compare. Numbers
that round to zero are shown as 0.0000, never -0.0000.

The local derivatives come from ``bpkit.symbolic.ForwardPass`` (SymPy differentiates each step's definition), so
the numbers in the table are the same objects the lesson derives by hand.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import sympy as sp

from ..symbolic import ForwardPass, checked_lambdify, sigmoid
from ._dashboard import value_slider

__all__ = ["ChainRuleExplorer", "neuron_forward_pass"]

W, B, X, Y, Z, A, L = sp.symbols("w b x y z a L")
_INPUTS = (W, B, X, Y)
_DEFAULT_RANGES = {"w": (-3.0, 3.0), "b": (-3.0, 3.0), "x": (-2.0, 2.0), "y": (0.0, 1.0)}

# (key, how it is written, what it is) for the rows of the table, in reading order.
_FORWARD = [("z", "z = w·x + b"), ("a", "a = σ(z)"), ("L", "L = (a − y)²")]
_LOCAL = [("dL/da", "∂L/∂a = 2(a − y)"), ("da/dz", "∂a/∂z = σ(z)(1 − σ(z)) = a(1 − a)"),
          ("dz/dw", "∂z/∂w = x"), ("dz/db", "∂z/∂b = 1")]
_PRODUCTS = [("dL/dz", "∂L/∂z = ∂L/∂a · ∂a/∂z"), ("dL/dw", "∂L/∂w = ∂L/∂z · ∂z/∂w"),
             ("dL/db", "∂L/∂b = ∂L/∂z · ∂z/∂b")]


def fmt(value: float, spec: str = " .4f") -> str:
    """``format(value, spec)``, but a number that rounds to zero is written without a minus sign."""
    text = format(value, spec)
    return text.replace("-", " " if spec.startswith(" ") else "", 1) if float(text) == 0.0 else text


def neuron_forward_pass() -> ForwardPass:
    """The neuron's forward pass as three named steps: z = w x + b, a = sigmoid(z), L = (a - y)^2."""
    return ForwardPass([(Z, W * X + B), (A, sigmoid(Z)), (L, (A - Y) ** 2)])


class ChainRuleExplorer:
    """Sliders for w, b, x, y of one neuron; a table of every forward value, local derivative and product; and a
    figure of L against w and against b with the tangent whose slope is the chain-rule product.

    Attributes: ``sliders`` (name -> FloatSlider), ``table`` (ipywidgets.HTML), ``figure`` (go.FigureWidget with
    traces 0-2 for w: curve, point, tangent; 3-5 for b), ``values`` (name -> float, every number in the table),
    ``widget`` (the whole box). Ranges: ``{name: (min, max)}`` overriding the defaults.
    """

    def __init__(self, w: float = 0.5, b: float = -0.2, x: float = 1.5, y: float = 1.0,
                 ranges: dict | None = None, step: float = 0.01, points: int = 121):
        import ipywidgets as widgets
        from plotly.subplots import make_subplots

        ranges = {**_DEFAULT_RANGES, **(ranges or {})}
        unknown = set(ranges) - set(_DEFAULT_RANGES)
        if unknown:
            raise ValueError(f"ranges: expected keys among w, b, x, y, got {sorted(unknown)}")
        start = {"w": w, "b": b, "x": x, "y": y}
        self.sliders = {}
        for name, value in start.items():
            self.sliders[name] = value_slider(name, value, *ranges[name], step)
        self._compile()
        self.points = points
        self.values: dict[str, float] = {}
        self.table = widgets.HTML()
        fig = make_subplots(rows=1, cols=2, subplot_titles=("L as a function of w", "L as a function of b"),
                            horizontal_spacing=0.1, shared_yaxes=False)
        for col, name in ((1, "w"), (2, "b")):
            fig.add_trace(go.Scatter(mode="lines", name=f"L({name})", line=dict(color="#3182bd")), row=1, col=col)
            fig.add_trace(go.Scatter(mode="markers", name=f"current {name}",
                                     marker=dict(size=10, color="#e6550d")), row=1, col=col)
            fig.add_trace(go.Scatter(mode="lines", name=f"tangent, slope dL/d{name}",
                                     line=dict(color="#e6550d", dash="dash")), row=1, col=col)
            fig.update_xaxes(title_text=name, row=1, col=col)
            fig.update_yaxes(title_text="L", row=1, col=col)
        fig.update_yaxes(matches="y", row=1, col=2)  # one y-range for both panels
        fig.update_layout(height=380, width=700, margin=dict(l=50, r=10, t=50, b=45), showlegend=False)
        self.figure = go.FigureWidget(fig)
        self.update()
        for slider in self.sliders.values():
            slider.observe(self.update, names="value")
        controls = widgets.VBox([*self.sliders.values(), self.table], layout=widgets.Layout(min_width="330px"))
        self.widget = widgets.HBox([controls, self.figure], layout=widgets.Layout(align_items="flex-start"))

    def _compile(self) -> None:
        """Lambdify every intermediate and every local derivative of the symbolic forward pass."""
        fp = neuron_forward_pass()
        self.forward_pass = fp
        args = [*_INPUTS, Z, A]
        self._steps = {str(name): checked_lambdify(args[:4 + i], definition)
                       for i, (name, definition) in enumerate(fp.steps)}
        self._local = {f"d{node}/d{parent}": checked_lambdify(args, fp.local_derivative(node, parent))
                       for node, parent in [(L, A), (A, Z), (Z, W), (Z, B)]}
        self._loss = checked_lambdify(list(_INPUTS), fp.expand(L), modules="numpy")

    def compute(self, w: float, b: float, x: float, y: float) -> dict[str, float]:
        """Every number of the table at one point: forward values, local derivatives, products."""
        v: dict[str, float] = {}
        v["z"] = float(self._steps["z"](w, b, x, y))
        v["a"] = float(self._steps["a"](w, b, x, y, v["z"]))
        v["L"] = float(self._steps["L"](w, b, x, y, v["z"], v["a"]))
        for key, f in self._local.items():
            v[key] = float(f(w, b, x, y, v["z"], v["a"]))
        v["dL/dz"] = v["dL/da"] * v["da/dz"]
        v["dL/dw"] = v["dL/dz"] * v["dz/dw"]
        v["dL/db"] = v["dL/dz"] * v["dz/db"]
        return v

    def _table_html(self) -> str:
        v = self.values

        def rows(title, items):
            head = f"<tr><th colspan=2 style='text-align:left;padding-top:6px'>{title}</th></tr>"
            return head + "".join(f"<tr><td style='padding-right:16px'>{text}</td>"
                                  f"<td style='text-align:right;font-family:monospace'>{fmt(v[key])}</td></tr>"
                                  for key, text in items)
        return ("<table class='bpkit-chain-rule'>" + rows("forward pass", _FORWARD)
                + rows("local derivatives (one step each)", _LOCAL)
                + rows("backward pass: products along the chain", _PRODUCTS) + "</table>")

    def update(self, change=None) -> None:
        """Recompute from the sliders and redraw the table and the figure in place."""
        p = {name: s.value for name, s in self.sliders.items()}
        self.values = self.compute(**p)
        self.table.value = self._table_html()
        top = 0.0
        with self.figure.batch_update():
            for offset, name in ((0, "w"), (3, "b")):
                slider = self.sliders[name]
                grid = np.linspace(slider.min, slider.max, self.points)
                loss = self._loss(**{**p, name: grid})
                top = max(top, float(np.max(loss)))
                slope = self.values[f"dL/d{name}"]
                half = 0.25 * (slider.max - slider.min)
                tx = np.array([p[name] - half, p[name] + half])
                self.figure.data[offset].update(x=grid, y=np.broadcast_to(loss, grid.shape))
                self.figure.data[offset + 1].update(x=[p[name]], y=[self.values["L"]])
                self.figure.data[offset + 2].update(x=tx, y=self.values["L"] + slope * (tx - p[name]))
            top = max(top, 0.05) * 1.1  # L is in [0, 1]; a flat curve still gets a visible range
            self.figure.layout.yaxis.range = [-0.04 * top, top]
            self.figure.layout.annotations[0].text = f"L against w: slope dL/dw = {fmt(self.values['dL/dw'], '.4f')}"
            self.figure.layout.annotations[1].text = f"L against b: slope dL/db = {fmt(self.values['dL/db'], '.4f')}"

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
