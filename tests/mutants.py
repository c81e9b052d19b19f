"""Mutation testing of the exercise checks: mutate each reference solution the ways students err, run the checks.

    python tests/mutants.py            # every mutant of every exercise (make mutants), prints the survivors
    python tests/mutants.py ex03 ex04  # some exercises

The operators (each mutant changes one place inside a solution region of a source notebook):

- ``binop``: an arithmetic operator replaced (+ -, * /, @ *, ** *);
- ``sign``: a returned or assigned expression negated; a unary minus removed;
- ``const``: a number changed (0 -> 1, 1 -> 0 or 2, 2 -> 1, others doubled);
- ``axis``: ``axis=0`` <-> ``axis=1``, ``keepdims`` flipped;
- ``transpose``: a ``.T`` removed or added to a matrix product operand;
- ``accumulate``: ``+=`` / ``-=`` turned into ``=``;
- ``compare``: ``>`` <-> ``>=``, ``<`` <-> ``<=``;
- ``drop``: one operand of a + or - dropped;
- ``inplace``: ``x = x - y`` turned into the in-place ``x -= y``;
- ``swap``: two returned values swapped;
- ``minmax``: ``max`` <-> ``min``.

A mutant *survives* when it earns full marks on the public cases and on one hidden draw. ``EQUIVALENT`` lists the
mutants that compute the same function as the solution, each with the reason; every other survivor is a hole in
the checks.
"""
from __future__ import annotations

import ast
import copy
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bpkit.exercises.catalog import all_exercises  # noqa: E402
from bpkit.exercises.checks import EXACT, EXPECTED, MISTAKES  # noqa: E402
from bpkit.exercises.public import public_cases  # noqa: E402
from bpkit.exercises.runner import run_checks  # noqa: E402
from bpkit.exercises.source import BEGIN, END, code_cells  # noqa: E402

# (function, mutant description) -> why it computes the same thing as the solution
EQUIVALENT = {
    ("sigmoid_backward", "sign: drop the minus in -x"):
        "s = sigmoid(-x) = 1 - sigmoid(x), and s * (1 - s) is symmetric in s and 1 - s: the same derivative",
    ("mlp_loss", "const: 2 -> 1"):
        "`if l >= 1` also runs the step back from layer 1 into the input X; that last dz is never used",
}


@dataclass
class Mutant:
    exercise: str
    function: str
    description: str
    source: str                    # the mutated cell
    result: str = ""               # killed | survived | equivalent | broken (does not even compile)
    hints: list = field(default_factory=list)
    named: bool = False            # a failing row carries a catalogued or diagnosed hint


# ---- the operators ------------------------------------------------------------------------------------------------

_BINOP_SWAPS = {ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div, ast.Add], ast.Div: [ast.Mult],
                ast.MatMult: [ast.Mult], ast.Pow: [ast.Mult]}
_CMP_SWAPS = {ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Lt: ast.LtE, ast.LtE: ast.Lt}


def _in_region(node, lines: set[int]) -> bool:
    return getattr(node, "lineno", None) in lines


