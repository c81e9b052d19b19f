"""bpkit.symbolic: the chain rule as local derivatives, SymPy -> Value graphs, checked lambdify, matrix gradients."""
import math

import numpy as np
import pytest
import sympy as sp

from bpkit.gradcheck import TOLERANCE, relative_error
from bpkit.symbolic import (ForwardPass, checked_lambdify, compare_gradient, gradient_matrix, matrix_symbols,
                            sigmoid, to_value)

w, x, b, y, z, a, L = sp.symbols("w x b y z a L")
NEURON = [(z, w * x + b), (a, sigmoid(z)), (L, (a - y) ** 2)]
POINT = {w: 0.7, x: -1.1, b: 0.3, y: 1.0}


def _neuron_by_hand(wv, xv, bv, yv):
    """dL/dw and dL/db for L = (sigmoid(w x + b) - y)^2, written out with math only."""
    s = 1 / (1 + math.exp(-(wv * xv + bv)))
    dz = 2 * (s - yv) * s * (1 - s)
    return dz * xv, dz


def test_neuron_chain_is_one_path_of_three_local_derivatives():
    fp = ForwardPass(NEURON)
    chain = fp.chain_rule(L, w)
    assert str(chain) == "dL/dw = dL/da * da/dz * dz/dw"
    assert len(chain.paths) == 1
    assert chain.factors[0][0] == 2 * a - 2 * y
    assert chain.factors[0][2] == x
    assert chain.matches_diff()


def test_chain_numbers_multiply_to_the_gradient():
    fp = ForwardPass(NEURON)
    for var, expected in zip((w, b), _neuron_by_hand(*POINT.values())):
        locals_ = fp.chain_rule(L, var).evaluate(POINT)[0]
        assert math.prod(locals_) == pytest.approx(expected, rel=1e-12)


def test_multivariate_chain_rule_sums_over_paths():
    u, v, q = sp.symbols("u v q")
    fp = ForwardPass([(u, x ** 2), (v, sp.sin(x)), (q, u * v)])
    chain = fp.chain_rule(q, x)
    assert len(chain.paths) == 2
    assert str(chain) == "dq/dx = dq/du * du/dx + dq/dv * dv/dx"
    assert chain.matches_diff()
    assert sp.simplify(chain.expanded() - sp.diff(x ** 2 * sp.sin(x), x)) == 0


def test_wrong_chain_is_detected():
    fp = ForwardPass(NEURON)
    chain = fp.chain_rule(L, w)
    broken = type(chain)(fp, L, w, (chain.paths[0][:-1],))  # forgot dz/dw
    assert not broken.matches_diff()


def test_forward_pass_evaluates_every_intermediate():
    values = ForwardPass(NEURON).evaluate(POINT)
    zv = 0.7 * -1.1 + 0.3
    assert values[z] == pytest.approx(zv)
    assert values[a] == pytest.approx(1 / (1 + math.exp(-zv)))
    assert values[L] == pytest.approx((1 / (1 + math.exp(-zv)) - 1.0) ** 2)


def test_forward_pass_inputs_and_expand():
    fp = ForwardPass(NEURON)
    assert set(fp.inputs) == {w, x, b, y}
    assert fp.expand(L).free_symbols == {w, x, b, y}


def test_forward_pass_rejects_bad_steps():
    with pytest.raises(ValueError, match="before it is defined"):
        ForwardPass([(a, sigmoid(z)), (z, w * x)])
    with pytest.raises(ValueError, match="defined twice"):
        ForwardPass([(z, w * x), (z, b)])
    with pytest.raises(TypeError, match="Symbol"):
        ForwardPass([("z", w * x)])
    with pytest.raises(TypeError, match="pair"):
        ForwardPass([w * x])
    fp = ForwardPass(NEURON)
    with pytest.raises(ValueError, match="appears nowhere"):
        fp.chain_rule(L, sp.Symbol("q"))
    with pytest.raises(ValueError, match="no value given for y"):
        fp.evaluate({w: 1, x: 1, b: 1})


