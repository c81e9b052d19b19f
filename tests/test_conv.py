"""Conv2d and MaxPool2d: forward against a direct loop, backward against central differences (float64,
relative error <= 1e-7), the im2col/col2im adjoint identity, dtype handling and clear errors."""
import numpy as np
import pytest

import bpkit.nn as nn
from bpkit.gradcheck import TOLERANCE, check_layer

# (N, C, H, W, F, kernel, stride, padding): batch size 1, strides 1-2, padding 0-2, non-square kernels and images
CONV_SHAPES = [
    (1, 1, 5, 5, 2, 3, 1, 0),
    (2, 3, 6, 7, 4, 3, 1, 1),
    (3, 2, 8, 8, 3, 3, 2, 0),
    (2, 2, 7, 6, 2, (2, 3), (2, 1), (1, 2)),
    (1, 1, 4, 4, 1, 4, 1, 0),
    (1, 3, 4, 18, 2, 3, 1, 1),          # few channels, 16 or more output columns: dx is computed per image
    (2, 2, 3, 35, 2, (3, 2), 2, (1, 0)),
]


def naive_conv(x, W, b, stride, pad):
    """The definition, one output pixel at a time: a sliding dot product over every window."""
    (sh, sw), (ph, pw) = stride, pad
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (Wd + 2 * pw - kw) // sw + 1
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, f, i, j] = np.sum(window * W[f]) + b[f]
    return out


def make_conv(C, F, k, s, p, rng):
    layer = nn.Conv2d(C, F, k, stride=s, padding=p, seed=rng)
    layer.params["b"][:] = rng.standard_normal(F)
    return layer


@pytest.mark.parametrize("N,C,H,W,F,k,s,p", CONV_SHAPES)
def test_conv_forward_matches_naive_loop(N, C, H, W, F, k, s, p):
    rng = np.random.default_rng(N + 10 * C + 100 * H)
    layer = make_conv(C, F, k, s, p, rng)
    x = rng.standard_normal((N, C, H, W))
    expected = naive_conv(x, layer.params["W"], layer.params["b"], layer.stride, layer.padding)
    out = layer.forward(x)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("N,C,H,W,F,k,s,p", CONV_SHAPES)
def test_conv_backward_matches_numerical(N, C, H, W, F, k, s, p):
    rng = np.random.default_rng(N + 10 * C + 100 * W)
    layer = make_conv(C, F, k, s, p, rng)
    report = check_layer(layer, rng.standard_normal((N, C, H, W)), seed=1)
    assert set(report.errors) == {"x", "W", "b"}
    assert report.max_error <= TOLERANCE, str(report)


def test_im2col_col2im_are_adjoint():
    """<im2col(x), c> == <x, col2im(c)> for any x, c: col2im is exactly the transpose that backward needs."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 6))
    cols = nn.im2col(x, (3, 2), (2, 1), (1, 1))
    c = rng.standard_normal(cols.shape)
    lhs = np.sum(cols * c)
    rhs = np.sum(x * nn.col2im(c, x.shape, (3, 2), (2, 1), (1, 1)))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


def distinct_values(rng, shape):
    """A shuffled grid of values 0.05 apart: no two entries of a pooling window tie, nor come within h of each other."""
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.05 - 1.0


@pytest.mark.parametrize("shape,k,s", [((1, 1, 4, 4), 2, None), ((2, 3, 6, 6), 2, None),
                                       ((2, 2, 7, 7), 3, 2), ((3, 1, 5, 6), (2, 3), 1)])
def test_maxpool_backward_matches_numerical(shape, k, s):
    rng = np.random.default_rng(shape[0] * 7 + shape[2])
    report = check_layer(nn.MaxPool2d(k, stride=s), distinct_values(rng, shape), seed=2)
    assert report.max_error <= TOLERANCE, str(report)


def test_maxpool_forward_and_gradient_go_to_argmax():
    x = np.array([[[[1., 5., 2., 0.],
                    [3., 4., 8., 1.],
                    [0., 0., 6., 7.],
                    [9., 2., 3., 5.]]]])
    pool = nn.MaxPool2d(2)
    np.testing.assert_array_equal(pool.forward(x), [[[[5., 8.], [9., 7.]]]])
    dx = pool.backward(np.array([[[[10., 20.], [30., 40.]]]]))
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, 0, 1], expected[0, 0, 1, 2], expected[0, 0, 3, 0], expected[0, 0, 2, 3] = 10, 20, 30, 40
    np.testing.assert_array_equal(dx, expected)


def nhwc_memory(a):
    """The same values as an NCHW view of contiguous NHWC memory, the layout a Conv2d's output has."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("shape,k,s", [((2, 3, 6, 6), 2, None), ((2, 2, 7, 6), 3, 2)])
