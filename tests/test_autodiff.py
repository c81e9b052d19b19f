"""bpkit.autodiff.Value: every op against central differences, random expressions against SymPy, and the two
classic pitfalls (a node used twice, backward called twice: leaves accumulate as in PyTorch), plus a chain deeper
than the recursion limit."""
import math
import sys

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from bpkit.autodiff import Value
from bpkit.autodiff_nn import MLP, Layer, Neuron
from bpkit.gradcheck import TOLERANCE, numerical_gradient, relative_error

# ---------------------------------------------------------------- every op vs central differences
# (name, function of Values, point away from kinks and domain edges)
UNARY = [
    ("add const", lambda a: a + 1.5, 0.7),
    ("radd", lambda a: 1.5 + a, 0.7),
    ("sub const", lambda a: a - 2.0, 0.7),
    ("rsub", lambda a: 1 - a, 0.7),
    ("mul const", lambda a: a * 3.0, 0.7),
    ("rmul", lambda a: 2 * a, 0.7),
    ("div const", lambda a: a / 4.0, 0.7),
    ("rdiv", lambda a: 2.0 / a, 0.7),
    ("neg", lambda a: -a, 0.7),
    ("pow 3", lambda a: a ** 3, -0.8),
    ("pow -2", lambda a: a ** -2, 1.3),
    ("pow 0.5", lambda a: a ** 0.5, 1.3),
    ("exp", lambda a: a.exp(), 0.4),
    ("log", lambda a: a.log(), 1.7),
    ("tanh", lambda a: a.tanh(), 0.3),
    ("sigmoid", lambda a: a.sigmoid(), -0.6),
    ("sigmoid positive", lambda a: a.sigmoid(), 2.5),
    ("relu positive", lambda a: a.relu(), 0.9),
    ("relu negative", lambda a: a.relu(), -0.9),
]

BINARY = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
]


def _backward_grads(fn, xs):
    leaves = [Value(float(v)) for v in xs]
    fn(*leaves).backward()
    return np.array([leaf.grad for leaf in leaves])


def _numeric_grads(fn, xs):
    x = np.array(xs, dtype=np.float64)
    return numerical_gradient(lambda arr: fn(*[Value(float(v)) for v in arr]).data, x)


@pytest.mark.parametrize("name,fn,x0", UNARY, ids=[u[0] for u in UNARY])
def test_unary_op_gradient_matches_central_differences(name, fn, x0):
    err = relative_error(_backward_grads(fn, [x0]), _numeric_grads(fn, [x0]))
    assert err <= TOLERANCE, f"{name}: relative error {err:.2e}"


@pytest.mark.parametrize("name,fn", BINARY, ids=[b[0] for b in BINARY])
def test_binary_op_gradient_matches_central_differences(name, fn):
    point = [0.8, -1.3]
    err = relative_error(_backward_grads(fn, point), _numeric_grads(fn, point))
    assert err <= TOLERANCE, f"{name}: relative error {err:.2e}"


@pytest.mark.parametrize("name,fn,x0", UNARY, ids=[u[0] for u in UNARY])
def test_forward_values_match_math(name, fn, x0):
    reference = {"exp": math.exp, "log": math.log, "tanh": math.tanh, "pow 0.5": math.sqrt,
                 "sigmoid": lambda v: 1 / (1 + math.exp(-v)), "sigmoid positive": lambda v: 1 / (1 + math.exp(-v)),
                 "relu positive": lambda v: max(0.0, v), "relu negative": lambda v: max(0.0, v)}
    if name in reference:
        assert fn(Value(x0)).data == pytest.approx(reference[name](x0), rel=1e-14)


# ---------------------------------------------------------------- the pitfalls
def test_node_used_twice_accumulates():
    x = Value(3.0)
    y = x * x
    y.backward()
    assert x.grad == 6.0


def test_node_used_in_several_branches_sums_all_paths():
    x = Value(0.5)
    y = x * x.exp() + x.tanh() - 3 * x   # dy/dx = e^x (1 + x) + 1 - tanh^2 x - 3
    y.backward()
    expected = math.exp(0.5) * 1.5 + 1 - math.tanh(0.5) ** 2 - 3
    assert x.grad == pytest.approx(expected, rel=1e-14)


