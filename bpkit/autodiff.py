"""A scalar reverse-mode autodiff engine: ``Value``.

Every operation below builds one new ``Value`` and, right beside its forward result, the closure ``_backward(g)``
that receives ``g`` = d(root)/d(this output) and adds ``g`` times each local derivative to the inputs' grads (the
*local* step of the chain rule). Local derivatives use the numbers of the forward pass (captured when the node is
built), and the closures never refer to their own output node, so a graph holds no reference cycles and is freed as
soon as it is dropped.

``backward()`` orders the graph topologically with an explicit stack (no recursion, so a chain 10,000 nodes deep is
fine; the order depends only on the graph, never on hashing or memory addresses), seeds ``d root / d root = 1`` and
runs the closures in reverse order.

Gradients follow PyTorch's convention:

* a node used twice (``y = x * x``) receives the sum of both contributions: closures use ``+=``;
* gradients ACCUMULATE across ``backward()`` calls on the leaves (the inputs and weights, nodes without parents), as
  ``loss.backward()`` does in PyTorch: two calls give twice the gradient, and a training step calls ``zero_grad()``
  (on the model, ``bpkit.autodiff_nn.Module.zero_grad``, or on a Value: every node of its graph) before
  ``backward()``. Interior nodes start every pass from 0, so their ``.grad`` is always this pass's d(root)/d(node)
  (PyTorch keeps no gradient on them unless asked with ``retain_grad()``).

Compared with micrograd: micrograd stores the inputs as ``_prev`` (a set) and its ``_backward()`` takes no argument
and reads ``out.grad`` from the node it closes over; here ``parents`` is an ordered tuple and ``_backward(g)``
receives the upstream gradient ``g`` as an argument, which is the chain rule's "upstream times local" written out.

Example::

    >>> x = Value(3.0, label="x")
    >>> y = x * x + 2 * x
    >>> y.backward()
    >>> x.grad           # dy/dx = 2x + 2
    8.0
    >>> y.backward()     # accumulates, as in PyTorch
    >>> x.grad
    16.0
    >>> y.zero_grad(); y.backward(); x.grad
    8.0
"""
from __future__ import annotations

import math
import numbers

__all__ = ["Value"]


