"""bpkit.claims: a lesson's sentence is printed when it holds and fails loudly, with the numbers, when it does not."""
import numpy as np
import pytest

from bpkit.claims import ClaimFailed, claim


def test_a_true_claim_prints_one_stable_line(capsys):
    claim(3 < 5, "three is below five", ratio=3.0)
    assert capsys.readouterr().out == "claim holds: three is below five\n"


def test_a_numpy_bool_counts():
    claim(np.float64(1.0) < np.float64(2.0), "numpy comparisons work")


def test_a_false_claim_raises_with_the_measured_values():
    with pytest.raises(ClaimFailed, match=r"claim does not hold: backprop is cheap \(measured: ratio = 7.5\)"):
        claim(7.5 < 5, "backprop is cheap", ratio=7.5)


def test_an_array_is_refused_with_a_clear_message():
    with pytest.raises(TypeError, match="shape \\(3,\\)"):
        claim(np.array([True, False, True]), "ambiguous")


def test_an_empty_statement_is_refused():
    with pytest.raises(TypeError, match="non-empty str"):
        claim(True, "  ")
