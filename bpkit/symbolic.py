"""SymPy helpers for the first lessons: a forward pass as named steps, the chain rule as a product of local
derivatives, SymPy expression -> ``Value`` graph, and lambdify with a check that every symbol is bound.

Example (lesson 01's neuron)::

    >>> import sympy as sp
    >>> w, x, b, y, z, a, L = sp.symbols("w x b y z a L")
    >>> fp = ForwardPass([(z, w * x + b), (a, sigmoid(z)), (L, (a - y) ** 2)])
    >>> print(fp.chain_rule(L, w))
    dL/dw = dL/da * da/dz * dz/dw
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import sympy as sp

from .autodiff import Value
from .gradcheck import TOLERANCE, numerical_gradient, relative_error

__all__ = ["sigmoid", "ForwardPass", "ChainRule", "checked_lambdify", "to_value", "matrix_symbols",
           "gradient_matrix", "GradientComparison", "compare_gradient"]


def sigmoid(z):
    """The logistic function as a SymPy expression, ``1 / (1 + exp(-z))``."""
    return 1 / (1 + sp.exp(-z))


def _require_symbol(s, what: str) -> sp.Symbol:
    if not isinstance(s, sp.Symbol):
        raise TypeError(f"{what}: expected a sympy Symbol, got {type(s).__name__} {s!r}")
    return s


def _names(symbols) -> str:
    return ", ".join(sorted(str(s) for s in symbols)) or "none"


# ----------------------------------------------------------------------------- lambdify with checks
def checked_lambdify(args: Sequence[sp.Symbol], expr, modules="numpy"):
    """``sympy.lambdify(args, expr)``, but first make sure every free symbol of ``expr`` is among ``args``.

    Plain lambdify happily builds a function that fails later with a NameError about a symbol deep inside
    generated code; here the error comes at once and names the unbound symbols.
    expr: an expression, a Matrix, or a list of either.
    """
    args = list(args)
    for s in args:
        _require_symbol(s, "checked_lambdify(args)")
    exprs = expr if isinstance(expr, (list, tuple)) else [expr]
    free = set().union(*(sp.sympify(e).free_symbols for e in exprs))
    missing = free - set(args)
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ValueError(f"checked_lambdify: the expression uses {_names(missing)}, which {verb} not among the "
                         f"arguments ({_names(args)}); add to args or substitute numbers with expr.subs(...)")
    return sp.lambdify(args, expr, modules=modules)


# ----------------------------------------------------------------------------- the forward pass as steps
@dataclass(frozen=True)
class ChainRule:
    """d output / d wrt as a sum over the paths of the graph of products of local derivatives.

    paths: one entry per path from ``wrt`` to ``output``; each is a list of ``(node, parent, local)`` triples from
    the output backwards, where ``local`` is d node / d parent written in terms of the parent's own variables
    (what the backward pass multiplies, one step at a time).
    """

    forward: "ForwardPass"
    output: sp.Symbol
    wrt: sp.Symbol
    paths: tuple

    @property
    def factors(self) -> list[list[sp.Expr]]:
        """The local derivatives of each path, as SymPy expressions."""
        return [[local for _, _, local in path] for path in self.paths]

    @property
    def expression(self) -> sp.Expr:
        """Sum over paths of the product of local derivatives, still in terms of the intermediate symbols."""
        return sp.Add(*[sp.Mul(*factors) for factors in self.factors])

    def expanded(self) -> sp.Expr:
        """The same derivative with every intermediate replaced by its definition: in the inputs only."""
        return self.forward.expand(self.expression)

    def matches_diff(self) -> bool:
        """True when the product of local derivatives equals ``sympy.diff`` of the expanded output."""
        direct = sp.diff(self.forward.expand(self.output), self.wrt)
        return sp.simplify(self.expanded() - direct) == 0

    def evaluate(self, point: Mapping) -> list[list[float]]:
        """The number of every local derivative of every path at ``point`` (values for the inputs)."""
        values = self.forward.evaluate(point)
        return [[float(local.subs(values)) for local in factors] for factors in self.factors]

    def __str__(self) -> str:
        terms = [" * ".join(f"d{node}/d{parent}" for node, parent, _ in path) for path in self.paths]
        return f"d{self.output}/d{self.wrt} = " + (" + ".join(terms) if terms else "0")

    def _d(self, top, bottom, total: bool = False) -> str:
        """d top / d bottom in LaTeX: partial when the forward pass has several inputs, or (for a local derivative)
        when top's own definition uses several symbols, as in dq/dx = (partial q/partial u) du/dx."""
        definition = self.forward.definitions.get(top)
        several = not total and definition is not None and len(definition.free_symbols) > 1
        d = r"\partial " if len(self.forward.inputs) > 1 or several else "d"
        return rf"\frac{{{d}{sp.latex(top)}}}{{{d}{sp.latex(bottom)}}}"

    def latex(self, locals: bool = False) -> str:
        """The chain rule as LaTeX: a sum over paths of products of local derivatives (``locals``: also each
        local derivative written out, one per line)."""
        terms = [r" \, ".join(self._d(node, parent) for node, parent, _ in path) for path in self.paths]
        text = f"{self._d(self.output, self.wrt, total=True)} = " + (" + ".join(terms) if terms else "0")
        if not locals:
            return text
        seen, rows = set(), []
        for path in self.paths:
            for node, parent, local in path:
                if (node, parent) not in seen:
                    seen.add((node, parent))
                    rows.append(rf"{self._d(node, parent)} &= {sp.latex(local)}")
        return r"\begin{aligned} " + text.replace(" = ", " &= ", 1) + r" \\ " + r" \\ ".join(rows) + r" \end{aligned}"

    def _repr_latex_(self) -> str:
        return f"$${self.latex()}$$"

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


