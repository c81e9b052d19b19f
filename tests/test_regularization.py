"""Dropout (inverted, identity in eval, mask from the seed and reused by backward), Residual, the L2 penalty."""
import numpy as np
import pytest

import bpkit.nn as nn
import bpkit.nn.functional as F
from bpkit.gradcheck import TOLERANCE, check_layer, numerical_gradient, relative_error


def test_dropout_is_inverted_and_its_backward_reuses_the_mask():
    x = np.random.default_rng(0).standard_normal((200, 50))
    layer = nn.Dropout(0.3, seed=1)
    out = layer.forward(x)
    mask = layer.mask
    assert set(np.unique(mask)) == {0.0, 1 / 0.7}
    assert np.allclose(out, x * mask)
    assert abs((mask == 0).mean() - 0.3) < 0.01
    dout = np.random.default_rng(2).standard_normal(x.shape)
    assert np.array_equal(layer.backward(dout), dout * mask)


def test_dropout_backward_matches_numerical_for_a_fixed_mask():
    x = np.random.default_rng(3).standard_normal((4, 6))
    dout = np.random.default_rng(4).standard_normal((4, 6))
    out, cache = F.dropout_forward(x, 0.5, rng=5)
    num = numerical_gradient(lambda _: F.dropout_forward(x, 0.5, rng=5)[0], x, dout)   # same seed, same mask
    assert relative_error(F.dropout_backward(dout, cache), num) <= TOLERANCE


def test_dropout_mask_is_reproducible_from_the_seed():
    x = np.ones((5, 8))
    a, b, c = nn.Dropout(0.5, seed=7), nn.Dropout(0.5, seed=7), nn.Dropout(0.5, seed=8)
    first = [a.forward(x) for _ in range(3)]
    second = [b.forward(x) for _ in range(3)]
    assert all(np.array_equal(u, v) for u, v in zip(first, second))
    assert not np.array_equal(first[0], first[1])          # a fresh mask every forward pass
    assert not np.array_equal(first[0], c.forward(x))


def test_dropout_is_the_identity_in_eval_and_keeps_the_expectation_in_training():
    x = np.full((400, 400), 2.0)
    layer = nn.Dropout(0.25, seed=0)
    assert abs(layer.forward(x).mean() - 2.0) < 0.02
    layer.eval()
    assert layer.forward(x) is x or np.array_equal(layer.forward(x), x)
    assert np.array_equal(layer.backward(x), x)


@pytest.mark.parametrize("p,expected", [(0.0, 1.0), (1.0, 0.0)])
def test_dropout_edge_probabilities(p, expected):
    out = nn.Dropout(p, seed=0).forward(np.ones((3, 3)))
    assert np.all(out == expected)


def test_dropout_refuses_a_probability_outside_0_1_and_keeps_float32():
    with pytest.raises(ValueError, match="dropout probability"):
        nn.Dropout(1.5)
    assert nn.Dropout(0.5, seed=0).forward(np.ones((2, 2), np.float32)).dtype == np.float32


def test_residual_backward_matches_numerical_and_adds_the_skip():
    rng = np.random.default_rng(8)
    block = nn.Sequential(nn.Linear(5, 5, seed=0), nn.Tanh(), nn.Linear(5, 5, seed=1))
    layer = nn.Residual(block)
    x = rng.standard_normal((3, 5))
    assert np.allclose(layer.forward(x), x + block.forward(x))
    report = check_layer(layer, x, seed=9)
    assert len(report.errors) == 5 and report.max_error <= TOLERANCE, str(report)
    model = nn.Sequential(nn.Linear(5, 5, seed=2), nn.Residual(block), nn.Linear(5, 2, seed=3))
    assert sum(1 for _ in model.parameters()) == 8
    assert check_layer(model, x, seed=10).max_error <= TOLERANCE


def test_residual_of_a_zero_block_is_the_identity_for_the_gradient():
    block = nn.Linear(4, 4, seed=0)
    block.params["W"][:] = 0
    layer = nn.Residual(block)
    x, dout = np.ones((2, 4)), np.arange(8.0).reshape(2, 4)
    layer.forward(x)
    assert np.array_equal(layer.backward(dout), dout)


def test_residual_refuses_a_block_that_changes_the_shape():
    with pytest.raises(ValueError, match="keep its input's shape"):
        nn.Residual(nn.Linear(4, 3, seed=0)).forward(np.ones((2, 4)))


def test_l2_penalty_value_and_gradient():
    rng = np.random.default_rng(11)
    model = nn.Sequential(nn.Linear(3, 4, seed=0), nn.ReLU(), nn.Linear(4, 2, seed=1))
    model.zero_grad()
    W = model[0].params["W"]
    penalty = nn.l2_penalty(model, 0.1)
    expected = 0.05 * sum(np.sum(layer.params["W"] ** 2) for layer in (model[0], model[2]))
    assert np.isclose(penalty, expected)
    assert np.allclose(model[0].grads["W"], 0.1 * W) and np.all(model[0].grads["b"] == 0)
    del rng
