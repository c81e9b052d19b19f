"""The tolerance policy's tools: numerical_gradient, its sparse variant, relative_error, and their errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpkit.gradcheck import (H, TOLERANCE, numerical_gradient, relative_error,
                             sparse_numerical_gradient)


def test_numerical_gradient_of_a_known_function():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    grad = numerical_gradient(lambda z: np.sum(np.sin(z) * z), x)
    assert relative_error(grad, np.cos(x) * x + np.sin(x)) <= TOLERANCE


def test_numerical_gradient_with_upstream_gradient():
    rng = np.random.default_rng(0)
    x, W, df = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    grad = numerical_gradient(lambda z: z @ W, x, df)
    assert relative_error(grad, df @ W.T) <= TOLERANCE


def test_numerical_gradient_restores_x():
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    before = x.copy()
    numerical_gradient(lambda z: float(np.sum(z ** 3)), x)
    np.testing.assert_array_equal(x, before)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.1, 3), min_size=1, max_size=6), st.lists(st.booleans(), min_size=6, max_size=6))
def test_numerical_gradient_of_a_cubic_matches_the_derivative(values, negative):
    # |x| >= 0.1: at x = 0 the true gradient is 0 and only the h^2 truncation term (1e-10) is left to compare
    x = np.array(values) * np.where(negative[:len(values)], -1, 1)
    assert relative_error(numerical_gradient(lambda z: np.sum(z ** 3), x), 3 * x ** 2) <= TOLERANCE


def test_sparse_variant_samples_distinct_entries():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((20, 30))
    idx, values = sparse_numerical_gradient(lambda z: np.sum(z ** 2), x, num_checks=15, seed=0)
    assert len(set(map(tuple, idx))) == 15
    analytic = np.array([2 * x[i] for i in idx])
    assert relative_error(analytic, values) <= TOLERANCE


def test_relative_error_policy():
    a = np.array([1.0, -2.0, 3.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(a, -a) == pytest.approx(1.0)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0  # the 1e-8 floor avoids 0/0
    assert relative_error(a, a + 1e-9) < TOLERANCE
    assert relative_error(a, a * 1.001) > TOLERANCE
    assert relative_error(a, np.array([1.0, np.nan, 3.0])) == float("inf")


def test_relative_error_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(3,\) and \(2,\)"):
        relative_error(np.zeros(3), np.zeros(2))


def test_wrong_df_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"expected \(3, 2\), got \(2, 3\)"):
        numerical_gradient(lambda z: z @ np.ones((4, 2)), np.ones((3, 4)), np.ones((2, 3)))


def test_vector_output_without_df_is_a_clear_error():
    with pytest.raises(ValueError, match="pass df"):
        numerical_gradient(lambda z: z * 2, np.ones(3))


def test_float32_input_is_refused_with_a_reason():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda z: np.sum(z), np.ones(3, dtype=np.float32))


def test_default_step():
    assert H == 1e-5
