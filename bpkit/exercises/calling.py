"""Student-side helpers for ``FunctionSpec.call``: copy inputs in, turn whatever comes back into plain values.

These run where the student's code runs (the notebook, or the grader's sandboxed child), so they trust nothing
the student returns: every output leaves as a plain ``numpy.ndarray`` of numbers (never a subclass, never an
object array) or as a short string describing what was wrong with it.
"""
from __future__ import annotations

import os
import re
import sysconfig
import traceback
from typing import Any, Callable

import numpy as np

from ..status import PART_MESSAGE as MESSAGE, PART_STATUS as STATUS, SKIP_PARTS
INPUT_PREFIX = "input:"   # outputs["input:x"]: the input x as it was after the student's call


def plain(value: Any) -> np.ndarray | float | int | str:
    """A numeric ``value`` as a fresh base-class ndarray (dtype kept); anything else as a string saying what it was.

    Scalars (and 0-d arrays) become a Python float or int. The string starts with "!" so ``grade`` can tell it
    from a number.
    """
    if isinstance(value, (bool, np.bool_)):
        return f"!a bool ({bool(value)})"
    if isinstance(value, (str, bytes, dict, set)) or value is None:
        return f"!{type(value).__name__}" if value is not None else "!None"
    try:
        array = np.array(value, copy=True)
    except Exception as exc:  # noqa: BLE001 - whatever the object did, it is not an array of numbers
        return f"!{type(value).__name__} that is not an array of numbers ({type(exc).__name__})"
    if array.dtype.kind not in "iuf":
        return f"!{type(value).__name__} of dtype {array.dtype}, not numbers"
    if array.ndim == 0:  # a scalar travels as a Python number (JSON-safe); grade turns it back into a 0-d array
        return array.item()
    return np.asarray(array).view(np.ndarray).copy()


def copies(case: dict, names) -> list[np.ndarray]:
    """Fresh copies of the case's inputs, so neither the student nor the grader ever shares the case's arrays."""
    return [np.array(case[name], copy=True) for name in names]


def unpack(result: Any, names: tuple[str, ...], function: str) -> dict[str, Any]:
    """Split a returned tuple into named plain outputs; a wrong count becomes the "__invalid__" message.

    ``names`` like ("dx", "dW", "db"); a single name means the function returns one value.
    """
    if result is None:
        return {"__invalid__": f"{function} returned None: did you forget `return`?"}
    if len(names) == 1:
        return {names[0]: plain(result)}
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        got = (f"a {type(result).__name__} of {len(result)}" if isinstance(result, (tuple, list))
               else f"a {type(result).__name__}")
        return {"__invalid__": f"{function} should return {len(names)} values ({', '.join(names)}), got {got}"}
    return {name: plain(value) for name, value in zip(names, result)}


def attempt(outputs: dict, part: str, thunk: Callable[[], dict], case=None) -> None:
    """Run one part of a call (a method of a class, a mode of a function) and record a failure as strings.

    On success the part's outputs are merged in; NotImplementedError records ``part!status = "not_implemented"``;
    another exception records "error" and the message naming the student's own line. A time-out (an exception whose
    class sets ``is_time_up``) records "timeout" and goes on up, carrying the outputs so far as ``partial_outputs``,
    so an endless loop in one method costs that method, not the methods already checked. A part that ``case``
    names under ``SKIP_PARTS`` (it ran out of time on an earlier case) is not run again: "timeout" at once.
    """
    if case is not None and part in case.get(SKIP_PARTS, ()):
        outputs[part + STATUS] = "timeout"
        outputs[part + MESSAGE] = "skipped: it did not return within its time limit on an earlier case"
        return
    try:
        outputs.update(thunk())
    except NotImplementedError:
        outputs[part + STATUS] = "not_implemented"
        outputs[part + MESSAGE] = "not implemented yet"
    except Exception as exc:  # noqa: BLE001 - the student's exception is the result
        outputs[part + STATUS] = "error"
        outputs[part + MESSAGE] = describe_exception(exc)
    except BaseException as exc:
        if not getattr(exc, "is_time_up", False):
            raise
        # the time ran out in this part: the parts already run keep their outputs (they travel on the exception)
        outputs[part + STATUS] = "timeout"
        outputs[part + MESSAGE] = "did not return within its time limit (an endless loop?)"
        exc.partial_outputs = dict(outputs)
        raise


