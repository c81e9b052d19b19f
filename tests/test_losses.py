"""Losses: value, gradient against central differences, stability at |logits| = 1e3, clear errors."""
import numpy as np
import pytest

from bpkit.gradcheck import TOLERANCE, numerical_gradient, relative_error
from bpkit.nn import bce_with_logits, log_softmax, mse_loss, softmax_cross_entropy


def grad_error(loss_fn, x, target):
    _, analytic = loss_fn(x, target)
    numeric = numerical_gradient(lambda z: loss_fn(z, target)[0], x)
    return relative_error(analytic, numeric)


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (5, 3), (8,)])
def test_mse_value_and_gradient(shape):
    rng = np.random.default_rng(sum(shape))
    pred, target = rng.standard_normal(shape), rng.standard_normal(shape)
    loss, _ = mse_loss(pred, target)
    assert loss == pytest.approx(np.mean((pred - target) ** 2), rel=1e-12)
    assert grad_error(mse_loss, pred, target) <= TOLERANCE


@pytest.mark.parametrize("n,c", [(1, 2), (4, 3), (9, 10)])
def test_softmax_cross_entropy_value_and_gradient(n, c):
    rng = np.random.default_rng(n * c)
    logits, labels = 3 * rng.standard_normal((n, c)), rng.integers(0, c, n)
    loss, _ = softmax_cross_entropy(logits, labels)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(probs[np.arange(n), labels])), rel=1e-12)
    assert grad_error(softmax_cross_entropy, logits, labels) <= TOLERANCE


@pytest.mark.parametrize("shape", [(1, 1), (6, 1), (4, 3)])
def test_bce_with_logits_value_and_gradient(shape):
    rng = np.random.default_rng(sum(shape))
    z, t = 2 * rng.standard_normal(shape), rng.integers(0, 2, shape).astype(float)
    loss, _ = bce_with_logits(z, t)
    p = 1 / (1 + np.exp(-z))
    assert loss == pytest.approx(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)), rel=1e-10)
    assert grad_error(bce_with_logits, z, t) <= TOLERANCE


def test_initial_loss_is_log_of_classes():
    logits = np.zeros((50, 10))
    loss, _ = softmax_cross_entropy(logits, np.arange(50) % 10)
    assert loss == pytest.approx(np.log(10), rel=1e-12)


def test_softmax_cross_entropy_stable_at_1e3():
    logits = np.array([[1e3, -1e3, 0.0], [-1e3, 1e3, 999.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dlogits = softmax_cross_entropy(logits, np.array([0, 2]))
    # row 0 is right with certainty (loss 0); row 1 puts e^-1 / (1 + e^-1) on the true class
    expected = 0.5 * (0.0 + np.log1p(np.exp(-1.0)) + 1.0)
    assert np.isfinite(loss) and loss == pytest.approx(expected, rel=1e-12)
    assert np.all(np.isfinite(dlogits))
    np.testing.assert_allclose(dlogits.sum(axis=1), 0, atol=1e-15)


def test_bce_with_logits_stable_at_1e3():
    z = np.array([1e3, -1e3, 1e3, -1e3])
    t = np.array([1.0, 0.0, 0.0, 1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dz = bce_with_logits(z, t)
    assert loss == pytest.approx((0 + 0 + 1e3 + 1e3) / 4, rel=1e-12)
    np.testing.assert_allclose(dz, np.array([0.0, 0.0, 1.0, -1.0]) / 4, atol=1e-300)


def test_losses_keep_float32():
    logits = np.ones((3, 4), dtype=np.float32)
    assert softmax_cross_entropy(logits, np.array([0, 1, 2]))[1].dtype == np.float32
    assert mse_loss(logits, np.zeros((3, 4), dtype=np.float32))[1].dtype == np.float32
    assert bce_with_logits(logits, np.zeros((3, 4)))[1].dtype == np.float32


def test_shape_mismatch_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        mse_loss(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        softmax_cross_entropy(np.zeros((4, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\(N, C\).*\(4,\)"):
        softmax_cross_entropy(np.zeros(4), np.array([0]))


def test_labels_out_of_range_or_not_integers():
    with pytest.raises(ValueError, match=r"\[0, 2\].*from 0 to 3"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"from -1"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([-1, 0]))
    with pytest.raises(TypeError, match="integer class labels"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bce_with_logits(np.zeros(2), np.array([0.0, 2.0]))


def test_log_softmax_along_any_axis_is_the_same_numbers():
    """log_softmax(z, axis=1) of classes-first data equals the default (last axis) on the transposed data, and
    exponentiates to probabilities that sum to 1, even for logits of magnitude 1e3."""
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((4, 7, 5)) * 1e3
    by_class = np.ascontiguousarray(logits.transpose(0, 2, 1))
    np.testing.assert_allclose(log_softmax(by_class, axis=1).transpose(0, 2, 1), log_softmax(logits), rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_softmax(logits)).sum(axis=-1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_with_logits_is_a_mean_and_stable_with_soft_targets(dtype):
    # issue 17: a mean (not a sum), (loss, dlogits), no overflow for |logits| up to 1e3, soft targets allowed
    z = np.array([[1e3, -1e3, 999.0], [-999.0, 0.0, 500.0]], dtype=dtype)
    t = np.array([[0.25, 0.5, 1.0], [0.0, 0.5, 0.75]])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        loss, dz = bce_with_logits(z, t)
    by_entry = np.maximum(z.astype(float), 0) - z * t + np.log1p(np.exp(-np.abs(z.astype(float))))
    assert loss == pytest.approx(by_entry.mean(), rel=1e-6)
    assert dz.dtype == dtype and np.all(np.isfinite(dz))
    p = np.array([[1, 0, 1], [0, 0.5, 1]])
    np.testing.assert_allclose(dz, (p - t) / 6, atol=1e-7)
    doubled, _ = bce_with_logits(np.concatenate([z, z]), np.concatenate([t, t]))
    assert doubled == pytest.approx(loss, rel=1e-6)          # a mean: twice the data, the same loss