def test_a_plus_a_counts_both_operands():
    a = Value(-2.0)
    (a + a).backward()
    assert a.grad == 2.0


def test_backward_twice_accumulates_on_the_leaves_as_in_pytorch():
    x, w = Value(0.3), Value(-1.2)
    hidden = (w * x).sigmoid()
    loss = (hidden - 1.0) ** 2
    loss.backward()
    first = (x.grad, w.grad, hidden.grad, loss.grad)
    loss.backward()
    assert (x.grad, w.grad) == (2 * first[0], 2 * first[1])
    assert (hidden.grad, loss.grad) == (first[2], 1.0), "interior nodes hold this pass's gradient, not a sum"


def test_zero_grad_resets_the_whole_graph_and_backward_then_gives_the_same_grads():
    x, w = Value(0.3), Value(-1.2)
    loss = ((w * x).sigmoid() - 1.0) ** 2
    loss.backward()
    first = [node.grad for node in loss.topological_order()]
    loss.zero_grad()
    assert all(node.grad == 0.0 for node in loss.topological_order())
    loss.backward()
    assert [node.grad for node in loss.topological_order()] == first


def test_gradients_of_two_graphs_add_up_on_a_shared_leaf_until_zero_grad():
    x = Value(2.0)
    (x * 5).backward()
    (x * x).backward()
    assert x.grad == 5.0 + 4.0  # d(5x)/dx + d(x^2)/dx: the same as one backward of their sum
    x.grad = 0.0                # or model.zero_grad() / root.zero_grad()
    (x * x).backward()
    assert x.grad == 4.0


def test_an_interior_node_never_passes_on_a_stale_gradient():
    """micrograd's pitfall: a second backward would send the interior nodes' old grads down again (3x, not 2x)."""
    a = Value(1.5)
    b = a * a          # interior, db/da = 3
    c = b * 2.0        # dc/da = 6
    c.backward()
    c.backward()
    assert a.grad == 12.0 and b.grad == 2.0


def test_backward_on_a_leaf_accumulates_one():
    x = Value(4.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0


def test_topological_order_is_deterministic_and_follows_the_parents_order():
    def graph():
        a, b, c = Value(1.0, label="a"), Value(2.0, label="b"), Value(3.0, label="c")
        d = a * b
        d.label = "d"
        e = d + c
        e.label = "e"
        f = e * d
        f.label = "f"
        return f

    orders = [[node.label for node in graph().topological_order()] for _ in range(5)]
    assert all(order == orders[0] for order in orders)
    assert orders[0] == ["a", "b", "d", "c", "e", "f"]


def test_chain_10000_deep_needs_no_recursion():
    limit = sys.getrecursionlimit()
    x = Value(0.5)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert sys.getrecursionlimit() == limit
    assert x.grad == pytest.approx(1.0001 ** 10_000, rel=1e-9)
    assert len(y.topological_order()) == 20_001  # 10,000 products, 10,000 constants, x
    del y  # freeing a deep chain must not crash either


def test_graph_has_no_reference_cycles():
    import gc
    import weakref
    gc.disable()
    try:
        x = Value(0.3)
        y = ((x * 2).tanh().exp() / (x + 1)).sigmoid().log()
        y.backward()
        middle = weakref.ref(y.parents[0])
        del y
        assert middle() is None  # freed by reference counting alone, without the cycle collector
    finally:
        gc.enable()


def test_local_derivatives_use_the_forward_numbers():
    a, b = Value(2.0), Value(3.0)
    out = a * b
    a.data = 100.0  # changing a leaf after the forward pass does not change the recorded graph
    out.backward()
    assert (a.grad, b.grad) == (3.0, 2.0)


def test_topological_order_puts_parents_first():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = e.topological_order()
    pos = {id(n): i for i, n in enumerate(order)}
    assert order[-1] is e
    for node in order:
        for p in node.parents:
            assert pos[id(p)] < pos[id(node)]
    assert len(order) == 5


def test_sigmoid_is_stable_for_large_inputs():
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).sigmoid().data == 1.0


