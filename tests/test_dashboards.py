"""Every dashboard headless: set a slider or click a button in Python, then check the numbers in the figure."""
import numpy as np
import pytest

from bpkit.data import make_moons, make_spirals
from bpkit.nn import SGD, Adagrad, Adam, Linear, ReLU, Sequential, fit, softmax, softmax_cross_entropy
from bpkit.viz.decision_boundary import DecisionBoundary
from bpkit.viz.gd_explorer import VERDICTS, GradientDescentExplorer, classify_run, gradient_descent_1d
from bpkit.viz.optimizer_race import MAX_DRAWN, OptimizerRace, thin, tuned_learning_rates
from bpkit.nn.optim import make_optimizer, make_update
from bpkit.viz.point_optimizers import OPTIMIZERS, best_learning_rates, final_gap, lr_sweep, race, trajectory
from bpkit.viz.surfaces import SURFACES
from bpkit.viz.training_dashboard import TrainingDashboard


# --- gradient-descent explorer -----------------------------------------------------------------------------------

def test_explorer_slider_redraws_the_iterates_of_x_squared():
    g = GradientDescentExplorer(x0=2.5, lr=0.1, steps=20)
    g.lr.value = 0.3
    x = np.asarray(g.fig.data[1].x)
    np.testing.assert_allclose(x, 2.5 * (1 - 2 * 0.3) ** np.arange(21), rtol=1e-12)   # x_{t+1} = (1 - 2 lr) x_t
    np.testing.assert_allclose(g.fig.data[1].y, x ** 2, rtol=1e-12)
    np.testing.assert_allclose(g.fig.data[2].y, x ** 2, rtol=1e-12)
    g.steps.value = 5
    assert len(g.fig.data[1].x) == 6 and list(g.fig.data[2].x) == list(range(6))


@pytest.mark.parametrize("lr, verdict", [(0.005, "too small"), (0.1, "converges"), (0.8, "oscillates"),
                                         (1.2, "diverges")])
def test_explorer_names_the_four_regimes(lr, verdict):
    g = GradientDescentExplorer()
    g.lr.value = lr
    assert g.last_verdict == verdict
    assert VERDICTS[verdict] in g.verdict.value and f"lr = {lr:.3g}" in g.verdict.value


def test_explorer_with_a_custom_function_and_errors():
    f, df = (lambda x: np.cosh(x)), (lambda x: np.sinh(x))
    g = GradientDescentExplorer(f, df, x0=1.0, lr=0.5, steps=3)
    x1 = 1.0 - 0.5 * np.sinh(1.0)
    assert g.fig.data[1].x[1] == pytest.approx(x1)
    assert g.fig.data[1].y[1] == pytest.approx(np.cosh(x1))
    with pytest.raises(ValueError, match="both"):
        GradientDescentExplorer(f=f)
    assert classify_run(*(np.array(v) for v in ([1.0, 3.0], [1.0, 9.0], [2.0, 6.0]))) == "diverges"
    assert len(gradient_descent_1d(lambda x: 2 * x, 1.0, 10.0, 100)) < 101      # stops once it has blown up


# --- optimizer race -------------------------------------------------------------------------------------------------

def same_lr(lr, surface="ill-conditioned quadratic"):
    return {surface: {name: lr for name in OPTIMIZERS}}


def test_race_paths_follow_the_update_rules_on_the_quadratic():
    race = OptimizerRace("ill-conditioned quadratic", learning_rates=same_lr(0.05), steps=30, show_3d=True)
    x0, y0 = SURFACES["ill-conditioned quadratic"].start
    t = np.arange(31)
    flat, lifted = race.path_traces("SGD")
    # f = (x^2 + 20 y^2) / 2: SGD multiplies x by (1 - lr) and y by (1 - 20 lr) each step
    np.testing.assert_allclose(flat.x, x0 * (1 - 0.05) ** t, rtol=1e-12)
    np.testing.assert_allclose(flat.y, y0 * (1 - 20 * 0.05) ** t, atol=1e-12)
    np.testing.assert_allclose(lifted.z, 0.5 * (np.asarray(flat.x) ** 2 + 20 * np.asarray(flat.y) ** 2))
    # Adam's and Adagrad's first steps move every coordinate by lr against the gradient's sign
    for name in ("Adam", "Adagrad"):
        path, _ = race.path_traces(name)
        assert path.x[1] == pytest.approx(x0 + 0.05, rel=1e-6) and path.y[1] == pytest.approx(y0 - 0.05, rel=1e-6)
    assert "0.05" in race.summary.value


