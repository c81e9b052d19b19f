"""Name the relation between a wrong output and the right one: the hint for a mistake nobody catalogued.

``relation(key, got, want, case)`` looks for a sign flip, a transpose, a constant scale (1/N, N, 2, 1/2, ...), a
missing or extra factor equal to one of the inputs, a shape off by a kept or dropped axis, values right only in
some entries, all zeros, or (for a trajectory of optimizer steps) an answer one step off. ``permutation(...)``
finds outputs that are right but returned in the wrong order. Only shapes, counts and simple constants appear in
the words: never a value, so a hint cannot reveal a hidden input.
"""
from __future__ import annotations

import numpy as np

from ..gradcheck import TOLERANCE, relative_error

TRAJECTORIES = ("_all", "w_change")


def _close(a, b, tol: float = 1e-6) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    return relative_error(a, b) <= tol


def _short(key: str) -> str:
    """How a hint names an output: a returned name (dW) as it is; a driver's own key (mul.grads), which the student
    never wrote, as "the result"."""
    return "the result" if "." in key else key


def _constant_name(c: float, case: dict) -> str:
    """A constant's name: "2", "1/2", "1/N (the batch size)", ... or "" when it has no simple name."""
    sizes = {}
    for name, value in case.items():
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] > 1 and not name.startswith("_"):
            sizes.setdefault(int(value.shape[0]), name)
    candidates = [(2.0, "2"), (0.5, "1/2"), (3.0, "3"), (1 / 3, "1/3"), (4.0, "4"), (0.25, "1/4")]
    for n, name in sizes.items():
        if n > 4:
            candidates += [(float(n), f"{n}, the size of {name}'s first axis"),
                           (1.0 / n, f"1/{n}, one over the size of {name}'s first axis")]
    for value, name in candidates:
        if abs(c - value) <= 1e-6 * abs(value):
            return name
    return ""


BOOKKEEPING = ("weight",)      # case entries that are not inputs (finish_cases' share of the points)


def _scalar_factor(c: float, case: dict) -> str:
    """"is missing a factor of g" / "has an extra factor of g" when ``c`` is a scalar input of the case (or one
    over it); "" otherwise. Only the input's name is said, never its value."""
    for input_name, value in case.items():
        if input_name.startswith("_") or input_name in BOOKKEEPING or isinstance(value, (bool, np.bool_)):
            continue
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if not isinstance(value, (float, int, np.floating, np.integer)) or value in (0, 1, -1):
            continue
        value = float(value)
        if abs(c - value) <= 1e-6 * abs(value):
            return f"has an extra factor of {input_name}"
        if abs(c * value - 1) <= 1e-6:
            return f"is missing a factor of {input_name}"
    return ""


def relation(key: str, got, want, case: dict) -> str:
    """Plain words for how ``got`` differs from ``want`` (both numeric), or "" when no simple relation fits."""
    name = _short(key)
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        if got.ndim == 2 and got.T.shape == want.shape and _close(got.T, want):
            return f"{name} is the transpose of the right one"
        if got.size == want.size:
            if _close(got.reshape(want.shape), want):
                squeezed = got.squeeze().shape == want.squeeze().shape
                return (f"{name} has the right values in shape {got.shape} instead of {want.shape}"
                        + (": a kept axis (keepdims=True) or a missing one" if squeezed else ": reshape it"))
            return f"{name} has shape {got.shape} instead of {want.shape}, and its values differ too"
        if got.ndim == want.ndim or abs(got.ndim - want.ndim) == 1:
            return (f"{name} has shape {got.shape} instead of {want.shape}: a sum or mean over the wrong axis, or "
                    "a product in the wrong order")
        return ""
    if not np.all(np.isfinite(got)):
        return f"{name} contains inf or nan: an overflow (exp of a large number?) or a division by zero"
    if not np.any(want):
        return ""
    if not np.any(got):
        return f"{name} is all zeros"
    if _close(got, -want):
        return f"{name} has the wrong sign (it is minus the right one)"
    if want.ndim == 2 and want.shape[0] == want.shape[1] > 1 and _close(got, want.T):
        return f"{name} is the transpose of the right one"
    c = float(np.vdot(got, want) / np.vdot(want, want))
    if c and _close(got, c * want):
        named = _constant_name(c, case)
        if named:
            return f"{name} is {named} times the right one"
        scalar = _scalar_factor(c, case)
        if scalar:
            return f"{name} {scalar}"
        if got.size > 1 and abs(c - 1) > 1e-4:    # two scalars always differ by a factor; c ~ 1 is rounding
            return f"{name} is the right one scaled by a constant factor{' and sign' if c < 0 else ''}"
    for input_name, value in case.items():
        if input_name.startswith("_") or not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            continue
        if value.shape != want.shape:
            continue
        if _close(got, want * value):
            return f"{name} has an extra factor of {input_name}"
        with np.errstate(all="ignore"):
            if np.all(value != 0) and _close(got, want / value):
                return f"{name} is missing a factor of {input_name}"
    if key.endswith(TRAJECTORIES) and got.ndim >= 1 and got.shape[0] > 1:
        if _close(got[1:], want[:-1]):
            return f"{name} is one step behind the right trajectory (an off-by-one in the step count or the order)"
        if _close(got[:-1], want[1:]):
            return f"{name} is one step ahead of the right trajectory (an off-by-one in the step count or the order)"
    if got.size > 1:
        with np.errstate(all="ignore"):
            scale = max(float(np.max(np.abs(want))), 1e-12)
            right = np.abs(got - want) <= 1e-6 * scale
        if right.any():
            wrong_zero = np.all(got[~right] == 0)
            return (f"{name} is right in {int(right.sum())} of {right.size} entries"
                    + ("; the others are 0 where they should not be" if wrong_zero else ""))
    return ""


def by_parts(got, want, case: dict, parts) -> str:
    """Plain words for a wrong output part by part: ``parts`` are ``(label, axis, start, stop)`` slices (e.g. a
    detector's objectness, box and class channels), each described by ``relation``; "" when the shapes differ or
    every part is wrong in no simple way (the whole-array words then serve better)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return ""
    right, wrong, named = [], [], False
    for label, axis, start, stop in parts:
        index = [slice(None)] * got.ndim
        index[int(axis)] = slice(start, stop)
        g, w = got[tuple(index)], want[tuple(index)]
        if _close(g, w):
            right.append(label)
            continue
        words = relation(label, g, w, case)
        named = named or bool(words)
        wrong.append(words or f"{label} is wrong")
    if not wrong or not (right or named):
        return ""
    return "; ".join(wrong) + (f" ({' and '.join(right)} {'is' if len(right) == 1 else 'are'} right)"
                               if right else "")


def permutation(outputs: dict, expected: dict, keys) -> dict[str, str]:
    """{wrong key: the key whose value it holds} when the wrong outputs are a reordering of right ones."""
    keys = [k for k in keys if k in outputs and k in expected and not isinstance(outputs[k], str)]
    wrong = [k for k in keys if not _close(outputs[k], expected[k], TOLERANCE)]
    found = {}
    for k in wrong:
        for other in keys:
            if other != k and _close(outputs[k], expected[other], TOLERANCE):
                found[k] = other
                break
    return found if found and len(found) == len(wrong) else {}
