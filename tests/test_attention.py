"""LSTM, attention, multi-head attention, positions and the transformer block: forward semantics, gradients against
central differences (float64, tolerance 1e-7), float32, and the lesson-12 datasets."""
from __future__ import annotations

import numpy as np
import pytest

import bpkit.nn as nn
from bpkit.data import CharVocabulary, load_python_docs, make_dates
from bpkit.data.dates import DATE_FORMATS
from bpkit.gradcheck import TOLERANCE, check_layer, numerical_gradient, relative_error
from bpkit.nn.attention import (causal_mask, multi_head_attention_backward, multi_head_attention_forward,
                                scaled_dot_product_attention_backward, scaled_dot_product_attention_forward)
from bpkit.nn.lstm import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from bpkit.nn.transformer import (FeedForward, PositionalEncoding, TransformerBlock, positional_encoding_backward,
                                  positional_encoding_forward, sinusoidal_positions)


def rng():
    return np.random.default_rng(0)


# --------------------------------------------------------------------------------------------------------- LSTM

def test_lstm_step_matches_the_equations_with_pytorch_gate_order():
    r = rng()
    N, D, H = 3, 4, 5
    x, h, c = r.standard_normal((N, D)), r.standard_normal((N, H)), r.standard_normal((N, H))
    Wx, Wh, b = r.standard_normal((D, 4 * H)), r.standard_normal((H, 4 * H)), r.standard_normal(4 * H)
    a = x @ Wx + h @ Wh + b
    sig = lambda z: 1 / (1 + np.exp(-z))
    i, f, g, o = sig(a[:, :H]), sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sig(a[:, 3 * H:])
    c_next = f * c + i * g
    h_next, c_out, _ = lstm_step_forward(x, h, c, Wx, Wh, b)
    np.testing.assert_allclose(c_out, c_next)
    np.testing.assert_allclose(h_next, o * np.tanh(c_next))


def test_lstm_step_backward_against_central_differences():
    r = rng()
    N, D, H = 2, 3, 4
    arrays = [r.standard_normal((N, D)), r.standard_normal((N, H)), r.standard_normal((N, H)),
              r.standard_normal((D, 4 * H)), r.standard_normal((H, 4 * H)), r.standard_normal(4 * H)]
    dh, dc = r.standard_normal((N, H)), r.standard_normal((N, H))
    _, _, cache = lstm_step_forward(*arrays)
    dx, dh_prev, dc_prev, dWx, dWh, db = lstm_step_backward(dh, dc, cache)

    def loss(_):
        h, c, _ = lstm_step_forward(*arrays)
        return np.sum(h * dh) + np.sum(c * dc)

    for analytic, array in zip((dx, dh_prev, dc_prev, dWx, dWh, db), arrays):
        assert relative_error(analytic, numerical_gradient(loss, array)) <= TOLERANCE


def test_lstm_layer_gradients_and_initial_states():
    r = rng()
    layer = nn.LSTM(3, 4, seed=0)
    assert {k: v.shape for k, v in layer.params.items()} == {"Wx": (3, 16), "Wh": (4, 16), "b": (16,)}
    assert check_layer(layer, r.standard_normal((2, 5, 3))).passed
    x, h0, c0 = r.standard_normal((2, 5, 3)), r.standard_normal((2, 4)), r.standard_normal((2, 4))
    dout = r.standard_normal((2, 5, 4))
    layer.forward(x, h0, c0)
    layer.backward(dout)
    for analytic, array in ((layer.dh0, h0), (layer.dc0, c0)):
        num = numerical_gradient(lambda _: layer.forward(x, h0, c0), array, dout)
        assert relative_error(analytic, num) <= TOLERANCE


def test_lstm_functional_pair_equals_the_step_loop():
    r = rng()
    x, h0 = r.standard_normal((2, 4, 3)), np.zeros((2, 5))
    Wx, Wh, b = r.standard_normal((3, 20)), r.standard_normal((5, 20)), r.standard_normal(20)
    hs, cache = lstm_forward(x, h0, Wx, Wh, b)
    h, c = h0, np.zeros((2, 5))
    for t in range(4):
        h, c, _ = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        np.testing.assert_allclose(hs[:, t], h)
    dx, dh0, dWx, dWh, db, extras = lstm_backward(np.ones_like(hs), cache)
    assert dx.shape == x.shape and dWx.shape == Wx.shape and extras["dh"].shape == hs.shape


