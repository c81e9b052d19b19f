"""bpkit.nn.functional: every pair's backward against central differences of its forward (float64, relative error
<= 1e-7), no pair mutates its inputs, every class gives the same numbers as its pair, and every public function of
the namespace states the shapes of its arrays."""
import inspect

import numpy as np
import pytest

import bpkit.nn as nn
import bpkit.nn.functional as F
from bpkit.gradcheck import TOLERANCE, numerical_gradient, relative_error


def away_from_kink(rng, shape, margin=0.1):
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin)


def distinct(rng, shape):
    """Values at least 0.05 apart inside each array, so no max-pool window has a near-tie within h."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * 0.05 + 0.05 * rng.random(size) * 0.1).reshape(shape) - size * 0.025


def check_pair(forward, backward, arrays, kwargs=None, grad_names=None, seed=0):
    """Run forward(*arrays, **kwargs) and backward(dout, cache); compare each returned gradient with central
    differences of forward; return the gradients. grad_names: which arrays the backward returns gradients for."""
    kwargs = kwargs or {}
    rng = np.random.default_rng(seed)
    copies = [a.copy() for a in arrays]
    out, cache = forward(*arrays, **kwargs)
    dout = rng.standard_normal(out.shape)
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)              # the pair never mutates its inputs
    names = grad_names or list(range(len(arrays)))
    assert len(grads) == len(names)
    for k, g in zip(names, grads):
        def f(v, k=k):
            args = list(arrays)
            args[k] = v
            return forward(*args, **kwargs)[0]
        num = numerical_gradient(f, arrays[k].copy(), dout)
        assert g.shape == arrays[k].shape
        assert relative_error(g, num) <= TOLERANCE, (forward.__name__, k)
    return grads


def test_linear_pair():
    rng = np.random.default_rng(0)
    check_pair(F.linear_forward, F.linear_backward,
               [rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)])


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activation_pairs(name):
    rng = np.random.default_rng(1)
    check_pair(getattr(F, f"{name}_forward"), getattr(F, f"{name}_backward"), [away_from_kink(rng, (3, 2, 4))])


def test_flatten_pair():
    check_pair(F.flatten_forward, F.flatten_backward, [np.random.default_rng(2).standard_normal((2, 3, 2, 2))])


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), ((1, 2), (2, 0))])
def test_conv2d_pair(stride, padding):
    rng = np.random.default_rng(3)
    check_pair(F.conv2d_forward, F.conv2d_backward,
               [rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)],
               kwargs={"stride": stride, "padding": padding})


@pytest.mark.parametrize("kernel,stride", [(2, None), (3, 1), ((2, 3), (1, 2))])
def test_maxpool2d_pair(kernel, stride):
    rng = np.random.default_rng(4)
    check_pair(F.maxpool2d_forward, F.maxpool2d_backward, [distinct(rng, (2, 2, 6, 7))],
               kwargs={"kernel_size": kernel, "stride": stride})


def test_embedding_pair_adds_repeated_tokens_and_zeroes_padding():
    rng = np.random.default_rng(5)
    idx, W = np.array([[1, 2, 1], [0, 3, 1]]), rng.standard_normal((4, 3))
    out, cache = F.embedding_forward(idx, W, padding_idx=0)
    dout = rng.standard_normal(out.shape)
    dW = F.embedding_backward(dout, cache)
    num = numerical_gradient(lambda W_: F.embedding_forward(idx, W_)[0], W.copy(), dout)
    num[0] = 0.0
    assert relative_error(dW, num) <= TOLERANCE
    np.testing.assert_allclose(dW[1], dout[0, 0] + dout[0, 2] + dout[1, 2])


def test_rnn_step_pair_and_rnn_step():
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(s) for s in [(3, 2), (3, 4), (2, 4), (4, 4), (4,)]]
    check_pair(F.rnn_step_forward, F.rnn_step_backward, arrays)
    np.testing.assert_array_equal(F.rnn_step(*arrays), F.rnn_step_forward(*arrays)[0])


def test_rnn_pair_over_time_is_the_steps_summed():
    rng = np.random.default_rng(7)
    N, T, D, H = 2, 5, 3, 4
    arrays = [rng.standard_normal(s) * 0.7 for s in [(N, T, D), (N, H), (D, H), (H, H), (H,)]]
    dx, dh0, dWx, dWh, db = check_pair(F.rnn_forward, F.rnn_backward, arrays)
    # the same gradients, walking rnn_step_backward back through time
    x, h0, Wx, Wh, b = arrays
    hs, _ = F.rnn_forward(*arrays)
    dhs = np.random.default_rng(0).standard_normal(hs.shape)
    _, cache = F.rnn_forward(*arrays)
    expected = F.rnn_backward(dhs, cache, return_dh=True)
    carry, sums = np.zeros((N, H)), [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
    for t in reversed(range(T)):
        h_prev = h0 if t == 0 else hs[:, t - 1]
        dh = dhs[:, t] + carry
        np.testing.assert_allclose(expected[5][:, t], dh, rtol=1e-12, atol=1e-14)
        dx_t, carry, *dparams = F.rnn_step_backward(dh, (x[:, t], h_prev, hs[:, t], Wx, Wh))
        np.testing.assert_allclose(expected[0][:, t], dx_t, rtol=1e-12, atol=1e-14)
        sums = [s + d for s, d in zip(sums, dparams)]
    np.testing.assert_allclose(expected[1], carry, rtol=1e-12, atol=1e-14)
    for got, want in zip(expected[2:5], sums):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["last_step", "mean_over_time"])
def test_time_pooling_pairs(name):
    check_pair(getattr(F, f"{name}_forward"), getattr(F, f"{name}_backward"),
               [np.random.default_rng(8).standard_normal((2, 4, 3))])


def test_classes_give_the_numbers_of_their_pairs():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 5, 5))
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1, seed=0)
    out = conv.forward(x)
    ref, cache = F.conv2d_forward(x, conv.params["W"], conv.params["b"], 2, 1)
    np.testing.assert_array_equal(out, ref)
    dout = rng.standard_normal(out.shape)
    dx = conv.backward(dout)
    rdx, rdW, rdb = F.conv2d_backward(dout, cache)
    np.testing.assert_array_equal(dx, rdx)
    np.testing.assert_array_equal(conv.grads["W"], rdW)
    np.testing.assert_array_equal(conv.grads["b"], rdb)

    lin = nn.Linear(5, 2, seed=1)
    h = rng.standard_normal((3, 5))
    np.testing.assert_array_equal(lin.forward(h), F.linear_forward(h, lin.params["W"], lin.params["b"])[0])
    rnn = nn.RNN(3, 4, seed=2)
    s = rng.standard_normal((2, 6, 3))
    np.testing.assert_array_equal(rnn.forward(s), F.rnn_forward(s, np.zeros((2, 4)), *rnn.params.values())[0])


def test_pairs_keep_float32():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 1, 4, 4)).astype(np.float32)
    out, cache = F.conv2d_forward(x, rng.standard_normal((2, 1, 3, 3)), np.zeros(2))   # float64 weights
    assert out.dtype == np.float32
    assert F.conv2d_backward(np.ones_like(out), cache)[0].dtype == np.float32
    out, cache = F.linear_forward(x.reshape(2, -1), rng.standard_normal((16, 3)), np.zeros(3))
    assert out.dtype == np.float32 and F.linear_backward(np.ones_like(out), cache)[0].dtype == np.float32
    hs, cache = F.rnn_forward(x.reshape(2, 4, 4), np.zeros((2, 3), np.float32), rng.standard_normal((4, 3)),
                              rng.standard_normal((3, 3)), np.zeros(3))
    assert hs.dtype == np.float32 and F.rnn_backward(np.ones_like(hs), cache)[0].dtype == np.float32


OWN_MODULES = {"bpkit.nn.layers", "bpkit.nn.conv", "bpkit.nn.recurrent", "bpkit.nn.losses", "bpkit.nn.optim"}


def test_every_array_function_of_the_namespace_states_its_shapes():
    names = [n for n in F.__all__ if getattr(F, n).__module__ in OWN_MODULES]
    assert len(names) >= 30
    for name in names:
        doc = inspect.getdoc(getattr(F, name)) or ""
        assert "(N" in doc or "(..." in doc or "shape" in doc, name
