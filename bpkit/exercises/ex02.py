"""ex02, computational graphs: the backward closures of a scalar ``Value`` (mul, tanh, exp, pow) and ``backward()``.

The student's object is their ``Value`` class, in micrograd's layout: ``Value(data)`` with ``.data``, ``.grad``
(starting at 0), ``._backward`` (the local chain-rule step of the op that made the node) and ``._prev`` (its
operands). ``call`` builds small expressions with it, runs one op's ``_backward`` by hand (so each op is checked
on its own) and ``backward()`` on a graph with shared nodes, and returns only floats; the grader compares them
with central differences of the same expressions written with floats.
"""
from __future__ import annotations

import math

import numpy as np

from .calling import attempt, plain
from .checks import INPUT, finish_cases, function_spec, gradient, unchanged_check, value_check
from .spec import Exercise, Mistake


class Value:
    """The reference: a scalar node of a computational graph (micrograd's design)."""

    def __init__(self, data, _children=(), _op=""):
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    def _wrap(self, other):
        return other if isinstance(other, Value) else type(self)(other)

    def __add__(self, other):
        other = self._wrap(other)
        out = type(self)(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self._wrap(other)
        out = type(self)(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = type(self)(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t * t) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        out = type(self)(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k):
        out = type(self)(self.data ** k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        order, seen = [], set()

        def visit(node):
            if node not in seen:
                seen.add(node)
                for child in node._prev:
                    visit(child)
                order.append(node)
        visit(self)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

    __radd__ = __add__
    __rmul__ = __mul__


def _cases(rng):
    cases = []
    for k in (2.0, 3.0, -1.0, 0.5):
        a, b = rng.uniform(0.3, 1.5, 2) * rng.choice([-1.0, 1.0], 2)
        cases.append({"a": float(a), "b": float(b), "g": float(rng.uniform(0.5, 2.0) * rng.choice([-1.0, 1.0])),
                      "p": float(rng.uniform(0.5, 2.0)), "k": k, "label": f"a={a:.2f}, b={b:.2f}, k={k:g}"})
    return finish_cases(cases)


# Each op as (forward on floats, how call builds it): "unary" ops act on a, pow on p.
def _graph(a, b):
    """The backward() test: a and b each feed several nodes, and e = a*b feeds two."""
    e = a * b
    return (e + a).tanh() * e + (b * 0.5).exp() + a ** 2


def _one_op(V, op, case):
    """Build one op from fresh leaves, seed out.grad = g, run only its _backward; return data and leaf grads."""
    g = case["g"]
    if op == "mul":
        a, b = V(case["a"]), V(case["b"])
        out = a * b
        out.grad = g
        out._backward()
        c = V(case["a"])
        square = c * c
        square.grad = g
        square._backward()
        return {"mul.data": plain(out.data), "mul.grads": plain([a.grad, b.grad]), "mul.square": plain(c.grad)}
    a = V(case["p"] if op == "pow" else case["a"])
    out = a ** case["k"] if op == "pow" else getattr(a, op)()
    out.grad = g
    out._backward()
    return {f"{op}.data": plain(out.data), f"{op}.grads": plain(a.grad)}


def _whole_graph(V, case):
    a, b = V(case["a"]), V(case["b"])
    out = _graph(a, b)
    out.backward()
    return {"backward.data": plain(out.data), "backward.grads": plain([a.grad, b.grad]),
            INPUT + "a": plain(a.data), INPUT + "b": plain(b.data)}


def _call(V, case):
    outputs = {}
    for op in ("mul", "tanh", "exp", "pow"):
        attempt(outputs, op, lambda op=op: _one_op(V, op, case))
    attempt(outputs, "backward", lambda: _whole_graph(V, case))
    return outputs


FLOAT_OPS = {"tanh": lambda a: np.tanh(a), "exp": lambda a: np.exp(a)}


def _expected(case):
    g = np.array(case["g"])
    a, b, p, k = (np.array(case[n]) for n in ("a", "b", "p", "k"))
    mul = lambda a, b: a * b  # noqa: E731
    out = {"mul.data": a * b, "mul.grads": np.array([gradient(mul, {"a": a, "b": b}, n, g) for n in "ab"]),
           "mul.square": gradient(lambda a: a * a, {"a": a}, "a", g)}
    for op, f in FLOAT_OPS.items():
        out[f"{op}.data"], out[f"{op}.grads"] = f(a), gradient(f, {"a": a}, "a", g)
    out["pow.data"], out["pow.grads"] = p ** k, gradient(lambda p: p ** k, {"p": p}, "p", g)

    def graph(a, b):
        e = a * b
        return np.tanh(e + a) * e + np.exp(b * 0.5) + a ** 2
    out["backward.data"] = graph(a, b)
    out["backward.grads"] = np.array([gradient(graph, {"a": a, "b": b}, n) for n in "ab"])
    return out


CHECKS = []
for _op, _what in (("mul", "a * b"), ("tanh", "a.tanh()"), ("exp", "a.exp()"), ("pow", "p ** k")):
    CHECKS.append(value_check(f"{_op}.data", 0.25, "", part=_op, name=f"{_what}: forward value"))
    CHECKS.append(value_check(f"{_op}.grads", 0.75, "", part=_op, name=f"{_what}: _backward matches central "
                              "differences", hint="each _backward adds (local derivative) * out.grad to its "
                              "operand's .grad"))
    if _op == "mul":
        CHECKS.append(value_check("mul.square", 0.5, "", part="mul", name="a * a: both uses of a add up (+=)",
                                  hint="a node used twice gets both contributions: self.grad += ..., "
                                  "other.grad += ..."))
CHECKS += [value_check("backward.grads", 1.5, "", part="backward",
                       name="backward(): gradients of a graph with shared nodes match central differences",
                       hint="sort the nodes topologically, set self.grad = 1, then call each node's _backward in "
                       "reverse order, exactly once"),
           unchanged_check(("a", "b"), 0.25, part="backward", name="backward() leaves the leaves' data unchanged")]


def _mistake_class(name, **methods):
    return type(f"Value_{name}", (Value,), methods)


def _mul_overwrites(self, other):
    other = self._wrap(other)
    out = type(self)(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad = other.data * out.grad
        other.grad = self.data * out.grad
    out._backward = _backward
    return out


def _mul_own_value(self, other):
    other = self._wrap(other)
    out = type(self)(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad += self.data * out.grad
        other.grad += other.data * out.grad
    out._backward = _backward
    return out


def _tanh_from_input(self):
    out = type(self)(math.tanh(self.data), (self,), "tanh")

    def _backward():
        self.grad += (1 - self.data ** 2) * out.grad
    out._backward = _backward
    return out


def _exp_passthrough(self):
    out = type(self)(math.exp(self.data), (self,), "exp")

    def _backward():
        self.grad += out.grad
    out._backward = _backward
    return out


def _pow_no_exponent(self, k):
    out = type(self)(self.data ** k, (self,), f"**{k}")

    def _backward():
        self.grad += self.data ** (k - 1) * out.grad
    out._backward = _backward
    return out


def _backward_no_topo(self):
    self.grad = 1.0

    def visit(node):
        node._backward()
        for child in node._prev:
            visit(child)
    visit(self)


def _backward_no_seed(self):
    order, seen = [], set()

    def visit(node):
        if node not in seen:
            seen.add(node)
            for child in node._prev:
                visit(child)
            order.append(node)
    visit(self)
    for node in reversed(order):
        node._backward()


VALUE = function_spec(
    "Value", "class Value: __mul__, tanh, exp, __pow__ backward closures and backward()", reference=Value,
    make_cases=_cases, call=_call, expected=_expected, checks=CHECKS,
    mistakes=[
        Mistake("overwrites", "__mul__'s _backward overwrites the gradients (=): accumulate with +=, since a node "
                "used twice (a * a) must receive both contributions",
                _mistake_class("overwrites", __mul__=_mul_overwrites)),
        Mistake("mul_own_value", "in __mul__, each operand's gradient is the OTHER operand's value times "
                "out.grad: self.grad += other.data * out.grad",
                _mistake_class("own_value", __mul__=_mul_own_value)),
        Mistake("tanh_from_input", "tanh's derivative is 1 - t**2 with t = tanh(x), the OUTPUT; you used "
                "1 - x**2 of the input", _mistake_class("tanh_input", tanh=_tanh_from_input)),
        Mistake("exp_passthrough", "exp's _backward passed out.grad straight through: multiply by the local "
                "derivative, exp(x), which is out.data", _mistake_class("exp_pass", exp=_exp_passthrough)),
        Mistake("pow_no_exponent", "d/dx x**k = k * x**(k - 1): you left out the factor k",
                _mistake_class("pow_k", __pow__=_pow_no_exponent)),
        Mistake("no_topological_order", "backward() must visit nodes in reverse topological order, each once: a "
                "shared node's _backward ran before all its gradient had arrived (or ran twice)",
                _mistake_class("no_topo", backward=_backward_no_topo)),
        Mistake("no_seed", "backward() must start with self.grad = 1.0 (dL/dL = 1), or every gradient stays 0",
                _mistake_class("no_seed", backward=_backward_no_seed)),
    ],
    release_hint="write this step of the chain rule",
    part_hints={"__mul__": "each operand receives the OTHER operand's value times out.grad; accumulate, a node "
                           "may be used twice",
                "tanh": "the local derivative of tanh, written with its output t",
                "exp": "the derivative of exp is exp itself, and out already holds it",
                "__pow__": "the power rule, times out.grad",
                "backward": "order the nodes so each comes after everything it depends on, seed this node's "
                            "gradient, then run every _backward in reverse order"})


EXERCISE = Exercise("ex02", "Computational graphs: a scalar autodiff engine", "ex02_computational_graphs.ipynb",
                    [VALUE])
