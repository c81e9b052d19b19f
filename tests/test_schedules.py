"""Learning-rate schedules against PyTorch's closed forms, written out here, and the optimizer they drive."""
import math

import numpy as np
import pytest

import bpkit.nn as nn


def _optimizer(lr=0.1):
    return nn.SGD(nn.Linear(2, 2, seed=0), lr=lr)


def _run(scheduler, steps):
    lrs = []
    for _ in range(steps):
        lrs.append(scheduler.optimizer.lr)
        scheduler.optimizer.step()
        scheduler.step()
    return lrs


def test_step_lr():
    lrs = _run(nn.StepLR(_optimizer(0.1), step_size=3, gamma=0.5), 10)
    assert np.allclose(lrs, [0.1 * 0.5 ** (t // 3) for t in range(10)])
    assert np.allclose(lrs[:7], [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025])


def test_cosine_annealing_lr_follows_the_closed_form_and_goes_on_past_T_max():
    T, eta_min = 10, 0.001
    lrs = _run(nn.CosineAnnealingLR(_optimizer(0.1), T_max=T, eta_min=eta_min), 15)
    expected = [eta_min + (0.1 - eta_min) * (1 + math.cos(math.pi * t / T)) / 2 for t in range(15)]
    assert np.allclose(lrs, expected)
    assert lrs[0] == pytest.approx(0.1) and lrs[10] == pytest.approx(eta_min) and lrs[5] == pytest.approx(0.0505)
    assert lrs[14] > lrs[10]                       # PyTorch's cosine rises again after T_max


def test_linear_lr_warmup_sets_the_first_lr_at_construction():
    opt = _optimizer(0.1)
    scheduler = nn.LinearLR(opt, start_factor=0.25, total_iters=4)
    assert opt.lr == pytest.approx(0.025)          # as PyTorch: the value at t = 0 is set when built
    lrs = _run(scheduler, 7)
    assert np.allclose(lrs, [0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1, 0.1])
    default = nn.LinearLR(_optimizer(0.3))         # PyTorch's defaults: 1/3 -> 1 over 5 steps
    assert default.values(6) == pytest.approx([0.1, 0.14, 0.18, 0.22, 0.26, 0.3])
    assert nn.linear_warmup(_optimizer(1.0), 10).values(11)[::5] == pytest.approx([0.01, 0.505, 1.0])


def test_sequential_lr_warmup_then_cosine():
    opt = _optimizer(0.1)
    warm = nn.LinearLR(opt, start_factor=0.1, total_iters=3)
    cos = nn.CosineAnnealingLR(opt, T_max=5)
    sched = nn.SequentialLR(opt, [warm, cos], milestones=[3])
    assert opt.lr == pytest.approx(0.01)
    lrs = _run(sched, 9)
    expected = [0.1 * (0.1 + 0.9 * t / 3) for t in range(3)] + \
        [0.1 * (1 + math.cos(math.pi * t / 5)) / 2 for t in range(6)]
    assert np.allclose(lrs, expected)


def test_the_scheduled_lr_is_what_the_optimizer_uses():
    layer = nn.Linear(1, 1, seed=0)
    opt = nn.SGD(layer, lr=1.0)
    sched = nn.StepLR(opt, step_size=1, gamma=0.5)
    steps = []
    for _ in range(3):
        before = layer.params["W"].copy()
        layer.grads["W"][:] = 1.0
        opt.step()
        steps.append(float((before - layer.params["W"])[0, 0]))
        sched.step()
    assert steps == pytest.approx([1.0, 0.5, 0.25])
    assert sched.get_last_lr() == pytest.approx([0.125])


def test_schedules_refuse_nonsense():
    with pytest.raises(ValueError):
        nn.StepLR(_optimizer(), step_size=0)
    with pytest.raises(ValueError):
        nn.CosineAnnealingLR(_optimizer(), T_max=0)
    with pytest.raises(TypeError):
        nn.StepLR(object(), step_size=1)
