"""bpkit.viz.chain_rule: the lesson-01 explorer recomputes every number and the tangents when a slider moves."""
import math

import numpy as np
import plotly.graph_objects as go
import pytest

from bpkit.viz.chain_rule import ChainRuleExplorer


def by_hand(w, b, x, y):
    z = w * x + b
    a = 1 / (1 + math.exp(-z))
    return {"z": z, "a": a, "L": (a - y) ** 2, "dL/da": 2 * (a - y), "da/dz": a * (1 - a), "dz/dw": x,
            "dz/db": 1.0, "dL/dz": 2 * (a - y) * a * (1 - a), "dL/dw": 2 * (a - y) * a * (1 - a) * x,
            "dL/db": 2 * (a - y) * a * (1 - a)}


def test_initial_numbers_match_hand_derivation():
    ex = ChainRuleExplorer(w=0.5, b=-0.2, x=1.5, y=1.0)
    expected = by_hand(0.5, -0.2, 1.5, 1.0)
    assert ex.values.keys() == expected.keys()
    for key, value in expected.items():
        assert ex.values[key] == pytest.approx(value, rel=1e-12), key


@pytest.mark.parametrize("name,value", [("w", -1.3), ("b", 0.8), ("x", -0.6), ("y", 0.25)])
def test_moving_a_slider_updates_table_and_figure(name, value):
    ex = ChainRuleExplorer()
    point = {k: s.value for k, s in ex.sliders.items()}
    point[name] = value
    ex.sliders[name].value = value
    expected = by_hand(**point)
    for key, v in expected.items():
        assert ex.values[key] == pytest.approx(v, rel=1e-12), key
    assert f"{expected['dL/dw']: .4f}" in ex.table.value
    assert f"{expected['da/dz']: .4f}" in ex.table.value
    fig = ex.figure
    assert isinstance(fig, go.FigureWidget)
    assert fig.data[1].x == (point["w"],) and fig.data[1].y[0] == pytest.approx(expected["L"])
    assert fig.data[4].x == (point["b"],)
    tx, ty = np.array(fig.data[2].x), np.array(fig.data[2].y)
    assert (ty[1] - ty[0]) / (tx[1] - tx[0]) == pytest.approx(expected["dL/dw"], rel=1e-9)
    tx, ty = np.array(fig.data[5].x), np.array(fig.data[5].y)
    assert (ty[1] - ty[0]) / (tx[1] - tx[0]) == pytest.approx(expected["dL/db"], rel=1e-9)
    assert f"{expected['dL/dw']:.4f}" in fig.layout.annotations[0].text


def test_curve_is_the_loss_over_the_slider_range():
    ex = ChainRuleExplorer(w=0.5, b=-0.2, x=1.5, y=1.0)
    grid = np.array(ex.figure.data[0].x)
    assert grid[0] == ex.sliders["w"].min and grid[-1] == ex.sliders["w"].max
    expected = (1 / (1 + np.exp(-(grid * 1.5 - 0.2))) - 1.0) ** 2
    np.testing.assert_allclose(ex.figure.data[0].y, expected, rtol=1e-12)


def test_tangent_slope_is_the_numerical_derivative():
    ex = ChainRuleExplorer(w=0.9, b=0.4, x=-1.2, y=0.0)
    h = 1e-5
    f = ex._loss
    numeric = (f(0.9 + h, 0.4, -1.2, 0.0) - f(0.9 - h, 0.4, -1.2, 0.0)) / (2 * h)
    assert abs(ex.values["dL/dw"] - numeric) / (abs(numeric) + abs(ex.values["dL/dw"])) <= 1e-7


def test_bad_arguments():
    with pytest.raises(ValueError, match="expected a start value in"):
        ChainRuleExplorer(w=10.0)
    with pytest.raises(ValueError, match="expected keys among"):
        ChainRuleExplorer(ranges={"q": (0, 1)})


def test_no_minus_zero_and_one_shared_sensible_y_range():
    from bpkit.viz.chain_rule import fmt

    assert fmt(-1e-9) == " 0.0000" and fmt(-1e-9, ".4f") == "0.0000" and fmt(-0.25) == "-0.2500"
    ex = ChainRuleExplorer(w=0.5, b=-0.2, x=0.0, y=1.0)   # x = 0: dL/dw is exactly -0.0 * ...
    assert "-0.0000" not in ex.table.value and "-0.0000" not in ex.figure.layout.annotations[0].text
    low, high = ex.figure.layout.yaxis.range
    curves = np.concatenate([ex.figure.data[0].y, ex.figure.data[3].y])
    assert low < 0 <= curves.min() and curves.max() < high <= 1.1 * max(curves.max(), 0.05) + 1e-12
    assert ex.figure.layout.yaxis2.matches == "y", "both panels share the y-range"


def test_the_figure_sits_beside_the_sliders():
    ex = ChainRuleExplorer()
    controls, figure = ex.widget.children
    assert figure is ex.figure and ex.table in controls.children
    assert all(s in controls.children for s in ex.sliders.values())
