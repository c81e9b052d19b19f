"""Embedding, RNN (backprop through time), the poolings over time and clip_grad_norm: backward against central
differences in float64 at relative error <= 1e-7, a forward against the step-by-step definition, clear errors."""
import numpy as np
import pytest

import bpkit.nn as nn
from bpkit.gradcheck import TOLERANCE, check_layer, numerical_gradient, relative_error


@pytest.mark.parametrize("N,T,V,E", [(1, 1, 5, 3), (2, 6, 7, 4), (4, 3, 3, 2)])
def test_embedding_weight_gradient_matches_numerical(N, T, V, E):
    rng = np.random.default_rng(N * 10 + T)
    emb = nn.Embedding(V, E, seed=rng)
    idx = rng.integers(0, V, (N, T))
    idx[0, 0] = idx[-1, -1]                      # a repeated token: np.add.at must add, not overwrite
    dout = rng.standard_normal((N, T, E))
    emb.forward(idx)
    assert emb.backward(dout) is None            # token ids have no gradient
    numerical = numerical_gradient(lambda _: emb.forward(idx), emb.params["W"], dout)
    assert relative_error(emb.grads["W"], numerical) <= TOLERANCE


def test_embedding_lookup_padding_and_float_ids_refused():
    emb = nn.Embedding(4, 2, padding_idx=0, seed=0)
    np.testing.assert_array_equal(emb.params["W"][0], [0.0, 0.0])
    idx = np.array([[0, 2, 2], [3, 1, 0]])
    with pytest.raises(TypeError, match="expected integer token ids, got dtype float64"):
        emb.forward(idx.astype(np.float64))      # fit and predict hand integer ids over as they are
    out = emb.forward(idx)
    np.testing.assert_array_equal(out, emb.params["W"][idx])
    emb.backward(np.ones((2, 3, 2)))
    np.testing.assert_array_equal(emb.grads["W"], [[0, 0], [1, 1], [2, 2], [1, 1]])


@pytest.mark.parametrize("N,T,D,H", [(1, 1, 2, 3), (2, 5, 3, 4), (3, 8, 1, 2), (1, 4, 4, 5)])
def test_rnn_backward_matches_numerical(N, T, D, H):
    rng = np.random.default_rng(N * 100 + T * 10 + D)
    rnn = nn.RNN(D, H, seed=rng)
    report = check_layer(rnn, rng.standard_normal((N, T, D)), seed=3)
    assert set(report.errors) == {"x", "Wx", "Wh", "b"}
    assert report.max_error <= TOLERANCE, str(report)


def test_rnn_forward_is_the_step_recurrence_and_h0_gradient():
    rng = np.random.default_rng(1)
    N, T, D, H = 2, 4, 3, 5
    rnn = nn.RNN(D, H, seed=2)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    hs = rnn.forward(x, h0)
    p = rnn.params
    h = h0
    for t in range(T):
        h = np.tanh(x[:, t] @ p["Wx"] + h @ p["Wh"] + p["b"])
        np.testing.assert_allclose(hs[:, t], h, rtol=1e-13, atol=1e-13)
    dout = rng.standard_normal(hs.shape)
    rnn.backward(dout)
    numerical = numerical_gradient(lambda h_: rnn.forward(x, h_), h0, dout)
    assert relative_error(rnn.dh0, numerical) <= TOLERANCE
    assert rnn.dh.shape == (N, T, H)
    again = rnn.forward(x, h0)
    np.testing.assert_array_equal(rnn.hs, again)                 # the last forward's states stay readable
    assert nn.RNN(D, H, seed=2).hs is None


def test_rnn_gradient_vanishes_through_time_with_small_weights():
    """With |Wh| small, the gradient reaching early states from the last output shrinks step by step."""
    rnn = nn.RNN(2, 8, seed=0)
    rnn.params["Wh"] *= 0.5
    hs = rnn.forward(np.random.default_rng(0).standard_normal((4, 12, 2)))
    dout = np.zeros_like(hs)
    dout[:, -1] = 1.0
    rnn.backward(dout)
    norms = np.linalg.norm(rnn.dh, axis=(0, 2))
    assert np.all(np.diff(norms) > 0) and norms[0] < 1e-3 * norms[-1]