def test_lstm_forget_gate_keeps_the_gradient_alive():
    r = rng()
    x = 0.3 * r.standard_normal((8, 40, 6))

    def ratio(layer):
        hs = layer.forward(x)
        dout = np.zeros_like(hs)
        dout[:, -1] = 1.0
        layer.backward(dout)
        norms = np.linalg.norm(layer.dh, axis=2).mean(axis=0)
        return norms[0] / norms[-1]

    lstm = nn.LSTM(6, 8, seed=1)
    lstm.params["b"][8:16] = 3.0
    assert ratio(lstm) > 1e3 * ratio(nn.RNN(6, 8, seed=1))


def test_lstm_float32_stays_float32_and_rejects_bad_input():
    layer = nn.LSTM(3, 4, seed=0).astype(np.float32)
    out = layer.forward(np.ones((2, 3, 3), np.float32))
    assert out.dtype == np.float32 and layer.backward(np.ones_like(out)).dtype == np.float32
    with pytest.raises(ValueError, match="LSTM input"):
        layer.forward(np.ones((2, 3, 5)))
    with pytest.raises(RuntimeError):
        nn.LSTM(3, 4).backward(np.ones((1, 1, 4)))


# ---------------------------------------------------------------------------------------------------- attention

@pytest.mark.parametrize("mask", ["none", "causal", "padding"])
def test_attention_backward_against_central_differences(mask):
    r = rng()
    q, k, v = r.standard_normal((2, 3, 4, 5)), r.standard_normal((2, 3, 6, 5)), r.standard_normal((2, 3, 6, 2))
    m = {"none": None, "causal": causal_mask(4, 6), "padding": r.random((2, 1, 1, 6)) > 0.3}[mask]
    out, cache = scaled_dot_product_attention_forward(q, k, v, m)
    dout = r.standard_normal(out.shape)
    for analytic, array in zip(scaled_dot_product_attention_backward(dout, cache), (q, k, v)):
        num = numerical_gradient(lambda _: scaled_dot_product_attention_forward(q, k, v, m)[0], array, dout)
        assert relative_error(analytic, num) <= TOLERANCE


def test_attention_forward_semantics():
    r = rng()
    q, k, v = r.standard_normal((1, 1, 3, 4)), r.standard_normal((1, 1, 3, 4)), r.standard_normal((1, 1, 3, 4))
    out, cache = scaled_dot_product_attention_forward(q, k, v, causal_mask(3))
    P = cache[3]
    np.testing.assert_allclose(P.sum(axis=-1), 1.0)
    assert np.all(np.triu(P[0, 0], 1) == 0)
    np.testing.assert_allclose(out[0, 0, 0], v[0, 0, 0])           # the first position can only read itself
    S = q[0, 0] @ k[0, 0].T / 2.0
    e = np.exp(S - S.max(axis=1, keepdims=True))
    np.testing.assert_allclose(nn.scaled_dot_product_attention(q, k, v)[0, 0], (e / e.sum(1, keepdims=True)) @ v[0, 0])


def test_attention_is_stable_and_fully_masked_rows_read_nothing():
    q = np.full((1, 1, 2, 2), 1e3)
    k = np.array([[[[1e3, 0.0], [-1e3, 0.0]]]])
    v = np.ones((1, 1, 2, 3))
    out, _ = scaled_dot_product_attention_forward(q, k, v)
    assert np.all(np.isfinite(out))
    mask = np.array([[False, False], [True, True]])
    out, cache = scaled_dot_product_attention_forward(q, k, v, mask)
    assert np.all(out[0, 0, 0] == 0) and np.all(np.isfinite(out))
    dq, dk, dv = scaled_dot_product_attention_backward(np.ones_like(out), cache)
    assert np.all(np.isfinite(dq)) and np.all(dq[0, 0, 0] == 0)


def _mha_errors(layer, x):
    report = check_layer(layer, x)
    return {name: err for name, err in report.errors.items() if not name.endswith("bk")}, layer


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_self_attention_gradients(causal):
    layer = nn.MultiHeadAttention(8, 2, causal=causal, seed=0)
    errors, _ = _mha_errors(layer, rng().standard_normal((2, 4, 8)))
    assert max(errors.values()) <= TOLERANCE
    # the key bias shifts a whole row of scores: the softmax ignores it, its gradient is zero
    assert np.abs(layer.grads["bk"]).max() < 1e-12


