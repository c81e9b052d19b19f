"""Inside the grading child: confine, run the submission's cells, call its functions, stream plain outputs back.

The child is a fork of the worker (``worker.py``), so numpy and sympy are already imported. It reads its job (the
cells and this student's cases) from a pipe, confines itself (``confine.py``), and then runs the student's code.
Every event goes back over the result pipe as a frame (``protocol.py``) the moment it happens, so a submission that
hangs or dies later still gets credit for the functions it finished, and the grader can say where it stopped:

- ``{"event": "cell", "index": n}`` before each code cell, then ``{"event": "cells", "notes": [...]}``;
- ``{"event": "calling", "function": f, "case": i}`` before each call, then
  ``{"event": "case", "function": f, "case": i, "status": s, "message": m, "values": {...}}`` + arrays;
- ``{"event": "done"}``.

Nothing the child sends is believed: the grader validates every frame and compares the values itself.
"""
from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.util
import linecache
import os
import re
import signal
import sys
import time
import traceback

from . import confine, protocol
from ..status import PART_MESSAGE, PART_STATUS, SKIP_PARTS, Status

_ALLOWED_STUBS = ("bpkit", "bpkit.exercises")
CELL_SHARE = 0.5      # of the timeout: all code cells together; the rest is shared by the functions
SOFT_END = 0.9        # of the timeout: the child stops itself here, before the worker's SIGKILL at 1.0
MIN_SLICE = 0.02      # of the timeout: the least time a later cell or function still gets


class _OutOfTime(BaseException):
    """Raised by SIGALRM inside a cell or a call that used up its share of the time (not an Exception, so a
    student's ``except Exception`` does not swallow it)."""

    is_time_up = True       # a driver's parts that already returned keep their outputs (exercises.calling.attempt)


def _alarm(signum, frame):
    raise _OutOfTime()


def _set_alarm(seconds: float) -> None:
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3))


def _clear_alarm() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)


class ReferenceBlocked(RuntimeError):
    """Raised when a submission uses part of bpkit while it is being graded."""


class _Blocked:
    """Stands in for anything from bpkit's reference modules: importing it works (so a notebook's import cell
    still runs to the end), using it raises ReferenceBlocked and is recorded for the instructor."""

    def __init__(self, name: str, guard):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_guard", guard)

    def _refuse(self, *args, **kwargs):
        name = object.__getattribute__(self, "_name")
        object.__getattribute__(self, "_guard").record(name)
        raise ReferenceBlocked(f"{name} is not available while grading: graded functions must be your own "
                               "code, not the course's reference implementation")

    __call__ = _refuse

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        self._refuse()

    def __mro_entries__(self, bases):
        self._refuse()


