"""BatchNorm1d and LayerNorm: gradients against central differences (float64, <= 1e-7), PyTorch's running
statistics against a loop written here, train/eval switching through Sequential, dtypes."""
import numpy as np
import pytest

import bpkit.nn as nn
import bpkit.nn.functional as F
from bpkit.gradcheck import TOLERANCE, check_layer, numerical_gradient, relative_error


def _with_random_affine(layer, rng):
    layer.params["gamma"][:] = rng.uniform(0.5, 1.5, layer.params["gamma"].shape)
    layer.params["beta"][:] = rng.standard_normal(layer.params["beta"].shape)
    return layer


@pytest.mark.parametrize("n,c", [(3, 1), (5, 3), (16, 4)])  # N = 2: xhat = +-1 whatever x, dx ~ 0
def test_batchnorm_train_backward_matches_numerical(n, c):
    rng = np.random.default_rng(n + c)
    layer = _with_random_affine(nn.BatchNorm1d(c), rng)
    x = rng.standard_normal((n, c)) * 3 + 1
    report = check_layer(layer, x, seed=1)
    assert set(report.errors) == {"x", "gamma", "beta"}
    assert report.max_error <= TOLERANCE, str(report)


def test_batchnorm_eval_backward_matches_numerical():
    rng = np.random.default_rng(0)
    layer = _with_random_affine(nn.BatchNorm1d(3), rng)
    for _ in range(3):
        layer.forward(rng.standard_normal((8, 3)) * 2 + 1)
    layer.eval()
    report = check_layer(layer, rng.standard_normal((4, 3)), seed=2)
    assert report.max_error <= TOLERANCE, str(report)


def test_batchnorm_functional_pair_matches_numerical():
    rng = np.random.default_rng(1)
    x, gamma, beta = rng.standard_normal((6, 4)), rng.uniform(0.5, 2, 4), rng.standard_normal(4)
    dout = rng.standard_normal((6, 4))
    out, cache = F.batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = F.batchnorm_backward(dout, cache)
    for arr, analytic in ((x, dx), (gamma, dgamma), (beta, dbeta)):
        num = numerical_gradient(lambda _: F.batchnorm_forward(x, gamma, beta)[0], arr, dout)
        assert relative_error(analytic, num) <= TOLERANCE


def test_batchnorm_normalizes_each_feature_over_the_batch():
    rng = np.random.default_rng(2)
    out = nn.BatchNorm1d(5).forward(rng.standard_normal((64, 5)) * 7 - 3)
    assert np.allclose(out.mean(axis=0), 0, atol=1e-12)
    assert np.allclose(out.var(axis=0), 1, atol=1e-5)   # biased variance, eps = 1e-5


def test_batchnorm_running_statistics_follow_pytorchs_rule():
    """running = (1 - m) running + m * batch statistic, with the UNBIASED variance; normalizing uses the biased."""
    rng = np.random.default_rng(3)
    layer = nn.BatchNorm1d(3, momentum=0.2)
    mean, var = np.zeros(3), np.ones(3)
    for step in range(5):
        x = rng.standard_normal((7, 3)) * (step + 1) + step
        out = layer.forward(x)
        n = len(x)
        mu = x.sum(axis=0) / n
        biased = ((x - mu) ** 2).sum(axis=0) / n
        unbiased = ((x - mu) ** 2).sum(axis=0) / (n - 1)
        mean = 0.8 * mean + 0.2 * mu
        var = 0.8 * var + 0.2 * unbiased
        assert np.allclose(out, (x - mu) / np.sqrt(biased + 1e-5))
        assert np.allclose(layer.running_mean, mean) and np.allclose(layer.running_var, var)
    assert layer.num_batches_tracked == 5


def test_batchnorm_eval_uses_the_running_statistics_and_leaves_them_alone():
    rng = np.random.default_rng(4)
    layer = _with_random_affine(nn.BatchNorm1d(2), rng)
    layer.forward(rng.standard_normal((10, 2)) + 5)
    rm, rv = layer.running_mean.copy(), layer.running_var.copy()
    layer.eval()
    x = rng.standard_normal((1, 2))            # a single sample works in evaluation
    out = layer.forward(x)
    expected = layer.params["gamma"] * (x - rm) / np.sqrt(rv + 1e-5) + layer.params["beta"]
    assert np.allclose(out, expected)
    assert np.array_equal(layer.running_mean, rm) and np.array_equal(layer.running_var, rv)