@pytest.mark.parametrize("layer_cls", [nn.LastStep, nn.MeanOverTime])
def test_time_poolings_backward_match_numerical(layer_cls):
    x = np.random.default_rng(4).standard_normal((3, 5, 2))
    assert check_layer(layer_cls(), x).max_error <= TOLERANCE


def test_sequence_classifier_composes_and_checks():
    """Embedding -> RNN -> LastStep -> Linear in a Sequential: gradients of every parameter agree."""
    rng = np.random.default_rng(5)
    emb, rnn, head = nn.Embedding(6, 3, seed=1), nn.RNN(3, 4, seed=2), nn.Linear(4, 2, seed=3)
    model = nn.Sequential(emb, rnn, nn.LastStep(), head)
    idx = rng.integers(0, 6, (3, 5))
    logits = model.forward(idx)
    dout = rng.standard_normal(logits.shape)
    model.zero_grad()
    model.backward(dout)
    for layer, name in model.parameters():
        numerical = numerical_gradient(lambda _: model.forward(idx), layer.params[name], dout)
        assert relative_error(layer.grads[name], numerical) <= TOLERANCE, (layer, name)


def test_clip_grad_norm_scales_to_max_norm_and_returns_total():
    a, b = nn.Linear(3, 2, seed=0), nn.Linear(2, 2, seed=1)
    model = nn.Sequential(a, b)
    rng = np.random.default_rng(0)
    for layer, name in model.parameters():
        layer.grads[name][...] = rng.standard_normal(layer.grads[name].shape)
    before = {(id(l), n): l.grads[n].copy() for l, n in model.parameters()}
    total = np.sqrt(sum(np.sum(g ** 2) for g in before.values()))
    assert nn.clip_grad_norm(model, 10 * total) == pytest.approx(total)      # below the cap: untouched
    for l, n in model.parameters():
        np.testing.assert_array_equal(l.grads[n], before[(id(l), n)])
    assert nn.clip_grad_norm(model, 0.5) == pytest.approx(total)
    assert nn.grad_norm(model) == pytest.approx(0.5, rel=1e-5)
    for l, n in model.parameters():                                          # same direction
        np.testing.assert_allclose(l.grads[n], before[(id(l), n)] * 0.5 / (total + 1e-6))


def test_clip_grad_norm_rejects_bad_max_norm():
    with pytest.raises(ValueError, match="max_norm: expected a positive number, got -1.0"):
        nn.clip_grad_norm(nn.Linear(2, 2), -1)
    with pytest.raises(TypeError, match="max_norm: expected a positive number, got str"):
        nn.clip_grad_norm(nn.Linear(2, 2), "big")


def test_recurrent_bad_inputs_name_expected_and_given():
    rnn = nn.RNN(3, 4, seed=0)
    with pytest.raises(ValueError, match=r"RNN input: expected a 3-D array of shape \(N, T, 3\), got shape \(2, 3\)"):
        rnn.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"RNN input: expected shape \(N, T, 3\) with 3 on axis 2, got shape \(2, 5, 4\)"):
        rnn.forward(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match=r"h0: expected the shape of .*\(2, 4\), got shape \(2, 3\)"):
        rnn.forward(np.zeros((2, 5, 3)), np.zeros((2, 3)))
    rnn.forward(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"dout: expected the shape of .*\(2, 5, 4\), got shape \(2, 4\)"):
        rnn.backward(np.zeros((2, 4)))
    emb = nn.Embedding(5, 2)
    with pytest.raises(ValueError, match=r"expected token ids in \[0, 4\], got values from 0 to 5"):
        emb.forward(np.array([[0, 5]]))
    with pytest.raises(TypeError, match="expected integer token ids, got dtype float64"):
        emb.forward(np.array([[0.5, 1.0]]))
