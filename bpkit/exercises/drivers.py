"""How a student's function is called on one case: ``call(fn, case) -> outputs`` (plain values only).

A spec names its driver and arguments (``drivers.function("relu_backward", args=("dout", "x"), returns=("dx",))``);
the released public check data stores that description, and the student's ``check()`` and the grader's sandboxed
child rebuild the same ``call`` from it. So the student side needs no exercise code, only these drivers, and no
driver holds any exercise's solution.

Outputs: each returned value under its name; ``input:NAME`` the input array as it was after the call (to catch an
input changed in place); ``"__invalid__"`` a message when the return value cannot be split; ``PART!status`` /
``PART!message`` when one part of a call raised (one unfinished method does not zero the others).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..nn.conv import Conv2d, MaxPool2d
from ..nn.layers import Flatten, Linear, ReLU, Sigmoid, Tanh
from ..nn.model import Sequential
from .calling import INPUT_PREFIX as INPUT, attempt, call_with, copies, plain, unpack

Call = Callable[[Any, dict], dict]


def _described(call: Call, name: str, kwargs: dict) -> Call:
    call.driver = (name, kwargs)
    return call


# ---- a plain function: arrays and numbers in, a tuple of arrays out ---------------------------------------------

def function(name: str, args, returns, ints=(), unchanged=None) -> Call:
    """``fn(*case[args])`` split into ``returns``; ``ints`` are passed as Python ints; ``unchanged`` (default:
    every array argument) come back as ``input:NAME`` so a check can tell whether they were changed in place."""
    args, returns, ints = tuple(args), tuple(returns), tuple(ints)
    watched = tuple(a for a in args if a not in ints) if unchanged is None else tuple(unchanged)

    def call(fn, case):
        values = [int(case[a]) if a in ints else np.array(case[a], copy=True) for a in args]
        out = unpack(call_with(fn, name, args, values), returns, name)
        out.update({INPUT + a: v for a, v in zip(args, values) if a in watched})
        return out

    return _described(call, "function", dict(name=name, args=list(args), returns=list(returns), ints=list(ints),
                                              unchanged=list(watched)))


# ---- a dict of parameters in, (loss, dict of gradients) out (ex05) ---------------------------------------------

def params_function(name: str, params, args, loss="loss") -> Call:
    """``fn({p: case[p]}, *case[args]) -> (loss, {p: dp})``; outputs ``loss`` and ``dP`` for each parameter.

    ``params`` lists every parameter a case may hold, in order; a case holding only some of them (a network of
    another depth: W1, b1 only, or W1 ... b3) passes those, and has outputs for those only."""
    params, args = tuple(params), tuple(args)

    def call(fn, case):
        values = copies(case, args)
        here = tuple(p for p in params if p in case)
        given = dict(zip(here, copies(case, here)))
        result = call_with(fn, name, ("params", *args), [given, *values])
        if result is None:
            return {"__invalid__": f"{name} returned None: did you forget `return`?"}
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            return {"__invalid__": f"{name} should return 2 values ({loss}, grads)"}
        value, grads = result
        outputs = {loss: plain(value), **{INPUT + a: v for a, v in zip(args, values)}}
        for p in here:
            got = grads.get(p, "!nothing") if isinstance(grads, dict) else "!nothing"
            outputs[f"d{p}"] = got if isinstance(got, str) else plain(got)
            outputs[INPUT + p] = given[p]
        return outputs

    return _described(call, "params_function", dict(name=name, params=list(params), args=list(args), loss=loss))


# ---- an optimizer step, run a few times in a row (ex06, ex07) ---------------------------------------------------

def steps(name: str, state, hyper=(), counter: str = "", defaults_flag: str = "") -> Call:
    """Run ``fn(w, dw[k], *state, [counter + k], *hyper)`` for the K gradients of the case, chaining w and state.

    The contract: a step returns new arrays and leaves its inputs alone. The arrays handed to the first step come
    back as ``input:w``, ``input:<state>`` (and ``input:dw``), so a step that changes them in place is caught.
    Outputs: ``w`` and each state after the first step (shape/dtype check), ``w_change`` (K, ...) the change of w at
    each step, ``<state>_all`` (K, ...) the state after each step. With ``defaults_flag`` set in a case, only the
    counter is passed (the defaults of the hyper-parameters are tested).
    """
    state, hyper = tuple(state), tuple(hyper)

    def call(fn, case):
        w = np.array(case["w"], copy=True)
        values = [np.array(case[s], copy=True) for s in state]
        grads = np.array(case["dw"], copy=True)
        changes, history, first, handed, handed_dw = [], [], None, {}, []
        problem = ""
        for k in range(grads.shape[0]):
            extra = () if defaults_flag and case.get(defaults_flag) else tuple(case[h] for h in hyper)
            count = (int(case[counter]) + k,) if counter else ()
            w_in, g_in, s_in = w.copy(), grads[k].copy(), [v.copy() for v in values]
            result = call_with(fn, name, ("w", "dw", *state, *((counter,) if counter else ()), *hyper[:len(extra)]),
                               [w_in, g_in, *s_in, *count, *extra])
            if k == 0:
                handed = {"w": w_in, **dict(zip(state, s_in))}
            handed_dw.append(g_in)
            if result is None:
                return {"__invalid__": f"{name} returned None: did you forget `return`?"}
            if not isinstance(result, (tuple, list)) or len(result) != 1 + len(state):
                return {"__invalid__": f"{name} should return {1 + len(state)} values ({', '.join(('w', *state))})"}
            out = [plain(r) for r in result]
            if first is None:
                first = out
            if any(isinstance(o, str) or o.shape != w.shape for o in out):
                problem = "!a step returned something that is not an array of w's shape"
                break
            changes.append(out[0] - w)
            history.append(out[1:])
            w, values = out[0], out[1:]
        outputs = {"w": first[0], **{s: first[1 + i] for i, s in enumerate(state)}}
        outputs.update({INPUT + k: v for k, v in handed.items()})
        if len(handed_dw) == grads.shape[0]:
            outputs[INPUT + "dw"] = np.stack(handed_dw)
        outputs["w_change"] = problem or np.stack(changes)
        for i, s in enumerate(state):
            outputs[f"{s}_all"] = problem or np.stack([h[i] for h in history])
        return outputs

    return _described(call, "steps", dict(name=name, state=list(state), hyper=list(hyper), counter=counter,
                                          defaults_flag=defaults_flag))


# ---- a function written once for floats and for SymPy symbols (ex01) --------------------------------------------

def _number(value, what: str):
    try:
        return plain(float(value))
    except (TypeError, ValueError):
        return f"!{type(value).__name__} for {what}, not a number"


def numeric_and_symbolic(name: str, args) -> Call:
    """``fn`` called with floats (must return a number) and with SymPy symbols (must return an expression in them,
    evaluated here at the case's numbers): outputs ``numeric.value`` and ``symbolic.value``."""
    args = tuple(args)

    def symbolic(fn, case):
        import sympy

        symbols = sympy.symbols(" ".join(args), real=True)
        expr = call_with(fn, name, args, list(symbols))
        if not isinstance(expr, sympy.Basic):
            return f"!{type(expr).__name__}, not a SymPy expression"
        extra = expr.free_symbols - set(symbols)
        if extra:
            return f"!an expression in {', '.join(sorted(map(str, extra)))}: use only the arguments {', '.join(args)}"
        return _number(expr.subs(dict(zip(symbols, (case[n] for n in args)))).evalf(), "the symbolic result")

    def call(fn, case):
        outputs = {}
        attempt(outputs, "numeric", lambda: {"numeric.value": _number(
            call_with(fn, name, args, [case[n] for n in args]), "floats")}, case)
        attempt(outputs, "symbolic", lambda: {"symbolic.value": symbolic(fn, case)}, case)
        return outputs

    return _described(call, "numeric_and_symbolic", dict(name=name, args=list(args)))


# ---- a scalar autodiff class (ex02) ------------------------------------------------------------------------------

def _graph(a, b):
    """The backward() test: a and b each feed several nodes, and e = a*b feeds two."""
    e = a * b
    return (e + a).tanh() * e + (b * 0.5).exp() + a ** 2


def _second_graph(a, b):
    return (a * b).exp() + b ** 3


UNARY_OPS = ("tanh", "exp", "pow")
FORWARD = ":forward"       # the part name of an op's forward value (``value_class``), beside the op's own part


def _run_backward(node, g) -> None:
    """``node._backward(g)``; a closure written micrograd's way (no argument) gets one clear line."""
    import inspect

    try:
        takes = len(inspect.signature(node._backward).parameters)
    except (TypeError, ValueError):
        takes = 1
    if takes == 0:
        raise TypeError("_backward takes no argument: in this course (lesson 02's API) it receives the upstream "
                        "gradient, def _backward(g), and adds g * (local derivative) to each parent's .grad "
                        "(micrograd's _backward() reads out.grad instead)")
    node._backward(g)


def _build_op(V, op, case):
    """(the op's node, its leaves) built from fresh leaves, and ``build`` to make the op again from other leaves."""
    def build(*leaves):
        if op == "mul":
            return leaves[0] * leaves[1]
        return leaves[0] ** case["k"] if op == "pow" else getattr(leaves[0], op)()

    first = case["p"] if op == "pow" else case["a"]
    leaves = [V(first), V(case["b"])] if op == "mul" else [V(first)]
    return build(*leaves), leaves, build


def _op_forward(V, op, case):
    """Output ``OP.data``: the op's value, checked on its own (a forward pass that works is not undone by an
    unfinished _backward)."""
    return {f"{op}.data": plain(_build_op(V, op, case)[0].data)}


def _one_op(V, op, case):
    """Build one op from fresh leaves, run only its ``_backward(g)``; then the same op twice on one leaf.

    Outputs: ``OP.grads`` (each leaf's grad after one _backward(g)) and ``OP.twice`` (a leaf's grad after two nodes
    made from it each ran _backward(g): the contributions must add up).
    """
    g = case["g"]
    out, leaves, build = _build_op(V, op, case)
    first = case["p"] if op == "pow" else case["a"]
    _run_backward(out, g)
    result = {f"{op}.grads": plain([leaf.grad for leaf in leaves])}
    c = V(first)
    if op == "mul":
        square = c * c
        _run_backward(square, g)
    else:
        for node in (build(c), build(c)):
            _run_backward(node, g)
    result[f"{op}.twice"] = plain(c.grad)
    return result


def _node(V, data, parents, local, op):
    """A node of the student's class whose ``_backward`` is the driver's own: parent i gets local[i] * g. ``op`` is
    the symbol the student's own op would record (a backward() may read it, e.g. to skip leaves)."""
    out = V(data, _parents=tuple(parents), _op=op)

    def _backward(g):
        for parent, derivative in zip(parents, local):
            parent.grad += derivative * g
    out._backward = _backward
    return out


def _hand_graph(V, a, b):
    """``_graph(a, b)`` built node by node with the driver's closures: backward() is then tested on its own, and a
    wrong op (which has rows of its own) does not also cost backward()'s rows."""
    e = _node(V, a.data * b.data, (a, b), (b.data, a.data), "*")
    s = _node(V, e.data + a.data, (e, a), (1.0, 1.0), "+")
    t = _node(V, math.tanh(s.data), (s,), (1.0 - math.tanh(s.data) ** 2,), "tanh")
    te = _node(V, t.data * e.data, (t, e), (e.data, t.data), "*")
    half = _node(V, b.data * 0.5, (b, V(0.5)), (0.5, b.data), "*")      # b * 0.5 lifts 0.5 to a leaf
    x = _node(V, math.exp(half.data), (half,), (math.exp(half.data),), "exp")
    square = _node(V, a.data ** 2, (a,), (2.0 * a.data,), "**2")
    total = _node(V, te.data + x.data, (te, x), (1.0, 1.0), "+")
    return _node(V, total.data + square.data, (total, square), (1.0, 1.0), "+")


def _hand_second_graph(V, a, b):
    """``_second_graph(a, b)`` = exp(a b) + b**3, built as ``_hand_graph``."""
    ab = _node(V, a.data * b.data, (a, b), (b.data, a.data), "*")
    x = _node(V, math.exp(ab.data), (ab,), (math.exp(ab.data),), "exp")
    cube = _node(V, b.data ** 3, (b,), (3.0 * b.data ** 2,), "**3")
    return _node(V, x.data + cube.data, (x, cube), (1.0, 1.0), "+")


def _whole_graph(V, case):
    """backward() on a graph with shared nodes, then on a second graph over the same leaves. The nodes carry the
    driver's closures when the class takes lesson 02's ``Value(data, _parents=..., _op=...)``; otherwise the graph
    is built with the student's own ops."""
    a, b = V(case["a"]), V(case["b"])
    try:
        out, build_second = _hand_graph(V, a, b), _hand_second_graph
    except TypeError:
        a, b = V(case["a"]), V(case["b"])
        out, build_second = _graph(a, b), (lambda V, a, b: _second_graph(a, b))
    out.backward()
    result = {"backward.data": plain(out.data), "backward.grads": plain([a.grad, b.grad]),
              "backward.seed": plain(out.grad),         # not checked: tells "never seeded" from "wrong order"
              INPUT + "a": plain(a.data), INPUT + "b": plain(b.data)}
    second = build_second(V, a, b)
    second.backward()
    result["backward.accumulated"] = plain([a.grad, b.grad])
    return result


def value_class(name: str = "Value", ops=("mul", *UNARY_OPS)) -> Call:
    """The student's ``Value`` class with lesson 02's API: ``Value(x)``, ``.data``, ``.grad``, ``.parents`` and
    ``._backward(g)`` receiving the upstream gradient; ``backward()`` accumulates into ``.grad``."""
    ops = tuple(ops)

    def call(V, case):
        outputs = {}
        if not isinstance(V, type):
            return {"__invalid__": f"expected the class {name} itself (check({name})), got a {type(V).__name__}"}
        for op in ops:
            attempt(outputs, op + FORWARD, lambda op=op: _op_forward(V, op, case), case)
            attempt(outputs, op, lambda op=op: _one_op(V, op, case), case)
        attempt(outputs, "backward", lambda: _whole_graph(V, case), case)
        return outputs

    return _described(call, "value_class", dict(name=name, ops=list(ops)))


def value_graph_expected(case) -> dict:
    """What ``value_class`` returns for a right answer, computed with floats (central differences; grader side)."""
    from .checks import gradient

    g = np.array(case["g"])
    a, b, p, k = (np.array(case[n], dtype=np.float64) for n in ("a", "b", "p", "k"))
    ab = {"a": a, "b": b}
    out = {"mul.data": a * b, "mul.grads": np.array([gradient(lambda a, b: a * b, ab, n, g) for n in "ab"]),
           "mul.twice": gradient(lambda a: a * a, {"a": a}, "a", g)}
    for op, f, x in (("tanh", lambda x: np.tanh(x), a), ("exp", lambda x: np.exp(x), a), ("pow", lambda x: x ** k, p)):
        d = gradient(f, {"x": x}, "x", g)
        out[f"{op}.data"], out[f"{op}.grads"], out[f"{op}.twice"] = f(x), np.array([d]), 2 * d

    def graph(a, b):
        e = a * b
        return np.tanh(e + a) * e + np.exp(b * 0.5) + a ** 2

    out["backward.data"] = graph(a, b)
    first = np.array([gradient(graph, ab, n) for n in "ab"])
    out["backward.grads"] = first
    out["backward.accumulated"] = first + np.array([gradient(lambda a, b: np.exp(a * b) + b ** 3, ab, n)
                                                    for n in "ab"])
    return out


# ---- a numerical-differentiation function given f (ex08) ---------------------------------------------------------

def objective(case) -> Callable[[np.ndarray], float]:
    """f(x) = sum(c sin x) + (sum(a x))^2 / 2: smooth, and every entry of the gradient depends on all of x."""
    a, c = np.array(case["a"], dtype=np.float64), np.array(case["c"], dtype=np.float64)
    return lambda x: float(np.sum(c * np.sin(x)) + 0.5 * np.sum(a * x) ** 2)


def gradient_of_objective(name: str) -> Call:
    """``fn(f, x)`` (or ``fn(f, x, h)`` when the case sets h) with f = ``objective(case)``; output ``grad``."""

    def call(fn, case):
        (x,) = copies(case, ("x",))
        f = objective(case)
        result = (call_with(fn, name, ("f", "x"), [f, x]) if not case["h"]
                  else call_with(fn, name, ("f", "x", "h"), [f, x, case["h"]]))
        return {**unpack(result, ("grad",), name), INPUT + "x": x}

    return _described(call, "gradient_of_objective", dict(name=name))


# ---- a function given a bpkit model (ex08, ex13) -----------------------------------------------------------------

WEIGHTS = "weights:"                   # outputs["weights:2.Linear.W"]: how far that parameter moved during the call
WEIGHTS_CHANGED = WEIGHTS + "changed"   # 1.0 when any parameter of the model changed during the call, else 0.0
WEIGHTS_LAYERS = WEIGHTS + "layers"     # present only when the call changed the model's list of layers (a "!" text)


def network_case(rng, n: int, widths, activation: str, inputs: str = "X", labels: str = "y") -> dict:
    """A case for ``build_model``: n random inputs, class labels, and weights ``W{i}`` / ``b{i}`` for the layer
    widths (input to classes), scaled so every activation stays in its curved range."""
    case = {inputs: rng.standard_normal((n, widths[0])), labels: rng.integers(0, widths[-1], n),
            "activation": activation, "layers": len(widths) - 1,
            "label": f"N={n}, widths {'-'.join(map(str, widths))}, {activation}"}
    for i, (d, m) in enumerate(zip(widths[:-1], widths[1:])):
        case[f"W{i}"] = rng.standard_normal((d, m)) * 1.5 / np.sqrt(d)
        case[f"b{i}"] = 0.1 * rng.standard_normal(m)
    return case


def cnn_case(rng, n: int, channels: int, size, filters: int, classes: int, inputs: str = "x",
             labels: str = "cls", margin: float = 1e-3) -> dict:
    """A case for ``build_model``: lesson 09's CNN in small, Conv2d(channels, filters, 3, padding=1), ReLU,
    MaxPool2d(2), Flatten, Linear(filters * H/2 * W/2, classes), on n random (channels, H, W) images.

    ReLU and max-pooling have kinks, where central differences are wrong; the draw is repeated until every
    convolution output is at least ``margin`` from 0 and every pooling window's largest positive value is at least
    ``margin`` above the window's next value, so a step of h = 1e-5 never crosses a kink.
    """
    h, w = size
    d = filters * (h // 2) * (w // 2)
    for _ in range(100):
        case = {inputs: rng.standard_normal((n, channels, h, w)), labels: rng.integers(0, classes, n),
                "conv": 1, "kernel": 3, "padding": 1, "pool": 2, "activation": "relu", "layers": 2,
                "label": f"N={n}, a CNN (Conv2d {channels}->{filters}, ReLU, MaxPool2d, Linear) on {channels}x{h}x{w} "
                         "images",
                "W0": rng.standard_normal((filters, channels, 3, 3)) * 1.5 / np.sqrt(9 * channels),
                "b0": 0.1 * rng.standard_normal(filters),
                "W1": rng.standard_normal((d, classes)) * 1.5 / np.sqrt(d), "b1": 0.1 * rng.standard_normal(classes)}
        conv = build_model(case).layers[0].forward(case[inputs])                # (N, F, H, W) before the ReLU
        windows = np.maximum(conv, 0).reshape(n, filters, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
        top2 = np.sort(windows.reshape(-1, 4), axis=1)[:, -2:]
        gaps = (top2[:, 1] - top2[:, 0])[top2[:, 1] > 0]
        if np.abs(conv).min() >= margin and (gaps.size == 0 or gaps.min() >= margin):
            return case
    raise ValueError("cnn_case: no draw away from the kinks in 100 tries")   # pragma: no cover


MODEL_CLASSES = (Sequential, Linear, Tanh, Sigmoid, ReLU, Conv2d, MaxPool2d, Flatten)   # what build_model uses


def build_model(case, weights=None):
    """The case's network as a bpkit Sequential, weights copied in: (Linear, activation, ..., Linear) for a
    ``network_case``; (Conv2d, ReLU, MaxPool2d, Flatten, Linear) for a ``cnn_case``.

    (A spec using it lists ``MODEL_CLASSES`` in ``hands_over``: the grader keeps these classes where a submission
    runs, and nothing else of bpkit.)"""
    weights = weights or {k: case[k] for k in case if k[0] in "Wb" and k[1:].isdigit()}
    W, b = ({k: np.array(v, dtype=np.float64, copy=True) for k, v in weights.items() if k[0] == c} for c in "Wb")
    if int(case.get("conv", 0)):
        conv = Conv2d(W["W0"].shape[1], W["W0"].shape[0], int(case["kernel"]), padding=int(case["padding"]))
        conv.params.update(W=W["W0"], b=b["b0"])
        linear = Linear(*W["W1"].shape)
        linear.params.update(W=W["W1"], b=b["b1"])
        return Sequential(conv, ReLU(), MaxPool2d(int(case["pool"])), Flatten(), linear)
    activations = {"tanh": Tanh, "sigmoid": Sigmoid, "relu": ReLU}
    layers = []
    for i in range(int(case["layers"])):
        linear = Linear(*W[f"W{i}"].shape)
        linear.params.update(W=W[f"W{i}"], b=b[f"b{i}"])
        layers += [linear, activations[str(case["activation"])]()] if i < int(case["layers"]) - 1 else [linear]
    return Sequential(*layers)


def _snapshot(model) -> list:
    """(position in model.layers, layer type, parameter name, a copy of the array) for every parameter."""
    return [(i, type(layer).__name__, name, np.array(array, copy=True))
            for i, layer in enumerate(model.layers) for name, array in layer.params.items()]


def _layer_names(model) -> str:
    """The model's layers by type, in order ("Linear, Tanh, Linear"); a model without a list of layers says so."""
    try:
        return ", ".join(type(layer).__name__ for layer in model.layers)
    except Exception:  # noqa: BLE001 - the call replaced model.layers with something that is not a list of layers
        return "(not a list of layers)"


def _moved(model, i: int, name: str, before: np.ndarray):
    """How far ``model.layers[i].params[name]`` moved from ``before``: the largest change as a float (0.0 when
    it is exactly the same), or a "!" string when it is no longer an array of that shape."""
    try:
        after = model.layers[i].params[name]
    except Exception:  # noqa: BLE001 - a layer or a parameter the call removed
        return f"!model.layers[{i}].params[{name!r}] no longer exists"
    value = plain(after)
    if isinstance(value, str) or np.shape(value) != before.shape:
        what = value.lstrip("!") if isinstance(value, str) else f"an array of shape {np.shape(value)}"
        return f"!became {what} (it was an array of shape {before.shape})"
    value = np.asarray(value)
    if np.array_equal(value, before):
        return 0.0
    change = np.abs(value.astype(np.float64) - before)
    if not np.all(np.isfinite(change)):
        return "!now holds NaN or infinity"
    return float(f"{change.max():.6g}")   # (a figure to show: 6 digits keep the check data stable across BLAS sums)


def model_function(name: str, args, returns, weights_unchanged: bool = False) -> Call:
    """``fn(model, *case[args])`` with ``model = build_model(case)``.

    ``weights_unchanged``: every parameter is copied before the call and compared, exactly, after it: outputs
    ``weights:I.TYPE.NAME`` (the largest change of ``model.layers[I].params[NAME]``, 0.0 when untouched) and
    ``weights:changed`` (1.0 when any changed), for ``weights_check`` (a function that must not update the model).
    """
    args, returns = tuple(args), tuple(returns)

    def call(fn, case):
        values = copies(case, args)
        model = build_model(case)
        before = _snapshot(model) if weights_unchanged else []
        layers = _layer_names(model) if weights_unchanged else ""
        out = unpack(call_with(fn, name, ("model", *args), [model, *values]), returns, name)
        out.update({INPUT + a: v for a, v in zip(args, values)})
        if weights_unchanged:
            moved = {f"{WEIGHTS}{i}.{kind}.{p}": _moved(model, i, p, array) for i, kind, p, array in before}
            if _layer_names(model) != layers:
                moved[WEIGHTS_LAYERS] = f"!they were {layers}; now they are {_layer_names(model)}"
            out[WEIGHTS_CHANGED] = float(any(v != 0.0 for v in moved.values()))
            out.update(moved)
        return out

    extra = {"weights_unchanged": True} if weights_unchanged else {}   # (ex08's check data stays as it was)
    return _described(call, "model_function", dict(name=name, args=list(args), returns=list(returns), **extra))


DRIVERS = {"function": function, "params_function": params_function, "steps": steps,
           "numeric_and_symbolic": numeric_and_symbolic, "value_class": value_class,
           "gradient_of_objective": gradient_of_objective, "model_function": model_function}


def build(name: str, kwargs: dict) -> Call:
    """The ``call`` a spec described as (name, kwargs) (what the public check data stores)."""
    if name not in DRIVERS:
        raise KeyError(f"unknown driver {name!r}; known: {', '.join(DRIVERS)}")
    return DRIVERS[name](**kwargs)