def _as_number(x, what: str) -> float:
    """A Python float from a real number; a clear TypeError for anything else (strings, bools, arrays)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what}: expected a real number (int or float), got {type(x).__name__}")
    return float(x)


class Value:
    """One scalar node of a computational graph.

    data: the number computed by the forward pass.
    grad: d(output)/d(this node), added by ``output.backward()`` (accumulates on leaves across calls, as in
        PyTorch; ``zero_grad()`` resets); 0.0 before.
    label: an optional name shown by ``bpkit.viz.draw_graph`` (e.g. "w").
    op: the operation that produced this node ("" for a leaf, else e.g. "+", "*", "tanh").
    parents: the input Values of that operation, in order.
    """

    __slots__ = ("data", "grad", "label", "op", "parents", "_backward", "__weakref__")

    def __init__(self, data, label: str = "", *, _parents: tuple = (), _op: str = ""):
        self.data = data if type(data) is float else _as_number(data, "Value(data)")
        self.grad = 0.0
        self.label = str(label)
        self.op = _op
        self.parents = tuple(_parents)
        self._backward = _no_backward

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _lift(other) -> "Value":
        """Wrap a plain number as a constant leaf so ``x + 1`` and ``2 * x`` work."""
        if isinstance(other, Value):
            return other
        return Value(other if type(other) is float else _as_number(other, "operand"))

    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"

    # ------------------------------------------------------- binary operations
    def __add__(self, other):
        other = self._lift(other)
        out = Value(self.data + other.data, _parents=(self, other), _op="+")

        def _backward(g):  # d(a+b)/da = 1, d(a+b)/db = 1
            self.grad += g
            other.grad += g
        out._backward = _backward
        return out

    def __sub__(self, other):
        other = self._lift(other)
        out = Value(self.data - other.data, _parents=(self, other), _op="-")

        def _backward(g):  # d(a-b)/da = 1, d(a-b)/db = -1
            self.grad += g
            other.grad -= g
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self._lift(other)
        a, b = self.data, other.data
        out = Value(a * b, _parents=(self, other), _op="*")

        def _backward(g):  # d(ab)/da = b, d(ab)/db = a
            self.grad += b * g
            other.grad += a * g
        out._backward = _backward
        return out

    def __truediv__(self, other):
        other = self._lift(other)
        if other.data == 0.0:
            raise ZeroDivisionError(f"Value division: the divisor is 0 ({other!r})")
        a, b = self.data, other.data
        out = Value(a / b, _parents=(self, other), _op="/")

        def _backward(g):  # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
            self.grad += g / b
            other.grad -= a / (b * b) * g
        out._backward = _backward
        return out

    def __pow__(self, exponent):
        if isinstance(exponent, Value):
            raise TypeError("Value ** Value is not supported: the exponent must be a plain number "
                            "(for a variable exponent write (exponent * base.log()).exp())")
        k = _as_number(exponent, "exponent")
        if self.data == 0.0 and k < 1:
            raise ValueError(f"Value ** {k:g}: the base is 0, where the power or its derivative is undefined")
        if self.data < 0 and not k.is_integer():
            raise ValueError(f"Value ** {k:g}: a negative base ({self.data:g}) needs an integer exponent")
        a = self.data
        out = Value(a ** k, _parents=(self,), _op=f"**{k:g}")

        def _backward(g):  # d(a^k)/da = k a^(k-1)
            self.grad += k * a ** (k - 1) * g
        out._backward = _backward
        return out

    def max(self, other):
        other = self._lift(other)
        a, b = self.data, other.data
        out = Value(a if a >= b else b, _parents=(self, other), _op="max")

        def _backward(g):  # d max(a, b)/da = 1 if a wins else 0: the gradient goes to the winner only
            if a >= b:      # (a tie goes to the first operand, as ReLU's kink goes to 0)
                self.grad += g
            else:
                other.grad += g
        out._backward = _backward
        return out

    # Reflected and unary forms reuse the operations above, so no derivative is written twice.
    def __radd__(self, other):
        return self._lift(other) + self

    def __rsub__(self, other):
        return self._lift(other) - self

    def __rmul__(self, other):
        return self._lift(other) * self

    def __rtruediv__(self, other):
        return self._lift(other) / self

    def __neg__(self):
        return self * -1.0

    def __pos__(self):
        return self

    # -------------------------------------------------------- unary functions
    def exp(self):
        e = math.exp(self.data)
        out = Value(e, _parents=(self,), _op="exp")

        def _backward(g):  # d(e^a)/da = e^a
            self.grad += e * g
        out._backward = _backward
        return out

    def log(self):
        if self.data <= 0:
            raise ValueError(f"Value.log: expected a positive number, got {self.data:g}")
        a = self.data
        out = Value(math.log(a), _parents=(self,), _op="log")

        def _backward(g):  # d(log a)/da = 1/a
            self.grad += g / a
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, _parents=(self,), _op="tanh")

        def _backward(g):  # d(tanh a)/da = 1 - tanh(a)^2
            self.grad += (1.0 - t * t) * g
        out._backward = _backward
        return out

    def sigmoid(self):
        a = self.data  # two branches so that exp never overflows for large |a|
        s = 1.0 / (1.0 + math.exp(-a)) if a >= 0 else math.exp(a) / (1.0 + math.exp(a))
        out = Value(s, _parents=(self,), _op="sigmoid")

        def _backward(g):  # d(sigmoid a)/da = s (1 - s)
            self.grad += s * (1.0 - s) * g
        out._backward = _backward
        return out

    def relu(self):
        positive = self.data > 0
        out = Value(self.data if positive else 0.0, _parents=(self,), _op="relu")

        def _backward(g):  # d(relu a)/da = 1 if a > 0 else 0 (0 chosen at the kink a = 0)
            if positive:
                self.grad += g
        out._backward = _backward
        return out

    # ------------------------------------------------------------ the backward
    def topological_order(self) -> list["Value"]:
        """Every node this one depends on, each after all of its parents; ``self`` is last.

        Iterative depth-first search with an explicit stack, so depth is limited by memory, not by Python's
        recursion limit. Deterministic: parents are visited in their order in ``parents`` (the set below is only
        asked "seen yet?", never iterated), so the same graph always gives the same order.
        """
        order: list[Value] = []
        visited: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node.parents) if id(p) not in visited)
        return order

    def zero_grad(self) -> None:
        """Set ``.grad`` of every node of this graph (this node and everything it depends on) to 0."""
        for node in self.topological_order():
            node.grad = 0.0

    def backward(self) -> None:
        """Add d(self)/d(leaf) to ``.grad`` of every leaf of the graph; set each interior node's to d(self)/d(node).

        Leaves (inputs, weights, constants: nodes without parents) ACCUMULATE, as in PyTorch: a second call adds the
        same gradient again; reset them with ``zero_grad()``. Interior nodes are reset to 0 at the start of each
        pass, so gradients from an earlier pass are never propagated twice.
        """
        order = self.topological_order()
        for node in order:
            if node.parents:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            node._backward(node.grad)


def _no_backward(g):
    """A leaf has no inputs to pass its gradient to."""
