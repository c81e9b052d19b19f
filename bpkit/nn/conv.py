"""Convolution and max-pooling on NCHW images, vectorized with im2col.

im2col lays every receptive field out as one row, so a convolution becomes one matrix product (a GEMM):
``out = cols @ W.reshape(F, -1).T``. Its backward pass is two more GEMMs (``dW = dout^T cols``,
``dcols = dout W``) and col2im, which adds each row of ``dcols`` back onto the pixels it was copied from.
``Conv2d`` computes the same three GEMMs on a layout that makes the copies around them cheap (see "the layout Conv2d
computes in" below); ``im2col`` and ``col2im`` stay as the reference that lesson 09 teaches and the tests compare
with. Max-pooling needs no GEMM: it works on the kh kw strided views of x, one per kernel offset, and a window's
gradient goes to its argmax (see "max-pooling" below).

Functional pairs: ``conv2d_forward`` / ``conv2d_backward`` and ``maxpool2d_forward`` / ``maxpool2d_backward``; the
classes ``Conv2d`` and ``MaxPool2d`` check their input, keep params/grads and call them.

Shapes: N images, C input channels, H x W pixels, F filters (output channels) of kh x kw, output Ho x Wo with
``Ho = (H + 2 pad - kh) // stride + 1`` (PyTorch's rule: a last partial window is dropped).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._validate import as_float_array, require_dim, require_ndim
from .init import get_initializer
from .layers import Layer


def _pair(value, name: str) -> tuple[int, int]:
    """An int or a pair of ints -> (int, int); reject anything else with a clear message."""
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def conv_output_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """Number of window positions along one axis: (size + 2 pad - kernel) // stride + 1."""
    return (size + 2 * pad - kernel) // stride + 1


def _check_geometry(shape, kernel, stride, pad, what: str) -> tuple[int, int]:
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    if min(kh, kw, sh, sw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"{what}: expected kernel and stride >= 1 and padding >= 0, got kernel {kernel}, "
                         f"stride {stride}, padding {pad}")
    H, W = shape[2], shape[3]
    if H + 2 * ph < kh or W + 2 * pw < kw:
        raise ValueError(f"{what}: expected images of at least {kh - 2 * ph} x {kw - 2 * pw} pixels for a "
                         f"{kh} x {kw} window with padding {pad}, got shape {tuple(shape)}")
    return conv_output_size(H, kh, sh, ph), conv_output_size(W, kw, sw, pw)


def im2col(x: np.ndarray, kernel, stride=1, pad=0) -> np.ndarray:
    """Every receptive field of ``x`` as one row.

    x: (N, C, H, W). kernel, stride, pad: ints or (row, column) pairs.
    Returns cols: (N * Ho * Wo, C * kh * kw); row ``(n * Ho + i) * Wo + j`` holds the window whose top-left corner
    is at padded pixel ``(i * stride, j * stride)`` of image n, ordered (channel, kernel row, kernel column) like
    ``W.reshape(F, -1)``.
    """
    kernel, stride, pad = _pair(kernel, "kernel"), _pair(stride, "stride"), _pair(pad, "pad")
    Ho, Wo = _check_geometry(x.shape, kernel, stride, pad, "im2col")
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    if ph or pw:
        xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
        xp[:, :, ph:ph + H, pw:pw + W] = x
    else:
        xp = x
    cols = np.empty((N, Ho, Wo, C, kh, kw), dtype=x.dtype)
    # One strided copy per kernel offset (kh * kw of them): measured 2-3x faster on small images than a
    # sliding_window_view followed by one big transposing copy (bench/conv.py).
    for i in range(kh):
        for j in range(kw):
            cols[..., i, j] = xp[:, :, i:i + sh * Ho:sh, j:j + sw * Wo:sw].transpose(0, 2, 3, 1)
    return cols.reshape(N * Ho * Wo, C * kh * kw)


