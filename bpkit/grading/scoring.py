"""Turn what a child sent back (a ``RawRun``) into check rows, a score, a status and a message.

Everything here runs in the grader: the outputs are compared by the catalog's ``grade`` (reference values and
numerical gradients computed here), never by anything the child said. A case that never came back gets the
catalog's ``failure`` rows with the reason (timeout, crash, ...), so the maximum score never changes.

Row and submission statuses are ``Status`` members. The submission's status is the most severe that cost points:
timeout > memory > error > missing (undefined or not implemented) > ok; ``invalid`` and ``missing`` (no notebook)
are decided before anything runs.
"""
from __future__ import annotations

import signal as _signal

from ..sandbox import protocol
from ..sandbox.runner import RawRun
from ..sandbox.status import Status

HINTS = {
    Status.TIMEOUT: "look for a loop that never ends, or work far larger than the inputs need",
    Status.MEMORY: "look for an array far larger than the inputs (an outer product, a huge np.zeros, a list that "
                   "keeps growing)",
    Status.NOT_IMPLEMENTED: "replace the raise NotImplementedError(...) line with your code",
}


def score_run(exercise, cases: dict, run: RawRun, timeout: float, memory_mb: float) -> dict:
    """Rows (as dicts), score, status, message and notes for one executed submission."""
    notes: list[str] = []
    got: dict = {}
    state = {"cell": None, "call": None, "done": False, "memory": False, "blocked": [], "details": []}
    specs = {spec.name: spec for spec in exercise.functions}
    for header, arrays in run.frames:
        try:
            _read_frame(header, arrays, specs, cases, state, got, notes)
        except (TypeError, ValueError, AttributeError, KeyError):   # the child controls these bytes
            notes.append("a malformed message from the submission's process was ignored")
    ending = None if state["done"] and not run.problem else _ending(run, state, specs, cases, timeout, memory_mb)
    rows = []
    for spec in exercise.functions:
        for i, case in enumerate(cases[spec.name]):
            if (spec.name, i) in got:
                status, message, values = got[(spec.name, i)]
                rows += _grade(spec, case, i, status, message, values, notes)
            else:
                status, message = ending or (Status.ERROR, "no result came back for this case")
                rows += spec.failure(case, status, message, hint=HINTS.get(status, ""))
    from bpkit.exercises.runner import explain_errors
    explain_errors(rows, specs, cases)     # a case that crashed gets the diagnosis the other cases support
    notes += function_notes(rows)   # e.g. a gradient by finite differences: in feedback and grades.json
    result = summarize(exercise, rows, notes)
    if state["memory"] and result["status"] in (Status.ERROR, Status.MISSING) and result["score"] < result["max_score"]:
        result["status"] = Status.MEMORY
    result["blocked_imports"] = state["blocked"]
    result["details"] = state["details"]
    return result


def function_notes(rows) -> list[str]:
    """One note per function, not one per case: each case's rows carry their case's note (its own figures, e.g.
    the error against the exact gradient), so a function noted on every case would fill the page with the same
    sentence. The first case's note stands for the others, which are counted."""
    per_function: dict[str, dict[str, str]] = {}
    for r in rows:
        if getattr(r, "note", ""):
            per_function.setdefault(r.function, {}).setdefault(r.case, r.note)
    out = []
    for function, by_case in per_function.items():
        first = next(iter(by_case.values()))
        more = f" (seen on {len(by_case)} cases)" if len(by_case) > 1 else ""
        out.append(f"{function}: {first}{more}")
    return out


def _read_frame(header, arrays, specs, cases, state, got, notes) -> None:
    event = header.get("event")
    if event == "cell" and isinstance(header.get("index"), int):
        state["cell"] = header["index"]
    elif event == "cells":
        notes += [str(n)[:500] for n in header.get("notes", [])[:50]]
        state["memory"] = header.get("memory") is True
    elif event == "calling":
        state["call"] = (header.get("function"), header.get("case"))
    elif event == "case":
        name, i = header.get("function"), header.get("case")
        if not isinstance(name, str) or name not in specs or not isinstance(i, int) or not 0 <= i < len(cases[name]) or (name, i) in got:
            return
        status = Status.parse(header.get("status"))
        if status is Status.INVALID:
            status = Status.ERROR
        message = str(header.get("message", ""))[:1000]
        if header.get("full") and len(state["details"]) < 50:     # for the instructor's grades.json only
            state["details"].append(f"{name} (case {i + 1}): {str(header['full'])[:1000]}")
        values = {}
        if status is Status.OK:
            try:
                values = protocol.decode_values(header.get("values"), arrays)
            except protocol.ProtocolError as exc:
                status, message = Status.ERROR, f"returned something that is not plain numbers ({exc})"
        got[(name, i)] = (status, message, values)
    elif event == "done":
        state["done"] = True
        if isinstance(header.get("blocked"), list):
            state["blocked"] = [str(b)[:100] for b in header["blocked"][:20]]