def test_race_lr_scale_multiplies_every_tuned_learning_rate():
    tuned = {"ill-conditioned quadratic": {name: 0.01 * (k + 1) for k, name in enumerate(OPTIMIZERS)}}
    race = OptimizerRace(learning_rates=tuned, steps=10)
    race.lr_scale.value = 2.0
    assert race.current_learning_rates() == pytest.approx({n: 2 * lr for n, lr in tuned[race.surface.value].items()})
    x0 = SURFACES["ill-conditioned quadratic"].start[0]
    assert race.path_traces("SGD")[0].x[1] == pytest.approx(x0 - 0.02 * x0, rel=1e-12)


def test_race_beta1_slider_changes_only_the_optimizers_that_use_it():
    race = OptimizerRace("ill-conditioned quadratic", learning_rates=same_lr(0.05), steps=20)
    before = {name: np.array(race.path_traces(name)[0].x) for name in race.optimizers}
    race.beta1.value = 0.5
    after = {name: np.array(race.path_traces(name)[0].x) for name in race.optimizers}
    for name in ("SGD", "Adagrad", "RMSProp"):
        np.testing.assert_array_equal(after[name], before[name])
    for name in ("Momentum", "Nesterov", "Adam"):
        assert not np.allclose(after[name], before[name])
    # Momentum (PyTorch's rule, buf = g at the first step): x2 = x1 - lr (beta1 g0 + g1)
    lr, (x0, _) = 0.05, SURFACES["ill-conditioned quadratic"].start
    x1 = x0 - lr * x0
    assert after["Momentum"][2] == pytest.approx(x1 - lr * (0.5 * x0 + x1), rel=1e-12)
    # Nesterov: step along g + beta1 buf, buf = g at the first step: x1 = x0 - lr (1 + beta1) x0
    assert after["Nesterov"][1] == pytest.approx(x0 - lr * 1.5 * x0, rel=1e-12)


def test_race_surface_dropdown_redraws_the_landscape_at_its_tuned_learning_rates():
    race = OptimizerRace(steps=10, show_3d=True)
    race.surface.value = "saddle"
    s = SURFACES["saddle"]
    contour = race.fig.data[0]
    X, Y = np.meshgrid(contour.x, contour.y)
    np.testing.assert_allclose(contour.z, s.f(X, Y), rtol=1e-12)
    np.testing.assert_allclose(race.fig3d.data[0].z, s.f(X, Y), rtol=1e-12)
    assert race.current_learning_rates() == tuned_learning_rates("saddle")
    assert race.path_traces("SGD")[0].x[0] == s.start[0]
    race.surface.value = "rosenbrock"                      # drawn in log scale: log10(1 + f - min f)
    Z = SURFACES["rosenbrock"].f(*np.meshgrid(race.fig.data[0].x, race.fig.data[0].y))
    np.testing.assert_allclose(race.fig3d.data[0].z, np.log10(1 + Z - Z.min()), rtol=1e-12)
    assert list(race.fig3d.layout.scene.xaxis.range) == list(SURFACES["rosenbrock"].x_range)


def test_race_reports_divergence_and_keeps_the_landscape_in_view():
    race = OptimizerRace("rosenbrock", learning_rates=same_lr(0.1, "rosenbrock"), steps=50, show_3d=True)
    assert len(race.paths["SGD"]) < 51
    assert "diverged" in race.summary.value
    _, lifted = race.path_traces("SGD")
    x = np.asarray(lifted.x, dtype=float)
    lo, hi = SURFACES["rosenbrock"].x_range
    assert np.all(np.isnan(x) | ((x >= lo) & (x <= hi)))      # points outside the box are gaps
    assert list(race.fig3d.layout.scene.zaxis.range) == pytest.approx(list(race._z_range))


def test_race_3d_view_is_drawn_only_when_asked():
    race = OptimizerRace(learning_rates=same_lr(0.05), steps=10)
    assert race._box3d.children == () and race.fig3d.data[1].x is None
    race.show_3d.value = True
    assert race._box3d.children == (race.fig3d,)
    np.testing.assert_allclose(race.fig3d.data[1].x, race.fig.data[1].x)