def _library_roots() -> tuple[str, ...]:
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = sysconfig.get_paths()
    roots = {package, paths["stdlib"], paths["purelib"], paths["platlib"]}
    return tuple(os.path.abspath(p) + os.sep for p in roots)


_ROOTS = _library_roots()


def _is_student_frame(filename: str) -> bool:
    if filename.startswith("<frozen"):
        return False
    if filename.startswith("<"):  # code compiled from a string, e.g. a grader's cell
        return True
    return not os.path.abspath(filename).startswith(_ROOTS)


def _cell_name(filename: str) -> str:
    """"cell In[5]" for a JupyterLab cell (IPython's own naming), the file's name otherwise."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        count = shell.compile._filename_map.get(filename) if shell is not None else None
        if count is not None:
            return f"cell In[{count}]"
    except Exception:  # noqa: BLE001 - outside IPython, or an IPython without the map
        pass
    return os.path.basename(filename)


def student_frame(exc: BaseException):
    """The deepest traceback frame in the student's code (a notebook cell or their file), or None."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_student_frame(f.filename)]
    return frames[-1] if frames else None


def describe_exception(exc: BaseException) -> str:
    """"ValueError: ... (line 4 of linear_backward in cell In[5]: dW = x @ dout)": the error and the student's line."""
    text = f"{type(exc).__name__}: {exc}".strip()
    matmul = re.search(r"matmul: Input operand \d has a mismatch in its core dimension \d.*\(size (\d+) is "
                       r"different from (\d+)\)", text)
    if matmul:   # numpy's gufunc wording, in plain words
        text = (f"{type(exc).__name__}: matmul: the inner sizes do not match ({matmul.group(1)} against "
                f"{matmul.group(2)})")
    if len(text) > 300:
        text = text[:297] + "..."
    frame = student_frame(exc)
    if frame is None:
        return text
    where = f"line {frame.lineno} of {frame.name} in {_cell_name(frame.filename)}"
    code = (frame.line or "").strip()
    return f"{text} ({where}: {code})" if code else f"{text} ({where})"


SIGNATURE = "expected "   # a TypeError whose message starts "NAME: expected NAME(...)": the parameters differ


def call_with(fn, function: str, names: tuple[str, ...], values: list) -> Any:
    """``fn(*values)``, after checking that ``fn`` accepts that many positional arguments.

    A function written with other parameters gets one line ("linear_backward: expected linear_backward(dout, x,
    W); yours takes (x, W)") instead of Python's TypeError from deep inside the check. (A plain TypeError, so the
    grader's isolated copy of a driver refers to no bpkit class.)
    """
    import inspect

    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):   # a builtin or a callable without a signature: just call it
        return fn(*values)
    try:
        signature.bind(*values)
    except TypeError:
        theirs = ", ".join(signature.parameters)
        raise TypeError(f"{function}: expected {function}({', '.join(names)}); yours takes ({theirs})") from None
    return fn(*values)


class CallTimeout(BaseException):
    """A student's call ran past its time limit (a BaseException, so ``except Exception`` does not swallow it)."""

    is_time_up = True


class time_limit:
    """``with time_limit(5):`` raises CallTimeout in the block after 5 s of wall-clock time.

    Uses SIGALRM, so it works in the main thread of a Unix process (a Jupyter kernel runs cells there); elsewhere
    it does nothing. Code stuck inside one long C call is interrupted when that call returns.
    """

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.active = False

    def __enter__(self):
        import signal
        import threading

        if (not self.seconds or self.seconds <= 0 or not hasattr(signal, "setitimer")
                or threading.current_thread() is not threading.main_thread()):
            return self
        self.previous = signal.signal(signal.SIGALRM, self._expire)
        signal.setitimer(signal.ITIMER_REAL, float(self.seconds))
        self.active = True
        return self

    def _expire(self, signum, frame):
        raise CallTimeout(self.seconds)

    def __exit__(self, *exc):
        if self.active:
            import signal

            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False
