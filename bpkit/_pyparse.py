"""``ast.parse`` and ``compile`` of a tree, safe to call from the grader's threads.

CPython 3.11 keeps the recursion counter of its AST conversions in one per-interpreter state
(python/cpython#106905, fixed in 3.12): two threads converting at once (the grader grades ``-j N`` submissions in
threads) can make one of them fail with ``SystemError: AST constructor recursion depth mismatch``, and an honest
submission would lose its points to a race. One lock around the conversions removes the race; they take microseconds.
"""
from __future__ import annotations

import ast
import threading

_CONVERSIONS = threading.Lock()


def parse(source: str) -> ast.Module:
    """``ast.parse(source)``, one thread at a time."""
    with _CONVERSIONS:
        return ast.parse(source)


def compile_tree(tree: ast.Module, filename: str):
    """``compile(tree, filename, "exec")``, one thread at a time."""
    with _CONVERSIONS:
        return compile(tree, filename, "exec")