def test_race_draws_at_most_max_drawn_points_but_runs_every_step():
    race = OptimizerRace(learning_rates=same_lr(0.01), steps=990)
    assert len(race.paths["SGD"]) == 991
    drawn = np.asarray(race.path_traces("SGD")[0].x)
    assert len(drawn) <= MAX_DRAWN and drawn[-1] == race.paths["SGD"][-1, 0]
    np.testing.assert_array_equal(thin(np.arange(10).reshape(5, 2), 100), np.arange(10).reshape(5, 2))


def test_lr_sweep_and_best_learning_rates():
    lrs = np.array([0.01, 0.05, 0.09, 0.2])
    sweep = lr_sweep("ill-conditioned quadratic", lrs, 40, optimizers=("SGD",))
    assert np.isinf(sweep["SGD"][-1])                   # lr 0.2 > 2 / 20: the steep direction diverges
    x0, y0 = SURFACES["ill-conditioned quadratic"].start
    expected = 0.5 * ((x0 * (1 - 0.05) ** 40) ** 2 + 20 * (y0 * (1 - 20 * 0.05) ** 40) ** 2)
    assert sweep["SGD"][1] == pytest.approx(expected, rel=1e-9)
    assert best_learning_rates(sweep, lrs) == {"SGD": 0.09}
    assert final_gap("saddle", np.array([[0.0, 1.0]]), 0) == 0.0      # at a minimum, f - min f = 0


def test_named_optimizers_and_the_race_path_use_the_library_rules():
    model = Linear(2, 1, seed=0)
    assert isinstance(make_optimizer("Adam", model, 0.1, 0.8, 0.9), Adam)
    assert isinstance(make_optimizer("Adagrad", model, 0.1), Adagrad)
    assert make_optimizer("Momentum", model, 0.1, 0.7).momentum == 0.7
    assert make_optimizer("Nesterov", model, 0.1, 0.7).nesterov
    assert not make_optimizer("Nesterov", model, 0.1, 0.0).momentum       # no momentum: plain SGD
    with pytest.raises(ValueError, match="expected one of"):
        make_optimizer("Adadelta", model, 0.1)
    path = trajectory("saddle", "SGD", lr=0.01, steps=3, start=(1.0, 0.5))
    x, y = 1.0, 0.5
    for k in range(1, 4):
        x, y = x - 0.01 * 10 * x, y - 0.01 * (y ** 3 - y)
        assert path[k] == pytest.approx([x, y], rel=1e-12)
    assert race("saddle", ("SGD", "Adam"), {"SGD": 0.01, "Adam": 0.02}, 3, start=(1.0, 0.5))["SGD"] == pytest.approx(path)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_race_path_is_the_library_optimizers_path_bit_for_bit(name):
    """The race steps a bare (2,) array with the in-place rule; the class on a layer gives the same numbers."""
    path = trajectory("ill-conditioned quadratic", name, lr=0.02, steps=25, beta1=0.8, beta2=0.95)
    layer = Linear(2, 1, seed=0)
    layer.params["b"][...] = 0.0
    layer.params["W"][:, 0] = path[0]
    opt = make_optimizer(name, layer, 0.02, 0.8, 0.95)
    from bpkit.viz.surfaces import get_surface
    surface = get_surface("ill-conditioned quadratic")
    for k in range(1, len(path)):
        layer.grads["W"][:, 0] = surface.grad(*layer.params["W"][:, 0])
        layer.grads["b"][...] = 0.0
        opt.step()
        np.testing.assert_array_equal(layer.params["W"][:, 0], path[k])
    step_ = make_update(name, 0.02, 0.8, 0.95)
    w, state = path[0].copy(), {}
    step_(w, np.array(surface.grad(*w)), state)
    np.testing.assert_array_equal(w, path[1])


# --- training dashboard -----------------------------------------------------------------------------------------

def make_model(seed):
    return Sequential(Linear(2, 16, seed=seed), ReLU(), Linear(16, 2, seed=seed + 1))