class ForwardPass:
    """A computation written as an ordered list of named steps ``[(symbol, definition), ...]``.

    Each definition may use the inputs (symbols that no step defines) and earlier steps. This is exactly the
    list of intermediate values a forward pass stores, and the structure the chain rule walks backwards.
    """

    def __init__(self, steps: Iterable[tuple[sp.Symbol, sp.Expr]]):
        self.steps: list[tuple[sp.Symbol, sp.Expr]] = []
        defined: dict[sp.Symbol, sp.Expr] = {}
        later = {}
        steps = list(steps)
        for i, step in enumerate(steps):
            if not (isinstance(step, (tuple, list)) and len(step) == 2):
                raise TypeError(f"steps[{i}]: expected a (symbol, expression) pair, got {step!r}")
            later[_require_symbol(step[0], f"steps[{i}][0]")] = i
        for i, (name, definition) in enumerate(steps):
            definition = sp.sympify(definition)
            if name in defined:
                raise ValueError(f"steps[{i}]: {name} is defined twice; give each intermediate its own name")
            early = [s for s in definition.free_symbols if later.get(s, -1) >= i]
            if early:
                raise ValueError(f"steps[{i}]: {name} uses {_names(early)} before it is defined; "
                                 f"order the steps as the forward pass computes them")
            defined[name] = definition
            self.steps.append((name, definition))
        self.definitions = defined

    @property
    def inputs(self) -> list[sp.Symbol]:
        """Symbols used by some step but defined by none, in order of first use."""
        seen: list[sp.Symbol] = []
        for _, definition in self.steps:
            for s in sorted(definition.free_symbols, key=str):
                if s not in self.definitions and s not in seen:
                    seen.append(s)
        return seen

    def expand(self, expr) -> sp.Expr:
        """Replace every intermediate in ``expr`` by its definition, until only inputs remain."""
        expr = sp.sympify(expr)
        for name, definition in reversed(self.steps):
            expr = expr.subs(name, definition)
        return expr

    def local_derivative(self, node: sp.Symbol, parent: sp.Symbol) -> sp.Expr:
        """d node / d parent from node's own definition alone (the other variables are held fixed)."""
        if node not in self.definitions:
            raise ValueError(f"local_derivative: {node} is not an intermediate (defined: "
                             f"{_names(self.definitions)})")
        return sp.diff(self.definitions[node], parent)

    def paths(self, output: sp.Symbol, wrt: sp.Symbol) -> list[list[sp.Symbol]]:
        """Every chain ``[output, ..., wrt]`` of direct dependencies (the paths the multivariate chain rule sums)."""
        _require_symbol(output, "output")
        _require_symbol(wrt, "wrt")
        if output not in self.definitions:
            raise ValueError(f"output: expected one of the defined steps ({_names(self.definitions)}), got {output}")
        if wrt not in self.definitions and wrt not in self.inputs:
            raise ValueError(f"wrt: {wrt} appears nowhere in the forward pass (inputs: {_names(self.inputs)})")
        found: list[list[sp.Symbol]] = []
        stack = [[output]]
        while stack:
            path = stack.pop()
            last = path[-1]
            if last == wrt:
                found.append(path)
                continue
            if last in self.definitions:
                deps = sorted(self.definitions[last].free_symbols, key=str, reverse=True)
                stack.extend(path + [d] for d in deps)
        return found

    def chain_rule(self, output: sp.Symbol, wrt: sp.Symbol) -> ChainRule:
        """d output / d wrt factored into local derivatives along every path (see ``ChainRule``)."""
        paths = tuple(tuple((node, parent, self.local_derivative(node, parent))
                            for node, parent in zip(path[:-1], path[1:]))
                      for path in self.paths(output, wrt))
        return ChainRule(self, output, wrt, paths)

    def evaluate(self, point: Mapping) -> dict:
        """Numbers for the inputs (``{symbol: value}``) -> numbers for the inputs and every intermediate."""
        values = {}
        for s, v in point.items():
            values[_require_symbol(s, "point key")] = float(v)
        missing = [s for s in self.inputs if s not in values]
        if missing:
            raise ValueError(f"evaluate: no value given for {_names(missing)}")
        for name, definition in self.steps:
            values[name] = float(definition.subs(values))
        return values

    def __repr__(self) -> str:
        return "ForwardPass(\n" + "".join(f"  {n} = {d}\n" for n, d in self.steps) + ")"

    def latex(self) -> str:
        """The steps as aligned LaTeX equations, one per line."""
        return (r"\begin{aligned} " + r" \\ ".join(f"{sp.latex(n)} &= {sp.latex(d)}" for n, d in self.steps)
                + r" \end{aligned}")

    def _repr_latex_(self) -> str:
        """Typeset in JupyterLab, on GitHub and on the course website (``repr`` stays plain text)."""
        return f"$${self.latex()}$$"

    def _repr_pretty_(self, p, cycle):
        p.text(repr(self))