def test_multi_head_cross_attention_gives_the_context_gradient():
    r = rng()
    layer = nn.MultiHeadAttention(8, 4, seed=0)
    x, ctx, dout = r.standard_normal((2, 3, 8)), r.standard_normal((2, 5, 8)), r.standard_normal((2, 3, 8))
    out = layer.forward(x, context=ctx)
    assert out.shape == (2, 3, 8) and layer.weights.shape == (2, 4, 3, 5)
    dx = layer.backward(dout)
    num_x = numerical_gradient(lambda _: layer.forward(x, context=ctx), x, dout)
    num_c = numerical_gradient(lambda _: layer.forward(x, context=ctx), ctx, dout)
    assert relative_error(dx, num_x) <= TOLERANCE
    assert relative_error(layer.dcontext, num_c) <= TOLERANCE
    layer.forward(x)
    layer.backward(dout)
    assert layer.dcontext is None


def test_multi_head_attention_functional_pair_and_causality():
    r = rng()
    layer = nn.MultiHeadAttention(8, 2, causal=True, seed=0)
    x = r.standard_normal((1, 5, 8))
    out = layer.forward(x)
    x2 = x.copy()
    x2[0, 3:] += 10.0                                    # change the future: the past's outputs must not move
    np.testing.assert_allclose(layer.forward(x2)[0, :3], out[0, :3])
    out_f, cache = multi_head_attention_forward(x, None, layer.params, 2, causal_mask(5))
    np.testing.assert_allclose(out_f, out)
    dx, dctx, grads = multi_head_attention_backward(np.ones_like(out), cache)
    assert dctx is None and set(grads) == set(layer.params)


def test_multi_head_attention_validates():
    with pytest.raises(ValueError, match="divide"):
        nn.MultiHeadAttention(10, 3)
    layer = nn.MultiHeadAttention(8, 2)
    with pytest.raises(ValueError):
        layer.forward(np.ones((2, 3, 7)))
    with pytest.raises(ValueError, match="context"):
        layer.forward(np.ones((2, 3, 8)), context=np.ones((3, 3, 8)))
    with pytest.raises(RuntimeError):
        nn.MultiHeadAttention(8, 2).backward(np.ones((1, 1, 8)))


# ------------------------------------------------------------------------------------------ positions, MLP, block

def test_sinusoidal_positions_and_learned_positions():
    P = sinusoidal_positions(10, 6)
    np.testing.assert_allclose(P[0], [0, 1, 0, 1, 0, 1])
    np.testing.assert_allclose(P[3, 0], np.sin(3.0))
    x = rng().standard_normal((2, 4, 6))
    out, cache = positional_encoding_forward(x, P)
    np.testing.assert_allclose(out, x + P[:4])
    dx, dP = positional_encoding_backward(np.ones_like(x), cache)
    assert dP.shape == P.shape and np.all(dP[4:] == 0) and np.all(dP[:4] == 2)
    assert check_layer(PositionalEncoding(6, 6, learned=True, seed=0), x).passed
    with pytest.raises(ValueError, match="max_len"):
        PositionalEncoding(3, 6).forward(x)


def test_feed_forward_gradients():
    assert check_layer(FeedForward(6, 10, seed=0), rng().standard_normal((2, 3, 6))).passed


def _without_bk(report):
    return max(err for name, err in report.errors.items() if not name.endswith("bk"))


def test_transformer_block_gradients():
    r = rng()
    assert _without_bk(check_layer(TransformerBlock(8, 2, 16, causal=True, seed=0), r.standard_normal((2, 4, 8)))) \
        <= TOLERANCE
    block = TransformerBlock(8, 2, 16, cross_attention=True, seed=0)
    ctx = r.standard_normal((2, 5, 8))

    class WithContext:
        layers = block.layers

        def forward(self, x):
            return block.forward(x, ctx)

        def backward(self, dout):
            return block.backward(dout)

    x = r.standard_normal((2, 3, 8))
    assert _without_bk(check_layer(WithContext(), x)) <= TOLERANCE
    dout = r.standard_normal((2, 3, 8))
    block.forward(x, ctx)
    block.backward(dout)
    num = numerical_gradient(lambda _: block.forward(x, ctx), ctx, dout)
    assert relative_error(block.dcontext, num) <= TOLERANCE
    with pytest.raises(ValueError, match="context"):
        block.forward(x)