def col2im(cols: np.ndarray, x_shape, kernel, stride=1, pad=0) -> np.ndarray:
    """The adjoint of ``im2col``: add each row of ``cols`` back onto the pixels it was copied from.

    cols: (N * Ho * Wo, C * kh * kw), laid out as ``im2col`` makes it; x_shape: (N, C, H, W).
    Returns dx: (N, C, H, W), a view of an (N, H, W, C) buffer. Pixels shared by overlapping windows receive the
    sum of their gradients. The loop runs over the kh * kw kernel offsets only; each step is one strided,
    vectorized addition.
    """
    kernel, stride, pad = _pair(kernel, "kernel"), _pair(stride, "stride"), _pair(pad, "pad")
    Ho, Wo = _check_geometry(x_shape, kernel, stride, pad, "col2im")
    N, C, H, W = x_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    expected = (N * Ho * Wo, C * kh * kw)
    if cols.shape != expected:
        raise ValueError(f"col2im: expected cols of shape {expected} for x_shape {tuple(x_shape)}, "
                         f"got shape {cols.shape}")
    patches = cols.reshape(N, Ho, Wo, C, kh, kw)
    # Accumulate in (N, H, W, C) order, where each offset's slice of ``patches`` is read in memory order, and
    # transpose once at the end (measured 2x faster than accumulating in NCHW).
    dxp = np.zeros((N, H + 2 * ph, W + 2 * pw, C), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, i:i + sh * Ho:sh, j:j + sw * Wo:sw] += patches[..., i, j]
    return dxp[:, ph:ph + H, pw:pw + W].transpose(0, 3, 1, 2)


# ---- the layout Conv2d computes in ---------------------------------------------------------------------------------
# im2col and col2im above are the reference (lesson 09 teaches them). Conv2d computes the same three GEMMs on a layout
# chosen so that every copy around them moves long contiguous runs (bench/conv.py measures the difference):
# - images are copied once into a padded NHWC buffer, and the windows are gathered from it in one strided copy, with
#   columns ordered (kernel row, kernel column, channel), so each run is kw * C contiguous numbers;
# - the output is computed as (N Ho Wo, F), i.e. NHWC, and returned as an NCHW *view*: the next layer's NHWC copy,
#   or this layer's backward of an upstream gradient in the same layout, then moves contiguous memory or nothing;
# - dx is accumulated per kernel offset: (dout @ W[:, :, i, j]) is an (N Ho Wo, C) block added onto a shifted NHWC
#   window, instead of scattering the kh kw C columns of one big (dout @ W) matrix C numbers at a time;
# - with one input channel (a network's first layer) C kh kw is tiny (9), so the (N Ho Wo, 9) GEMMs run far below
#   the machine's speed and the copies dominate. The windows are then gathered per image, (N, kh kw + 1, Ho Wo) with
#   a row of ones that makes the GEMM add the bias, and the GEMMs run per image with the long Ho Wo axis inside
#   (np.matmul over the batch): (Ho Wo, kh kw + 1) @ (kh kw + 1, F) gives the NHWC output, dout_n @ cols_n^T summed
#   over the images gives dW and db, and W^T @ dout_n gives dcols with rows of Wo pixels, added back per offset;
# - with few channels (C < 16) on wide images (Wo >= 16) the (N Ho Wo, F) @ (F, C) blocks of dx are narrow too (C
#   columns), so dx is computed per image, (kh kw C, F) @ (F, Ho Wo), and added back onto an NCHW buffer in rows of Wo
#   pixels.


