"""Spec of ex09 (format: docs/authoring.md; the reference solutions are the notebook's solution cells).

ex09, convolutional networks: the backward pass of a 2-D convolution and of max-pooling.

Shapes: x (N, C, H, W), W (F, C, kh, kw), b (F,), dout (N, F, Ho, Wo) with Ho = (H + 2 pad - kh) // stride + 1.
Gradients are checked against central differences of the reference forward (``bpkit.nn.Conv2d`` and
``bpkit.nn.MaxPool2d``); max-pool inputs are drawn with no two values of a window within 0.05 of each other, so no
step of h = 1e-5 changes which one wins.
"""
from bpkit.exercises.authoring import *  # noqa: F403

from bpkit.nn.conv import Conv2d, MaxPool2d, col2im, im2col

# (N, C, H, W, F, k, stride, pad): batch size 1, padding 0-2, stride 1-2 (stride 1 makes windows overlap)
CONV_SETUPS = [(1, 1, 4, 4, 1, 2, 1, 0), (2, 2, 5, 5, 3, 3, 1, 1), (2, 3, 6, 6, 2, 3, 2, 1), (1, 2, 5, 4, 2, 2, 2, 2)]
# (N, C, H, W, size, stride): side-by-side windows, overlapping windows (stride < size), a dropped last row
POOL_SETUPS = [(1, 1, 4, 4, 2, 2), (2, 3, 4, 6, 2, 2), (2, 2, 5, 5, 3, 1), (1, 2, 7, 6, 3, 2),
               (1, 2, 9, 7, 3, 2)]   # input 9x7, window 3, output 4x3: every size different


def conv2d_forward(x, W, b, stride, pad):
    """The reference forward: x (N, C, H, W), W (F, C, kh, kw), b (F,) -> out (N, F, Ho, Wo)."""
    layer = Conv2d(W.shape[1], W.shape[0], W.shape[2:], stride=int(stride), padding=int(pad))
    layer.params["W"], layer.params["b"] = W, b
    return layer.forward(x)


# and every named dimension different: a non-square kernel on a non-square input, a stride that does not divide
NONSQUARE = [(2, 3, 7, 5, 4, (3, 2), 2, 1)]


def _conv_cases(rng):
    cases = []
    for n, c, h, w, f, k, s, p in CONV_SETUPS + NONSQUARE:
        kh, kw = k if isinstance(k, tuple) else (k, k)
        ho, wo = (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
        cases.append({"x": rng.standard_normal((n, c, h, w)), "W": rng.standard_normal((f, c, kh, kw)),
                      "b": rng.standard_normal(f), "dout": rng.standard_normal((n, f, ho, wo)), "stride": s, "pad": p,
                      "label": f"x {n}x{c}x{h}x{w}, W {f}x{c}x{kh}x{kw}, stride {s}, pad {p}"})
    return finish_cases(cases)


def conv2d_backward(*args):
    """The source notebook's solution (the reference), for the catalogued mistakes built on it."""
    return EXERCISE.reference("conv2d_backward")(*args)


# ---- conv2d_backward -------------------------------------------------------------------------------------------

def _conv_gradients(case):
    arrays = {"x": case["x"], "W": case["W"], "b": case["b"]}

    def forward(x, W, b):
        return conv2d_forward(x, W, b, case["stride"], case["pad"])

    return {f"d{k}": gradient(forward, arrays, k, case["dout"]) for k in ("x", "W", "b")}


def _overwriting_col2im(cols, x_shape, kernel, stride, pad):
    """col2im with ``=`` where it needs ``+=``: a pixel inside several windows keeps only the last one's gradient."""
    N, C, H, Wd = x_shape
    kh, kw = kernel
    Ho, Wo = (H + 2 * pad - kh) // stride + 1, (Wd + 2 * pad - kw) // stride + 1
    patches = cols.reshape(N, Ho, Wo, C, kh, kw)
    dxp = np.zeros((N, C, H + 2 * pad, Wd + 2 * pad))
    for i in range(Ho):
        for j in range(Wo):
            dxp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw] = patches[:, i, j]
    return dxp[:, :, pad:pad + H, pad:pad + Wd]


