"""Run All through an untouched exercise: a provided cell that calls a function not written yet says so in one
line instead of stopping the notebook.

``%load_ext bpkit`` adds an AST transformer to the kernel. In a cell, a ``NotImplementedError`` raised by a call
(the released stub) becomes the line

    not run yet: this cell calls a function you have not written (... hint ...); write it, then run this cell again

and the names the cell would have assigned are left undefined, so a later cell that needs them says so in one line
too (instead of a NameError, or a TypeError from half-computed values). The cell's last expression is still shown
as its output. Any other exception is reported as usual.
"""
from __future__ import annotations

import ast

_PENDING: set[str] = set()       # names an unfinished cell could not compute
_STATE = {"stopped": False}


def _assigned(body) -> list[str]:
    names: list[str] = []

    def targets(node):
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                targets(element)
        elif isinstance(node, ast.Starred):
            targets(node.value)

    for node in body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                targets(target)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets(node.target)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            targets(node.target)
            names.extend(_assigned(node.body))
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    targets(item.optional_vars)
            names.extend(_assigned(node.body))
        elif isinstance(node, (ast.If, ast.While, ast.Try)):
            names.extend(_assigned(node.body))
    return list(dict.fromkeys(names))


def _forget(namespace: dict, names) -> None:
    for name in names:
        namespace.pop(name, None)
        _PENDING.add(name)


def _start() -> None:
    _STATE["stopped"] = False


def _unfinished(namespace: dict, error: BaseException, names) -> None:
    """A NotImplementedError in a provided cell (or a name an unfinished cell could not compute): one line."""
    _STATE["stopped"] = True
    _forget(namespace, names)
    if isinstance(error, NameError):
        print(f"not run yet: this cell needs `{error.name}`, which an earlier cell could not compute because a "
              "function is not written yet; write it, then run the cells again")
    else:
        name = _raising_function(error)
        what = f"`{name}`, which you have not written yet" if name else "a function you have not written yet"
        print(f"not run yet: this cell calls {what}; write it (and run its check), then run this cell again")


def _raising_function(error: BaseException) -> str:
    """The name of the function whose body raised (the stub), from the traceback."""
    tb, name = error.__traceback__, ""
    while tb is not None:
        name = tb.tb_frame.f_code.co_name
        tb = tb.tb_next
    return "" if name.startswith("<") else name


def _is_pending(error: BaseException) -> bool:
    return isinstance(error, NotImplementedError) or (
        isinstance(error, NameError) and getattr(error, "name", None) in _PENDING)


def _last(namespace: dict, thunk, names):
    """The cell's last expression, unless the cell stopped (or the expression itself calls a stub)."""
    __tracebackhide__ = True   # IPython leaves this frame out of the traceback a student reads
    if _STATE["stopped"]:
        return None
    try:
        return thunk()
    except (NotImplementedError, NameError) as error:
        if not _is_pending(error):
            raise
        _unfinished(namespace, error, names)
        return None


HELPERS = {"__bpkit_cell_start__": _start, "__bpkit_pending__": _is_pending, "__bpkit_unfinished__": _unfinished,
           "__bpkit_last__": _last}


def _call(name: str, *args) -> ast.Call:
    return ast.Call(ast.Name(name, ast.Load()), list(args), [])


def _globals() -> ast.Call:
    return ast.Call(ast.Name("globals", ast.Load()), [], [])


class UnfinishedCells(ast.NodeTransformer):
    """The AST transformer (see the module docstring); it changes nothing a finished notebook can observe."""

    def visit_Module(self, module: ast.Module) -> ast.Module:
        body = module.body
        if not body or any(isinstance(n, (ast.Global, ast.Nonlocal)) for n in body):
            return module
        if any(isinstance(n, (ast.Await, ast.Yield, ast.YieldFrom)) for n in ast.walk(module)):
            return module
        if any(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in body):
            return module
        last = body[-1] if isinstance(body[-1], ast.Expr) else None
        statements = body[:-1] if last is not None else body
        names = ast.List([ast.Constant(n) for n in _assigned(body)], ast.Load())
        new_body: list[ast.stmt] = [ast.Expr(_call("__bpkit_cell_start__"))]
        if statements:
            handler = ast.ExceptHandler(
                type=ast.Tuple([ast.Name("NotImplementedError", ast.Load()), ast.Name("NameError", ast.Load())],
                               ast.Load()),
                name="__bpkit_error__",
                body=[ast.If(test=_call("__bpkit_pending__", ast.Name("__bpkit_error__", ast.Load())),
                             body=[ast.Expr(_call("__bpkit_unfinished__", _globals(),
                                                  ast.Name("__bpkit_error__", ast.Load()), names))],
                             orelse=[ast.Raise()])])
            new_body.append(ast.Try(body=statements, handlers=[handler], orelse=[], finalbody=[]))
        if last is not None:
            thunk = ast.Lambda(ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
                               last.value)
            call = _call("__bpkit_last__", _globals(), thunk, names)
            for node in ast.walk(call):   # the cell's last line, so a traceback points at it
                if node is not last.value and not hasattr(node, "lineno") or node is call:
                    ast.copy_location(node, last.value)
            new_body.append(ast.copy_location(ast.Expr(call), last))
        for node in new_body[:-1] if last is not None else new_body:
            ast.copy_location(node, body[0])
        module.body = new_body
        return ast.fix_missing_locations(module)


def install(ipython) -> None:
    """Add the transformer and its helpers to the kernel (once)."""
    if not any(isinstance(t, UnfinishedCells) for t in ipython.ast_transformers):
        ipython.ast_transformers.append(UnfinishedCells())
    ipython.user_ns.update(HELPERS)
    hidden = getattr(ipython, "user_ns_hidden", None)
    if isinstance(hidden, dict):
        hidden.update(HELPERS)


def uninstall(ipython) -> None:
    ipython.ast_transformers[:] = [t for t in ipython.ast_transformers if not isinstance(t, UnfinishedCells)]
    for name in HELPERS:
        ipython.user_ns.pop(name, None)
