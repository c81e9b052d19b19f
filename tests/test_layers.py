"""Every layer's backward against central differences (float64, relative error <= 1e-7), and dtype handling."""
import numpy as np
import pytest

import bpkit.nn as nn
from bpkit.gradcheck import TOLERANCE, check_layer

SHAPES = [(1, 3, 2), (4, 5, 3), (7, 2, 6)]  # (batch, in, out); batch size 1 included


def away_from_kink(rng, shape, margin=0.1):
    """Normal draws pushed at least ``margin`` away from 0, so ReLU's kink is never within h."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin)


@pytest.mark.parametrize("n,d,m", SHAPES)
def test_linear_backward_matches_numerical(n, d, m):
    rng = np.random.default_rng(n * 100 + d)
    layer = nn.Linear(d, m, seed=rng)
    layer.params["b"][:] = rng.standard_normal(m)
    report = check_layer(layer, rng.standard_normal((n, d)), seed=1)
    assert set(report.errors) == {"x", "W", "b"}
    assert report.max_error <= TOLERANCE, str(report)


@pytest.mark.parametrize("layer_cls", [nn.ReLU, nn.Sigmoid, nn.Tanh])
@pytest.mark.parametrize("shape", [(1, 4), (6, 3), (2, 3, 4)])
def test_activation_backward_matches_numerical(layer_cls, shape):
    rng = np.random.default_rng(len(shape))
    report = check_layer(layer_cls(), away_from_kink(rng, shape), seed=2)
    assert report.max_error <= TOLERANCE, str(report)


def test_flatten_roundtrip_and_gradient():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 4, 5))
    layer = nn.Flatten()
    assert layer.forward(x).shape == (3, 40)
    assert check_layer(layer, x).max_error <= TOLERANCE


def test_whole_network_gradient_check():
    rng = np.random.default_rng(3)
    model = nn.Sequential(nn.Linear(3, 8, seed=rng), nn.Tanh(), nn.Linear(8, 8, seed=rng), nn.Sigmoid(),
                          nn.Linear(8, 4, seed=rng))
    report = check_layer(model, rng.standard_normal((5, 3)))
    assert len(report.errors) == 7  # x and W, b of three Linear layers
    assert report.passed, str(report)


def test_a_wrong_backward_fails_the_check():
    class BadTanh(nn.Tanh):
        def backward(self, dout):
            return dout * (1 - self.cache)  # forgot to square (the cache is t = tanh(x))

    report = check_layer(BadTanh(), np.random.default_rng(0).standard_normal((4, 3)))
    assert not report.passed and report.max_error > 1e-3
    assert "FAILED" in str(report)


def test_sigmoid_does_not_overflow_at_1e3():
    x = np.array([[-1e3, -50.0, 0.0, 50.0, 1e3]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = nn.Sigmoid().forward(x)
    np.testing.assert_allclose(s, [[0.0, 1.9287498479639178e-22, 0.5, 1.0, 1.0]], rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_of_the_input_is_kept(dtype):
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(4, 5, seed=rng), nn.ReLU(), nn.Linear(5, 3, seed=rng), nn.Sigmoid())
    model.astype(dtype)
    x = rng.standard_normal((2, 4)).astype(dtype)
    out = model.forward(x)
    assert out.dtype == dtype
    dx = model.backward(np.ones_like(out))
    assert dx.dtype == dtype
    assert all(layer.grads[name].dtype == dtype for layer, name in model.parameters())


def test_float32_input_into_float64_layer_keeps_float32():
    layer = nn.Linear(3, 2, seed=0)
    out = layer.forward(np.ones((2, 3), dtype=np.float32))
    assert out.dtype == np.float32


def test_linear_wrong_shape_names_expected_and_given():
    layer = nn.Linear(4, 3, seed=0)
    with pytest.raises(ValueError, match=r"\(N, 4\).*got shape \(2, 5\)"):
        layer.forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"2-D.*got shape \(4,\)"):
        layer.forward(np.zeros(4))


def test_linear_rejects_non_numeric_input():
    with pytest.raises(TypeError, match="floating-point"):
        nn.Linear(2, 2, seed=0).forward(np.array([["a", "b"]]))


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Linear(2, 2, seed=0).backward(np.zeros((1, 2)))


def test_wrong_dout_shape_is_a_clear_error():
    layer = nn.Tanh()
    layer.forward(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"dout.*\(3, 2\).*\(2, 3\)"):
        layer.backward(np.zeros((2, 3)))


def test_sequential_parameters_and_zero_grad():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(2, 3, seed=rng), nn.ReLU(), nn.Linear(3, 1, seed=rng))
    pairs = list(model.parameters())
    assert [name for _, name in pairs] == ["W", "b", "W", "b"]
    assert model.num_parameters() == 2 * 3 + 3 + 3 + 1
    model.forward(rng.standard_normal((4, 2)) + 5)
    model.backward(np.ones((4, 1)))
    assert any(np.abs(layer.grads[name]).sum() > 0 for layer, name in pairs)
    model.zero_grad()
    assert all(np.all(layer.grads[name] == 0) for layer, name in pairs)


def test_sequential_rejects_non_layers():
    with pytest.raises(TypeError, match="layer 1"):
        nn.Sequential(nn.ReLU(), "relu")


def test_train_and_eval_reach_every_layer_even_nested():
    inner = nn.Sequential(nn.Linear(2, 2, seed=0), nn.ReLU())

    class Plain:  # a duck-typed layer with no train(): it still gets the flag
        def forward(self, x):
            return x

        def backward(self, dout):
            return dout

        def parameters(self):
            return iter(())

    plain = Plain()
    model = nn.Sequential(inner, nn.Tanh(), plain)
    assert model.training and all(layer.training for layer in inner)
    assert model.eval() is model
    assert not model.training and not inner.training and not plain.training
    assert not any(layer.training for layer in inner) and not model[1].training
    model.train()
    assert model.training and inner[0].training and model[1].training and plain.training
    model.train(False)
    assert not inner[1].training
