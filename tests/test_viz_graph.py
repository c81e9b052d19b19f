"""bpkit.viz.graph: one marker per value and per op, labels with data and grad, and sliders that redraw in place."""
import math

import plotly.graph_objects as go
import pytest

from bpkit.autodiff import Value
from bpkit.autodiff_nn import MLP
from bpkit.viz.graph import GraphExplorer, draw_graph, graph_layout


def neuron(w, b, x, y):
    z = w * x + b
    z.label = "z"
    a = z.sigmoid()
    a.label = "a"
    loss = (a - y) ** 2
    loss.label = "L"
    return loss


def _leaves(**kw):
    return {k: Value(v, label=k) for k, v in kw.items()}


def test_one_marker_per_value_and_per_op():
    loss = neuron(**_leaves(w=0.5, b=-0.2, x=1.5, y=1.0))
    loss.backward()
    fig = draw_graph(loss)
    order = loss.topological_order()
    ops = [v for v in order if v.parents]
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["edges", "ops", "values"]
    assert len(fig.data[2].x) == len(order) == 9   # w x b y, w*x, z, a, a-y, L
    assert len(fig.data[1].x) == len(ops) == 5     # *, +, sigmoid, -, **2
    assert list(fig.data[1].text) == ["×", "+", "σ", "−", "^2"]


def test_shared_node_is_drawn_once():
    x = Value(3.0, label="x")
    y = x * x
    y.backward()
    layout = graph_layout(y)
    assert len(layout.values) == 2 and len(layout.ops) == 1
    assert len(layout.edges) == 2  # x -> (*) once, (*) -> y


def test_labels_show_data_and_grad():
    leaves = _leaves(w=0.5, b=-0.2, x=1.5, y=1.0)
    loss = neuron(**leaves)
    loss.backward()
    fig = draw_graph(loss)
    texts = dict(zip([v.label for v in loss.topological_order()], fig.data[2].text))
    assert texts["w"] == f"<b>w</b><br>0.500<br>∇ {leaves['w'].grad:.3f}"
    assert texts["L"] == f"<b>L</b><br>{loss.data:.3f}<br>∇ 1.000"


def test_left_to_right_by_depth():
    leaves = _leaves(w=0.5, b=-0.2, x=1.5, y=1.0)
    loss = neuron(**leaves)
    layout = graph_layout(loss)
    x_of = {id(v): xy[0] for v, xy in zip(layout.values, layout.value_xy)}
    for v, (ox, _) in zip(layout.ops, layout.op_xy):
        assert ox == x_of[id(v)] - 1
        assert all(x_of[id(p)] < ox for p in v.parents)
    assert x_of[id(loss)] == max(x_of.values())


def test_mlp_graph_counts():
    mlp = MLP(2, [3, 1], seed=0)
    out = mlp([Value(0.1), Value(0.2)])
    out.backward()
    fig = draw_graph(out)
    order = out.topological_order()
    assert len(fig.data[2].x) == len(order)
    assert len(fig.data[1].x) == sum(1 for v in order if v.parents)


def test_draw_graph_rejects_non_values():
    with pytest.raises(TypeError, match="expected a bpkit.autodiff.Value"):
        draw_graph(1.0)


def test_explorer_slider_recomputes_forward_and_backward():
    ex = GraphExplorer(neuron, {"w": 0.5, "b": -0.2, "x": 1.5, "y": 1.0})
    assert isinstance(ex.figure, go.FigureWidget)
    before = list(ex.figure.data[2].text)
    ex.sliders["w"].value = -1.0
    s = 1 / (1 + math.exp(-(-1.0 * 1.5 - 0.2)))
    dz = 2 * (s - 1.0) * s * (1 - s)
    assert ex.output.data == pytest.approx((s - 1.0) ** 2)
    assert ex.leaves["w"].grad == pytest.approx(dz * 1.5)
    texts = dict(zip([v.label for v in ex.output.topological_order()], ex.figure.data[2].text))
    assert texts["w"] == f"<b>w</b><br>-1.000<br>∇ {dz * 1.5:.3f}"
    assert texts["a"].startswith(f"<b>a</b><br>{s:.3f}")
    assert list(ex.figure.data[2].text) != before
    assert f"dL/dw = {dz * 1.5:.4f}" in ex.summary.value
    assert ex.figure.layout.title.text == f"L = {(s - 1.0) ** 2:.4f}"


def test_explorer_checks_its_arguments():
    with pytest.raises(ValueError, match="expected a start value in"):
        GraphExplorer(neuron, {"w": 5.0, "b": 0, "x": 0, "y": 0}, ranges={"w": (-1, 1)})
    with pytest.raises(ValueError, match="not inputs"):
        GraphExplorer(neuron, {"w": 0.0, "b": 0, "x": 0, "y": 0}, ranges={"q": (-1, 1)})
    with pytest.raises(TypeError, match="return a Value"):
        GraphExplorer(lambda w: 1.0, {"w": 0.0})


def gates(x, y, z, w):
    q = x * y
    q.label = "q"
    m = z.max(w)
    m.label = "m"
    f = (q + m) * 2 + x
    f.label = "f"
    return f


def test_gate_notes_say_how_each_gate_routes_the_gradient_with_its_numbers():
    leaves = _leaves(x=3.0, y=-4.0, z=2.0, w=-1.0)
    f = gates(**leaves)
    f.backward()
    plain = draw_graph(f)
    assert len(plain.data) == 3, "no notes unless asked"
    fig = draw_graph(f, gate_notes=True)
    assert [t.name for t in fig.data] == ["edges", "ops", "values", "gate notes"]
    notes = list(fig.data[3].text)
    assert "mul swaps:<br>x gets 2×-4<br>y gets 2×3" in notes
    assert "max sends 2<br>to the winner z" in notes
    assert "add copies<br>2 to both" in notes
    assert "fan-out: ∇ sums<br>its 2 uses" in notes  # x feeds the product and the final sum
    assert (leaves["x"].grad, leaves["y"].grad, leaves["z"].grad, leaves["w"].grad) == (-7.0, 6.0, 2.0, 0.0)


def test_gate_notes_follow_the_sliders():
    explorer = GraphExplorer(gates, {"x": 3.0, "y": -4.0, "z": 2.0, "w": -1.0}, ranges={"w": (-3.0, 3.0)},
                             gate_notes=True)
    explorer.sliders["w"].value = 2.5
    notes = list(explorer.figure.data[3].text)
    assert "max sends 2<br>to the winner w" in notes
    assert explorer.leaves["w"].grad == 2.0 and explorer.leaves["z"].grad == 0.0


def test_the_widget_carries_its_traces_in_its_state_before_it_is_shown():
    """A FigureWidget that only received add_trace messages before display renders as empty axes in JupyterLab."""
    explorer = GraphExplorer(gates, {"x": 3.0, "y": -4.0, "z": 2.0, "w": -1.0}, gate_notes=True)
    state = explorer.figure._widget_data
    assert [trace["name"] for trace in state] == ["edges", "ops", "values", "gate notes"]
    assert explorer.figure._widget_layout["xaxis"]["visible"] is False
