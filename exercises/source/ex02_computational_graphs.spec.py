"""Spec of ex02 (format: docs/authoring.md; the reference solutions are the notebook's solution cells).

ex02, computational graphs: the backward closures of a scalar ``Value`` (mul, tanh, exp, pow) and ``backward()``.

The student's object is their ``Value`` class with lesson 02's API (``bpkit.autodiff``): ``Value(data)`` with
``.data``, ``.grad`` (starting at 0), ``.parents`` (the operands, in order) and ``._backward(g)``, the local
chain-rule step of the op that made the node, which receives the upstream gradient ``g`` and adds
``g * (local derivative)`` to each parent's ``.grad``. Gradients accumulate across ``backward()`` calls, as in
PyTorch. The driver (``bpkit.exercises.drivers.value_class``) builds small expressions, runs each op's
``_backward(g)`` by hand (alone, and twice on one shared leaf: contributions must add up), then ``backward()`` on
a graph with shared nodes and again on a second graph over the same leaves (the leaves' grads must add up); those
graphs' nodes carry the driver's own ``_backward`` closures, so backward() is graded on its own and a wrong local
derivative costs only its op's rows. Everything is compared with central differences of the same expressions
written with floats.
"""
from bpkit.exercises.authoring import *  # noqa: F403

import math


def _cases(rng):
    cases = []
    for i, k in enumerate((2.0, 3.0, -1.0, 0.5)):
        a, b = rng.uniform(0.3, 1.5, 2) * rng.choice([-1.0, 1.0], 2)
        cases.append({"a": float(a), "b": float(b), "g": float(rng.uniform(0.5, 2.0) * rng.choice([-1.0, 1.0])),
                      "p": float(rng.uniform(0.5, 2.0)), "k": k, "label": f"case {i + 1}"})
    return finish_cases(cases)


OPS = (("mul", "a * b"), ("tanh", "a.tanh()"), ("exp", "a.exp()"), ("pow", "p ** k"))
CHECKS = []
for _op, _what in OPS:
    # the forward code is given in the notebook: its row says whether it still works, for no points
    CHECKS.append(value_check(f"{_op}.data", 0.0, "", part=_op + drivers.FORWARD,
                              name=f"{_what}: forward value (given code, no points)",
                              hint="the forward value was given: compare your cell with the released one"))
    CHECKS.append(value_check(f"{_op}.grads", 1.0, "", part=_op, name=f"{_what}: _backward(g) matches central "
                              "differences", hint="each _backward(g) adds g * (local derivative) to its parent's "
                              ".grad, with g its argument (not out.grad)"))
    CHECKS.append(value_check(f"{_op}.twice", 0.5, "", part=_op,
                              name=f"{_what}: a leaf used twice receives both contributions (+=)",
                              hint="a node used twice gets both contributions: parent.grad += ..., never =",
                              needs=(f"{_op}.grads",)))
CHECKS += [value_check("backward.grads", 1.5, "", part="backward",
                       name="backward(): gradients of a graph with shared nodes match central differences",
                       hint="sort the nodes topologically, seed this node's grad with 1, then call each node's "
                       "_backward(node.grad) in reverse order, exactly once"),
           value_check("backward.accumulated", 0.5, "", part="backward",
                       name="backward() on a second graph adds to the leaves' grads (PyTorch's convention)",
                       hint="backward() adds to .grad and never resets the leaves' grads: that is zero_grad()'s "
                       "job", needs=("backward.grads",)),
           unchanged_check(("a", "b"), 0.5, part="backward", name="backward() leaves the leaves' data unchanged")]


def _expected(case):
    return drivers.value_graph_expected(case)


# ---- catalogued mistakes: each is the reference class with one method broken ----------------------------------

_BROKEN: dict = {}


def _broken(name, **methods):
    """A mistake derived from the reference: a fresh copy of the notebook's class with ``methods`` replaced (a
    copy, because the class creates its nodes as ``Value(...)``: a subclass would only change the leaves)."""
    def make(V):
        if name not in _BROKEN:
            cls = EXERCISE.fresh_reference("Value")
            for attr, method in methods.items():
                setattr(cls, attr, method)
            _BROKEN[name] = cls
        return _BROKEN[name]
    return make


def _node(self, data, parents, op):
    return type(self)(data, _parents=parents, _op=op)


def _lift(self, other):
    return other if hasattr(other, "parents") else type(self)(other)


def _mul(kind):
    def __mul__(self, other):
        other = _lift(self, other)
        a, b = self.data, other.data
        out = _node(self, a * b, (self, other), "*")

        def _backward(g):
            if kind == "overwrites":
                self.grad = b * g
                other.grad = a * g
            else:                      # own value
                self.grad += a * g
                other.grad += b * g
        out._backward = _backward
        return out
    return __mul__


