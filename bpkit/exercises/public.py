"""The public check data: what ``bpkit release`` writes beside each student notebook, and ``check()`` reads.

``exNN_topic.checks.json`` holds, for every function of the exercise, its signature, points, driver (how to call
it), checks, the catalogued mistakes' names and hints, and a few fixed public cases, each with its inputs, the
expected outputs (computed from the source notebook's solutions or by central differences), each catalogued
mistake's outputs on that case and, for a backward pass, the exact outputs (to notice finite differences). Numbers
only: no code, no solution. Small (a few dozen KB) and byte-identical on every release.

Hidden grading never uses this file: the grader draws fresh inputs from the secret and computes everything from
the spec and the source notebook.
"""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

from . import drivers
from .calling import INPUT_PREFIX as INPUT
from .checks import EXACT, EXPECTED, MISTAKES, RAISES, Check, as_arrays, make_grade, same
from .spec import Exercise, FunctionSpec, Mistake

FORMAT = 1
SUFFIX = ".checks.json"


def public_seed(name: str) -> int:
    """The fixed seed of a function's public cases (the grader draws from hidden seeds instead)."""
    return zlib.crc32(name.encode())


def _encode(value):
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.ndarray):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _float(float(value))
    array = np.asarray(value)
    if array.dtype.kind == "f":
        data = [_float(x) for x in array.ravel().tolist()]
    else:
        data = array.ravel().tolist()
    return {"array": data, "dtype": str(array.dtype), "shape": list(array.shape)}


def _float(x: float):
    if not np.isfinite(x):
        return {"float": repr(x)}
    return float(f"{x:.15g}")


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if "array" in value and "dtype" in value:
            flat = [float(v["float"]) if isinstance(v, dict) else v for v in value["array"]]
            return np.array(flat, dtype=value["dtype"]).reshape(value["shape"])
        if set(value) == {"float"}:
            return float(value["float"])
        return {k: _decode(v) for k, v in value.items()}
    return value


def _outputs_or_none(spec: FunctionSpec, fn, case):
    """The mistake's outputs, or {RAISES: exception type} when it crashes on this case (to explain a crash)."""
    try:
        with np.errstate(all="ignore"):
            return as_arrays(spec.call(fn, case))
    except Exception as exc:  # noqa: BLE001 - a mistake that crashes on this case cannot match outputs
        return {RAISES: type(exc).__name__}


def public_cases(spec: FunctionSpec) -> list[dict]:
    """The function's public cases with expected and mistake outputs attached (grader side: runs the reference)."""
    cases = spec.make_cases(np.random.default_rng(public_seed(spec.name)))
    reference = None
    for case in cases:
        case[EXPECTED] = {k: np.asarray(v) for k, v in spec.expected(case).items()}
        if spec.exact is not None:
            case[EXACT] = spec.exact(case)
        mistakes = {}
        for mistake in spec.mistakes:
            if mistake.derived and reference is None:
                reference = spec.reference
            mistakes[mistake.name] = _outputs_or_none(spec, mistake.implementation(reference), case)
        case[MISTAKES] = mistakes
    return cases


def _right(case, key):
    """The right value of an output key: the expected output, or the input itself for ``input:NAME``."""
    if key.startswith(INPUT):
        return case.get(key[len(INPUT):])
    return case[EXPECTED].get(key)


def _compact(cases: list[dict]) -> list[dict]:
    """Keep only the outputs in which each mistake differs from the right answer (``_expand`` restores them)."""
    out = []
    for case in cases:
        case = dict(case)
        compact = {}
        for name, outputs in case[MISTAKES].items():
            if outputs is None or RAISES in outputs:
                compact[name] = outputs
                continue
            right_keys = [k for k, v in outputs.items() if _right(case, k) is not None and _same_exactly(v, _right(case, k))]
            compact[name] = {"differs": {k: v for k, v in outputs.items() if k not in right_keys},
                             "right": right_keys}
        case[MISTAKES] = compact
        out.append(case)
    return out


def _same_exactly(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype.kind == b.dtype.kind and bool(np.array_equal(a, b, equal_nan=True)) \
        or (a.shape == b.shape and same(a, b))


def _expand(cases: list[dict]) -> list[dict]:
    for case in cases:
        for name, stored in list(case.get(MISTAKES, {}).items()):
            if stored is None or "differs" not in stored:   # None, or {RAISES: type}
                continue
            outputs = {k: _right(case, k) for k in stored["right"]}
            outputs.update(stored["differs"])
            case[MISTAKES][name] = outputs
    return cases


def compile_exercise(exercise: Exercise) -> dict:
    """The public check data of an exercise, as a JSON-ready dict."""
    functions = []
    for spec in exercise.functions:
        if not spec.driver:
            raise ValueError(f"{exercise.id}.{spec.name}: its call was not built by bpkit.exercises.drivers, so a "
                             "student's check() could not rebuild it")
        functions.append({
            "name": spec.name, "signature": spec.signature, "points": spec.points,
            "driver": [spec.driver[0], spec.driver[1]], "checks": [c.to_dict() for c in spec.checks],
            "mistakes": [{"name": m.name, "hint": m.hint} for m in spec.mistakes],
            "release_hint": spec.release_hint, "part_hints": spec.part_hints,
            "cases": _encode(_compact(public_cases(spec)))})
    return {"format": FORMAT, "id": exercise.id, "title": exercise.title, "notebook": exercise.notebook,
            "functions": functions}


def dumps(data: dict) -> str:
    return json.dumps(data, indent=None, separators=(",", ":"), sort_keys=False) + "\n"


def data_path(notebook: Path) -> Path:
    notebook = Path(notebook)
    stem = notebook.name[: -len(".ipynb")] if notebook.name.endswith(".ipynb") else notebook.name
    return notebook.with_name(stem + SUFFIX)


def load(path: Path) -> Exercise:
    """The Exercise a student's ``check()`` runs, rebuilt from public check data (no reference, no spec)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: check data of format {data.get('format')!r}, this bpkit reads format {FORMAT}: "
                         "release the exercises again with this version")
    specs = []
    for f in data["functions"]:
        call = drivers.build(f["driver"][0], f["driver"][1])
        checks = [Check.from_dict(c) for c in f["checks"]]
        mistakes = [Mistake(m["name"], m["hint"]) for m in f["mistakes"]]
        cases = _expand(_decode(f["cases"]))

        def make_cases(rng, cases=cases):
            return cases

        grade = make_grade(f["name"], checks, lambda case: case[EXPECTED], call, mistakes)
        specs.append(FunctionSpec(name=f["name"], signature=f["signature"], points=float(f["points"]),
                                  make_cases=make_cases, call=call, grade=grade, mistakes=mistakes,
                                  release_hint=f.get("release_hint", ""), part_hints=f.get("part_hints", {}),
                                  checks=checks, driver=tuple(f["driver"])))
    return Exercise(data["id"], data["title"], data["notebook"], specs)
