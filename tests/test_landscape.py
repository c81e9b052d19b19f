"""Loss landscapes: filter normalization, the batched grid against a naive loop, path projection, the figures."""
import numpy as np
import pytest

from bpkit.data import load_digits, make_moons
from bpkit.nn import (SGD, Flatten, Linear, ReLU, Sequential, Sigmoid, Tanh, bce_with_logits, fit, mse_loss,
                      softmax_cross_entropy)
from bpkit.viz.directions import (filter_normalize, filter_normalized_direction, flatten, parameter_arrays,
                                  parameter_vector, pca_directions, project_path, unflatten)
from bpkit.viz.landscape import function_grid, loss_landscape_2d, network_landscape
from bpkit.viz.loss_grid import loss_grid, loss_on_plane, supports_batched


def small_mlp(seed=0, act=ReLU, d_in=4, hidden=6, d_out=3):
    return Sequential(Linear(d_in, hidden, seed=seed), act(), Linear(hidden, 5, seed=seed + 1), act(),
                      Linear(5, d_out, seed=seed + 2))


def with_biases(model, seed=7):
    rng = np.random.default_rng(seed)
    for layer, name in model.parameters():
        if name == "b":
            layer.params[name][...] = rng.standard_normal(layer.params[name].shape)
    return model


def data(n=37, d_in=4, classes=3, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d_in)), rng.integers(0, classes, n)


# --- filter normalization -------------------------------------------------------------------------------------

def test_linear_direction_columns_have_the_trained_column_norms():
    model = with_biases(small_mlp())
    d = filter_normalized_direction(model, seed=3)
    for (layer, name), di in zip(model.parameters(), d):
        w = layer.params[name]
        assert di.shape == w.shape
        if name == "W":
            np.testing.assert_allclose(np.linalg.norm(di, axis=0), np.linalg.norm(w, axis=0), rtol=1e-12)
            assert not np.allclose(di, w)          # a random direction, not the weights themselves
        else:
            assert np.all(di == 0), "biases are zeroed unless include_bias"


def test_conv_layout_normalizes_each_filter():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3, 3, 3)) * np.arange(1, 5)[:, None, None, None]
    d = filter_normalize(rng.standard_normal(w.shape), w)
    for k in range(4):
        np.testing.assert_allclose(np.linalg.norm(d[k]), np.linalg.norm(w[k]), rtol=1e-12)


def test_include_bias_gives_each_bias_entry_its_trained_magnitude():
    model = with_biases(small_mlp())
    d = filter_normalized_direction(model, seed=3, include_bias=True)
    for (layer, name), di in zip(model.parameters(), d):
        if name == "b":
            np.testing.assert_allclose(np.abs(di), np.abs(layer.params[name]), rtol=1e-12)


def test_directions_are_seeded_and_differ_between_seeds():
    model = small_mlp()
    a, b, c = (flatten(filter_normalized_direction(model, seed=s)) for s in (5, 5, 6))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_filter_normalize_rejects_a_shape_mismatch():
    with pytest.raises(ValueError, match=r"expected the weight's shape \(3, 2\)"):
        filter_normalize(np.ones((2, 3)), np.ones((3, 2)))


# --- the grid: batched against the naive per-point loop --------------------------------------------------------

@pytest.mark.parametrize("act", [ReLU, Tanh, Sigmoid])
def test_batched_grid_equals_per_point_loop(act):
    model = with_biases(small_mlp(act=act))
    X, y = data()
    d1 = filter_normalized_direction(model, seed=1, include_bias=True)
    d2 = filter_normalized_direction(model, seed=2, include_bias=True)
    alphas, betas = np.linspace(-1, 1, 7), np.linspace(-0.5, 1.5, 5)
    fast = loss_grid(model, softmax_cross_entropy, X, y, d1, d2, alphas, betas, method="batched", dtype=np.float64)
    slow = loss_grid(model, softmax_cross_entropy, X, y, d1, d2, alphas, betas, method="per_point",
                     dtype=np.float64)
    assert fast.shape == (5, 7)
    np.testing.assert_allclose(fast, slow, rtol=1e-12)
    # and the naive loop written out here, one point at a time, without the library's helpers
    i, j = 3, 5
    center = parameter_arrays(model)
    probe = small_mlp(act=act)
    for (layer, name), c, u, v in zip(probe.parameters(), center, d1, d2):
        layer.params[name][...] = c + alphas[j] * u + betas[i] * v
    assert fast[i, j] == pytest.approx(softmax_cross_entropy(probe.forward(X), y)[0], rel=1e-12)


