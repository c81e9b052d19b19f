"""AdamW against torch.optim.AdamW's update written out here: p *= 1 - lr wd, then Adam's step on g alone."""
import numpy as np
import pytest

import bpkit.nn as nn


def test_adamw_matches_the_decoupled_rule_step_by_step():
    rng = np.random.default_rng(0)
    layer = nn.Linear(3, 2, seed=0)
    layer.params["b"][:] = rng.standard_normal(2)
    lr, (b1, b2), eps, wd = 0.01, (0.9, 0.999), 1e-8, 0.1
    opt = nn.AdamW(layer, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    p = {k: v.copy() for k, v in layer.params.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    for t in range(1, 6):
        grads = {k: rng.standard_normal(val.shape) for k, val in p.items()}
        for k in p:
            layer.grads[k][...] = grads[k]
            p[k] *= 1 - lr * wd
            m[k] = b1 * m[k] + (1 - b1) * grads[k]
            v[k] = b2 * v[k] + (1 - b2) * grads[k] ** 2
            p[k] -= lr / (1 - b1 ** t) * m[k] / (np.sqrt(v[k]) / np.sqrt(1 - b2 ** t) + eps)
        opt.step()
        for k in p:
            np.testing.assert_allclose(layer.params[k], p[k], rtol=1e-12, atol=1e-14)


def test_adamw_without_decay_is_adam_and_its_default_decay_is_pytorchs():
    a, b = nn.Linear(2, 2, seed=1), nn.Linear(2, 2, seed=1)
    opt_a, opt_b = nn.AdamW(a, lr=0.1, weight_decay=0.0), nn.Adam(b, lr=0.1)
    for _ in range(3):
        for layer in (a, b):
            layer.grads["W"][...] = 1.0
            layer.grads["b"][...] = -2.0
        opt_a.step()
        opt_b.step()
    assert np.array_equal(a.params["W"], b.params["W"])
    assert nn.AdamW(a).decoupled_weight_decay == pytest.approx(1e-2)


def test_adamw_decays_a_weight_without_gradient_by_exactly_one_minus_lr_wd():
    layer = nn.Linear(1, 1, seed=0)
    layer.params["W"][...] = 1.0
    opt = nn.AdamW(layer, lr=0.01, weight_decay=0.5)
    for _ in range(10):
        opt.step()                      # the gradient stays 0: Adam's part of the step is 0
    assert layer.params["W"][0, 0] == pytest.approx((1 - 0.005) ** 10, rel=1e-12)
