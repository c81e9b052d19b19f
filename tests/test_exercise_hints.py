"""Hints are right (issue 11): every catalogued hint describes what its mistake really does.

Each catalogued mistake is run on the public cases; where its output differs from the right one by a relation that
has a name (sign, transpose, a constant factor, a missing input, a shape, a step), the hint must speak of it. Hints
that state a size ("too large", "N times") are measured.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from bpkit.exercises.catalog import all_exercises
from bpkit.exercises.checks import as_arrays
from bpkit.exercises.diagnose import relation
from bpkit.exercises.public import public_cases

COURSE = {k: v for k, v in all_exercises().items() if re.match(r"ex\d\d$", k)}
MISTAKES = [(spec, m) for ex in COURSE.values() for spec in ex.functions for m in spec.mistakes]

# what a relation found by diagnose.relation obliges the hint to mention (any of the patterns)
WORDS = [
    ("wrong sign", r"sign|minus|downhill|2 \(y - s\)|factor k"),   # k = -1 flips the sign
    ("transpose", r"transpose|\.T\b|swapped|wrong places"),
    ("size of", r"\bN\b|mean|average|sum|batch|1/N|size|len"),
    (" 2 times", r"\b2|twice|both|factor|size|len"),        # a factor 2 (or k = 2, or 2 columns) named
    ("1/2 times", r"\b2|half|both|factor|size|len|1/N"),
    ("all zeros", r"\b0\b|zero|seed|stays|axis"),
    ("one step", r"\bt\b|step|old|new"),
    ("shape", r"shape|axis|axes|sum|keepdims|\("),
]


def _differences(spec, mistake):
    """(key, relation words) for every value the mistake gets wrong, over the public cases."""
    reference = spec.reference if mistake.derived else None
    wrong = mistake.implementation(reference)
    found = []
    for case in public_cases(spec):
        try:
            with np.errstate(all="ignore"):
                outputs = as_arrays(spec.call(wrong, case))
        except Exception:  # noqa: BLE001 - crashes on this case (a square-only mistake): no relation here
            continue
        for check in spec.checks:
            if check.kind != "value":
                continue
            for key in check.keys:   # a row over several outputs (ex05's dW1 ... dWL): those the case has
                if key not in case["__expected__"]:
                    continue
                got, want = outputs.get(key), case["__expected__"][key]
                if got is None or isinstance(got, str):
                    continue
                words = relation(key, got, want, case)
                if words:
                    found.append((key, words, case))
    return found


@pytest.mark.parametrize("spec, mistake", MISTAKES, ids=[f"{s.name}-{m.name}" for s, m in MISTAKES])
def test_each_hint_speaks_of_what_its_mistake_does(spec, mistake):
    hint = mistake.hint
    for key, words, case in _differences(spec, mistake):
        for marker, required in WORDS:
            if marker in words:
                assert re.search(required, hint), (words, hint)
        factor = re.search(r"(missing an?|extra) factor of (\w+)", words)
        if factor:
            assert re.search(rf"\b{factor.group(2)}\b|local derivative|chain", hint), (words, hint)


def _first_step_ratio(spec, mistake, **want):
    for case in public_cases(spec):
        if all(case.get(k) == v for k, v in want.items()):
            outputs = as_arrays(spec.call(mistake.implementation(None), case))
            return float(np.abs(outputs["w_change"][0]).max() / np.abs(case["__expected__"]["w_change"][0]).max())
    raise AssertionError("no such case")


def test_adam_without_bias_correction_takes_first_steps_about_three_times_too_large():
    spec = COURSE["ex07"].functions[0]
    mistake = next(m for m in spec.mistakes if m.name == "no_bias_correction")
    ratio = _first_step_ratio(spec, mistake, t=1, defaults=1)
    assert 3.0 < ratio < 3.3   # m / sqrt(v) = 0.1 / sqrt(0.001) at t = 1 with the defaults
    assert "too large" in mistake.hint and "3.2" in mistake.hint and "too small" not in mistake.hint


def test_a_net_not_averaged_has_loss_and_gradients_n_times_too_big_without_weight_decay():
    spec = COURSE["ex05"].functions[0]
    mistake = next(m for m in spec.mistakes if m.name == "not_averaged")
    unregularized = [case for case in public_cases(spec) if case["reg"] == 0]
    assert unregularized
    for case in unregularized:
        outputs = as_arrays(spec.call(mistake.implementation(None), case))
        n = len(case["y"])
        for key, want in case["__expected__"].items():
            assert np.allclose(outputs[key], n * want, rtol=1e-5, atol=1e-9), key
    assert "with reg = 0 your loss and gradients are N times too big" in mistake.hint


def test_every_size_claim_in_a_hint_is_measured_here():
    """A hint that says how big or small something is must be one this file measures."""
    measured = {("adam_step", "no_bias_correction"), ("mlp_loss", "not_averaged")}
    claims = {(s.name, m.name) for s, m in MISTAKES
              if re.search(r"too (small|large|big)|times too|\b\d+(\.\d+)? times\b", m.hint)}
    assert claims <= measured, claims - measured