def test_float32_grid_is_close_to_float64_and_model_is_untouched():
    model = small_mlp()
    X, y = data()
    before = parameter_vector(model)
    d1, d2 = (filter_normalized_direction(model, seed=s) for s in (1, 2))
    a = np.linspace(-1, 1, 5)
    g32 = loss_grid(model, softmax_cross_entropy, X, y, d1, d2, a, a)
    g64 = loss_grid(model, softmax_cross_entropy, X, y, d1, d2, a, a, dtype=np.float64)
    np.testing.assert_allclose(g32, g64, rtol=1e-5)
    np.testing.assert_array_equal(parameter_vector(model), before)
    loss_grid(model, softmax_cross_entropy, X, y, d1, d2, a, a, method="per_point")
    np.testing.assert_array_equal(parameter_vector(model), before)


def test_batched_grid_with_other_losses_and_a_leading_flatten():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2, 2))
    model = Sequential(Flatten(), Linear(4, 6, seed=0), Tanh(), Linear(6, 1, seed=1))
    assert supports_batched(model)
    d1, d2 = (filter_normalized_direction(model, seed=s) for s in (1, 2))
    a = np.linspace(-1, 1, 4)
    for loss, target in [(mse_loss, rng.standard_normal((20, 1))), (bce_with_logits, (rng.random((20, 1)) > .5) * 1.)]:
        fast = loss_grid(model, loss, X, target, d1, d2, a, a, method="batched", dtype=np.float64)
        slow = loss_grid(model, loss, X, target, d1, d2, a, a, method="per_point", dtype=np.float64)
        np.testing.assert_allclose(fast, slow, rtol=1e-12)


def test_unsupported_model_falls_back_to_per_point():
    class Scale:                      # a parameterized layer the batched path does not know
        def __init__(self):
            self.params, self.grads = {"s": np.array([1.5])}, {"s": np.zeros(1)}

        def forward(self, x):
            return x * self.params["s"]

        def backward(self, dout):
            return dout

        def parameters(self):
            yield self, "s"

    model = Sequential(Linear(4, 3, seed=0), Scale())
    assert not supports_batched(model)
    X, y = data()
    d1 = [np.ones((4, 3)), np.zeros(3), np.array([1.0])]
    d2 = [np.zeros((4, 3)), np.zeros(3), np.array([-1.0])]
    got = loss_on_plane(model, softmax_cross_entropy, X, y, d1, d2, [0.0, 0.5], [0.0, 0.5], dtype=np.float64)
    assert got[0] == pytest.approx(softmax_cross_entropy(model.forward(X), y)[0], rel=1e-12)
    assert got[1] == pytest.approx(softmax_cross_entropy((X @ (model[0].params["W"] + 0.5)) * 1.5, y)[0], rel=1e-12)
    with pytest.raises(ValueError, match="method='batched'"):
        loss_on_plane(model, softmax_cross_entropy, X, y, d1, d2, [0.0], [0.0], method="batched")


def test_bad_directions_and_labels_are_rejected():
    model = small_mlp()
    X, y = data()
    d1 = filter_normalized_direction(model, seed=1)
    with pytest.raises(ValueError, match="direction: expected 6 arrays"):
        loss_on_plane(model, softmax_cross_entropy, X, y, d1[:2], d1, [0.0], [0.0])
    with pytest.raises(ValueError, match="class indices"):
        loss_on_plane(model, softmax_cross_entropy, X, y + 5, d1, d1, [0.0], [0.0])


# --- paths ---------------------------------------------------------------------------------------------------------

def test_path_on_the_plane_projects_to_its_coordinates():
    model = small_mlp()
    center = parameter_arrays(model)
    d1, d2 = (filter_normalized_direction(model, seed=s) for s in (1, 2))
    coords = np.array([[0.0, 0.0], [0.3, -0.2], [-1.0, 0.7]])
    c, u, v = flatten(center), flatten(d1), flatten(d2)
    path = [c + a * u + b * v for a, b in coords]
    np.testing.assert_allclose(project_path(path, center, d1, d2), coords, atol=1e-12)
    # an offset orthogonal to the plane does not move the projection
    rng = np.random.default_rng(0)
    off = rng.standard_normal(c.size)
    basis, _ = np.linalg.qr(np.column_stack([u, v]))
    off -= basis @ (basis.T @ off)
    shifted = [p + off for p in path]
    np.testing.assert_allclose(project_path(shifted, center, d1, d2), coords, atol=1e-10)
    # snapshots given as lists of arrays work the same
    as_lists = [unflatten(p, center) for p in path]
    np.testing.assert_allclose(project_path(as_lists, center, d1, d2), coords, atol=1e-12)


