"""fit(): learns a nonlinear set, reproduces itself bit for bit, reports accuracy, validates input."""
import numpy as np
import pytest

import bpkit.nn as nn
from bpkit.data import make_moons, make_spirals, train_test_split


def spiral_mlp(seed):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(2, 64, seed=rng), nn.ReLU(), nn.Linear(64, 64, seed=rng), nn.ReLU(),
                         nn.Linear(64, 3, seed=rng))


def train_spirals(seed=0):
    X, y = make_spirals(100, classes=3, noise=0.2, seed=0)
    model = spiral_mlp(seed)
    history = nn.fit(model, nn.softmax_cross_entropy, nn.Adam(model, lr=1e-2), X, y, epochs=60,
                     batch_size=32, seed=seed, progress=False)
    return model, history, X, y


def test_mlp_learns_three_spirals():
    model, history, X, y = train_spirals()
    assert history.epoch_accuracy[-1] >= 0.95
    _, acc = nn.evaluate(model, nn.softmax_cross_entropy, X, y)
    assert acc >= 0.95
    assert history.epoch_loss[-1] < history.epoch_loss[0] / 5
    assert len(history.step_loss) == 60 * 10  # 300 samples in batches of 32 -> 10 steps per epoch


def test_same_seed_same_history_bit_for_bit():
    _, first, _, _ = train_spirals(seed=4)
    _, second, _, _ = train_spirals(seed=4)
    assert first.step_loss == second.step_loss
    assert first.epoch_accuracy == second.epoch_accuracy
    _, other, _, _ = train_spirals(seed=5)
    assert other.step_loss != first.step_loss


def test_moons_with_bce_and_validation():
    X, y = make_moons(300, noise=0.1, seed=1)
    X_train, X_val, y_train, y_val = train_test_split(X, y, 0.3, seed=0)
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(2, 32, seed=rng), nn.Tanh(), nn.Linear(32, 1, seed=rng))
    history = nn.fit(model, nn.bce_with_logits, nn.Adam(model, lr=2e-2), X_train, y_train[:, None],
                     epochs=40, batch_size=32, progress=False, validation=(X_val, y_val[:, None]))
    assert history.val_accuracy[-1] >= 0.95 and len(history.val_loss) == 40


def test_callback_sees_every_epoch():
    X, y = make_spirals(20, seed=0)
    model = spiral_mlp(0)
    seen = []
    nn.fit(model, nn.softmax_cross_entropy, nn.SGD(model, lr=0.1), X, y, epochs=3, batch_size=8,
           progress=False, callback=lambda h, epoch: seen.append((epoch, len(h.epoch_loss))))
    assert seen == [(0, 1), (1, 2), (2, 3)]


def test_float32_training_keeps_float32():
    X, y = make_spirals(30, seed=0)
    model = spiral_mlp(0).astype(np.float32)
    nn.fit(model, nn.softmax_cross_entropy, nn.Adam(model), X.astype(np.float32), y, epochs=2,
           batch_size=16, progress=False)
    assert all(layer.params[name].dtype == np.float32 for layer, name in model.parameters())


def test_progress_bar_is_shown_and_can_be_turned_off(capsys):
    X, y = make_spirals(10, seed=0)
    model = spiral_mlp(0)
    nn.fit(model, nn.softmax_cross_entropy, nn.SGD(model, lr=0.1), X, y, epochs=2, progress=True)
    assert "training" in capsys.readouterr().err
    nn.fit(model, nn.softmax_cross_entropy, nn.SGD(model, lr=0.1), X, y, epochs=2, progress=False)
    assert capsys.readouterr().err == ""


def test_fit_rejects_mismatched_data():
    model = spiral_mlp(0)
    with pytest.raises(ValueError, match="expected 5 targets.*got 4"):
        nn.fit(model, nn.softmax_cross_entropy, nn.SGD(model, lr=0.1), np.zeros((5, 2)), np.zeros(4, int))
    with pytest.raises(ValueError, match="positive integers"):
        nn.fit(model, nn.softmax_cross_entropy, nn.SGD(model, lr=0.1), np.zeros((5, 2)), np.zeros(5, int),
               epochs=0)


def test_datasets_are_seeded_and_shaped():
    X1, y1 = make_moons(50, seed=3)
    X2, y2 = make_moons(50, seed=3)
    np.testing.assert_array_equal(X1, X2)
    assert X1.shape == (50, 2) and set(np.unique(y1)) == {0, 1}
    Xs, ys = make_spirals(40, classes=4, seed=0)
    assert Xs.shape == (160, 2) and np.bincount(ys).tolist() == [40] * 4


def test_split_is_stratified_and_disjoint():
    X = np.arange(100).reshape(50, 2)
    y = np.repeat([0, 1], 25)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, 0.2, seed=0)
    assert len(X_te) == 10 and np.bincount(y_te).tolist() == [5, 5]
    assert not set(X_tr[:, 0]) & set(X_te[:, 0])


def test_digits_load_offline():
    from bpkit.data import load_digits
    X, y = load_digits()
    assert X.shape == (1797, 64) and 0 <= X.min() and X.max() <= 1
    images, _ = load_digits(images=True)
    assert images.shape == (1797, 1, 8, 8)
    assert np.bincount(y).min() > 150


def test_accuracy_is_said_by_the_loss_not_guessed_from_dtypes():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3))
    targets = (X[:, :1] > 0).astype(np.int64)          # 0/1 integers, but a regression loss: no accuracy
    model = nn.Sequential(nn.Linear(3, 1, seed=0))
    history = nn.fit(model, nn.mse_loss, nn.SGD(model, lr=0.1), X, targets, epochs=2, progress=False)
    assert history.epoch_accuracy == [] and nn.evaluate(model, nn.mse_loss, X, targets)[1] is None
    # float 0/1 targets with bce_with_logits: the loss says "binary", so accuracy is recorded
    history = nn.fit(model, nn.bce_with_logits, nn.SGD(model, lr=0.5), X, targets.astype(float), epochs=20,
                     progress=False)
    assert history.epoch_accuracy[-1] > 0.9
    # a loss of one's own gets the metric it is given
    history = nn.fit(model, lambda out, t: nn.bce_with_logits(out, t), nn.SGD(model, lr=0.5), X, targets,
                     epochs=1, progress=False, metric=nn.binary_accuracy)
    assert len(history.epoch_accuracy) == 1
    assert nn.metric_for(nn.softmax_cross_entropy) is nn.accuracy and nn.metric_for(nn.mse_loss) is None
    assert nn.accuracy(np.array([[0.1, 0.9], [2.0, 1.0]]), np.array([1, 1])) == 0.5
    with pytest.raises(ValueError, match="one shape"):
        nn.binary_accuracy(np.zeros((4, 1)), np.zeros(4))