def _conv_gemm_forward(x, W, b, stride, pad):
    """x: (N, C, H, W) in any memory layout; W: (F, C, kh, kw); b: (F,); stride, pad: (row, column) pairs.

    Returns out: (N, F, Ho, Wo), an NCHW view of (N, Ho, Wo, F) memory, and the cache (x_shape, cols, Wm, kernel,
    stride, pad) where cols is (N Ho Wo, kh kw C) and Wm is (F, kh kw C), the filters with their columns ordered as
    cols'; for C = 1, cols is (N, kh kw + 1, Ho Wo), per image one row per kernel offset and a row of ones, and Wm is
    (F, kh kw + 1), ending with the bias.
    """
    N, C, H, Wi = x.shape
    F, kh, kw = W.shape[0], W.shape[2], W.shape[3]
    (sh, sw), (ph, pw) = stride, pad
    Ho, Wo = conv_output_size(H, kh, sh, ph), conv_output_size(Wi, kw, sw, pw)
    W = W.astype(x.dtype, copy=False)
    if C == 1:
        xp = np.zeros((N, H + 2 * ph, Wi + 2 * pw), dtype=x.dtype)
        xp[:, ph:ph + H, pw:pw + Wi] = x[:, 0]
        sN, sH, sW = xp.strides
        windows = as_strided(xp, (N, kh, kw, Ho, Wo), (sN, sH, sW, sh * sH, sw * sW), writeable=False)
        cols = np.empty((N, kh * kw + 1, Ho * Wo), dtype=x.dtype)                 # (N, kh kw + 1, Ho Wo)
        cols[:, :-1].reshape(N, kh, kw, Ho, Wo)[...] = windows
        cols[:, -1] = 1.0                                  # a row of ones: the GEMM adds the bias (and finds db)
        Wm = np.concatenate([W.reshape(F, kh * kw), b.astype(x.dtype, copy=False)[:, None]], axis=1)
        out = np.matmul(cols.transpose(0, 2, 1), Wm.T)      # one (Ho Wo, kh kw + 1) @ (kh kw + 1, F) per image
        return out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2), (x.shape, cols, Wm, (kh, kw), stride, pad)
    else:
        xp = np.zeros((N, H + 2 * ph, Wi + 2 * pw, C), dtype=x.dtype)
        xp[:, ph:ph + H, pw:pw + Wi] = x.transpose(0, 2, 3, 1)
        sN, sH, sW, sC = xp.strides
        windows = as_strided(xp, (N, Ho, Wo, kh, kw, C), (sN, sh * sH, sw * sW, sH, sW, sC), writeable=False)
        cols = np.ascontiguousarray(windows).reshape(N * Ho * Wo, kh * kw * C)     # (N Ho Wo, kh kw C)
        Wm = np.ascontiguousarray(W.transpose(0, 2, 3, 1)).reshape(F, kh * kw * C)
        out = cols @ Wm.T                                                           # (N Ho Wo, F)
    out += b.astype(x.dtype, copy=False)
    return out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2), (x.shape, cols, Wm, (kh, kw), stride, pad)


