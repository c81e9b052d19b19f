"""Draw a ``Value`` graph with Plotly, and link it to sliders that redo the forward and backward pass.

The drawing has one marker per value (a box labelled with its name, data and grad) and one per operation (a circle
with the op's symbol), laid out left to right by topological depth: inputs on the left, the output on the right.
Edges run value -> op -> value.

Traces of the figure (stable, so a ``FigureWidget`` is updated in place):
    0 "edges": the lines; 1 "ops": one marker per operation; 2 "values": one marker per value;
    3 "gate notes" (only with ``gate_notes=True``): under each add, multiply and max gate, how it routes the gradient
    it receives, with the numbers (add copies it, multiply swaps the inputs, max sends it to the winner), and under
    each value used more than once, that its gradient is the sum over its uses (fan-out).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import plotly.graph_objects as go

from ..autodiff import Value
from ._dashboard import value_slider

__all__ = ["GraphLayout", "graph_layout", "draw_graph", "GraphExplorer"]

_COLORS = {"input": "#9ecae1", "constant": "#e0e0e0", "inner": "#c7e9c0", "output": "#fdae6b", "op": "#ffffff"}


@dataclass
class GraphLayout:
    """Positions of every node of a Value graph.

    values: the Values in topological order (inputs first, output last).
    ops: the Values that an operation produced, in the same order (one op node each).
    value_xy / op_xy: (x, y) of each value / op node, aligned with ``values`` / ``ops``.
    edges: pairs of points ((x0, y0), (x1, y1)).
    """

    values: list
    ops: list
    value_xy: list
    op_xy: list
    edges: list

    @property
    def n_nodes(self) -> int:
        return len(self.values) + len(self.ops)


def graph_layout(root: Value) -> GraphLayout:
    """Columns by depth (a leaf is at depth 0, an op's result one deeper than its deepest input); value nodes at
    even x = 2 * depth, op nodes at the odd column just left of their result; rows ordered by the mean row of the
    inputs (a barycenter sweep), which keeps most edges from crossing."""
    if not isinstance(root, Value):
        raise TypeError(f"expected a bpkit.autodiff.Value, got {type(root).__name__}")
    order = root.topological_order()
    depth: dict[int, int] = {}
    for v in order:
        depth[id(v)] = 1 + max(depth[id(p)] for p in v.parents) if v.parents else 0
    # Leaves (inputs, constants) sit in the column just before their first use, not all at the far left.
    users: dict[int, list] = {}
    for v in order:
        for p in v.parents:
            users.setdefault(id(p), []).append(v)
    for v in order:
        if not v.parents and id(v) in users and v is not root:
            depth[id(v)] = min(depth[id(u)] for u in users[id(v)]) - 1
    columns: dict[int, list] = {}
    for v in order:
        columns.setdefault(depth[id(v)], []).append(v)
    row: dict[int, float] = {}

    def place(col, neighbours):
        start = {id(v): i for i, v in enumerate(col)}

        def barycenter(v):
            ys = [row[id(n)] for n in neighbours(v) if id(n) in row]
            return (-sum(ys) / len(ys), start[id(v)]) if ys else (-((len(col) - 1) / 2 - start[id(v)]), start[id(v)])
        col.sort(key=barycenter)
        for i, v in enumerate(col):
            row[id(v)] = (len(col) - 1) / 2 - i

    for d in sorted(columns):  # left to right: follow the inputs
        place(columns[d], lambda v: v.parents)
    for d in sorted(columns, reverse=True):  # right to left: leaves move next to their users
        place(columns[d], lambda v: users.get(id(v), []))
    for d in sorted(columns):
        place(columns[d], lambda v: v.parents)
    xy = {id(v): (2.0 * depth[id(v)], row[id(v)]) for v in order}
    ops = [v for v in order if v.parents]
    op_xy = [(xy[id(v)][0] - 1.0, xy[id(v)][1]) for v in ops]
    edges = []
    for v, oxy in zip(ops, op_xy):
        for p in dict.fromkeys(v.parents):  # x * x: one edge, not two on top of each other
            edges.append((xy[id(p)], oxy))
        edges.append((oxy, xy[id(v)]))
    return GraphLayout(order, ops, [xy[id(v)] for v in order], op_xy, edges)


def _kind(v: Value, root: Value) -> str:
    if v is root:
        return "output"
    if v.parents:
        return "inner"
    return "input" if v.label and not _is_number_label(v.label) else "constant"


def _is_number_label(label: str) -> bool:
    try:
        float(label)
        return True
    except ValueError:
        return False


def _op_symbol(op: str) -> str:
    """A short symbol that fits inside the op's circle: sigma for sigmoid, ^k for powers."""
    return {"sigmoid": "σ", "relu": "ReLU", "*": "×", "/": "÷", "-": "−", "max": "max"}.get(op, op.replace("**", "^"))


def _name(v: Value) -> str:
    return v.label if v.label and not _is_number_label(v.label) else f"{v.data:.3g}"


def gate_note(v: Value) -> str:
    """How the gate that produced ``v`` routes the gradient ``v.grad`` it receives ('' for other operations)."""
    g = v.grad
    if v.op == "+":
        return f"add copies<br>{g:.3g} to both"
    if v.op == "*":
        a, b = v.parents
        return f"mul swaps:<br>{_name(a)} gets {g:.3g}×{b.data:.3g}<br>{_name(b)} gets {g:.3g}×{a.data:.3g}"
    if v.op == "max":
        a, b = v.parents
        winner = a if a.data >= b.data else b
        return f"max sends {g:.3g}<br>to the winner {_name(winner)}"
    return ""


def fan_out_note(v: Value, uses: int) -> str:
    return f"fan-out: ∇ sums<br>its {uses} uses" if uses > 1 else ""


def _uses(layout: GraphLayout) -> dict[int, int]:
    """How many operations read each value (x * x counts once per operand, as the chain rule does)."""
    uses: dict[int, int] = {}
    for v in layout.ops:
        for p in v.parents:
            uses[id(p)] = uses.get(id(p), 0) + 1
    return uses


def _value_text(v: Value) -> str:
    head = f"<b>{v.label}</b><br>" if v.label and not _is_number_label(v.label) else ""
    return f"{head}{v.data:.3f}<br>∇ {v.grad:.3f}"


def _value_hover(v: Value, root: Value) -> str:
    name = v.label or (f"result of {v.op}" if v.op else "constant")
    out = root.label or "output"
    return f"{name}<br>data = {v.data:.6g}<br>grad = d{out}/d{v.label or 'node'} = {v.grad:.6g}"


def _traces_data(layout: GraphLayout, root: Value, gate_notes: bool = False) -> list[dict]:
    """The properties of the traces, as plain dicts (used to build and to update in place)."""
    ex, ey = [], []
    for (x0, y0), (x1, y1) in layout.edges:
        if x1 - x0 > 2.5:  # a long edge would run straight through the nodes between: bend it above them
            ex += [x0, (x0 + x1) / 2, x1, None]
            ey += [y0, max(y0, y1) + 0.5, y1, None]
        else:
            ex += [x0, x1, None]
            ey += [y0, y1, None]
    traces = [
        dict(x=ex, y=ey),
        dict(x=[p[0] for p in layout.op_xy], y=[p[1] for p in layout.op_xy],
             text=[_op_symbol(v.op) for v in layout.ops],
             hovertext=[f"op {v.op}: {v.data:.6g}" for v in layout.ops]),
        dict(x=[p[0] for p in layout.value_xy], y=[p[1] for p in layout.value_xy],
             text=[_value_text(v) for v in layout.values],
             hovertext=[_value_hover(v, root) for v in layout.values],
             marker=dict(symbol="square", size=64, line=dict(width=1, color="#555"),
                         color=[_COLORS[_kind(v, root)] for v in layout.values])),
    ]
    if gate_notes:
        uses = _uses(layout)
        notes = [(xy, gate_note(v)) for v, xy in zip(layout.ops, layout.op_xy)]
        notes += [(xy, fan_out_note(v, uses.get(id(v), 0))) for v, xy in zip(layout.values, layout.value_xy)]
        notes = [(xy, text) for xy, text in notes if text]
        traces.append(dict(x=[xy[0] for xy, _ in notes], y=[xy[1] - 0.42 for xy, _ in notes],
                           text=[text for _, text in notes]))
    return traces


def _size(layout: GraphLayout, gate_notes: bool = False) -> dict:
    xs = [p[0] for p in layout.value_xy] or [0.0]
    ys = [p[1] for p in layout.value_xy] or [0.0]
    below = 1.5 if gate_notes else 0.8  # room for two lines of notes under the lowest row
    width = max(420, int(90 * (max(xs) - min(xs) + 2)))
    height = max(260, int(110 * (max(ys) - min(ys) + 0.8 + below)))
    return dict(width=min(width, 1400), height=height,
                xaxis=dict(visible=False, range=[min(xs) - 0.8, max(xs) + 0.8]),
                yaxis=dict(visible=False, range=[min(ys) - below, max(ys) + 0.8]))


def draw_graph(root: Value, title: str | None = None, widget: bool = False, gate_notes: bool = False):
    """A Plotly figure of the graph that computes ``root`` (call ``root.backward()`` first to see gradients).

    Returns a ``go.Figure`` (or a ``go.FigureWidget`` with ``widget=True``) with three traces: edges, ops, values,
    and a fourth, "gate notes", with ``gate_notes=True`` (how each add, multiply and max gate and each fan-out
    routes the gradient, with the numbers).
    """
    layout = graph_layout(root)
    edges, ops, values, *notes = _traces_data(layout, root, gate_notes)
    fig = go.Figure()
    fig.add_trace(go.Scatter(**edges, mode="lines", line=dict(color="#888", width=1.5, shape="spline"),
                             hoverinfo="skip",
                             name="edges", showlegend=False))
    fig.add_trace(go.Scatter(**ops, mode="markers+text", name="ops", showlegend=False, hoverinfo="text",
                             marker=dict(symbol="circle", size=36, color=_COLORS["op"],
                                         line=dict(width=1.5, color="#555")),
                             textfont=dict(size=11)))
    fig.add_trace(go.Scatter(**values, mode="markers+text", name="values", showlegend=False, hoverinfo="text",
                             textfont=dict(size=10)))
    if notes:
        fig.add_trace(go.Scatter(**notes[0], mode="text", name="gate notes", showlegend=False, hoverinfo="skip",
                                 textposition="bottom center", textfont=dict(size=10, color="#7a3e00")))
    fig.update_layout(title=title or f"computational graph: {layout.n_nodes} nodes "
                                     f"({len(layout.values)} values, {len(layout.ops)} ops)",
                      margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white", **_size(layout, gate_notes))
    # The widget is made from the finished figure: traces added to a FigureWidget before it is shown travel only as
    # messages, which are lost, and JupyterLab then draws empty axes (tests/test_viz_graph.py checks the state).
    return go.FigureWidget(fig) if widget else fig


class GraphExplorer:
    """Sliders for the inputs of a Value computation, linked to its graph drawing.

    build: a function taking one keyword argument per input (each a leaf ``Value``) and returning the output Value.
    inputs: ``{name: starting value}``. ranges: optional ``{name: (min, max)}`` (default: start +- 2).
    Moving a slider rebuilds the graph, runs ``backward()``, and updates ``figure`` (a ``go.FigureWidget``) and
    ``summary`` (an HTML line) in place. ``gate_notes=True`` writes under each gate how it routes the gradient.

    Attributes for tests and notebooks: ``sliders`` (name -> FloatSlider), ``figure``, ``summary``, ``output`` (the
    latest root Value), ``leaves`` (name -> leaf Value), ``widget`` (the whole box).
    """

    def __init__(self, build: Callable[..., Value], inputs: Mapping[str, float],
                 ranges: Mapping[str, tuple] | None = None, step: float = 0.01, title: str | None = None,
                 gate_notes: bool = False):
        import ipywidgets as widgets

        if not callable(build):
            raise TypeError(f"build: expected a function of the input Values, got {type(build).__name__}")
        if not inputs:
            raise ValueError("inputs: expected at least one {name: value} entry, got none")
        ranges = dict(ranges or {})
        unknown = set(ranges) - set(inputs)
        if unknown:
            raise ValueError(f"ranges: names {sorted(unknown)} are not inputs (inputs: {sorted(inputs)})")
        self.build = build
        self.title = title
        self.gate_notes = bool(gate_notes)
        self.sliders = {}
        for name, start in inputs.items():
            low, high = ranges.get(name, (float(start) - 2.0, float(start) + 2.0))
            self.sliders[name] = value_slider(name, start, low, high, step)
        self._compute()
        self.figure = draw_graph(self.output, title=self._title(), widget=True, gate_notes=self.gate_notes)
        self.summary = widgets.HTML(self._summary())
        for slider in self.sliders.values():
            slider.observe(self._on_change, names="value")
        self.widget = widgets.VBox([widgets.HBox(list(self.sliders.values())), self.summary, self.figure])

    def _compute(self) -> None:
        self.leaves = {name: Value(s.value, label=name) for name, s in self.sliders.items()}
        out = self.build(**self.leaves)
        if not isinstance(out, Value):
            raise TypeError(f"build: expected it to return a Value, got {type(out).__name__}")
        out.backward()
        self.output = out

    def _title(self) -> str:
        return self.title or f"{self.output.label or 'output'} = {self.output.data:.4f}"

    def _summary(self) -> str:
        out = self.output.label or "out"
        grads = ", ".join(f"d{out}/d{n} = {v.grad:.4f}" for n, v in self.leaves.items())
        return f"<code>{out} = {self.output.data:.4f}; {grads}</code>"

    def _on_change(self, change=None) -> None:
        self._compute()
        layout = graph_layout(self.output)
        with self.figure.batch_update():
            for trace, props in zip(self.figure.data, _traces_data(layout, self.output, self.gate_notes)):
                trace.update(props)
            self.figure.layout.title.text = self._title()
            self.figure.update_layout(**_size(layout, self.gate_notes))
        self.summary.value = self._summary()

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