def _unary(op, kind):
    def method(self, k=None):
        x = self.data
        value = {"tanh": math.tanh, "exp": math.exp}[op](x) if op != "pow" else x ** k
        local = {"tanh": 1 - value ** 2, "exp": value}.get(op) if op != "pow" else k * x ** (k - 1)
        if kind == "from_input":
            local = 1 - x ** 2
        elif kind == "input_value":
            local = x
        elif kind == "passthrough":
            local = 1.0
        elif kind == "no_exponent":
            local = x ** (k - 1)
        out = _node(self, value, (self,), op if op != "pow" else f"**{k:g}")

        def _backward(g):
            if kind == "overwrites":
                self.grad = local * g
            else:
                self.grad += local * g
        out._backward = _backward
        return out
    return method if op != "pow" else (lambda self, k: method(self, k))


def _topological(root):
    order, seen = [], set()

    def visit(node):
        if id(node) not in seen:
            seen.add(id(node))
            for parent in node.parents:
                visit(parent)
            order.append(node)
    visit(root)
    return order


def _backward_no_topo(self):
    self.grad = 1.0

    def visit(node):
        node._backward(node.grad)
        for parent in node.parents:
            visit(parent)
    visit(self)


def _backward_no_seed(self):
    for node in reversed(_topological(self)):
        node._backward(node.grad)


def _backward_forward_order(self):
    self.grad = 1.0
    for node in _topological(self):
        node._backward(node.grad)


def _backward_resets(self):
    order = _topological(self)
    for node in order:
        node.grad = 0.0
    self.grad = 1.0
    for node in reversed(order):
        node._backward(node.grad)


VALUE = function_spec(
    "Value", "class Value: __mul__, tanh, exp, __pow__ backward closures and backward()",
    make_cases=_cases, call=drivers.value_class("Value"), expected=_expected, checks=CHECKS,
    mistakes=[
        Mistake("overwrites", "__mul__'s _backward overwrites the gradients (=): accumulate with +=, since a node "
                "used twice (a * a) must receive both contributions", _broken("overwrites", __mul__=_mul("overwrites")),
                derived=True),
        Mistake("mul_own_value", "in __mul__, each operand's gradient is the OTHER operand's value times g (self receives "
                "other's data times g, and other receives self's)", _broken("own_value", __mul__=_mul("own_value")), derived=True),
        Mistake("tanh_overwrites", "tanh's _backward overwrites self.grad (=): a node that feeds two others keeps "
                "only the last contribution (half the gradient when both are equal); use +=", _broken("tanh_eq", tanh=_unary("tanh", "overwrites")), derived=True),
        Mistake("exp_overwrites", "exp's _backward overwrites self.grad (=): a node that feeds two others keeps "
                "only the last contribution (half the gradient when both are equal); use +=", _broken("exp_eq", exp=_unary("exp", "overwrites")), derived=True),
        Mistake("pow_overwrites", "__pow__'s _backward overwrites self.grad (=): a node that feeds two others keeps "
                "only the last contribution (half the gradient when both are equal); use +=", _broken("pow_eq", __pow__=_unary("pow", "overwrites")), derived=True),
        Mistake("tanh_from_input", "tanh's derivative is 1 - t**2 with t = tanh(x), the OUTPUT; you used "
                "1 - x**2 of the input", _broken("tanh_input", tanh=_unary("tanh", "from_input")), derived=True),
        Mistake("exp_passthrough", "exp's _backward passed g straight through: multiply by the local "
                "derivative, exp(x), which is out.data", _broken("exp_pass", exp=_unary("exp", "passthrough")),
                derived=True),
        Mistake("exp_input_value", "exp's local derivative is exp(x), which out.data already holds; you multiplied "
                "g by x itself (self.data)", _broken("exp_x", exp=_unary("exp", "input_value")), derived=True),
        Mistake("pow_no_exponent", "d/dx x**k = k * x**(k - 1): you left out the factor k",
                _broken("pow_k", __pow__=_unary("pow", "no_exponent")), derived=True),
        Mistake("no_topological_order", "backward() must visit nodes in reverse topological order, each once: a "
                "shared node's _backward ran before all its gradient had arrived (or ran twice)",
                _broken("no_topo", backward=_backward_no_topo), derived=True),
        Mistake("no_seed", "backward() must start with self.grad = 1.0 (dL/dL = 1), or every gradient stays 0",
                _broken("no_seed", backward=_backward_no_seed), derived=True),
        Mistake("forward_order", "backward() ran the nodes leaves first: each node passed its gradient on before "
                "it had received any, so every gradient stayed 0; go through reversed(topological order), this "
                "node first", _broken("forward", backward=_backward_forward_order),
                derived=True),
        Mistake("resets_grads", "backward() reset the grads to 0 before adding (micrograd's old habit in some "
                "copies): gradients accumulate across backward() calls, as in PyTorch; zero_grad() resets them",
                _broken("resets", backward=_backward_resets), derived=True),
    ],
    release_hint="write this step of the chain rule",
    part_hints={"__mul__": "each operand receives the OTHER operand's value times g; accumulate, a node "
                           "may be used twice",
                "tanh": "the local derivative of tanh, written with its output t, times g",
                "exp": "the derivative of exp is exp itself, and out already holds it",
                "__pow__": "the power rule, times g",
                "backward": "order the nodes so each comes after everything it depends on, seed this node's "
                            "gradient, then run every _backward in reverse order"})


EXERCISE = exercise("ex02", "Computational graphs: a scalar autodiff engine", [VALUE])