def _conv_gemm_backward(dout, cache):
    """dout: (N, F, Ho, Wo), cache from ``_conv_gemm_forward`` -> (dx: (N, C, H, W), dW: (F, C, kh, kw), db: (F,)).

    dW = dout^T cols, db = the sum of dout over (N, Ho, Wo), dx = the windows of (dout W) added back where they were
    read. dx is an NCHW view of NHWC memory, or of (N, H, W) memory when C = 1, or plain NCHW memory with few
    channels on wide images (see "the layout Conv2d computes in" above).
    """
    x_shape, cols, Wm, (kh, kw), (sh, sw), (ph, pw) = cache
    N, C, H, Wi = x_shape
    F, Ho, Wo = dout.shape[1:]
    if C == 1:
        d3 = dout.reshape(N, F, Ho * Wo)                 # a view when dout is NCHW or NHWC memory, as out was
        dWb = np.matmul(d3, cols.transpose(0, 2, 1)).sum(axis=0)        # (F, kh kw + 1): dW, then db
        dW, db = dWb[:, :-1].reshape(F, 1, kh, kw), dWb[:, -1]
        dcols = np.matmul(Wm[:, :-1].T, d3).reshape(N, kh, kw, Ho, Wo)  # laid out like cols: rows of Wo pixels
        dxp = np.zeros((N, H + 2 * ph, Wi + 2 * pw), dtype=dcols.dtype)
        for i in range(kh):
            for j in range(kw):
                dxp[:, i:i + sh * Ho:sh, j:j + sw * Wo:sw] += dcols[:, i, j]
        return dxp[:, None, ph:ph + H, pw:pw + Wi], dW, db
    d2 = dout.transpose(0, 2, 3, 1).reshape(N * Ho * Wo, F)        # no copy when dout is laid out as out was
    db = np.ones(len(d2), dtype=d2.dtype) @ d2
    dW = (d2.T @ cols).reshape(F, kh, kw, C).transpose(0, 3, 1, 2)
    if C < 16 and Wo >= 16:
        # few channels on wide images: (N Ho Wo, F) @ (F, C) blocks would be too narrow for BLAS, so dcols is
        # computed per image as (kh kw C, F) @ (F, Ho Wo) and added back onto an NCHW buffer in rows of Wo pixels
        Wt, d3 = np.ascontiguousarray(Wm.T), dout.reshape(N, F, Ho * Wo)
        dxp = np.zeros((N, C, H + 2 * ph, Wi + 2 * pw), dtype=d2.dtype)
        for n in range(N):
            dcols = (Wt @ d3[n]).reshape(kh, kw, C, Ho, Wo)
            for i in range(kh):
                for j in range(kw):
                    dxp[n, :, i:i + sh * Ho:sh, j:j + sw * Wo:sw] += dcols[i, j]
        return dxp[:, :, ph:ph + H, pw:pw + Wi], dW, db
    W4 = Wm.reshape(F, kh, kw, C)
    dxp = np.zeros((N, H + 2 * ph, Wi + 2 * pw, C), dtype=d2.dtype)
    for i in range(kh):
        for j in range(kw):                                           # one (N Ho Wo, C) block per kernel offset
            dxp[:, i:i + sh * Ho:sh, j:j + sw * Wo:sw] += (d2 @ W4[:, i, j]).reshape(N, Ho, Wo, C)
    return dxp[:, ph:ph + H, pw:pw + Wi].transpose(0, 3, 1, 2), dW, db


def _image_input(x, channels: int | None, what: str) -> np.ndarray:
    x = as_float_array(x, what)
    layout = f"(N, {channels if channels is not None else 'C'}, H, W)"
    require_ndim(x, 4, what, layout)
    if channels is not None:
        require_dim(x, 1, channels, what, layout)
    return x


# ---- convolution -------------------------------------------------------------------------------------------------
def conv2d_forward(x, W, b, stride=1, padding=0):
    """Convolution as one GEMM of the gathered windows with the filters:
    ``out[n, f] = sum_c x_pad[n, c] (*) W[f, c] + b[f]``.

    x: (N, C, H, W) in any memory layout, W: (F, C, kh, kw), b: (F,); stride, padding: ints or (row, column) pairs.
    Returns out: (N, F, Ho, Wo) in x's dtype, an NCHW view of NHWC memory (see "the layout Conv2d computes in"
    above), and the cache (x_shape, cols, Wm, kernel, stride, padding): cols (N Ho Wo, kh kw C) holds the windows,
    Wm (F, kh kw C) the filters with their columns in the same order (for C = 1: cols (N, kh kw + 1, Ho Wo), per
    image one row per kernel offset and a row of ones, and Wm (F, kh kw + 1) ending with the bias).
    """
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    _check_geometry(x.shape, W.shape[2:], stride, padding, "conv2d input")
    return _conv_gemm_forward(x, W, b, stride, padding)


def conv2d_backward(dout, cache):
    """dout: (N, F, Ho, Wo) in any memory layout, cache from ``conv2d_forward`` -> (dx: (N, C, H, W),
    dW: (F, C, kh, kw), db: (F,)).

    Two GEMMs and the adjoint of the gather: dW = dout^T cols, db = the sum of dout, dx = col2im(dout W), computed as
    one (dout W[:, :, i, j]) block per kernel offset added onto a shifted window of an NHWC buffer (for C = 1, the
    GEMMs run per image; see "the layout Conv2d computes in" above).
    """
    return _conv_gemm_backward(dout, cache)