def _where(state, specs, cases) -> str:
    call = state["call"]
    if call and isinstance(call[0], str) and call[0] in specs and isinstance(call[1], int) \
            and 0 <= call[1] < len(cases[call[0]]):
        return f"while running {call[0]} (case {call[1] + 1} of {len(cases[call[0]])})"
    if state["cell"] is not None:
        return f"while running code cell {state['cell']}"
    return "before running any code"


def _ending(run: RawRun, state, specs, cases, timeout: float, memory_mb: float) -> tuple[str, str]:
    where = _where(state, specs, cases)
    if run.timed_out:
        return Status.TIMEOUT, f"did not finish within {timeout:g} s ({where})"
    if run.signal == _signal.SIGXCPU:
        return Status.TIMEOUT, f"used more than {timeout:g} s of CPU time ({where})"
    if run.lost:
        return Status.ERROR, f"{run.problem} ({where})"
    if run.problem:
        return Status.ERROR, f"{run.problem} ({where})"
    if run.exit_code is not None:
        return Status.ERROR, f"the process exited with code {run.exit_code} {where} (os._exit()?); nothing after " \
                        "that point could be checked"
    if run.signal is not None:
        name = _signal.Signals(run.signal).name if run.signal in _signal.Signals._value2member_map_ else run.signal
        if run.signal == _signal.SIGKILL:
            return Status.MEMORY, f"was killed (SIGKILL) {where}; usually this means it ran out of memory " \
                             f"(the limit is {memory_mb:g} MB)"
        return Status.ERROR, f"crashed with {name} {where}"
    return Status.ERROR, f"stopped without reporting {where}"


def _grade(spec, case, i, status, message, values, notes) -> list:
    if status is not Status.OK:
        hint = HINTS.get(status, "")
        if status is Status.MISSING:
            hint = f"define {spec.signature} in a code cell of the notebook"
        elif status is Status.ERROR and ", which defines it, " in message:
            hint = "fix that cell so that it runs: Run All in JupyterLab shows the same error"
        elif status is Status.ERROR and "TypeError" in message and "argument" in message:
            message += f"; expected {spec.signature}"
        return spec.failure(case, status, message, hint=hint)
    bad = protocol.nonfinite_counts(values)
    if bad:
        notes.append(f"{spec.name} (case {i + 1}) returned NaN or infinity in " +
                     ", ".join(f"{k} ({n} entries)" for k, n in sorted(bad.items())))
    try:
        rows = spec.grade(case, values)
    except Exception as exc:  # noqa: BLE001 - outputs so odd that a comparison failed
        return spec.failure(case, Status.ERROR, f"could not check what {spec.name} returned "
                            f"({type(exc).__name__}: {str(exc)[:200]})")
    for row in rows:
        row.points = float(min(max(row.points, 0.0), row.max_points))
    return rows


# a value check's message names no output when its key is a driver's own (ex02's exp.twice): the row name says it
_LEADLESS = ("relative error ", "expected an array", "expected shape ")


def summarize(exercise, rows, notes: list[str]) -> dict:
    """Score and status from rows; the message names the first problem of each function that lost points."""
    score = round(sum(r.points for r in rows), 6)
    worst = min((r for r in rows if r.points < r.max_points or Status.parse(r.status).counted is not Status.OK),
                key=lambda r: Status.parse(r.status).severity, default=None)
    status = Status.OK if worst is None else Status.parse(worst.status).counted
    first: dict[str, str] = {}      # function -> its most telling lost row's message
    for r in sorted(rows, key=lambda r: Status.parse(r.status).severity):
        if r.points < r.max_points and r.function not in first:
            message = r.message
            if message.startswith(_LEADLESS):   # "relative error ..." of which of the function's rows: name it
                message = f"{r.name}: {message}"
            first[r.function] = message or r.hint or f"{r.name} failed"
    by_message: dict[str, list[str]] = {}
    for function, text in first.items():
        by_message.setdefault(text, []).append(function)
    names = [spec.name for spec in exercise.functions]
    message = "; ".join(text if len(fns) == len(names) and len(fns) > 1 else f"{', '.join(fns)}: {text}"
                        for text, fns in by_message.items())
    if len(message) > 500:
        message = message[:497] + "..."
    return {"score": score, "max_score": exercise.max_points, "status": status, "message": message,
            "checks": [r.to_dict() for r in rows], "notes": notes}


def unrun(exercise, status: Status, message: str) -> dict:
    """The result for a submission that never ran: an invalid notebook, or none at all (status missing)."""
    rows = []
    for spec in exercise.functions:
        rows += spec.failure(None, status, message)
    result = summarize(exercise, rows, [])
    result.update(status=status, message=message)
    result["blocked_imports"] = []
    return result