def test_models_backward_against_central_differences():
    r = rng()
    model = nn.Seq2SeqTransformer(7, 5, d_model=8, n_heads=2, d_ff=16, max_len=8, seed=0)
    src, tgt = np.array([[1, 2, 3, 0], [4, 5, 0, 0]]), np.array([[1, 2, 3], [4, 1, 2]])
    dout = r.standard_normal((2, 3, 5))
    model.forward(src, tgt)
    model.zero_grad()
    model.backward(dout)
    for layer, name in [(model.src_embed, "W"), (model.encoder[0].mlp, "W1"), (model.decoder[0].cross, "Wk"),
                        (model.head, "W")]:
        num = numerical_gradient(lambda _: model.forward(src, tgt), layer.params[name], dout)
        assert relative_error(layer.grads[name], num) <= TOLERANCE, (layer, name)
    assert np.all(model.src_embed.grads["W"][6] == 0)       # token 6 never appears
    # padding is invisible: appending pads changes nothing
    np.testing.assert_allclose(model.forward(np.pad(src, ((0, 0), (0, 2))), tgt), model.forward(src, tgt), atol=1e-12)

    lm = nn.CausalTransformerLM(9, 8, 2, 16, n_layers=2, max_len=6, seed=0)
    ids = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    dout = r.standard_normal((2, 4, 9))
    lm.forward(ids)
    lm.backward(dout)
    for layer, name in [(lm.embed, "W"), (lm.pos, "P"), (lm.blocks[0].attn, "Wq"), (lm.blocks[1].ln2, "gamma")]:
        num = numerical_gradient(lambda _: lm.forward(ids), layer.params[name], dout)
        assert relative_error(layer.grads[name], num) <= TOLERANCE, (layer, name)
    sample = lm.sample([1, 2], 10, temperature=0.5, seed=0)
    assert sample.shape == (10,) and np.array_equal(sample, lm.sample([1, 2], 10, temperature=0.5, seed=0))


def test_models_train_in_float32():
    model = nn.Seq2SeqTransformer(7, 5, d_model=8, n_heads=2, seed=0).astype(np.float32)
    logits = model.forward(np.array([[1, 2, 0]]), np.array([[1, 2]]))
    assert logits.dtype == np.float32
    model.backward(np.ones_like(logits))
    assert all(layer.grads[name].dtype == np.float32 for layer, name in model.parameters())
    opt = nn.Adam(model, lr=1e-2)
    opt.step()
    assert model.generate(np.array([[1, 2, 0]]), start_id=0, length=3).shape == (1, 3)


# ------------------------------------------------------------------------------------------------------ datasets

def test_dates_split_by_day_and_formats():
    data = make_dates(n_train=2000, n_test=160, seed=0)
    assert not set(data.iso_train) & set(data.iso_test)
    assert data.src_train.shape[0] == 2000 and data.tgt_test.shape == (160, 10)
    assert set(data.formats_test) == set(DATE_FORMATS)
    assert data.decode(data.tgt_test[:3]) == data.iso_test[:3]
    np.testing.assert_array_equal(data.encode(data.texts_test[:5]), data.src_test[:5])
    again = make_dates(n_train=2000, n_test=160, seed=0)
    assert again.texts_train == data.texts_train


@pytest.mark.parametrize("fmt, text", [("ordinal of", "3rd of March 2024"), ("weekday US", "Tuesday, March 5, 2024"),
                                       ("dotted", "05.03.24"), ("Japanese", "2024年3月5日")])
def test_date_formats_of_the_issue(fmt, text):
    import datetime as dt
    day = dt.date(2024, 3, 5) if fmt != "ordinal of" else dt.date(2024, 3, 3)
    assert DATE_FORMATS[fmt](day) == text


def test_python_docs_snapshot_is_ascii_and_encodes():
    text = load_python_docs()
    assert 400_000 < len(text) < 600_000 and "The \"for\" statement" in text
    assert all(c == "\n" or " " <= c <= "~" for c in set(text))
    vocab = CharVocabulary(text)
    assert vocab.decode(vocab.encode("for x in y")) == "for x in y"