def test_pca_directions_recover_a_path_in_a_plane():
    rng = np.random.default_rng(0)
    c = rng.standard_normal(30)
    e1, e2 = np.linalg.qr(rng.standard_normal((30, 2)))[0].T
    t = np.linspace(0, 1, 12)
    path = [c + 3 * s * e1 + np.sin(4 * s) * e2 for s in t]
    v1, v2, explained = pca_directions(path, c)
    assert explained.sum() == pytest.approx(1.0)
    plane = np.column_stack([e1, e2])
    for v in (v1, v2):
        np.testing.assert_allclose(plane @ (plane.T @ v), v, atol=1e-10)


def test_network_landscape_with_a_training_path():
    X, y = make_moons(80, seed=0)
    model = Sequential(Linear(2, 8, seed=0), Tanh(), Linear(8, 2, seed=1))
    path = [parameter_vector(model)]
    fit(model, softmax_cross_entropy, SGD(model, lr=0.5), X, y, epochs=6, batch_size=16, progress=False,
        callback=lambda h, e: path.append(parameter_vector(model)))
    land = network_landscape(model, softmax_cross_entropy, X, y, steps=11, path=path, dtype=np.float64)
    assert land.losses.shape == (11, 11)
    assert land.losses[5, 5] == pytest.approx(land.center_loss) == pytest.approx(
        softmax_cross_entropy(model.forward(X), y)[0])
    assert land.path.shape == (7, 2)
    np.testing.assert_allclose(land.path[-1], [0, 0], atol=1e-12)     # the last snapshot is the center
    pca = network_landscape(model, softmax_cross_entropy, X, y, steps=9, path=path, directions="pca")
    np.testing.assert_allclose(1.2 * np.abs(pca.path).max(axis=0), [pca.alphas[-1], pca.betas[-1]], rtol=1e-9)
    assert np.all(np.abs(pca.path[:, 0]) <= pca.alphas[-1]) and np.all(np.abs(pca.path[:, 1]) <= pca.betas[-1])
    assert sum(pca.info["explained_variance"]) > 0.5
    fig = land.figure()
    names = [t.name for t in fig.data]
    assert "training path" in names and "trained weights" in names
    contour = next(t for t in fig.data if t.type == "contour")
    np.testing.assert_allclose(np.asarray(contour.z), land.losses)


def test_digits_landscape_runs_batched_and_matches_per_point_on_a_corner():
    X, y = load_digits(dtype=np.float32)
    X, y = X[:300], y[:300]
    model = Sequential(Linear(64, 32, seed=0), ReLU(), Linear(32, 10, seed=1))
    land = network_landscape(model, softmax_cross_entropy, X, y, steps=5, seed=3)
    slow = loss_grid(model, softmax_cross_entropy, X, y, land.d1, land.d2, land.alphas[:2], land.betas[:2],
                     method="per_point", dtype=np.float64)
    np.testing.assert_allclose(land.losses[:2, :2], slow, rtol=1e-5)


# --- the 2-D function figure ---------------------------------------------------------------------------------------

def test_function_grid_orientation_and_errors():
    xs, ys, Z = function_grid(lambda x, y: x + 10 * y, (0, 1), (0, 2), resolution=3)
    assert Z[2, 0] == 20 and Z[0, 2] == 1
    with pytest.raises(ValueError, match="return the shape"):
        function_grid(lambda x, y: 1.0)
    with pytest.raises(ValueError, match="low < high"):
        function_grid(lambda x, y: x, (1, 0))


def test_loss_landscape_2d_draws_surface_contour_and_paths():
    f = lambda x, y: x ** 2 + 10 * y ** 2  # noqa: E731
    path = np.array([[1.0, 1.0], [0.5, -0.5], [0.1, 0.1]])
    fig = loss_landscape_2d(f, (-1, 1), (-1, 1), paths={"GD": path}, resolution=21)
    kinds = [t.type for t in fig.data]
    assert kinds == ["surface", "contour", "scatter", "scatter3d"]
    np.testing.assert_allclose(fig.data[2].x, path[:, 0])
    np.testing.assert_allclose(fig.data[3].z, f(path[:, 0], path[:, 1]))
    with pytest.raises(ValueError, match=r"shape \(T, 2\)"):
        loss_landscape_2d(f, paths={"bad": np.ones((3, 3))})