def test_maxpool_backward_matches_numerical_on_nhwc_memory(shape, k, s):
    rng = np.random.default_rng(11)
    report = check_layer(nn.MaxPool2d(k, stride=s), nhwc_memory(distinct_values(rng, shape)), seed=3)
    assert report.max_error <= TOLERANCE, str(report)


def reference_maxpool(x, dout, kernel, stride):
    """Max-pooling through im2col: each window is a row, np.argmax picks its first maximum, col2im adds the rows of
    the routed gradient back. Returns (out, dx)."""
    N, C, H, W = x.shape
    cols = nn.im2col(x.reshape(N * C, 1, H, W), kernel, stride)
    first = cols.argmax(axis=1)
    out = cols[np.arange(len(cols)), first].reshape(dout.shape)
    dcols = np.zeros_like(cols)
    dcols[np.arange(len(cols)), first] = dout.reshape(-1)
    return out, nn.col2im(dcols, (N * C, 1, H, W), kernel, stride).reshape(x.shape)


@pytest.mark.parametrize("k,s", [(2, 2), (3, 3), (3, 2), (2, 1), ((2, 3), (1, 2)), (2, 3), ((3, 2), (3, 2))])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_maxpool_with_ties_matches_the_im2col_argmax_reference(k, s, layout):
    """Inputs drawn from 3 values tie in most windows: the direct implementation sends each window's gradient to
    the same pixel as im2col + np.argmax (the first maximum in row-major order), adds where windows overlap
    (stride < kernel), leaves pixels of no window at 0 (stride > kernel, cropped borders), keeps x's memory layout
    and its dtype."""
    rng = np.random.default_rng(5)
    for dtype in (np.float64, np.float32):
        x = rng.integers(0, 3, (2, 3, 8, 7)).astype(dtype)
        x = nhwc_memory(x) if layout == "nhwc" else x
        pool = nn.MaxPool2d(k, stride=s)
        out = pool.forward(x)
        dout = rng.standard_normal(out.shape).astype(dtype)
        dx = pool.backward(dout)
        ref_out, ref_dx = reference_maxpool(x, dout, pool.kernel_size, pool.stride)
        np.testing.assert_array_equal(out, ref_out)
        np.testing.assert_array_equal(dx, ref_dx)
        assert out.dtype == dx.dtype == dtype
        if layout == "nhwc":
            assert out.transpose(0, 2, 3, 1).flags.c_contiguous and dx.transpose(0, 2, 3, 1).flags.c_contiguous


