"""Checks that cannot be fooled (issue 20): mutate the reference solutions the ways students err; every
non-equivalent mutant must fail. A deterministic half of the mutants runs here; ``make mutants`` runs them all."""
from __future__ import annotations

import zlib

import pytest

import mutants

SAMPLE = 2   # one mutant in SAMPLE, chosen by a hash of its description (the same sample on every run)


@pytest.fixture(scope="module")
def results():
    chosen = [(m, ex) for m, ex in mutants.all_mutants()
              if zlib.crc32(f"{m.function}:{m.description}".encode()) % SAMPLE == 0]
    return [mutants.run(m, ex) for m, ex in chosen]


def test_every_operator_produces_mutants_of_every_exercise(results):
    kinds = {m.description.split(":")[0] for m in results}
    assert {"binop", "sign", "const", "axis", "transpose", "accumulate", "compare", "drop", "swap"} <= kinds
    assert {m.exercise for m in results} == {f"ex{i:02d}" for i in range(1, 14)}
    assert len(results) > 150


def test_no_mutant_survives_the_checks(results):
    summary = mutants.report(results)
    assert not summary["survivors"], summary["survivors"]
    assert summary["broken"] == 0


def test_most_killed_mutants_get_a_named_hint(results):
    """A catalogued hint or a diagnosis that names the relation, not only the check's general formula."""
    assert mutants.report(results)["named"] >= 0.5


def test_every_listed_equivalent_mutant_is_still_generated_and_still_passes():
    everything = {(m.function, m.description): (m, ex) for m, ex in mutants.all_mutants()}
    for key in mutants.EQUIVALENT:
        assert key in everything, key
        assert mutants.run(*everything[key]).result == "equivalent"