def test_train_button_draws_the_same_curves_as_fit():
    X, y = make_moons(120, seed=0)
    Xv, yv = make_moons(60, seed=1)
    dash = TrainingDashboard(make_model, softmax_cross_entropy, X, y, validation=(Xv, yv), epochs=3)
    dash.lr.value, dash.batch_size.value, dash.epochs.value = 0.2, 16, 4
    dash.train_button.click()
    reference = make_model(0)
    expected = fit(reference, softmax_cross_entropy, SGD(reference, 0.2), X, y, epochs=4, batch_size=16, seed=0,
                   progress=False, validation=(Xv, yv))
    np.testing.assert_allclose(dash.fig.data[0].y, expected.epoch_loss, rtol=1e-12)
    np.testing.assert_allclose(dash.fig.data[1].y, expected.val_loss, rtol=1e-12)
    np.testing.assert_allclose(dash.fig.data[2].y, expected.epoch_accuracy, rtol=1e-12)
    np.testing.assert_allclose(dash.fig.data[3].y, expected.val_accuracy, rtol=1e-12)
    assert list(dash.fig.data[0].x) == [1, 2, 3, 4]
    assert dash.progress.value == dash.progress.max == 4
    assert len(dash.history.step_loss) == 4 * 8          # 120 / 16 -> 8 batches per epoch
    assert not dash.train_button.disabled and "done" in dash.status.value


def test_second_run_replaces_the_curves_and_uses_the_chosen_optimizer():
    X, y = make_moons(64, seed=0)
    dash = TrainingDashboard(make_model, softmax_cross_entropy, X, y, epochs=5)
    dash.train_button.click()
    dash.epochs.value, dash.optimizer.value, dash.lr.value = 2, "Adam", 0.01
    dash.train_button.click()
    reference = make_model(0)
    expected = fit(reference, softmax_cross_entropy, Adam(reference, 0.01), X, y, epochs=2, batch_size=32,
                   progress=False)
    np.testing.assert_allclose(dash.fig.data[0].y, expected.epoch_loss, rtol=1e-12)
    assert len(dash.fig.data[1].y) == 0                   # no validation set, no validation curve
    assert dash.batch_size.options[-1] == 64 and dash.batch_size.options[:3] == (1, 2, 4)


# --- decision boundary ------------------------------------------------------------------------------------------

def test_decision_boundary_heatmap_is_the_model_probability_and_follows_training():
    X, y = make_moons(100, seed=0)
    model = make_model(0)
    boundary = DecisionBoundary(model, X, y, resolution=30, every=2)
    heat = boundary.fig.data[0]
    gx, gy = np.meshgrid(heat.x, heat.y)
    p1 = softmax(model.forward(np.column_stack([gx.ravel(), gy.ravel()])))[:, 1].reshape(30, 30)
    np.testing.assert_allclose(heat.z, p1, rtol=1e-12)
    before = np.array(heat.z)
    fit(model, softmax_cross_entropy, SGD(model, 0.5), X, y, epochs=4, progress=False, callback=boundary.callback)
    p1 = softmax(model.forward(np.column_stack([gx.ravel(), gy.ravel()])))[:, 1].reshape(30, 30)
    np.testing.assert_allclose(boundary.fig.data[0].z, p1, rtol=1e-12)
    assert not np.allclose(boundary.fig.data[0].z, before)
    assert "epoch 4" in boundary.fig.layout.title.text


def test_decision_boundary_many_classes_and_bad_input():
    X, y = make_spirals(20, classes=3, seed=0)
    model = Sequential(Linear(2, 8, seed=0), ReLU(), Linear(8, 3, seed=1))
    boundary = DecisionBoundary(model, X, y, resolution=10)
    assert set(np.unique(boundary.values())) <= {0.0, 1.0, 2.0}
    assert len(boundary.fig.data) == 4                    # heatmap + one scatter per class
    with pytest.raises(ValueError, match="2 features"):
        DecisionBoundary(model, np.zeros((5, 3)), np.zeros(5, int))


def test_race_remembers_runs_and_a_shorter_race_is_the_prefix_of_a_longer_one():
    race = OptimizerRace(learning_rates=same_lr(0.01), steps=500)
    assert race.races_run == 1
    race.steps.value = 100                                  # a prefix of the remembered run: no new run
    assert race.races_run == 1
    fresh = OptimizerRace(learning_rates=same_lr(0.01), steps=100)
    for name in race.optimizers:
        np.testing.assert_array_equal(race.paths[name], fresh.paths[name])
    race.steps.value = 600                                  # longer than any remembered run: runs again
    assert race.races_run == 2 and len(race.paths["SGD"]) == 601
    race.lr_scale.value = 2.0                               # a new setting runs; going back does not
    assert race.races_run == 3
    race.lr_scale.value = 1.0
    assert race.races_run == 3
    np.testing.assert_array_equal(race.paths["Adam"], OptimizerRace(learning_rates=same_lr(0.01),
                                                                    steps=600).paths["Adam"])