class _BpkitGuard(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """bpkit while grading: ``check`` and ``%load_ext`` are no-ops; everything else is a ``_Blocked`` stand-in."""

    def __init__(self):
        self.used: list[str] = []         # used while a graded function ran: its result depended on it (a flag)
        self.in_cells: list[str] = []     # used by a cell (a provided check, a data loader): costs nothing
        self.calling = ""                 # the graded function running now, if any

    def record(self, name: str) -> None:
        (self.used if self.calling else self.in_cells).append(name)

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "bpkit" or (fullname.startswith("bpkit.") and not fullname.startswith("bpkit.sandbox")):
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__path__ = []
        if module.__name__ in _ALLOWED_STUBS:
            module.check = module.load_ipython_extension = _noop
        guard = self

        def __getattr__(attr, _module=module.__name__):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return _Blocked(f"{_module}.{attr}", guard)
        module.__getattr__ = __getattr__


def _noop(*args, **kwargs):
    return None


def run(job_fd: int, result_fd: int, workdir: str, names: list[str], calls: dict, sandbox: dict) -> None:
    """The child's whole life; never returns (ends with ``os._exit``)."""
    code = 70
    started = time.monotonic()          # the worker's clock started at the fork, a moment ago
    try:
        os.setsid()
        header, arrays = protocol.read_frame(job_fd)
        os.close(job_fd)
        _detach_stdio(result_fd)
        os.chdir(workdir)
        cells = [(int(i), str(src)) for i, src in header["cells"]]
        with open("submission.py", "w", encoding="utf-8") as fh:
            fh.write(header.get("script", ""))
        cases = {name: [protocol.decode_values(c, arrays) for c in header["cases"].get(name, [])]
                 for name in names}
        del header, arrays
        report = confine.confine(workdir, float(sandbox["memory_mb"]), float(sandbox["timeout"]),
                                 sandbox["read_paths"], bool(sandbox["keep_read_capability"]),
                                 int(sandbox["landlock_abi"]), str(sandbox.get("network", "")))
        confine.die_with_parent(sandbox["worker_pid"])     # after the uid change, which would clear it
        guard = _BpkitGuard()
        sys.meta_path.insert(0, guard)
        signal.signal(signal.SIGALRM, _alarm)
        timeout = float(sandbox["timeout"])
        clock = {"start": started, "timeout": timeout, "max_output": int(sandbox["max_output"])}
        protocol.write_frame(result_fd, {"event": "start", "isolation": report})
        namespace, failed = _run_cells(cells, result_fd, guard, clock)
        _call_functions(names, calls, cases, namespace, result_fd, clock, guard, failed)
        protocol.write_frame(result_fd, {"event": "done", "blocked": sorted(set(guard.used))[:20],
                                         "blocked_in_cells": sorted(set(guard.in_cells))[:20]})
        code = 0
    except BaseException:  # noqa: BLE001 - a broken result pipe, or the student broke our own machinery
        code = 71
    finally:
        os._exit(code)


def _detach_stdio(keep_fd: int) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    os.closerange(3, keep_fd)
    os.closerange(keep_fd + 1, 1 << 16)


def _left(clock, share: float) -> float:
    """Seconds left until ``share`` of the timeout, but never less than the minimum slice."""
    return max(clock["start"] + share * clock["timeout"] - time.monotonic(), MIN_SLICE * clock["timeout"])


class _Shell:
    """What ``get_ipython()`` returns while grading: the calls IPython's input transformation writes for magics
    (``bpkit.grading.notebook_source``) are answered here, one line at a time. ``%time``/``%timeit`` run their
    statement once; ``%%writefile`` writes into the scratch folder; anything else (``%load_ext``, ``!ls``,
    ``%matplotlib``) is skipped, and the cell's note lists what was."""

    _RUN_ONCE = {"time", "timeit", "prun"}

    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.cell = 0
        self.skipped: dict[int, list[str]] = {}
        self.wrote: dict[int, list[str]] = {}

    def _skip(self, text: str) -> None:
        self.skipped.setdefault(self.cell, []).append(text)

    def run_line_magic(self, name, line, *args, **kwargs):
        if name in self._RUN_ONCE and str(line).strip() and not str(line).lstrip().startswith("-"):
            exec(compile(str(line), f"<code cell {self.cell}>", "exec", dont_inherit=True), self.namespace)
            return None
        self._skip(f"%{name} {line}".strip())
        return None

    def run_cell_magic(self, name, line, body, *args, **kwargs):
        if name in ("writefile", "file"):
            parts = str(line).split()
            append = "-a" in parts or "--append" in parts
            target = next((p for p in parts if not p.startswith("-")), "")
            if target and not os.path.isabs(target) and ".." not in target.split("/"):
                with open(target, "a" if append else "w", encoding="utf-8") as fh:
                    fh.write(str(body))
                importlib.invalidate_caches()
                self.wrote.setdefault(self.cell, []).append(target)
                return None
        self._skip(f"%%{name} {line}".strip())
        return None

    def system(self, cmd, *args, **kwargs):
        self._skip(f"!{cmd}")
        return None

    def getoutput(self, cmd, *args, **kwargs):
        self._skip(f"!{cmd}")
        return []

    def __getattr__(self, attr):          # anything else a notebook asks of the shell does nothing
        return _noop

    def notes(self, index: int) -> list[str]:
        out = []
        skipped = self.skipped.pop(index, [])
        if skipped:
            shown = ", ".join(repr(s[:40]) for s in skipped[:3]) + (" ..." if len(skipped) > 3 else "")
            out.append(f"code cell {index}: skipped IPython-only line{'s' if len(skipped) > 1 else ''} {shown} "
                       "(magics and shell commands do not run while grading)")
        for target in self.wrote.pop(index, []):
            out.append(f"code cell {index}: %%writefile wrote {target} into the submission's scratch folder")
        return out


def _input(prompt=""):
    """``input()`` while grading: nobody is there to answer, so it returns an empty string at once."""
    _INPUTS.append(str(prompt)[:60])
    return ""


_INPUTS: list[str] = []


def _run_cells(cells, result_fd: int, guard: _BpkitGuard, clock) -> dict:
    namespace = {"__name__": "__main__", "__builtins__": builtins, "display": _noop, "input": _input}
    shell = _Shell(namespace)
    namespace["get_ipython"] = lambda: shell
    if os.getcwd() not in sys.path:          # a module written by %%writefile can be imported
        sys.path.insert(0, os.getcwd())
    notes: list[str] = []
    failed: dict[int, tuple[str, str]] = {}     # code cell -> (what went wrong, its source), for _not_defined
    memory = False
    for index, source in cells:
        notes += shell.notes(shell.cell)
        if _INPUTS:
            notes.append(f"code cell {shell.cell} called input(); it returned an empty string (nobody answers "
                         "while grading)")
            _INPUTS.clear()
        shell.cell = index
        if not source.strip():
            continue
        protocol.write_frame(result_fd, {"event": "cell", "index": index})
        filename = f"<code cell {index}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            code = compile(source, filename, "exec", dont_inherit=True)   # no __future__ flags of ours
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            failed[index] = (f"has a syntax error{f' on line {line}' if line else ''} ({getattr(exc, 'msg', exc)})",
                             source)
            notes.append(f"code cell {index} {failed[index][0]}; the cell was skipped")
            continue
        try:
            _set_alarm(_left(clock, CELL_SHARE))
            try:
                exec(code, namespace)
            finally:
                _clear_alarm()
        except _OutOfTime:
            notes.append(f"code cell {index} was stopped: the notebook's cells used up their "
                         f"{CELL_SHARE * clock['timeout']:.3g} s; grading went on with the next cell")
        except SystemExit as exc:
            notes.append(f"code cell {index} called sys.exit({exc.code!r}); grading went on with the next cell")
        except MemoryError:
            memory = True
            notes.append(f"code cell {index} ran out of memory; grading went on with the next cell")
        except ReferenceBlocked as exc:
            name = str(exc).split(" is not available")[0]
            notes.append(f"code cell {index} uses {name}, which does not run while grading; the cell stopped there "
                         "(this costs nothing: only the graded functions are checked)")
        except BaseException as exc:  # noqa: BLE001 - any error in a cell is the student's
            failed[index] = (f"raised {describe(exc, public=True)}", source)
            notes.append(f"code cell {index} {failed[index][0]}; grading went on with the next cell")
    notes += shell.notes(shell.cell)
    if _INPUTS:
        notes.append(f"code cell {shell.cell} called input(); it returned an empty string (nobody answers while "
                     "grading)")
        _INPUTS.clear()
    protocol.write_frame(result_fd, {"event": "cells", "notes": notes, "memory": memory})
    return namespace, failed


def _not_defined(name: str, failed: dict) -> tuple[str, str]:
    """Status and words for a graded name the notebook never defined: the cell that should have, if one failed."""
    for index, (what, source) in sorted(failed.items()):
        if re.search(rf"^\s*(?:def|class)\s+{re.escape(name)}\b", source, re.MULTILINE):
            return Status.ERROR, f"{name} is not defined: code cell {index}, which defines it, {what}"
    return Status.MISSING, f"{name} is not defined after running the notebook"


def _call_functions(names, calls, cases, namespace, result_fd: int, clock, guard, failed=None) -> None:
    for k, name in enumerate(names):
        fn = namespace.get(name)
        # this function's share: an equal part of what is left before the soft end
        end = time.monotonic() + _left(clock, SOFT_END) / (len(names) - k)
        stopped = None     # (status, message) once a case timed out, ran out of memory or sent too much
        skipped: set = set()   # parts of a driver (one method of a class) that ran out of time on an earlier case
        for i, case in enumerate(cases[name]):
            if skipped:
                case = {**case, SKIP_PARTS: tuple(sorted(skipped))}
            protocol.write_frame(result_fd, {"event": "calling", "function": name, "case": i})
            frame = {"event": "case", "function": name, "case": i, "status": Status.OK, "message": "", "values": {}}
            arrays: dict = {}
            if stopped:
                frame.update(status=stopped[0], message=stopped[1])
            elif fn is None:
                status, message = _not_defined(name, failed or {})
                frame.update(status=status, message=message)
            elif not callable(fn):
                frame.update(status=Status.MISSING, message=f"{name} is a {type(fn).__name__}, not a function")
            else:
                share = max(end - time.monotonic(), MIN_SLICE * clock["timeout"])
                guard.calling = name
                try:
                    frame, arrays = _call_one(frame, calls[name], fn, case, share, clock["max_output"])
                finally:
                    guard.calling = ""
                skipped |= frame.pop("parts_timed_out", set())
                if frame["status"] in (Status.TIMEOUT, Status.MEMORY) or frame.pop("too_big", False):
                    stopped = (frame["status"], f"{frame['message']} (on case {i + 1}, so the later cases "
                               "were not run)")
            protocol.write_frame(result_fd, frame, arrays)


def _call_one(frame: dict, call, fn, case, seconds: float, max_output: int) -> tuple[dict, dict]:
    arrays: dict = {}
    try:
        _set_alarm(seconds)
        try:
            outputs = call(fn, case)
        finally:
            _clear_alarm()
        size = sum(v.nbytes for v in outputs.values() if hasattr(v, "nbytes")) if isinstance(outputs, dict) else 0
        if size > max_output:
            frame.update(status=Status.ERROR, too_big=True, message=f"returned {size / 2**20:.3g} MB of outputs; the "
                         f"limit is {max_output / 2**20:.3g} MB")
        else:
            frame["values"] = protocol.encode_values(outputs, "a", arrays)
    except _OutOfTime as exc:
        message = f"was stopped after {seconds:.3g} s, its share of the time limit (an endless loop?)"
        partial = getattr(exc, "partial_outputs", None)
        if partial is None:
            frame.update(status=Status.TIMEOUT, message=message)
        else:           # one part ran out of time: the other parts are graded, and later cases skip that part
            partial[next(k for k, v in partial.items() if k.endswith(PART_STATUS) and v == Status.TIMEOUT)
                    .replace(PART_STATUS, PART_MESSAGE)] = message
            frame.update(values=protocol.encode_values(partial, "a", arrays),
                         parts_timed_out={k[:-len(PART_STATUS)] for k, v in partial.items()
                                          if k.endswith(PART_STATUS) and v == Status.TIMEOUT})
    except NotImplementedError:
        frame.update(status=Status.NOT_IMPLEMENTED, message="not implemented yet (still raises NotImplementedError)")
    except MemoryError:
        frame.update(status=Status.MEMORY, message="ran out of memory")
        arrays = {}
    except SystemExit as exc:
        frame.update(status=Status.ERROR, message=f"called sys.exit({exc.code!r}) instead of returning")
    except BaseException as exc:  # noqa: BLE001 - the student's exception is the result
        frame.update(status=Status.ERROR, message="raised " + describe(exc, public=True),
                     full="raised " + describe(exc))
        arrays = {}
    return frame, arrays


_ARRAY_TEXT = re.compile(r"\[[^\[\]]*\]")
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+(?=[eE]))(?:[eE][-+]?\d+)?|(?<![\w.])[-+]?\d{4,}(?![\w.])"
                     r"|\b(?:nan|inf)\b")


def public_text(text: str) -> str:
    """An exception's text with every number it may have taken from the hidden inputs masked: printed arrays
    become ``[...]``, decimals and long integers ``...``; words and small integers (shapes, axes) stay."""
    previous = None
    while previous != text:
        previous, text = text, _ARRAY_TEXT.sub("\x00", text)
    return _NUMBER.sub("...", text).replace("\x00", "[...]")


def describe(exc: BaseException, public: bool = False) -> str:
    """"ValueError: shapes ... (code cell 4, line 3: dW = x @ dout)": the error and the student's own line.

    ``public``: the form a student's feedback page shows, with numbers in the exception's text masked (a
    submission could ``raise ValueError(str(x))`` to read its hidden inputs off the page); the student's own line
    is shown as written."""
    text = f"{type(exc).__name__}: {public_text(str(exc)) if public else exc}".strip().rstrip(":")
    if len(text) > 300:
        text = text[:297] + "..."
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<code cell")]
    if not frames:
        return text
    last = frames[-1]
    where = f"{last.filename[1:-1]}, line {last.lineno}"
    return f"{text} ({where}: {last.line.strip()[:120]})" if last.line else f"{text} ({where})"