# ----------------------------------------------------------------------------- SymPy -> Value graph
def to_value(expr, values: Mapping) -> tuple[Value, dict]:
    """Build the ``Value`` graph of a SymPy expression at a point.

    values: ``{symbol: number}`` for every free symbol of ``expr``.
    Returns ``(root, leaves)`` where ``leaves[symbol]`` is the leaf Value of that symbol (after
    ``root.backward()``, its ``.grad`` is d expr / d symbol). Equal subexpressions become one shared node;
    ``a + (-1)*b`` is drawn as ``a - b`` and ``a * b**-1`` as ``a / b``.
    """
    expr = sp.sympify(expr)
    missing = expr.free_symbols - set(values)
    if missing:
        raise ValueError(f"to_value: no value given for {_names(missing)}")
    leaves = {s: Value(float(values[s]), label=str(s)) for s in expr.free_symbols}
    cache: dict = {}

    def build(e):
        if e in cache:
            return cache[e]
        node = _convert(e, build, leaves)
        cache[e] = node
        return node

    return build(expr), leaves


def _convert(e, build, leaves) -> Value:
    if isinstance(e, sp.Symbol):
        return leaves[e]
    if e.is_Number or e in (sp.pi, sp.E):
        return Value(float(e), label=str(e))
    if isinstance(e, sp.Add):
        plus = [t for t in e.args if not t.could_extract_minus_sign()]
        minus = [-t for t in e.args if t.could_extract_minus_sign()]
        out = build(plus[0]) if plus else -build(minus.pop(0))
        for t in plus[1:]:
            out = out + build(t)
        for t in minus:
            out = out - build(t)
        return out
    if isinstance(e, sp.Mul):
        num = [f for f in e.args if not (f.is_Pow and f.exp.is_negative)]
        den = [1 / f for f in e.args if f.is_Pow and f.exp.is_negative]
        out = build(num[0]) if num else Value(1.0, label="1")
        for f in num[1:]:
            out = out * build(f)
        for f in den:
            out = out / build(f)
        return out
    if isinstance(e, sp.Pow):
        if e.exp.free_symbols:
            raise TypeError(f"to_value: {e} has a variable exponent; Value supports number exponents only")
        if e.base == sp.E:
            return build(e.exp).exp()
        if e.exp == -1:
            return Value(1.0, label="1") / build(e.base)
        return build(e.base) ** float(e.exp)
    if isinstance(e, sp.exp):
        return build(e.args[0]).exp()
    if isinstance(e, sp.log) and len(e.args) == 1:
        return build(e.args[0]).log()
    if isinstance(e, sp.tanh):
        return build(e.args[0]).tanh()
    if isinstance(e, sp.Max) and len(e.args) == 2 and 0 in e.args:
        other = e.args[0] if e.args[1] == 0 else e.args[1]
        return build(other).relu()
    raise TypeError(f"to_value: {type(e).__name__} ({e}) has no Value counterpart; supported: +, -, *, /, "
                    f"number powers, exp, log, tanh, Max(0, .)")