def _mutations(tree: ast.Module, lines: set[int]):
    """Yield (description, mutate) where mutate(tree_copy) applies one change to the copy."""
    nodes = [n for n in ast.walk(tree) if _in_region(n, lines)]
    index = {id(n): i for i, n in enumerate(ast.walk(tree))}

    def at(node, fn, description):
        i = index[id(node)]

        def mutate(t):
            target = list(ast.walk(t))[i]
            return fn(target)
        return description, mutate

    def text(node):
        return ast.unparse(node)[:60]

    for node in nodes:
        if isinstance(node, ast.BinOp):
            for new in _BINOP_SWAPS.get(type(node.op), []):
                yield at(node, lambda n, new=new: setattr(n, "op", new()),
                         f"binop: {text(node)} ({type(node.op).__name__} -> {new.__name__})")
            if isinstance(node.op, (ast.Add, ast.Sub)):
                for side in ("left", "right"):
                    yield at(node, lambda n, side=side: _replace(n, getattr(n, side)),
                             f"drop: {text(node)} -> {text(getattr(node, side))}")
            if isinstance(node.op, ast.MatMult):
                for side in ("left", "right"):
                    operand = getattr(node, side)
                    if isinstance(operand, ast.Attribute) and operand.attr == "T":
                        yield at(node, lambda n, side=side: setattr(n, side, getattr(n, side).value),
                                 f"transpose: drop .T in {text(node)}")
                    else:
                        yield at(node, lambda n, side=side: setattr(n, side, ast.Attribute(
                            getattr(n, side), "T", ast.Load())), f"transpose: add .T to the {side} of {text(node)}")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            yield at(node, lambda n: _replace(n, n.operand), f"sign: drop the minus in {text(node)}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            v = node.value
            news = {0: [1], 1: [0, 2], 2: [1]}.get(v, [v * 2])
            for new in news:
                yield at(node, lambda n, new=new: setattr(n, "value", type(v)(new)), f"const: {v!r} -> {new!r}")
        elif isinstance(node, ast.keyword) and node.arg == "axis" and isinstance(node.value, ast.Constant):
            v = node.value.value
            if isinstance(v, int):
                new = 1 if v == 0 else 0
                yield at(node, lambda n, new=new: setattr(n.value, "value", new), f"axis: axis={v} -> axis={new}")
        elif isinstance(node, ast.keyword) and node.arg == "keepdims":
            yield at(node, lambda n: setattr(n, "value", ast.Constant(not n.value.value)), "axis: keepdims flipped")
        elif isinstance(node, ast.AugAssign):
            yield at(node, lambda n: _replace(n, ast.Assign([n.target], n.value, lineno=n.lineno)),
                     f"accumulate: {text(node)} -> =")
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMP_SWAPS:
            new = _CMP_SWAPS[type(node.ops[0])]
            yield at(node, lambda n, new=new: setattr(n, "ops", [new()]), f"compare: {text(node)} -> {new.__name__}")
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and len(node.value.elts) >= 2:
            k = len(node.value.elts)
            for i in range(k):
                for j in range(i + 1, k):
                    def swap(n, i=i, j=j):
                        n.value.elts[i], n.value.elts[j] = n.value.elts[j], n.value.elts[i]
                    yield at(node, swap, f"swap: returned values {i} and {j}")
            for i in range(k):
                yield at(node, lambda n, i=i: setattr(n.value, "elts", [
                    ast.UnaryOp(ast.USub(), e) if m == i else e for m, e in enumerate(n.value.elts)]),
                    f"sign: negate returned value {i}")
        elif isinstance(node, ast.Return) and node.value is not None:
            yield at(node, lambda n: setattr(n, "value", ast.UnaryOp(ast.USub(), n.value)), "sign: negate the return")
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.value, ast.BinOp) and \
                isinstance(node.value.op, (ast.Sub, ast.Add, ast.Mult)) and \
                ast.unparse(node.value.left) == ast.unparse(node.targets[0]) and \
                isinstance(node.targets[0], ast.Name):
            yield at(node, lambda n: _replace(n, ast.AugAssign(n.targets[0], n.value.op, n.value.right,
                                                               lineno=n.lineno)),
                     f"inplace: {ast.unparse(node.targets[0])} = {text(node.value)} -> "
                     f"{ast.unparse(node.targets[0])} {type(node.value.op).__name__}=")
        elif isinstance(node, ast.Name) and node.id in ("max", "min") or \
                isinstance(node, ast.Attribute) and node.attr in ("max", "min", "argmax", "argmin"):
            attr = "id" if isinstance(node, ast.Name) else "attr"
            old = getattr(node, attr)
            new = {"max": "min", "min": "max", "argmax": "argmin", "argmin": "argmax"}[old]
            yield at(node, lambda n, attr=attr, new=new: setattr(n, attr, new), f"minmax: {old} -> {new}")


_REPLACEMENTS: dict[int, ast.AST] = {}


def _replace(node, new):
    """Mark ``node`` to be replaced by ``new`` (applied by _Replacer after the mutation)."""
    _REPLACEMENTS[id(node)] = new


class _Replacer(ast.NodeTransformer):
    def generic_visit(self, node):
        node = super().generic_visit(node)
        return node

    def visit(self, node):
        if id(node) in _REPLACEMENTS:
            return self.visit(_REPLACEMENTS.pop(id(node)))
        return super().visit(node)


# ---- running --------------------------------------------------------------------------------------------------------

def solution_cells(exercise):
    """(cell source, set of 1-based line numbers inside solution regions) for every cell with a region."""
    out = []
    for source in code_cells(exercise.source):
        lines, inside = set(), False
        for number, line in enumerate(source.split("\n"), start=1):
            if line.strip().startswith(BEGIN):
                inside = True
            elif line.strip().startswith(END):
                inside = False
            elif inside:
                lines.add(number)
        if lines:
            out.append((source, lines))
    return out


def _defined(tree: ast.Module, names) -> list[str]:
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in names]