class Conv2d(Layer):
    """2-D convolution (cross-correlation, as in every deep-learning library), PyTorch's layout
    (``conv2d_forward`` / ``conv2d_backward``).

    x: (N, C, H, W) -> out: (N, F, Ho, Wo), ``out[n, f] = sum_c x_pad[n, c] (*) W[f, c] + b[f]``.
    W: (F, C, kh, kw) initialized by ``init`` with fan_in = C kh kw (He by default, for ReLU networks);
    b: (F,) starts at zero.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, init="he",
                 seed=None, dtype=np.float64):
        super().__init__()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        if self.in_channels < 1 or self.out_channels < 1:
            raise ValueError(f"Conv2d: expected positive channel counts, got in_channels={in_channels}, "
                             f"out_channels={out_channels}")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding = _pair(stride, "stride"), _pair(padding, "padding")
        kh, kw = self.kernel_size
        fan_in = self.in_channels * kh * kw
        W = get_initializer(init)(fan_in, self.out_channels, seed=seed, dtype=dtype)
        W = np.ascontiguousarray(W.T.reshape(self.out_channels, self.in_channels, kh, kw))
        self.params = {"W": W, "b": np.zeros(self.out_channels, dtype=dtype)}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros(self.out_channels, dtype=dtype)}

    def forward(self, x):
        """x: (N, C, H, W) -> (N, F, Ho, Wo), in x's dtype."""
        x = _image_input(x, self.in_channels, "Conv2d input")
        _check_geometry(x.shape, self.kernel_size, self.stride, self.padding, "Conv2d input")
        out, self.cache = conv2d_forward(x, self.params["W"], self.params["b"], self.stride, self.padding)
        self.out_shape = out.shape
        return out

    def backward(self, dout):
        """dout: (N, F, Ho, Wo) -> dx (N, C, H, W); fills grads["W"] (F, C, kh, kw) and grads["b"] (F,)."""
        self._require_forward("cache")
        dout = self._check_dout(dout, self.out_shape)
        dx, self.grads["W"][...], self.grads["b"][...] = conv2d_backward(dout, self.cache)
        return dx

    def __repr__(self):
        extra = f", stride={self.stride}" if self.stride != (1, 1) else ""
        extra += f", padding={self.padding}" if self.padding != (0, 0) else ""
        return f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}{extra})"


# ---- max-pooling -------------------------------------------------------------------------------------------------
# Max-pooling needs no im2col: with a window of kh x kw there are only kh kw kernel offsets, and the pixels at offset
# (i, j) of every window form one strided view of x, tap (i, j) = x[:, :, i::sh, j::sw] (cropped to Ho x Wo). The
# maximum is kh kw - 1 elementwise np.maximum of those views, and the backward pass writes dout (times a 0/1 mask)
# into the same views of dx. Every operation keeps x's memory layout, so a pool after a Conv2d (whose output is an
# NCHW view of NHWC memory) moves contiguous runs of C numbers. bench/conv.py times it.
def _taps(a, kernel, stride, out_hw):
    """The kh kw strided views of ``a`` (N, C, H, W), one per kernel offset in row-major order, each (N, C, Ho, Wo)."""
    (kh, kw), (sh, sw), (Ho, Wo) = kernel, stride, out_hw
    return [a[:, :, i:i + sh * Ho:sh, j:j + sw * Wo:sw] for i in range(kh) for j in range(kw)]


def _is_nhwc(a) -> bool:
    """True when ``a`` (N, C, H, W) is an NCHW view of contiguous NHWC memory (as Conv2d's outputs are)."""
    return a.ndim == 4 and not a.flags.c_contiguous and a.transpose(0, 2, 3, 1).flags.c_contiguous