def test_relu_gradient_at_the_kink_is_zero():
    x = Value(0.0)
    x.relu().backward()
    assert x.grad == 0.0


# ---------------------------------------------------------------- clear errors
@pytest.mark.parametrize("bad", ["1.0", None, [1.0], True, np.array([1.0, 2.0])])
def test_value_rejects_non_numbers(bad):
    with pytest.raises(TypeError, match="expected a real number"):
        Value(bad)


def test_numpy_scalars_are_accepted():
    assert Value(np.float32(1.5)).data == 1.5
    assert Value(np.int64(2)).data == 2.0


def test_operand_errors_are_clear():
    x = Value(1.0)
    with pytest.raises(TypeError, match="expected a real number"):
        x + "a"
    with pytest.raises(TypeError, match="exponent must be a plain number"):
        x ** Value(2.0)
    with pytest.raises(ValueError, match="positive number"):
        Value(-1.0).log()
    with pytest.raises(ZeroDivisionError):
        x / 0
    with pytest.raises(ValueError, match="negative base"):
        Value(-2.0) ** 0.5


# ---------------------------------------------------------------- random expressions vs SymPy
X, Y, Z = sp.symbols("x y z")
SYMBOLS = (X, Y, Z)


def _relu_sym(e):
    return sp.Piecewise((e, e > 0), (0, True))


# Each op: (Value version, SymPy version). Domains are kept safe by construction (b*b + 0.5 > 0, a*a + 1 > 0).
OPS_1 = {
    "exp": (lambda a: a.exp(), sp.exp),
    "tanh": (lambda a: a.tanh(), sp.tanh),
    "sigmoid": (lambda a: a.sigmoid(), lambda e: 1 / (1 + sp.exp(-e))),
    "relu": (lambda a: a.relu(), _relu_sym),
    "log": (lambda a: (a * a + 1).log(), lambda e: sp.log(e * e + 1)),
    "sqrt": (lambda a: (a * a + 1) ** 0.5, lambda e: sp.sqrt(e * e + 1)),
    "cube": (lambda a: a ** 3, lambda e: e ** 3),
    "neg": (lambda a: -a, lambda e: -e),
    "rsub": (lambda a: 1 - a, lambda e: 1 - e),
}
OPS_2 = {
    "+": (lambda a, b: a + b, lambda a, b: a + b),
    "-": (lambda a, b: a - b, lambda a, b: a - b),
    "*": (lambda a, b: a * b, lambda a, b: a * b),
    "/": (lambda a, b: a / (b * b + 0.5), lambda a, b: a / (b * b + sp.Rational(1, 2))),
    "2*": (lambda a, b: 2 * a + b, lambda a, b: 2 * a + b),
}

trees = st.recursive(
    st.sampled_from([0, 1, 2]),  # a leaf: index of x, y or z
    lambda sub: st.one_of(
        st.tuples(st.sampled_from(sorted(OPS_1)), sub),
        st.tuples(st.sampled_from(sorted(OPS_2)), sub, sub),
    ),
    max_leaves=8,
)


def _build(tree, leaves, relu_inputs):
    """Evaluate a tree both ways at once: returns (Value, SymPy expression)."""
    if isinstance(tree, int):
        return leaves[tree], SYMBOLS[tree]
    if len(tree) == 2:
        name, child = tree
        v, e = _build(child, leaves, relu_inputs)
        if name == "relu":
            relu_inputs.append(v.data)
        fv, fe = OPS_1[name]
        return fv(v), fe(e)
    name, left, right = tree
    (va, ea), (vb, eb) = _build(left, leaves, relu_inputs), _build(right, leaves, relu_inputs)
    fv, fe = OPS_2[name]
    return fv(va, vb), fe(ea, eb)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(tree=trees, point=st.tuples(*[st.floats(-2, 2, allow_nan=False) for _ in range(3)]))
