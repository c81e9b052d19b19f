"""Which of the course's own code a student's function reaches by name.

The instructor's grader runs a graded function without bpkit: every name a notebook imported from bpkit is a
stand-in that refuses to be used (the function then fails, and the instructor sees a flag). ``check()`` runs in the
student's own kernel, where bpkit is all there, so it would pass such a function in full. ``course_names(fn)`` finds
those names first, so ``check()`` can say so before the work is handed in. Objects a check hands to the function
(ex13's model) are not names the function looks up, and are fine.
"""
from __future__ import annotations

import types

ALLOWED = {"check"}          # bpkit's check() is a no-op while grading: calling it inside a function costs nothing


def _code_names(code: types.CodeType) -> set[str]:
    """Every global or attribute name the code (and the code nested in it) mentions."""
    names, todo = set(), [code]
    while todo:
        current = todo.pop()
        names.update(current.co_names)
        todo.extend(const for const in current.co_consts if isinstance(const, types.CodeType))
    return names


def _origin(value) -> str:
    """The bpkit module ``value`` comes from ("" when it is not bpkit's): a module, a function or class, or an
    object made by a bpkit class."""
    if isinstance(value, types.ModuleType):
        module = value.__name__
    elif isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
        module = getattr(value, "__module__", "") or ""
    else:
        module = type(value).__module__ or ""
    return module if module == "bpkit" or module.startswith("bpkit.") else ""


def course_names(fn) -> dict[str, str]:
    """{name: bpkit module} for the global names ``fn`` uses that come from bpkit, following the student's own
    functions and classes it calls by name (a class: its methods)."""
    found: dict[str, str] = {}
    seen: set[int] = set()
    todo = list(vars(fn).values()) if isinstance(fn, type) else [fn]
    while todo:
        current = todo.pop()
        if isinstance(current, (staticmethod, classmethod)):
            current = current.__func__
        elif isinstance(current, property):
            todo += [f for f in (current.fget, current.fset, current.fdel) if f is not None]
            continue
        code = getattr(current, "__code__", None)
        if not isinstance(code, types.CodeType) or id(code) in seen:
            continue
        seen.add(id(code))
        namespace = getattr(current, "__globals__", {})
        for name in _code_names(code):
            if name == "bpkit" or name.startswith("bpkit."):    # imported inside the function itself
                found.setdefault(name.split(".")[-1], name)
                continue
            if name not in namespace or name in ALLOWED:
                continue
            value = namespace[name]
            origin = _origin(value)
            if origin:
                found.setdefault(name, origin)
            elif isinstance(value, types.FunctionType):
                todo.append(value)                      # a helper of the student's: what does it use?
            elif isinstance(value, type) and value.__module__ == getattr(current, "__module__", None):
                todo += list(vars(value).values())      # a class of the student's, defined beside it
    return found


def course_code_note(name: str, used: dict[str, str]) -> str:
    """The words ``check()`` prints for a function that uses bpkit by name ("" when it does not)."""
    if not used:
        return ""
    what = ", ".join(f"{n} ({module})" for n, module in sorted(used.items()))
    return (f"{name} uses the course's own code: {what}. When your instructor grades it, bpkit is not there: the "
            "function fails and is flagged. Write it with NumPy (and your own helpers) alone.")
