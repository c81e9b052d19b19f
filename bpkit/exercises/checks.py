"""Checks, and the ``grade(case, outputs)`` that runs them: the same code for the grader and for ``check()``.

A ``Check`` is a small declarative record (its kind, the output it looks at, its points): the released public check
data stores it as JSON, so a student's ``check()`` evaluates exactly what the grader evaluates. The expected values
come from the case itself (``case["__expected__"]``, public data) or from a function of the case (the grader: the
reference from the source notebook, or central differences of a forward pass). When a check fails, its hint is,
in order: the catalogued mistake that reproduces the student's outputs (``case["__mistakes__"]`` or the mistake run
here), a permutation of right outputs, the relation between the wrong output and the right one
(``diagnose.relation``), then the check's general pointer.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from ..gradcheck import TOLERANCE, numerical_gradient, relative_error
from . import diagnose
from .calling import INPUT_PREFIX as INPUT, MESSAGE, STATUS
from .drivers import WEIGHTS, WEIGHTS_CHANGED, WEIGHTS_LAYERS
from .spec import Case, CheckResult, FunctionSpec, Mistake, Outputs, Status

EXPECTED, MISTAKES, EXACT = "__expected__", "__mistakes__", "__exact__"   # keys of a case carrying public data
RAISES = "__raises__"   # a stored mistake output {RAISES: "ValueError"}: the mistake crashes on that case
FD_LOW, FD_HIGH = 1e-12, 1e-6   # an answer this far from the exact one, yet passing, looks like finite differences


@dataclass
class Verdict:
    """What one check found: the verdict, plain words, and which outputs were wrong (to look up a mistake)."""

    passed: bool
    message: str = ""
    rel_error: float | None = None
    tolerance: float | None = None
    keys: tuple[str, ...] = ()


@dataclass
class Check:
    """One row of the table: a kind ("returns", "unchanged", "value"), its outputs, points, name and hint."""

    kind: str
    name: str
    points: float
    keys: tuple = ()
    tolerance: float = TOLERANCE
    part: str = ""        # the part of ``call`` it depends on ("" = the whole call); see calling.attempt
    hint: str = ""        # a general pointer for a failure nothing more specific explains
    needs: tuple = ()     # output keys other checks test that this one reuses: when one of those fails, the hint
                          # points there (the failure here may be only its echo) instead of blaming this row
    parts: tuple = ()     # named slices of the output, (label, axis, start, stop): a wrong answer is described part
                          # by part ("objectness has the wrong sign; box and class are right")

    def evaluate(self, ctx: "Context") -> Verdict:
        return _EVALUATORS[self.kind](self, ctx)

    def to_dict(self) -> dict:
        data = {**asdict(self), "keys": list(self.keys), "needs": list(self.needs),
                "parts": [list(part) for part in self.parts]}
        for optional in ("needs", "parts"):
            if not data[optional]:
                del data[optional]    # the usual case: check data stays as it was
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Check":
        return cls(**{**data, "keys": tuple(data["keys"]), "needs": tuple(data.get("needs", ())),
                      "parts": tuple(tuple(part) for part in data.get("parts", ()))})


class Context:
    """One case being graded: the student's outputs, the expected values and the mistakes' outputs (both lazy)."""

    def __init__(self, case: Case, outputs: Outputs, expected: Callable[[Case], dict], call, mistakes,
                 reference=None, function: str = ""):
        self.case, self.outputs, self.function = case, outputs, function
        self._expected_fn, self._call, self.mistakes = expected, call, mistakes
        self._reference = reference
        self._expected: dict | None = None
        self._mistake_outputs: dict[str, Outputs | None] = {}

    @property
    def expected(self) -> dict:
        if self._expected is None:
            self._expected = dict(self.case[EXPECTED]) if EXPECTED in self.case else dict(self._expected_fn(self.case))
        return self._expected

    def mistake_outputs(self, mistake: Mistake) -> Outputs | None:
        if mistake.name not in self._mistake_outputs:
            stored = self.case.get(MISTAKES)
            if stored is not None:
                found = stored.get(mistake.name)
                self._mistake_outputs[mistake.name] = None if found is None or RAISES in found else found
            else:
                try:
                    with np.errstate(all="ignore"):  # an unstable mistake overflows on purpose
                        wrong = mistake.implementation(self._reference() if mistake.derived else None)
                        self._mistake_outputs[mistake.name] = as_arrays(self._call(wrong, self.case))
                except Exception:  # noqa: BLE001 - a mistake that crashes on this case cannot match it
                    self._mistake_outputs[mistake.name] = None
        return self._mistake_outputs[mistake.name]

    def matching_mistake(self, keys: tuple[str, ...]) -> Mistake | None:
        """The catalogued mistake that is wrong on ``keys`` exactly as the student is.

        A mistake that reproduces every output of the student's is preferred (the most specific explanation);
        otherwise the first that reproduces the failing ``keys``.
        """
        if not keys:
            return None
        candidates = []
        for mistake in self.mistakes:
            theirs = self.mistake_outputs(mistake)
            if theirs is None or any(k not in theirs or k not in self.outputs for k in keys):
                continue
            if all(same(self.outputs[k], theirs[k]) and not same(theirs[k], self.expected_value(k)) for k in keys):
                candidates.append((mistake, theirs))
        for mistake, theirs in candidates:
            if all(k in theirs and same(v, theirs[k]) for k, v in self.outputs.items()):
                return mistake
        return candidates[0][0] if candidates else None

    def expected_value(self, key: str):
        if key.startswith(INPUT):
            return self.case[key[len(INPUT):]]
        if key.startswith(WEIGHTS):     # a model's weights: no change at all is the right answer
            return np.asarray(0.0)
        return self.expected[key]


def same(a, b, tolerance: float = TOLERANCE) -> bool:
    """Two outputs agree: both arrays of one shape, NaN/inf in the same places, finite parts within tolerance."""
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb) or not np.array_equal(a[~fa], b[~fb], equal_nan=True):
        return False
    return relative_error(a[fa], b[fb]) <= tolerance


def as_arrays(outputs: Outputs) -> Outputs:
    """Numbers as 0-d arrays (a float as float64, an int as int64); arrays and "!..." strings unchanged."""
    return {k: np.asarray(v) if type(v) in (int, float) else v for k, v in outputs.items()}


def describe(value) -> str:
    """A short description of what a student returned, for messages."""
    if isinstance(value, str):
        return value.lstrip("!")
    return f"{value.dtype} array of shape {value.shape}"


# ---- the kinds of check ------------------------------------------------------------------------------------------

def _returns(check: Check, ctx: Context) -> Verdict:
    wrong, notes = [], []
    for key in check.keys:
        if key not in ctx.expected:    # an output this case does not have (a parameter of a deeper network)
            continue
        got, want = ctx.outputs.get(key, "!nothing"), np.asarray(ctx.expected[key])
        if isinstance(got, str) or got.shape != want.shape or got.dtype != want.dtype:
            wrong.append(key)
            what = "a scalar" if want.shape == () else f"shape {want.shape}"
            notes.append(f"{key}: expected {what} of dtype {want.dtype}, got {describe(got)}")
    return Verdict(not wrong, "; ".join(notes), keys=tuple(wrong))


def _unchanged(check: Check, ctx: Context) -> Verdict:
    changed = [n for n in check.keys if INPUT + n in ctx.outputs
               and not np.array_equal(ctx.outputs.get(INPUT + n), ctx.case[n])]
    return Verdict(not changed, f"{', '.join(changed)} changed by the call" if changed else "",
                   keys=tuple(INPUT + n for n in changed))


def _value(check: Check, ctx: Context) -> Verdict:
    if len(check.keys) == 1:
        return _value_of(check.keys[0], check, ctx)
    # one row for several outputs (every layer's dW, however deep the case's network): the ones this case has
    verdicts = [_value_of(key, check, ctx) for key in check.keys if key in ctx.expected]
    errors = [v.rel_error for v in verdicts if v.rel_error is not None]
    failed = [v for v in verdicts if not v.passed]
    worst = max(errors) if errors and len(errors) == len(verdicts) else None
    return Verdict(not failed, "; ".join(v.message for v in failed), worst, check.tolerance,
                   keys=tuple(k for v in failed for k in v.keys))


def _value_of(key: str, check: Check, ctx: Context) -> Verdict:
    got, want = ctx.outputs.get(key, "!nothing"), np.asarray(ctx.expected[key], dtype=np.float64)
    # a returned name (dW) leads the message; a driver's own key (exp.twice) means nothing to a student: the row's
    # name already says what was measured
    lead = "" if "." in key else f"{key}: "
    if isinstance(got, str):
        return Verdict(False, f"{lead}expected an array of numbers, got {describe(got)}", keys=(key,))
    if got.shape != want.shape:
        return Verdict(False, f"{lead}expected shape {want.shape}, got shape {got.shape}", keys=(key,))
    err = relative_error(got, want)
    ok = err <= check.tolerance
    message = "" if ok else f"{lead}relative error {err:.1e} > {check.tolerance:.0e}"
    return Verdict(ok, message, err, check.tolerance, keys=() if ok else (key,))


def _number(x: float) -> str:
    return f"{x:.2g}" if 1e-3 <= x < 1e4 else f"{x:.1e}"


def _weights(check: Check, ctx: Context) -> Verdict:
    """Every parameter of the model the driver handed over is exactly as it was (``model_function`` with
    ``weights_unchanged``: ``weights:I.TYPE.NAME`` is how far ``model.layers[I].params[NAME]`` moved)."""
    who = ctx.function or "the call"
    if WEIGHTS_CHANGED not in ctx.outputs:
        return Verdict(False, f"could not see the model's weights after {who} returned", keys=())
    moved = [(k, v) for k, v in ctx.outputs.items() if k.startswith(WEIGHTS) and k != WEIGHTS_CHANGED
             and (isinstance(v, str) or float(v) != 0.0)]
    if not moved and float(ctx.outputs[WEIGHTS_CHANGED]) == 0.0:
        return Verdict(True)
    words = []
    for key, value in sorted(moved, key=lambda kv: -np.inf if isinstance(kv[1], str) else -float(kv[1])):
        if key == WEIGHTS_LAYERS:
            words.insert(0, f"its list of layers changed ({value.lstrip('!')})")
            continue
        i, kind, name = key[len(WEIGHTS):].split(".", 2)
        what = f"the {name} of model.layers[{i}] ({kind})"
        words.append(f"{what} {value.lstrip('!')}" if isinstance(value, str)
                     else f"{what} moved by up to {_number(float(value))}")
    more = f", and {len(words) - 1} more weight array{'s' * (len(words) > 2)} changed" if len(words) > 1 else ""
    message = f"{who} changed the model's weights: {words[0] if words else 'some of them'}{more}"
    return Verdict(False, message, keys=(WEIGHTS_CHANGED,))


_EVALUATORS = {"returns": _returns, "unchanged": _unchanged, "value": _value, "weights": _weights}


def returns_check(keys: tuple[str, ...], points: float, name: str | None = None, part: str = "",
                  hint: str = "") -> Check:
    """The outputs ``keys`` are arrays (or scalars) with the expected shapes and dtype (float64 in, float64 out)."""
    label = name or f"returns {', '.join(k.split('.')[-1] for k in keys)} with the right shapes and dtype"
    return Check("returns", label, points, tuple(keys), part=part,
                 hint=hint or "return exactly what the docstring asks for, in that order")


def unchanged_check(names: tuple[str, ...], points: float, part: str = "", name: str | None = None) -> Check:
    """The inputs ``names`` are untouched after the call (``call`` returns them as ``input:NAME``)."""
    return Check("unchanged", name or f"leaves {', '.join(names)} unchanged", points, tuple(names), part=part,
                 hint="work on new arrays (x = x.copy(), or y = x * mask rather than x *= mask)")


def value_check(key: str | tuple, points: float, against: str, tolerance: float = TOLERANCE, part: str = "",
                hint: str = "", name: str | None = None, needs: tuple = (), parts: tuple = ()) -> Check:
    """The output ``key`` equals the expected value within ``tolerance`` (relative error, the course's policy).
    ``key`` may be a tuple of outputs, checked in one row: those a case has (a network's dW1 ... dWL, whatever its
    depth) must all match; the row's relative error is the worst of them.
    ``needs``: keys of other checks whose work this output reuses (see ``Check.needs``); ``parts``: named slices
    ``(label, axis, start, stop)`` a failure is described by (see ``Check.parts``)."""
    keys = (key,) if isinstance(key, str) else tuple(key)
    label = ", ".join(k.split(".")[-1] for k in keys)
    return Check("value", name or f"{label} match{'es' * (len(keys) == 1)} {against}", points, keys, tolerance,
                 part, hint, tuple(needs), tuple(tuple(p) for p in parts))


def weights_check(points: float, name: str = "leaves the model's weights unchanged", hint: str = "") -> Check:
    """No parameter of the model handed to the student changed, exactly (``drivers.model_function`` with
    ``weights_unchanged=True``): for functions that use a model's backward pass but must not train it."""
    return Check("weights", name, points, (WEIGHTS_CHANGED,), hint=hint or (
        "use the model's forward and backward only: backward fills layer.grads, which is fine, but nothing may "
        "write into layer.params (no optimizer step, no W -= lr * dW); to experiment, work on copy.deepcopy(model)"))


# ---- references ------------------------------------------------------------------------------------------------

def gradient(forward: Callable[..., Any], arrays: dict, wrt: str, dout=None) -> np.ndarray:
    """Central-difference gradient of ``sum(forward(**arrays) * dout)`` with respect to ``arrays[wrt]``.

    Copies the arrays first, so the case is never touched.
    """
    arrays = {k: np.array(v, dtype=np.float64, copy=True) for k, v in arrays.items()}
    return numerical_gradient(lambda _: forward(**arrays), arrays[wrt], dout)


# ---- assembling a FunctionSpec -----------------------------------------------------------------------------------

def finish_cases(cases: list[Case]) -> list[Case]:
    """Give every case an equal share of the points (``weight``) and a ``label``."""
    for case in cases:
        case["weight"] = 1.0 / len(cases)
        case.setdefault("label", "")
    return cases


def _row(spec_name, check, case, weight, verdict=None, status=Status.OK, message="", hint=""):
    passed = verdict.passed if verdict else False
    return CheckResult(
        function=spec_name, name=check.name, passed=passed, points=check.points * weight if passed else 0.0,
        max_points=check.points * weight, message=verdict.message if verdict else message,
        rel_error=verdict.rel_error if verdict else None, tolerance=verdict.tolerance if verdict else None,
        hint="" if passed else hint, status=str(status), case=str(case.get("label", "")))


def _explain(ctx: Context, check: Check, keys: tuple[str, ...], swapped: dict, failed_keys=(),
             names: dict | None = None, row: CheckResult | None = None) -> str:
    """The hint for a failed check; ``row`` also records the catalogued mistake (``row.mistake``) or the failing
    row it reuses (``row.reuses``) behind it, for the class summary."""
    mistake = ctx.matching_mistake(keys)
    if mistake:
        if row is not None:
            row.mistake = mistake.name
        return mistake.hint
    upstream = [k for k in check.needs if k in failed_keys]
    if upstream:
        first = (names or {}).get(upstream[0], upstream[0])
        if row is not None:
            row.reuses = first
        return (f"this row reuses what \"{first}\" tests, and that row fails: fix it first; this one may then "
                "pass too")
    if swapped:
        order = ", ".join(k.split(".")[-1] for k in swapped["__order__"])
        moved = [(k, v) for k, v in swapped.items() if k != "__order__"]
        first = f"{moved[0][0].split('.')[-1]} holds the right value of {moved[0][1].split('.')[-1]}: " if moved else ""
        return f"{first}the results are right but returned in the wrong order (return them as ({order}))"
    for key in keys:
        got = ctx.outputs.get(key)
        if key.startswith(INPUT) or isinstance(got, str) or got is None or key not in ctx.expected:
            continue
        words = (check.parts and diagnose.by_parts(got, ctx.expected[key], ctx.case, check.parts)) \
            or diagnose.relation(key, got, ctx.expected[key], ctx.case)
        if words:
            return f"{words}; {check.hint}" if check.hint else words
    return check.hint


def _finite_difference_note(ctx: Context, rows) -> str:
    exact = ctx.case.get(EXACT)
    if exact is None or not rows or not all(r.passed for r in rows):
        return ""
    errors = [relative_error(ctx.outputs[k], np.asarray(v)) for k, v in exact.items()
              if k in ctx.outputs and not isinstance(ctx.outputs[k], str) and np.shape(ctx.outputs[k]) == np.shape(v)]
    if errors and FD_LOW < max(errors) < FD_HIGH:
        return (f"passes, but its error against the exact gradient is {max(errors):.0e} (an analytic backward pass "
                "is ~1e-15 off): this looks like finite differences, not backpropagation")
    return ""


def make_grade(name: str, checks: list[Check], expected, call, mistakes: list[Mistake], reference=None,
               exact=None):
    """``grade(case, outputs) -> list[CheckResult]``: every check on one case, a hint for every failure.

    ``exact(case)``: the exact outputs (the reference's) where ``expected`` are central differences, to notice an
    answer computed by finite differences (grader side; public data carries them in the case).
    """

    def grade(case: Case, outputs: Outputs) -> list[CheckResult]:
        outputs = as_arrays(outputs)
        ctx = Context(case, outputs, expected, call, mistakes, reference, function=name)
        weight = float(case.get("weight", 1.0))
        rows, failed, invalid = [], [], []
        for check in checks:
            status = outputs.get(check.part + STATUS) if check.part else None
            if status:
                rows.append(_row(name, check, case, weight, status=str(status),
                                 message=str(outputs.get(check.part + MESSAGE, status))))
                continue
            if "__invalid__" in outputs:
                invalid.append(check)
                continue
            verdict = check.evaluate(ctx)
            rows.append(_row(name, check, case, weight, verdict))
            if not verdict.passed:
                failed.append((check, verdict, rows[-1]))
        if invalid:   # nothing usable came back: one row for all the checks that needed it
            message = str(outputs["__invalid__"])
            hint = ("add `return` with the values the docstring names" if "returned None" in message
                    else "return a tuple in the order of the signature")
            points = sum(c.points for c in invalid) * weight
            rows.append(CheckResult(function=name, name="returns what the signature says", passed=False, points=0.0,
                                    max_points=points, message=message, hint=hint, status=str(Status.OK),
                                    case=str(case.get("label", ""))))
        if failed:
            returned = [k for c in checks if c.kind == "returns" for k in c.keys]
            keys = returned or [k for c in checks for k in c.keys if c.kind == "value"]
            swapped = diagnose.permutation(outputs, ctx.expected, keys)
            if swapped:
                swapped["__order__"] = keys
            failed_keys = {k for _, verdict, _ in failed for k in verdict.keys}
            names = {k: c.name for c in checks for k in c.keys}
            for check, verdict, row in failed:
                row.hint = _explain(ctx, check, verdict.keys, swapped, failed_keys, names, row)
        elif exact is not None or EXACT in case:
            if EXACT not in case and exact is not None:
                try:
                    case = {**case, EXACT: exact(case)}
                except Exception:  # noqa: BLE001 - no exact answer, no note
                    case = {**case, EXACT: None}
                ctx.case = case
            note = _finite_difference_note(ctx, rows)
            for row in rows:
                row.note = note
        return rows

    return grade


def function_spec(name: str, signature: str, *, make_cases, call, checks: list[Check], mistakes: list[Mistake],
                  release_hint: str, expected=None, part_hints: dict | None = None, hands_over: tuple = (),
                  finite_differences: bool = False) -> FunctionSpec:
    """A ``FunctionSpec`` whose points are the sum of its checks' points.

    ``expected(case) -> dict``: the right outputs; by default the reference's own outputs (the solution in the
    source notebook, called through ``call``). ``finite_differences``: expected values are central differences,
    so also compare with the reference's exact outputs to notice an answer computed by finite differences.
    """
    holder: dict = {}

    def reference():
        return holder["spec"].reference

    def from_reference(case):
        return {k: v for k, v in as_arrays(call(reference(), case)).items() if not k.startswith(INPUT)}

    exact = from_reference if finite_differences else None
    grade = make_grade(name, checks, expected or from_reference, call, mistakes, reference, exact)
    spec = FunctionSpec(name=name, signature=signature, points=float(sum(c.points for c in checks)),
                        make_cases=make_cases, call=call, grade=grade, mistakes=mistakes, release_hint=release_hint,
                        part_hints=dict(part_hints or {}), checks=list(checks), hands_over=tuple(hands_over),
                        driver=getattr(call, "driver", ()), finite_differences=finite_differences)
    spec.expected = expected or from_reference
    spec.exact = exact
    holder["spec"] = spec
    return spec