@example(tree=("-", ("exp", ("/", 1, 0)), ("*", ("exp", 1), ("exp", 1))), point=(0.0, 1.0, 0.0))  # e^2y - e^y e^y
def test_random_expressions_match_sympy(tree, point):
    leaves = [Value(p) for p in point]
    relu_inputs: list[float] = []
    try:
        out, expr = _build(tree, leaves, relu_inputs)
    except OverflowError:
        assume(False)
    assume(all(abs(r) > 1e-3 for r in relu_inputs))  # away from the kink
    assume(math.isfinite(out.data) and abs(out.data) < 1e8)
    out.backward()
    subs = dict(zip(SYMBOLS, point))
    assert float(expr.evalf(subs=subs)) == pytest.approx(out.data, rel=1e-9, abs=1e-12)
    symbolic = np.array([float(sp.diff(expr, s).evalf(subs=subs)) for s in SYMBOLS])
    backward = np.array([leaf.grad for leaf in leaves])
    if np.abs(symbolic).max() < 1e-12:
        # the terms cancel exactly (d/dy of e^2y - e^y e^y): the relative error has no scale left, only roundoff of
        # the cancelling terms (~1e-15) against the policy's 1e-8 floor, so compare with zero at float64 roundoff
        assert np.abs(backward).max() < 1e-12, backward
    else:
        assert relative_error(backward, symbolic) <= TOLERANCE


# ---------------------------------------------------------------- the tiny Value MLP
def test_mlp_shapes_and_parameter_count():
    mlp = MLP(3, [4, 4, 1], seed=0)
    assert len(mlp.parameters()) == (3 * 4 + 4) + (4 * 4 + 4) + (4 + 1)
    assert isinstance(mlp([1.0, 2.0, 3.0]), Value)
    assert len(MLP(3, [4, 2], seed=0)([1.0, 2.0, 3.0])) == 2


def test_mlp_is_seeded():
    a = [p.data for p in MLP(2, [3, 1], seed=7).parameters()]
    b = [p.data for p in MLP(2, [3, 1], seed=7).parameters()]
    c = [p.data for p in MLP(2, [3, 1], seed=8).parameters()]
    assert a == b and a != c


def test_mlp_parameter_gradients_match_central_differences():
    mlp = MLP(2, [3, 1], activation="tanh", seed=1)
    params = mlp.parameters()
    x = [0.4, -0.7]

    def loss_at(arr):
        for p, v in zip(params, arr):
            p.data = float(v)
        return ((mlp(x) - 0.5) ** 2).data

    theta = np.array([p.data for p in params])
    numeric = numerical_gradient(loss_at, theta.copy())
    loss_at(theta)
    loss = (mlp(x) - 0.5) ** 2
    loss.backward()
    assert relative_error(np.array([p.grad for p in params]), numeric) <= TOLERANCE


def test_mlp_training_reduces_loss():
    mlp = MLP(2, [4, 1], seed=0)
    data = [([0.0, 1.0], 1.0), ([1.0, 0.0], -1.0), ([1.0, 1.0], 0.5)]

    def total():
        return sum(((mlp(x) - t) ** 2 for x, t in data), Value(0.0))

    start = total().data
    for _ in range(30):
        loss = total()
        mlp.zero_grad()
        loss.backward()
        for p in mlp.parameters():
            p.data -= 0.1 * p.grad
    assert total().data < 0.5 * start


def test_mlp_zero_grad_and_bad_arguments():
    mlp = MLP(2, [2, 1], seed=0)
    (mlp([1.0, 1.0]) ** 2).backward()
    mlp.zero_grad()
    assert all(p.grad == 0.0 for p in mlp.parameters())
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):
        mlp([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="activation"):
        Neuron(2, activation="softplus")
    with pytest.raises(ValueError, match="nin"):
        Layer(0, 2)
    with pytest.raises(ValueError, match="sizes"):
        MLP(2, [])


def test_max_routes_the_gradient_to_the_winner_only():
    a, b = Value(2.0), Value(-1.0)
    out = a.max(b) * 3.0
    out.backward()
    assert out.data == 6.0 and (a.grad, b.grad) == (3.0, 0.0)
    a, b = Value(-2.0), Value(0.5)
    a.max(b).backward()
    assert (a.grad, b.grad) == (0.0, 1.0)
    a = Value(1.0)
    a.max(0.0).backward()   # a plain number is lifted, as in the other operations
    assert a.grad == 1.0