def test_checked_lambdify_names_unbound_symbols():
    expr = ForwardPass(NEURON).expand(L)
    with pytest.raises(ValueError, match=r"uses b, x, y, which are not among the arguments \(w\)"):
        checked_lambdify([w], expr)
    f = checked_lambdify([w, x, b, y], expr)
    assert f(*POINT.values()) == pytest.approx(float(expr.subs(POINT)))
    with pytest.raises(TypeError, match="Symbol"):
        checked_lambdify(["w"], w)


def test_to_value_matches_sympy_gradient():
    expr = ForwardPass(NEURON).expand(L) + sp.tanh(w * b) - sp.log(x ** 2 + 1) / (b + 2) + sp.Max(0, w)
    root, leaves = to_value(expr, POINT)
    root.backward()
    assert root.data == pytest.approx(float(expr.subs(POINT)), rel=1e-12)
    backward = np.array([leaves[s].grad for s in (w, x, b, y)])
    symbolic = np.array([float(sp.diff(expr, s).subs(POINT)) for s in (w, x, b, y)])
    assert relative_error(backward, symbolic) <= TOLERANCE


def test_to_value_shares_equal_subexpressions_and_uses_minus_and_divide():
    root, leaves = to_value(sp.tanh(w * x) + sp.exp(w * x) + (b - y) / x, POINT)
    ops = [n.op for n in root.topological_order()]
    assert ops.count("*") == 1  # w*x is built once and feeds both tanh and exp
    assert "-" in ops and "/" in ops


def test_to_value_errors():
    with pytest.raises(ValueError, match="no value given for y"):
        to_value(w * y, {w: 1.0})
    with pytest.raises(TypeError, match="variable exponent"):
        to_value(w ** x, {w: 1.0, x: 2.0})
    with pytest.raises(TypeError, match="no Value counterpart"):
        to_value(sp.sin(w), {w: 1.0})


def test_matrix_gradients_of_a_linear_layer():
    X, W, G = matrix_symbols("X", 2, 3), matrix_symbols("W", 3, 2), matrix_symbols("G", 2, 2)
    Y = X * W
    s = sum(G.multiply_elementwise(Y))  # dY = G upstream
    assert gradient_matrix(s, X) == G * W.T
    assert gradient_matrix(s, W) == X.T * G
    assert gradient_matrix(s, X).shape == X.shape
    with pytest.raises(TypeError, match="scalar"):
        gradient_matrix(Y, X)
    with pytest.raises(ValueError, match="positive"):
        matrix_symbols("A", 0, 2)


def test_compare_gradient_passes_right_and_fails_wrong():
    expr = ForwardPass(NEURON).expand(L)
    result = compare_gradient(expr, [w, b], POINT)
    assert result.passed and result.error <= TOLERANCE
    assert "ok" in str(result)
    np.testing.assert_allclose(result.symbolic, _neuron_by_hand(*POINT.values()), rtol=1e-12)
    with pytest.raises(ValueError, match="no value given"):
        compare_gradient(expr, [w], {w: 1.0})


def test_forward_pass_and_chain_rule_typeset_as_latex():
    import sympy as sp

    from bpkit.symbolic import ForwardPass, sigmoid

    w, b, x, y, z, a, L, u, v, q = sp.symbols("w b x y z a L u v q")
    neuron = ForwardPass([(z, w * x + b), (a, sigmoid(z)), (L, (a - y) ** 2)])
    assert neuron._repr_latex_() == (r"$$\begin{aligned} z &= b + w x \\ a &= \frac{1}{1 + e^{- z}} \\ "
                                     r"L &= \left(a - y\right)^{2} \end{aligned}$$")
    chain = neuron.chain_rule(L, w)
    assert chain._repr_latex_() == (r"$$\frac{\partial L}{\partial w} = \frac{\partial L}{\partial a} \, "
                                    r"\frac{\partial a}{\partial z} \, \frac{\partial z}{\partial w}$$")
    two_paths = ForwardPass([(u, x**2), (v, sp.sin(x)), (q, u * v)]).chain_rule(q, x)
    text = two_paths.latex(locals=True)
    assert text.startswith(r"\begin{aligned} \frac{dq}{dx} &= \frac{\partial q}{\partial u} \, \frac{du}{dx} + ")
    assert r"\frac{dv}{dx} &= \cos{\left(x \right)}" in text
    assert repr(neuron).startswith("ForwardPass(") and str(chain) == "dL/dw = dL/da * da/dz * dz/dw"
