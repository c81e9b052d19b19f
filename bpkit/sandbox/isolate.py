"""Strip the catalog's ``call`` functions down to what they use, so the child holds no reference solution.

A ``FunctionSpec.call`` lives in a module that also holds the reference implementation; a student's function that
walks up the stack (``sys._getframe(1).f_globals``) or the garbage collector's object list could reach it. The
worker therefore keeps only *isolated copies* of the calls: the same code, but with globals limited to the names
the code reads (themselves isolated when they come from ``bpkit``), and closures copied the same way. Then it drops
every ``bpkit`` module except the grader's own and collects garbage; ``leaked_objects()`` verifies that no
reference function, spec or ``bpkit.nn`` object is left for a submission to find.

A call may hand the student bpkit objects on purpose (ex08 gives ``layer_gradient_norms`` a ``Sequential`` to
run): the spec lists those classes in ``hands_over``, and they stay, with the modules their code runs in, and
nothing else.
"""
from __future__ import annotations

import builtins
import gc
import sys
import types

_PLAIN = (str, int, float, bool, bytes, type(None))


# the grader's code, and the status vocabulary it shares (bpkit.sandbox.status keeps bpkit.status's Status alive in
# the worker): never a reference implementation, so neither copied nor reported as reachable. bpkit.status must stay
# plain words (tests/test_gradebook.py checks it imports nothing from bpkit, so it cannot carry reference code in)
_GRADERS_OWN = ("bpkit.sandbox", "bpkit.status")


def _graders_own(module: str) -> bool:
    return any(module == own or module.startswith(own + ".") for own in _GRADERS_OWN)


class NotIsolable(TypeError):
    """A call refers to something from bpkit that cannot be copied safely (a bpkit module or class)."""


def _from_bpkit(obj) -> bool:
    module = getattr(obj, "__module__", None) or ""
    if isinstance(obj, types.ModuleType):
        module = obj.__name__
    return module == "bpkit" or (module.startswith("bpkit.") and not _graders_own(module))


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def isolate(fn, handed_over=frozenset(), _memo=None):
    """A copy of the function ``fn`` that can reach only what its own code names (see the module docstring);
    ``handed_over`` are the bpkit classes it may keep as they are."""
    memo = {} if _memo is None else _memo
    if id(fn) in memo:
        return memo[id(fn)]
    new_globals = {"__builtins__": builtins, "__name__": "bpkit_isolated_call"}
    cells = tuple(types.CellType() for _ in fn.__closure__ or ())
    new = types.FunctionType(fn.__code__, new_globals, fn.__name__, None, cells or None)
    memo[id(fn)] = new          # first, so a function that refers to itself is copied once
    for name in _names(fn.__code__):
        if name in fn.__globals__:
            new_globals[name] = _value(fn.__globals__[name], memo, handed_over)
    for cell, old in zip(cells, fn.__closure__ or ()):
        try:
            cell.cell_contents = _value(old.cell_contents, memo, handed_over)
        except ValueError:      # an empty cell stays empty
            pass
    new.__defaults__ = tuple(_value(d, memo, handed_over) for d in fn.__defaults__ or ()) or None
    new.__kwdefaults__ = {k: _value(v, memo, handed_over) for k, v in (fn.__kwdefaults__ or {}).items()} or None
    new.__qualname__ = fn.__qualname__
    return new


def _value(value, memo, handed_over):
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (tuple, list, frozenset)):
        return type(value)(_value(v, memo, handed_over) for v in value)
    if isinstance(value, dict):
        return {k: _value(v, memo, handed_over) for k, v in value.items()}
    if isinstance(value, types.FunctionType) and _from_bpkit(value):
        return isolate(value, handed_over, memo)
    if isinstance(value, type) and value in handed_over:
        return value
    if _from_bpkit(value):
        raise NotIsolable(f"a grading call refers to {getattr(value, '__name__', type(value).__name__)} from "
                          f"{getattr(value, '__module__', '?')}")
    return value   # numpy, the standard library, builtins


def drop_bpkit_modules() -> None:
    """Remove every bpkit module but the grader's own from ``sys.modules`` and free what they held."""
    for name in list(sys.modules):
        if (name == "bpkit" or name.startswith("bpkit.")) and not name.startswith("bpkit.sandbox"):
            del sys.modules[name]
    gc.collect()


def modules_run_by(classes) -> set[str]:
    """The bpkit modules whose code the classes run: their own and their bases', and what those use from bpkit."""
    todo = [base.__module__ for cls in classes for base in cls.__mro__ if _from_bpkit(base)]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for value in vars(sys.modules[name]).values():
            if _from_bpkit(value):
                todo.append(value.__name__ if isinstance(value, types.ModuleType) else value.__module__)
    return seen


def leaked_objects(allowed_modules=frozenset()) -> list[str]:
    """Functions, classes and modules from bpkit still alive, outside the grader, the isolated calls and the
    ``allowed_modules`` (those of handed-over classes)."""
    leaks = []
    for obj in gc.get_objects():
        if isinstance(obj, types.ModuleType):
            kind, module, name = "module", obj.__name__, obj.__name__
        elif isinstance(obj, (types.FunctionType, type)):
            kind, module = ("class" if isinstance(obj, type) else "function"), getattr(obj, "__module__", "")
            name = f"{module}.{obj.__qualname__}"
            if kind == "function" and obj.__globals__.get("__name__") == "bpkit_isolated_call":
                continue
        else:
            continue
        if _from_bpkit(obj) and module not in allowed_modules:
            leaks.append(f"{kind} {name}")
    return leaks


def isolated_calls(exercise_id: str) -> tuple[list[str], dict, list[str]]:
    """The exercise's function names, their isolated ``call`` copies, and warnings (empty when all is well).

    Afterwards no bpkit module but the grader's is loaded. A call that cannot be copied safely is kept as it is
    (grading still works) and named in the warnings, as is any reference object that survives: the instructor is
    told the isolation is weaker rather than left without a grader.
    """
    from bpkit.exercises.catalog import get_exercise   # imported here so nothing module-level keeps it

    exercise = get_exercise(exercise_id)
    names = [spec.name for spec in exercise.functions]
    handed_over = frozenset(cls for spec in exercise.functions for cls in spec.hands_over)
    allowed_modules = modules_run_by(handed_over)
    calls, warnings, spec = {}, [], None
    for spec in exercise.functions:
        try:
            calls[spec.name] = isolate(spec.call, handed_over)
        except NotIsolable as exc:
            calls[spec.name] = spec.call
            warnings.append(f"{spec.name}: {exc}; its call keeps the catalog module loaded")
    del exercise, get_exercise, spec   # the loop variable would keep the last spec alive
    drop_bpkit_modules()
    leaks = leaked_objects(allowed_modules)
    if leaks:
        warnings.append("reference objects reachable from a submission: " + ", ".join(leaks[:5]) +
                        (" ..." if len(leaks) > 5 else ""))
    return names, calls, warnings
