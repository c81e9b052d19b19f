"""Optimizers: one step against the closed-form update, and Adam over 20 steps against a loop written here."""
import numpy as np
import pytest

import bpkit.nn as nn


class Point(nn.Layer):
    """A bare parameter vector: the smallest thing an optimizer can update."""

    def __init__(self, p, g):
        super().__init__()
        self.params = {"p": np.array(p, dtype=float)}
        self.grads = {"p": np.array(g, dtype=float)}


P0, G0 = [1.0, -2.0, 0.5], [0.3, -0.1, 2.0]


def test_sgd_plain_step():
    pt = Point(P0, G0)
    nn.SGD(pt, lr=0.1).step()
    np.testing.assert_allclose(pt.params["p"], np.array(P0) - 0.1 * np.array(G0), rtol=1e-15)


def test_sgd_momentum_first_two_steps_follow_pytorch():
    pt = Point(P0, G0)
    opt = nn.SGD(pt, lr=0.1, momentum=0.9)
    opt.step()  # PyTorch: buf = g at the first step
    p1 = np.array(P0) - 0.1 * np.array(G0)
    np.testing.assert_allclose(pt.params["p"], p1, rtol=1e-15)
    opt.step()  # buf = 0.9 g + g
    np.testing.assert_allclose(pt.params["p"], p1 - 0.1 * 1.9 * np.array(G0), rtol=1e-15)


def test_sgd_weight_decay_and_nesterov():
    pt = Point(P0, G0)
    nn.SGD(pt, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True).step()
    g = np.array(G0) + 0.01 * np.array(P0)
    np.testing.assert_allclose(pt.params["p"], np.array(P0) - 0.1 * (g + 0.9 * g), rtol=1e-15)


def test_rmsprop_step():
    pt = Point(P0, G0)
    nn.RMSProp(pt, lr=0.01).step()
    g = np.array(G0)
    v = 0.01 * g ** 2
    np.testing.assert_allclose(pt.params["p"], np.array(P0) - 0.01 * g / (np.sqrt(v) + 1e-8), rtol=1e-14)


def test_adam_first_step_moves_each_coordinate_by_lr():
    pt = Point(P0, G0)
    nn.Adam(pt, lr=0.01).step()
    # bias-corrected m/sqrt(v) is sign(g) at step 1 (up to eps)
    np.testing.assert_allclose(pt.params["p"], np.array(P0) - 0.01 * np.sign(G0), rtol=1e-7)


def reference_adam(p, grads, lr, b1, b2, eps, wd):
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


@pytest.mark.parametrize("wd", [0.0, 0.05])
def test_adam_twenty_steps_against_reference_loop(wd):
    rng = np.random.default_rng(7)
    grads = [rng.standard_normal(3) for _ in range(20)]
    pt = Point(P0, G0)
    opt = nn.Adam(pt, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=wd)
    for g in grads:
        pt.grads["p"][:] = g
        opt.step()
    expected = reference_adam(np.array(P0), grads, 0.05, 0.8, 0.99, 1e-6, wd)
    np.testing.assert_allclose(pt.params["p"], expected, rtol=1e-12)


def test_adam_without_bias_correction_would_differ():
    """The reference loop is sensitive to the thing under test: dropping bias correction changes step 1."""
    pt = Point(P0, G0)
    nn.Adam(pt, lr=0.01).step()
    g = np.array(G0)
    uncorrected = np.array(P0) - 0.01 * (0.1 * g) / (np.sqrt(0.001 * g * g) + 1e-8)
    assert not np.allclose(pt.params["p"], uncorrected)


def test_optimizers_update_float32_in_place():
    model = nn.Sequential(nn.Linear(3, 2, seed=0)).astype(np.float32)
    W = model[0].params["W"]
    model.forward(np.ones((4, 3), np.float32))
    model.backward(np.ones((4, 2), np.float32))
    nn.Adam(model).step()
    assert model[0].params["W"] is W and W.dtype == np.float32


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="positive learning rate"):
        nn.SGD(Point(P0, G0), lr=0)
    with pytest.raises(ValueError, match="betas"):
        nn.Adam(Point(P0, G0), betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="no"):
        nn.SGD(nn.Sequential(nn.ReLU()), lr=0.1)


def reference_adagrad(p, grads, lr, lr_decay, wd, init, eps):
    """torch.optim.Adagrad's documented rule, written out: g <- g + wd p; clr = lr / (1 + (t - 1) lr_decay);
    state_sum <- state_sum + g^2 (from init); p <- p - clr g / (sqrt(state_sum) + eps)."""
    state_sum = np.full_like(p, init)
    for t, g in enumerate(grads, start=1):
        g = g + wd * p
        clr = lr / (1 + (t - 1) * lr_decay)
        state_sum = state_sum + g * g
        p = p - clr * g / (np.sqrt(state_sum) + eps)
    return p


def test_adagrad_first_step_moves_each_coordinate_by_lr():
    pt = Point(P0, G0)
    nn.Adagrad(pt, lr=0.1).step()       # sum = g^2, so g / sqrt(sum) = sign(g)
    np.testing.assert_allclose(pt.params["p"], np.array(P0) - 0.1 * np.sign(G0), rtol=1e-9)


@pytest.mark.parametrize("lr_decay, wd, init", [(0.0, 0.0, 0.0), (0.1, 0.05, 0.3)])
def test_adagrad_twenty_steps_against_reference_loop(lr_decay, wd, init):
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal(3) for _ in range(20)]
    pt = Point(P0, G0)
    opt = nn.Adagrad(pt, lr=0.05, lr_decay=lr_decay, weight_decay=wd, initial_accumulator_value=init, eps=1e-10)
    for g in grads:
        pt.grads["p"][:] = g
        opt.step()
    expected = reference_adagrad(np.array(P0), grads, 0.05, lr_decay, wd, init, 1e-10)
    np.testing.assert_allclose(pt.params["p"], expected, rtol=1e-12)


def reference_nesterov(p, grads, lr, mu):
    """torch.optim.SGD(nesterov=True)'s documented rule, written out: b_1 = g_1, b_t = mu b_{t-1} + g_t;
    p <- p - lr (g_t + mu b_t)."""
    b = None
    for g in grads:
        b = g.copy() if b is None else mu * b + g
        p = p - lr * (g + mu * b)
    return p


def test_nesterov_twenty_steps_against_reference_loop():
    rng = np.random.default_rng(4)
    grads = [rng.standard_normal(3) for _ in range(20)]
    pt = Point(P0, G0)
    opt = nn.SGD(pt, lr=0.05, momentum=0.9, nesterov=True)
    for g in grads:
        pt.grads["p"][:] = g
        opt.step()
    np.testing.assert_allclose(pt.params["p"], reference_nesterov(np.array(P0), grads, 0.05, 0.9), rtol=1e-12)


def test_adagrad_refuses_a_negative_accumulator():
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        nn.Adagrad(Point(P0, G0), lr=0.1, initial_accumulator_value=-1.0)