def test_batchnorm_refuses_one_sample_in_training():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3).forward(np.zeros((1, 3)))


def test_sequential_train_and_eval_switch_every_layer():
    model = nn.Sequential(nn.Linear(4, 3, seed=0), nn.BatchNorm1d(3), nn.ReLU(), nn.Dropout(0.5, seed=0),
                          nn.Residual(nn.Sequential(nn.Linear(3, 3, seed=1), nn.BatchNorm1d(3))))
    assert model.eval() is model
    assert not model.training and not model[1].training and not model[3].training
    assert not model[4].block[1].training
    model.train()
    assert model[1].training and model[3].training and model[4].block[1].training


def test_fit_trains_in_training_mode_and_predicts_in_evaluation_mode():
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((40, 4)), rng.integers(0, 3, 40)
    model = nn.Sequential(nn.Linear(4, 8, seed=0), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3, seed=1))
    model.eval()
    nn.fit(model, nn.softmax_cross_entropy, nn.SGD(model, lr=0.1), X, y, epochs=2, batch_size=10, progress=False,
           validation=(X[:5], y[:5]))
    assert model[1].num_batches_tracked == 8        # trained in training mode; validation did not update the stats
    assert model.training
    rm = model[1].running_mean.copy()
    out = nn.predict(model, X[:1])                  # one sample: only possible in evaluation mode
    assert out.shape == (1, 3) and model.training and np.array_equal(rm, model[1].running_mean)


@pytest.mark.parametrize("shape", [(4, 5), (1, 3), (2, 3, 6)])
def test_layernorm_backward_matches_numerical(shape):
    rng = np.random.default_rng(len(shape))
    layer = _with_random_affine(nn.LayerNorm(shape[-1]), rng)
    report = check_layer(layer, rng.standard_normal(shape) * 2 + 0.5, seed=3)
    assert set(report.errors) == {"x", "gamma", "beta"}
    assert report.max_error <= TOLERANCE, str(report)


def test_layernorm_normalizes_the_last_axis_and_ignores_the_mode():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 4, 8)) * 5 + 2
    layer = nn.LayerNorm(8)
    out = layer.forward(x)
    assert np.allclose(out.mean(axis=-1), 0, atol=1e-12) and np.allclose(out.var(axis=-1), 1, atol=1e-5)
    assert np.allclose(layer.forward(x[:1]), out[:1])       # independent of the batch
    assert np.array_equal(layer.eval().forward(x), out)


@pytest.mark.parametrize("layer_fn", [lambda: nn.BatchNorm1d(4), lambda: nn.LayerNorm(4)])
def test_normalization_keeps_float32(layer_fn):
    layer = layer_fn().astype(np.float32)
    x = np.random.default_rng(7).standard_normal((6, 4)).astype(np.float32)
    out = layer.forward(x)
    assert out.dtype == np.float32 and layer.backward(np.ones_like(out)).dtype == np.float32
    layer.eval()
    assert layer.forward(x).dtype == np.float32


def test_fit_drop_last_skips_the_partial_batch():
    rng = np.random.default_rng(9)
    X, y = rng.standard_normal((43, 4)), rng.integers(0, 3, 43)
    model = nn.Sequential(nn.Linear(4, 6, seed=0), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 3, seed=1))
    h = nn.fit(model, nn.softmax_cross_entropy, nn.SGD(model, lr=0.1), X, y, epochs=2, batch_size=10,
               progress=False, drop_last=True)
    assert len(h.step_loss) == 8 and model[1].num_batches_tracked == 8
    with pytest.raises(ValueError, match="no full batch"):
        nn.fit(model, nn.softmax_cross_entropy, nn.SGD(model, lr=0.1), X[:5], y[:5], batch_size=10,
               progress=False, drop_last=True)