def _conv_overwrite(dout, x, W, b, stride, pad):
    dx, dW, db = conv2d_backward(dout, x, W, b, stride, pad)
    F = W.shape[0]
    d2 = dout.transpose(0, 2, 3, 1).reshape(-1, F)
    return _overwriting_col2im(d2 @ W.reshape(F, -1), x.shape, W.shape[2:], stride, pad), dW, db


def _conv_padded_dx(dout, x, W, b, stride, pad):
    _, dW, db = conv2d_backward(dout, x, W, b, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, _, _ = conv2d_backward(dout, xp, W, b, stride, 0)
    return dxp, dW, db


def _conv_dW_reshaped(dout, x, W, b, stride, pad):
    dx, _, db = conv2d_backward(dout, x, W, b, stride, pad)
    cols = im2col(x, W.shape[2:], stride, pad)
    d2 = dout.transpose(0, 2, 3, 1).reshape(-1, W.shape[0])
    return dx, (cols.T @ d2).reshape(W.shape), db


CONV2D_BACKWARD = function_spec(
    "conv2d_backward", "conv2d_backward(dout, x, W, b, stride, pad) -> (dx, dW, db)", make_cases=_conv_cases, call=drivers.function("conv2d_backward", args=("dout", "x", "W", "b", "stride", "pad"),
                          returns=("dx", "dW", "db"), ints=("stride", "pad")),
    finite_differences=True, expected=_conv_gradients,
    checks=[returns_check(("dx", "dW", "db"), 0.5), unchanged_check(("dout", "x", "W", "b"), 0.5),
            value_check("dx", 1.5, "central differences",
                        hint="each x pixel receives, from every window that covered it, dout at that window times "
                             "the filter weight that met it; sum over windows and filters, then drop the padding"),
            value_check("dW", 1.5, "central differences",
                        hint="dW[f, c, i, j] = sum over images and output positions of dout[n, f, p, q] times the "
                             "input pixel x_pad[n, c, p*stride + i, q*stride + j]"),
            value_check("db", 0.5, "central differences",
                        hint="b[f] is added at every output position of every image: sum dout over axes 0, 2, 3")],
    mistakes=[
        Mistake("overlap_overwritten", "a pixel covered by several windows must collect the SUM of their "
                "gradients: you assigned (=) where you need to add (+=)", _conv_overwrite),
        Mistake("filter_flipped", "your dx uses the filter flipped (as in a textbook convolution): the forward "
                "pass is a cross-correlation, so W[f, c, i, j] sends dout back to x_pad[.., p*stride + i, q*stride + j] "
                "unflipped", lambda dout, x, W, b, s, p: (conv2d_backward(dout, x, W[:, :, ::-1, ::-1], b, s, p)[0],
                                                           *conv2d_backward(dout, x, W, b, s, p)[1:])),
        Mistake("padding_kept", "your dx still includes the padding: crop it to x's shape, "
                "dx_pad[:, :, pad:pad + H, pad:pad + W]", _conv_padded_dx),
        Mistake("dW_reshaped_not_transposed", "your dW has the right numbers in the wrong places: (cols.T @ d2) is "
                "(C kh kw, F); transpose it to (F, C kh kw) before reshaping to W's shape (d2.T @ cols does both)",
                _conv_dW_reshaped),
        Mistake("db_batch_only", "db must be summed over the batch AND over all output positions: "
                "dout.sum(axis=(0, 2, 3)), shape (F,)",
                lambda dout, x, W, b, s, p: (*conv2d_backward(dout, x, W, b, s, p)[:2], dout.sum(axis=0))),
        Mistake("db_mean", "db has a division too many: sum dout over images and positions, do not average",
                lambda dout, x, W, b, s, p: (*conv2d_backward(dout, x, W, b, s, p)[:2], dout.mean(axis=(0, 2, 3)))),
    ],
    release_hint="follow each output position back to the window of the padded input it came from: dW collects "
                 "dout times that window, dx adds dout times the filter back onto it, db sums dout; crop the padding")


# ---- maxpool_backward ------------------------------------------------------------------------------------------

def maxpool_forward(x, size, stride):
    """The reference forward: x (N, C, H, W) -> (N, C, Ho, Wo), the max of each size x size window."""
    return MaxPool2d(int(size), int(stride)).forward(x)


def _pool_cases(rng):
    cases = []
    for n, c, h, w, size, stride in POOL_SETUPS:
        x = (rng.permutation(n * c * h * w).reshape(n, c, h, w) - n * c * h * w / 2) * 0.05   # no ties
        ho, wo = (h - size) // stride + 1, (w - size) // stride + 1
        cases.append({"x": x, "dout": rng.standard_normal((n, c, ho, wo)), "size": size, "stride": stride,
                      "label": f"x {n}x{c}x{h}x{w}, size {size}, stride {stride}"})
    return finish_cases(cases)


def _pool_gradient(case):
    return {"dx": gradient(lambda x: maxpool_forward(x, case["size"], case["stride"]), {"x": case["x"]}, "x",
                           case["dout"])}


def _pool_loop(route, accumulate=True):
    """A loop over windows that sends dout[n, c, i, j] to the window through ``route(window, value)``."""
    def wrong(dout, x, size, stride):
        dx = np.zeros_like(x)
        N, C, Ho, Wo = dout.shape
        for n in range(N):
            for c in range(C):
                for i in range(Ho):
                    for j in range(Wo):
                        window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                        part = route(window, dout[n, c, i, j])
                        target = dx[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                        if accumulate:
                            target += part
                        else:
                            target[part != 0] = part[part != 0]
        return dx
    return wrong


def _to_argmax(window, value):
    out = np.zeros_like(window)
    out[np.unravel_index(window.argmax(), window.shape)] = value
    return out


def _to_argmax_swapped(window, value):
    out = np.zeros_like(window)
    r, c = np.unravel_index(window.argmax(), window.shape)
    out[c, r] = value
    return out


MAXPOOL_BACKWARD = function_spec(
    "maxpool_backward", "maxpool_backward(dout, x, size, stride) -> dx", make_cases=_pool_cases, call=drivers.function("maxpool_backward", args=("dout", "x", "size", "stride"), returns=("dx",),
                          ints=("size", "stride")),
    finite_differences=True, expected=_pool_gradient,
    checks=[returns_check(("dx",), 0.5), unchanged_check(("dout", "x"), 0.5),
            value_check("dx", 2.0, "central differences",
                        hint="the max depends only on its largest entry: each window's dout goes to the position "
                             "of that window's maximum in x, and every other pixel of the window gets 0")],
    mistakes=[
        Mistake("spread_evenly", "you spread dout evenly over the window (that is average-pooling's backward): "
                "max-pooling sends all of it to the window's largest entry",
                _pool_loop(lambda w, v: np.full_like(w, v / w.size))),
        Mistake("mask_without_dout", "you marked where the max is but did not multiply by dout: the argmax "
                "position receives dout[n, c, i, j], not 1", _pool_loop(lambda w, v: _to_argmax(w, 1.0))),
        Mistake("overlap_overwritten", "when windows overlap (stride < size) one pixel can be the max of several "
                "windows: add their gradients (+=) rather than overwrite (=)",
                _pool_loop(_to_argmax, accumulate=False)),
        Mistake("argmax_row_col_swapped", "the flat argmax k of a size x size window is at row k // size, column "
                "k % size (np.unravel_index): you swapped row and column", _pool_loop(_to_argmax_swapped)),
        Mistake("gradient_to_all", "you passed dout to every pixel of the window: only the maximum influenced "
                "the output", _pool_loop(lambda w, v: np.full_like(w, v))),
    ],
    release_hint="for each window, find where its maximum is in x and add that window's dout there; "
                 "nothing else in the window gets a gradient")


EXERCISE = exercise("ex09", "Convolutional networks: conv2d and max-pool backward", [CONV2D_BACKWARD, MAXPOOL_BACKWARD])