# ----------------------------------------------------------------------------- matrices
def matrix_symbols(name: str, rows: int, cols: int) -> sp.Matrix:
    """A rows x cols SymPy Matrix whose entries are the symbols ``name_ij`` (0-based), e.g. X_01."""
    if rows < 1 or cols < 1:
        raise ValueError(f"matrix_symbols: expected positive rows and cols, got {rows} x {cols}")
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}{j}"))


def gradient_matrix(scalar, M: sp.Matrix) -> sp.Matrix:
    """d scalar / d M arranged like M: entry (i, j) is d scalar / d M[i, j]. A gradient has its variable's shape."""
    scalar = sp.sympify(scalar)
    if isinstance(scalar, sp.MatrixBase):
        raise TypeError(f"gradient_matrix: expected a scalar expression, got a {scalar.shape} matrix; "
                        f"reduce it first, e.g. sum(G.multiply_elementwise(Y))")
    return M.applyfunc(lambda entry: sp.diff(scalar, entry))


# ----------------------------------------------------------------------------- numbers vs symbols
@dataclass(frozen=True)
class GradientComparison:
    """A symbolic gradient at a point next to central differences of the same function."""

    symbols: tuple
    symbolic: np.ndarray
    numerical: np.ndarray
    error: float
    tolerance: float = TOLERANCE

    @property
    def passed(self) -> bool:
        return self.error <= self.tolerance

    def __str__(self) -> str:
        verdict = "ok" if self.passed else "MISMATCH"
        relation = "<=" if self.passed else ">"
        return (f"symbolic vs central differences for ({', '.join(map(str, self.symbols))}): "
                f"relative error {relation} {self.tolerance:.0e}: {verdict}")

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def compare_gradient(expr, symbols: Sequence[sp.Symbol], point: Mapping, h: float = 1e-5) -> GradientComparison:
    """Check ``diff(expr, s)`` for each ``s`` in ``symbols`` against central differences at ``point``.

    point: ``{symbol: number}`` for every free symbol of ``expr`` (the ones not differentiated stay fixed).
    Both sides are lambdified with ``checked_lambdify`` and evaluated in float64.
    """
    symbols = tuple(symbols)
    expr = sp.sympify(expr)
    everything = sorted(expr.free_symbols | set(symbols), key=str)
    missing = [s for s in everything if s not in point]
    if missing:
        raise ValueError(f"compare_gradient: no value given for {_names(missing)}")
    f = checked_lambdify(everything, expr, modules="math")
    grad = checked_lambdify(everything, [sp.diff(expr, s) for s in symbols], modules="math")
    base = {s: float(point[s]) for s in everything}
    symbolic = np.array(grad(*[base[s] for s in everything]), dtype=np.float64)

    def f_at(theta):
        local = dict(base)
        local.update(zip(symbols, (float(t) for t in theta)))
        return f(*[local[s] for s in everything])

    theta = np.array([base[s] for s in symbols], dtype=np.float64)
    numerical = numerical_gradient(f_at, theta, h=h)
    err = relative_error(symbolic, numerical)
    if not math.isfinite(err):
        raise ValueError(f"compare_gradient: the gradient is not finite at {point}")
    return GradientComparison(symbols, symbolic, numerical, err)