def maxpool2d_forward(x, kernel_size, stride=None):
    """The largest value of each window, per channel; windows side by side when stride is None (the kernel size).

    x: (N, C, H, W) in any memory layout; kernel_size, stride: ints or (row, column) pairs.
    Returns out: (N, C, Ho, Wo), laid out in memory as x is, and the cache (x_shape, nhwc, hits, kernel, stride):
    hits is a list of kh kw boolean arrays (N, C, Ho, Wo), hits[i * kw + j] true where the pixel at offset (i, j) of
    the window is the one that receives the window's gradient: a maximum, and on ties the first maximum in row-major
    order within the window (the same pixel as ``np.argmax`` over the flattened window, and as PyTorch picks).
    A window holding NaN outputs NaN and passes no gradient. nhwc says whether x was NHWC memory (dx will be too).
    """
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else _pair(stride, "stride")
    Ho, Wo = _check_geometry(x.shape, kernel, stride, (0, 0), "maxpool2d input")
    taps = _taps(x, kernel, stride, (Ho, Wo))
    out = taps[0].copy(order="K")
    for tap in taps[1:]:
        np.maximum(out, tap, out=out)
    found = np.equal(taps[0], out)                   # the first maximum so far, per window
    hits = [found.copy()] if len(taps) > 1 else [found]
    for k, tap in enumerate(taps[1:], start=2):
        hit = np.equal(tap, out)
        np.greater(hit, found, out=hit)              # hit and not found: a tie with an earlier pixel loses
        if k < len(taps):
            found |= hit
        hits.append(hit)
    return out, (x.shape, _is_nhwc(x), hits, kernel, stride)


def maxpool2d_backward(dout, cache):
    """dout: (N, C, Ho, Wo), cache from ``maxpool2d_forward`` -> dx: (N, C, H, W), laid out in memory as x was.

    Each window's gradient goes to the pixel ``hits`` marks (its maximum, the first one on ties); every other pixel
    gets 0. Where windows overlap (stride < kernel) and share that pixel, their gradients add.
    """
    x_shape, nhwc, hits, (kh, kw), (sh, sw) = cache
    N, C, H, W = x_shape
    Ho, Wo = hits[0].shape[2:]
    tiled = (sh, sw) == (kh, kw) and (H, W) == (kh * Ho, kw * Wo)   # every pixel in exactly one window
    new = np.empty if tiled else np.zeros
    dx = new((N, H, W, C), dtype=dout.dtype).transpose(0, 3, 1, 2) if nhwc else new(x_shape, dtype=dout.dtype)
    overlap = sh < kh or sw < kw
    for view, hit in zip(_taps(dx, (kh, kw), (sh, sw), (Ho, Wo)), hits):
        if overlap:
            view += dout * hit
        else:                                        # each pixel belongs to one window at most: write, no sum
            np.multiply(dout, hit, out=view)
    return dx


class MaxPool2d(Layer):
    """The largest value of each window, per channel: (N, C, H, W) -> (N, C, Ho, Wo)
    (``maxpool2d_forward`` / ``maxpool2d_backward``).

    stride defaults to the kernel size (windows side by side). Backward sends each window's gradient to the
    position of its maximum (on ties, the first maximum in row-major order within the window, as np.argmax and
    PyTorch pick), every other pixel gets 0.
    """

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")

    def forward(self, x):
        x = _image_input(x, None, "MaxPool2d input")
        _check_geometry(x.shape, self.kernel_size, self.stride, (0, 0), "MaxPool2d input")
        out, self.cache = maxpool2d_forward(x, self.kernel_size, self.stride)
        self.out_shape = out.shape
        return out

    def backward(self, dout):
        self._require_forward("cache")
        return maxpool2d_backward(self._check_dout(dout, self.out_shape), self.cache)

    def __repr__(self):
        stride = "" if self.stride == self.kernel_size else f", stride={self.stride}"
        return f"MaxPool2d(kernel_size={self.kernel_size}{stride})"