def mutants(exercise) -> list[Mutant]:
    names = [f.name for f in exercise.functions]
    out = []
    for source, lines in solution_cells(exercise):
        code = "\n".join("" if l.lstrip().startswith(("%", "!")) else l for l in source.split("\n"))
        tree = ast.parse(code)
        defined = _defined(tree, names)
        if not defined:
            continue
        seen = set()
        for description, mutate in _mutations(tree, lines):
            new = copy.deepcopy(tree)
            mutate(new)
            new = _Replacer().visit(new)
            ast.fix_missing_locations(new)
            try:
                text = ast.unparse(new)
            except Exception:  # noqa: BLE001 - an impossible mutant
                continue
            if text in seen or text == ast.unparse(tree):
                continue
            seen.add(text)
            out.append(Mutant(exercise.id, defined[0], description, text))
    return out


_CASES: dict = {}


def cases_for(spec):
    """Public cases and one hidden draw, with expected and mistake outputs attached (computed once)."""
    if spec.name not in _CASES:
        public = public_cases(spec)
        hidden = spec.make_cases(np.random.default_rng(zlib.crc32(b"hidden" + spec.name.encode())))
        reference = spec.reference if any(m.derived for m in spec.mistakes) else None
        for case in hidden:
            case[EXPECTED] = {k: np.asarray(v) for k, v in spec.expected(case).items()}
            case[MISTAKES] = {}
            for m in spec.mistakes:
                try:
                    with np.errstate(all="ignore"):
                        case[MISTAKES][m.name] = {k: np.asarray(v) if type(v) in (int, float) else v
                                                  for k, v in spec.call(m.implementation(reference), case).items()}
                except Exception as exc:  # noqa: BLE001
                    case[MISTAKES][m.name] = {"__raises__": type(exc).__name__}
            if spec.exact is not None:
                case[EXACT] = spec.exact(case)
        _CASES[spec.name] = public + hidden
    return _CASES[spec.name]


def run(mutant: Mutant, exercise, time_limit: float = 2.0) -> Mutant:
    spec = next(f for f in exercise.functions if f.name == mutant.function)
    namespace = dict(exercise.fresh_namespace())
    try:
        with np.errstate(all="ignore"):
            exec(compile(mutant.source, f"<mutant of {mutant.function}>", "exec"), namespace)  # noqa: S102
    except Exception:  # noqa: BLE001
        mutant.result = "broken"
        return mutant
    general = {c.hint for c in spec.checks}
    catalogued = {m.hint for m in spec.mistakes}
    with np.errstate(all="ignore"):
        rows = run_checks(spec, namespace[mutant.function], cases_for(spec), time_limit_s=time_limit)
    full = all(r.passed for r in rows)
    if full:
        mutant.result = "equivalent" if (mutant.function, mutant.description) in EQUIVALENT else "survived"
        return mutant
    mutant.result = "killed"
    mutant.hints = sorted({r.hint for r in rows if not r.passed and r.hint})
    mutant.named = any(h in catalogued or (h and h not in general and not h.startswith(("fix the line",
                       "replace the raise", "look for a loop", "return exactly", "add `return`",
                       "return a tuple", "keep the parameters"))) for h in mutant.hints)
    return mutant


def all_mutants(ids=None):
    exercises = {k: v for k, v in all_exercises().items() if re.match(r"ex\d\d$", k) and (not ids or k in ids)}
    return [(m, ex) for ex in exercises.values() for m in mutants(ex)]


def report(results) -> dict:
    killed = [m for m in results if m.result == "killed"]
    survived = [m for m in results if m.result == "survived"]
    equivalent = [m for m in results if m.result == "equivalent"]
    considered = len(killed) + len(survived)
    return {"mutants": len(results), "killed": len(killed), "survived": len(survived),
            "equivalent": len(equivalent), "broken": sum(m.result == "broken" for m in results),
            "score": len(killed) / considered if considered else 1.0,
            "named": sum(m.named for m in killed) / len(killed) if killed else 1.0,
            "survivors": [(m.exercise, m.function, m.description) for m in survived]}


def main(argv=None) -> int:
    ids = (argv if argv is not None else sys.argv[1:]) or None
    results = [run(m, ex) for m, ex in all_mutants(ids)]
    summary = report(results)
    for exercise, function, description in summary["survivors"]:
        print(f"SURVIVED {exercise} {function}: {description}")
    print(f"{summary['mutants']} mutants: {summary['killed']} killed, {summary['survived']} survived, "
          f"{summary['equivalent']} equivalent (listed in tests/mutants.py), {summary['broken']} broken; "
          f"mutation score {summary['score']:.1%}; a named hint (catalogued or diagnosed) for "
          f"{summary['named']:.1%} of the killed")
    return 1 if summary["survived"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
