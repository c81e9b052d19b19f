"""Optimizers: one step against the closed-form update, Adam over 20 steps against a loop written here, and every pure
rule (sgd, Nesterov, Adagrad, RMSProp, Adam, AdamW) against PyTorch's documented algorithm, its class, and purity."""
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


# ---- the pure update rules (bpkit.nn.functional.xxx_update) ------------------------------------------------------
import bpkit.nn.functional as F  # noqa: E402

RULES = {  # name: (pure rule, class, hyper-parameters shared by both)
    "sgd": (F.sgd_update, nn.SGD, {"lr": 0.1}),
    "momentum": (F.sgd_update, nn.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    "nesterov": (F.sgd_update, nn.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    "adagrad": (F.adagrad_update, nn.Adagrad, {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.01,
                                               "initial_accumulator_value": 0.1}),
    "rmsprop": (F.rmsprop_update, nn.RMSProp, {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "weight_decay": 0.01}),
    "adam": (F.adam_update, nn.Adam, {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.02}),
    "adamw": (F.adamw_update, nn.AdamW, {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
}


def gradient_stream(k=12, seed=7):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(3) for _ in range(k)]


@pytest.mark.parametrize("name", RULES)
def test_pure_rule_never_mutates_and_the_class_follows_it_bit_for_bit(name):
    rule, cls, hyper = RULES[name]
    w, state = np.array(P0), {}
    pt = Point(P0, G0)
    opt = cls(pt, **hyper)
    for g in gradient_stream():
        before = (w.copy(), g.copy(), {k: np.copy(v) for k, v in state.items()})
        new_w, new_state = rule(w, g, state, **hyper)
        np.testing.assert_array_equal(w, before[0])
        np.testing.assert_array_equal(g, before[1])
        assert state.keys() == before[2].keys()
        for key in state:
            np.testing.assert_array_equal(state[key], before[2][key])
        w, state = new_w, new_state
        pt.grads["p"][:] = g
        opt.step()
        np.testing.assert_array_equal(pt.params["p"], w)


def reference(name, p, grads, hyper):
    """PyTorch's documented algorithm for each optimizer, written as a plain loop."""
    lr, wd = hyper["lr"], hyper.get("weight_decay", 0.0)
    state = {}
    for t, g in enumerate(grads, start=1):
        if name in ("sgd", "momentum", "nesterov"):
            mu, damp = hyper.get("momentum", 0.0), hyper.get("dampening", 0.0)
            g = g + wd * p
            if mu:
                b = g.copy() if t == 1 else mu * state["b"] + (1 - damp) * g
                state["b"] = b
                g = g + mu * b if hyper.get("nesterov") else b
            p = p - lr * g
        elif name == "adagrad":
            clr = lr / (1 + (t - 1) * hyper["lr_decay"])
            g = g + wd * p
            state["sum"] = state.get("sum", np.full_like(p, hyper["initial_accumulator_value"])) + g ** 2
            p = p - clr * g / (np.sqrt(state["sum"]) + 1e-10)
        elif name == "rmsprop":
            g = g + wd * p
            state["v"] = hyper["alpha"] * state.get("v", 0 * p) + (1 - hyper["alpha"]) * g ** 2
            avg = np.sqrt(state["v"]) + 1e-8
            state["b"] = hyper["momentum"] * state.get("b", 0 * p) + g / avg
            p = p - lr * state["b"]
        else:  # adam, adamw
            (b1, b2), eps = hyper["betas"], hyper["eps"]
            if name == "adamw":
                p = p * (1 - lr * wd)
            else:
                g = g + wd * p
            state["m"] = b1 * state.get("m", 0 * p) + (1 - b1) * g
            state["v"] = b2 * state.get("v", 0 * p) + (1 - b2) * g ** 2
            p = p - lr / (1 - b1 ** t) * state["m"] / (np.sqrt(state["v"]) / np.sqrt(1 - b2 ** t) + eps)
    return p


@pytest.mark.parametrize("name", RULES)
def test_each_rule_follows_pytorchs_documented_algorithm(name):
    rule, _, hyper = RULES[name]
    w, state = np.array(P0), {}
    grads = gradient_stream()
    for g in grads:
        w, state = rule(w, g, state, **hyper)
    np.testing.assert_allclose(w, reference(name, np.array(P0), grads, hyper), rtol=1e-12, atol=1e-15)


def test_nesterov_looks_ahead_and_differs_from_plain_momentum():
    grads = gradient_stream(3)
    paths = {}
    for nesterov in (False, True):
        w, state = np.array(P0), {}
        for g in grads:
            w, state = F.sgd_update(w, g, state, lr=0.1, momentum=0.9, nesterov=nesterov)
        paths[nesterov] = w
    # step 1 alone: nesterov moves by lr (g + 0.9 g), plain momentum by lr g
    w1, _ = F.sgd_update(np.array(P0), np.array(G0), {}, lr=0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(w1, np.array(P0) - 0.1 * 1.9 * np.array(G0), rtol=1e-15)
    assert not np.allclose(paths[False], paths[True])


def test_adagrad_steps_shrink_like_one_over_sqrt_t_for_a_constant_gradient():
    w, state, steps = np.array([0.0]), {}, []
    for _ in range(16):
        new_w, state = F.adagrad_update(w, np.array([2.0]), state, lr=0.1)
        steps.append(float(w[0] - new_w[0]))
        w = new_w
    np.testing.assert_allclose(steps, 0.1 / np.sqrt(np.arange(1, 17)), rtol=1e-9)
    assert nn.Adagrad(Point(P0, G0)).lr == 1e-2 and nn.Adagrad(Point(P0, G0)).eps == 1e-10


def test_adamw_decay_is_not_scaled_by_the_gradient_history_unlike_adams():
    w, g = np.array([1.0, 1.0]), np.array([1e-3, 10.0])
    decoupled, _ = F.adamw_update(w, g, {}, lr=0.1, weight_decay=0.5)
    coupled, _ = F.adam_update(w, g, {}, lr=0.1, weight_decay=0.5)
    plain, _ = F.adam_update(w, g, {}, lr=0.1)
    np.testing.assert_allclose(decoupled - plain, -0.1 * 0.5 * w, rtol=1e-12)   # exactly lr wd w, per coordinate
    assert not np.allclose(coupled - plain, -0.1 * 0.5 * w)


@pytest.mark.parametrize("name", RULES)
def test_pure_rules_keep_float32(name):
    rule, _, hyper = RULES[name]
    w, state = np.ones(4, np.float32), {}
    for _ in range(2):
        w, state = rule(w, np.full(4, 0.5, np.float32), state, **hyper)
    assert w.dtype == np.float32
    assert all(v.dtype == np.float32 for v in state.values() if isinstance(v, np.ndarray))


def test_adam_step_count_is_the_optimizers_t():
    """Setting opt.t resumes Adam's bias correction from that step (as the exercises' reference does)."""
    pt = Point(P0, G0)
    opt = nn.Adam(pt, lr=0.01)
    m, v = np.array([0.1, 0.2, 0.3]), np.array([0.01, 0.02, 0.03])
    opt.state[0].update(m=m.copy(), v=v.copy())
    opt.t = 4
    opt.step()
    expected, state = F.adam_update(np.array(P0), np.array(G0), {"step": 4, "m": m, "v": v}, lr=0.01)
    np.testing.assert_array_equal(pt.params["p"], expected)
    assert opt.state[0]["step"] == state["step"] == 5