def test_maxpool_tie_rule_first_maximum_in_row_major_order():
    """The tie rule, spelled out: of several equal maxima, the first in row-major order within the window takes the
    whole gradient (a valid subgradient of max, and PyTorch's choice); the other tied pixels get 0."""
    pool = nn.MaxPool2d(2)
    x = np.array([[[[3., 3., 7., 1.],            # window 1: 3 3 / 1 0 -> the first 3
                    [1., 0., 2., 7.],            # window 2: 7 1 / 2 7 -> the 7 of the first row
                    [5., 0., 4., 4.],            # window 3: 5 0 / 0 5 -> the top-left 5
                    [0., 5., 4., 4.]]]])         # window 4: all equal -> the top-left pixel
    np.testing.assert_array_equal(pool.forward(x), [[[[3., 7.], [5., 4.]]]])
    dx = pool.backward(np.array([[[[1., 2.], [3., 4.]]]]))
    np.testing.assert_array_equal(dx[0, 0], [[1., 0., 2., 0.],
                                             [0., 0., 0., 0.],
                                             [3., 0., 4., 0.],
                                             [0., 0., 0., 0.]])
    # a tie between (0, 1) and (1, 0): (0, 1) comes first in row-major order
    x = np.array([[[[0., 9.], [9., 1.]]]])
    np.testing.assert_array_equal(pool.forward(x), [[[[9.]]]])
    np.testing.assert_array_equal(pool.backward(np.ones((1, 1, 1, 1)))[0, 0], [[0., 1.], [0., 0.]])
    # overlapping windows whose maxima are the same pixel add their gradients there
    overlap = nn.MaxPool2d(2, stride=1)
    overlap.forward(np.array([[[[0., 1., 0.], [1., 9., 1.], [0., 1., 0.]]]]))
    dx = overlap.backward(np.array([[[[1., 2.], [3., 4.]]]]))
    np.testing.assert_array_equal(dx[0, 0], [[0., 0., 0.], [0., 10., 0.], [0., 0., 0.]])


def test_maxpool_nan_window_gives_nan_and_no_gradient():
    pool = nn.MaxPool2d(2)
    out = pool.forward(np.array([[[[1., np.nan, 5., 6.], [2., 3., 7., 8.]]]]))
    assert np.isnan(out[0, 0, 0, 0]) and out[0, 0, 0, 1] == 8.0
    np.testing.assert_array_equal(pool.backward(np.ones((1, 1, 1, 2)))[0, 0], [[0., 0., 0., 0.], [0., 0., 0., 1.]])


def test_conv_keeps_float32_and_matches_float64():
    rng = np.random.default_rng(0)
    layer = nn.Conv2d(2, 3, 3, padding=1, seed=0)
    x = rng.standard_normal((2, 2, 5, 5))
    out64 = layer.forward(x)
    out32 = layer.forward(x.astype(np.float32))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)
    assert layer.backward(np.ones_like(out32)).dtype == np.float32


def test_conv_init_is_seeded_with_he_fan_in():
    a, b = nn.Conv2d(4, 16, 3, seed=5), nn.Conv2d(4, 16, 3, seed=5)
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    assert a.params["W"].shape == (16, 4, 3, 3) and a.params["b"].shape == (16,)
    big = nn.Conv2d(8, 64, 3, seed=0).params["W"]
    assert abs(big.std() - np.sqrt(2 / (8 * 9))) < 0.1 * np.sqrt(2 / (8 * 9))


def test_cnn_trains_in_a_sequential():
    """A tiny CNN fits 32 random images: the layers compose with Sequential, fit and Adam."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 1, 6, 6)), rng.integers(0, 3, 32)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, seed=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(36, 3, seed=2))
    history = nn.fit(model, nn.softmax_cross_entropy, nn.Adam(model, lr=0.03), X, y, epochs=40,
                     batch_size=32, progress=False)
    assert history.epoch_loss[-1] < 0.2 * history.epoch_loss[0]


@pytest.mark.parametrize("x_shape,message", [
    ((2, 3, 5), r"Conv2d input: expected a 4-D array of shape \(N, 2, H, W\), got shape \(2, 3, 5\)"),
    ((2, 3, 5, 5), r"Conv2d input: expected shape \(N, 2, H, W\) with 2 on axis 1, got shape \(2, 3, 5, 5\)"),
    ((1, 2, 2, 2), r"expected images of at least 3 x 3 pixels .* got shape \(1, 2, 2, 2\)"),
])
def test_conv_bad_input_names_expected_and_given(x_shape, message):
    with pytest.raises(ValueError, match=message):
        nn.Conv2d(2, 4, 3, seed=0).forward(np.zeros(x_shape))


def test_conv_bad_dout_and_arguments():
    layer = nn.Conv2d(1, 2, 3, seed=0)
    layer.forward(np.zeros((2, 1, 5, 5)))
    with pytest.raises(ValueError, match=r"expected the shape of .*\(2, 2, 3, 3\), got shape \(2, 2, 5, 5\)"):
        layer.backward(np.zeros((2, 2, 5, 5)))
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Conv2d(1, 2, 3).backward(np.zeros((1, 2, 1, 1)))
    with pytest.raises(TypeError, match="kernel_size: expected an int or a pair of ints"):
        nn.Conv2d(1, 2, 2.5)
    with pytest.raises(ValueError, match="expected kernel and stride >= 1"):
        nn.Conv2d(1, 2, 3, stride=0).forward(np.zeros((1, 1, 5, 5)))
    with pytest.raises(ValueError, match=r"MaxPool2d input: expected a 4-D array .* got shape \(4, 4\)"):
        nn.MaxPool2d(2).forward(np.zeros((4, 4)))


@pytest.mark.parametrize("C,F,k,s,p,width", [(1, 4, 3, 1, 1, 6), (1, 3, (2, 3), (2, 1), (1, 0), 6),
                                             (3, 5, 3, 2, 1, 6), (4, 2, (3, 2), 1, (0, 2), 6),
                                             (3, 4, 3, 1, 1, 17), (2, 3, (3, 2), (1, 2), (1, 0), 33)])
def test_conv2d_matches_the_im2col_reference_in_any_memory_layout(C, F, k, s, p, width):
    """Conv2d's NHWC computation equals cols @ W^T / col2im(dout W), whether x and dout come contiguous (NCHW) or as
    NCHW views of NHWC memory (as another Conv2d's output and its upstream gradient do)."""
    rng = np.random.default_rng(C * 10 + F)
    layer = make_conv(C, F, k, s, p, rng)
    x = rng.standard_normal((2, C, 7, width))
    out = layer.forward(x)
    N, Ho, Wo = 2, out.shape[2], out.shape[3]
    cols = nn.im2col(x, layer.kernel_size, layer.stride, layer.padding)
    W, b = layer.params["W"], layer.params["b"]
    expected = (cols @ W.reshape(F, -1).T + b).reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert out.transpose(0, 2, 3, 1).flags.c_contiguous          # an NCHW view of NHWC memory, for every C
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    d2 = dout.transpose(0, 2, 3, 1).reshape(-1, F)
    np.testing.assert_allclose(dx, nn.col2im(d2 @ W.reshape(F, -1), x.shape, layer.kernel_size, layer.stride,
                                             layer.padding), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], (d2.T @ cols).reshape(W.shape), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], d2.sum(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.forward(nhwc_memory(x)), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.backward(nhwc_memory(dout)), dx, rtol=1e-12, atol=1e-12)


def test_stacked_convolutions_pass_the_gradient_check():
    """Two Conv2d with a ReLU between: the second layer reads the first's NHWC-backed output, and the backward pass
    hands gradients back in that layout; the whole stack meets the tolerance policy."""
    rng = np.random.default_rng(7)
    model = nn.Sequential(make_conv(1, 3, 3, 1, 1, rng), nn.ReLU(), make_conv(3, 2, 3, 2, 1, rng))
    x = rng.standard_normal((2, 1, 6, 6))
    report = check_layer(model, x)
    assert max(report.errors.values()) <= TOLERANCE, report.errors
    out32 = model.astype(np.float32).forward(x.astype(np.float32))
    assert out32.dtype == np.float32 and model.backward(np.ones_like(out32)).dtype == np.float32
