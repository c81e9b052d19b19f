"""``Sequential`` (a stack of layers) and ``fit`` (the mini-batch training loop)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .._validate import as_rng
from .layers import Layer
from .losses import bce_with_logits, softmax_cross_entropy


class Sequential(Layer):
    """Layers applied in order; backward runs them in reverse and returns the gradient for the input.

    ``model.train()`` / ``model.eval()`` switch every layer between training and test behaviour (``training``).
    """

    def __init__(self, *layers: Layer):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not (hasattr(layer, "forward") and hasattr(layer, "backward")):
                raise TypeError(f"layer {i}: expected a layer with forward and backward, got {type(layer).__name__}")
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def parameters(self):
        """Yield ``(layer, name)`` for every parameter: the array is ``layer.params[name]``."""
        for layer in self.layers:
            yield from layer.parameters()

    def children(self):
        """The layers, in order: ``train()`` / ``eval()`` (inherited from Layer) set ``training`` on each."""
        return iter(self.layers)

    def train(self, mode: bool = True):
        """Set ``training = mode`` on the model and every layer in it (layers without ``train`` get the attribute
        set); returns the model. Dropout and batch normalization read ``training`` in ``forward``."""
        self.training = bool(mode)
        for layer in self.layers:
            if hasattr(layer, "train"):
                layer.train(mode)
            else:
                layer.training = bool(mode)
        return self

    def zero_grad(self) -> None:
        for layer, name in self.parameters():
            layer.grads[name].fill(0.0)

    def astype(self, dtype):
        for layer in self.layers:
            if hasattr(layer, "astype"):
                layer.astype(dtype)
        return self

    def num_parameters(self) -> int:
        return sum(layer.params[name].size for layer, name in self.parameters())

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"


@dataclass
class History:
    """What ``fit`` records: loss per step, and loss (and accuracy, when the loss has a metric) per epoch."""

    step_loss: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    epoch_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)

    def __repr__(self):
        parts = [f"{len(self.epoch_loss)} epochs, {len(self.step_loss)} steps"]
        if self.epoch_loss:
            parts.append(f"final loss {self.epoch_loss[-1]:.4f}")
        if self.epoch_accuracy:
            parts.append(f"final accuracy {self.epoch_accuracy[-1]:.3f}")
        if self.val_accuracy:
            parts.append(f"validation accuracy {self.val_accuracy[-1]:.3f}")
        return "History(" + ", ".join(parts) + ")"


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose highest score is their label. scores: (N, C); labels: (N,) integers in [0, C)."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    if scores.ndim != 2 or labels.shape != (scores.shape[0],):
        raise ValueError(f"accuracy: expected scores (N, C) and labels (N,), got shapes {scores.shape} and "
                         f"{labels.shape}")
    return float(np.mean(scores.argmax(axis=1) == labels))


def binary_accuracy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of samples on the right side of 0: a logit > 0 says class 1. logits, targets: one shape, targets
    0 or 1 (ints or floats)."""
    logits, targets = np.asarray(logits), np.asarray(targets)
    if logits.shape != targets.shape:
        raise ValueError(f"binary_accuracy: expected logits and targets of one shape, got {logits.shape} and "
                         f"{targets.shape}")
    return float(np.mean((logits > 0) == (targets == 1)))


def metric_for(loss_fn: Callable) -> Callable | None:
    """The accuracy that goes with a loss: ``accuracy`` for ``softmax_cross_entropy``, ``binary_accuracy`` for
    ``bce_with_logits``, None for any other loss (regression, or a loss of your own: pass ``metric=`` to ``fit`` and
    ``evaluate``). The task is said by the loss, never guessed from the dtypes of the data."""
    return {softmax_cross_entropy: accuracy, bce_with_logits: binary_accuracy}.get(loss_fn)


def _metric(metric, loss_fn):
    return metric_for(loss_fn) if isinstance(metric, str) and metric == "auto" else metric


def evaluate(model, loss_fn: Callable, X, y, batch_size: int = 1024, metric="auto"):
    """(loss, accuracy or None) of ``model`` on (X, y), in batches, in evaluation mode; the model's gradients are
    untouched. metric(outputs, y) -> float, or None for no accuracy; "auto": ``metric_for(loss_fn)``."""
    metric = _metric(metric, loss_fn)
    outputs = predict(model, X, batch_size)
    loss, _ = loss_fn(outputs, y)
    return loss, None if metric is None else metric(outputs, y)


def predict(model, X, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs for every row of X, computed in batches, in evaluation mode (``model.eval()``, restored
    after). X keeps its dtype (integer token ids stay integers for an Embedding; the first layer checks its input)."""
    X = np.asarray(X)
    training = getattr(model, "training", None)
    if training and hasattr(model, "eval"):
        model.eval()                    # BatchNorm's running statistics, no dropout; restored below
    try:
        return np.concatenate([model.forward(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])
    finally:
        if training and hasattr(model, "train"):
            model.train()


def _progress(total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="epoch", leave=True)


def fit(model, loss_fn: Callable, optimizer, X, y, epochs: int = 10, batch_size: int = 32, seed=0,
        progress: bool = True, validation=None, callback: Callable | None = None,
        drop_last: bool = False, metric="auto") -> History:
    """Train ``model`` with mini-batches, shuffling each epoch with ``seed``; return a ``History``.

    X: (N, ...) inputs; y: (N,) integer labels or targets of the model's output shape.
    loss_fn(outputs, y_batch) -> (loss, doutputs). optimizer: has ``step()``, updates the model in place.
    validation: optional (X_val, y_val), evaluated after every epoch.
    callback(history, epoch): called after every epoch (dashboards draw live curves with it).
    drop_last: skip each epoch's last batch when it is smaller than batch_size (PyTorch's DataLoader option; a
    batch of a few samples gives BatchNorm useless statistics).
    metric(outputs, y_batch) -> float, recorded as the accuracy; "auto" (the default) is ``metric_for(loss_fn)``:
    argmax accuracy for softmax_cross_entropy, sign accuracy for bce_with_logits, none for other losses.
    The same seed, model and data give the same history, bit for bit.
    """
    X, y = np.asarray(X), np.asarray(y)     # X keeps its dtype: token ids stay integers for an Embedding
    metric = _metric(metric, loss_fn)
    if len(X) != len(y):
        raise ValueError(f"y: expected {len(X)} targets to match X, got {len(y)}")
    if int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError(f"epochs and batch_size: expected positive integers, got {epochs} and {batch_size}")
    rng = as_rng(seed)
    n = len(X)
    if drop_last and n < batch_size:
        raise ValueError(f"drop_last: {n} samples make no full batch of {batch_size}")
    history = History()
    bar = _progress(epochs, progress, "training")
    if hasattr(model, "train"):
        model.train()
    for epoch in range(int(epochs)):
        order = rng.permutation(n)
        losses, right, counted = [], 0.0, 0
        starts = range(0, n - batch_size + 1 if drop_last else n, batch_size)
        for start in starts:
            batch = order[start:start + batch_size]
            xb, yb = X[batch], y[batch]
            model.zero_grad()
            outputs = model.forward(xb)
            loss, dout = loss_fn(outputs, yb)
            model.backward(dout)
            optimizer.step()
            losses.append(loss)
            if metric is not None:
                right += metric(outputs, yb) * len(batch)
                counted += len(batch)
        history.step_loss.extend(losses)
        sizes = [min(batch_size, n - s) for s in starts]
        history.epoch_loss.append(float(np.average(losses, weights=sizes)))
        if counted:
            history.epoch_accuracy.append(right / counted)
        if validation is not None:
            val_loss, val_acc = evaluate(model, loss_fn, *validation, metric=metric)
            history.val_loss.append(val_loss)
            if val_acc is not None:
                history.val_accuracy.append(val_acc)
        if bar is not None:
            postfix = {"loss": f"{history.epoch_loss[-1]:.4f}"}
            if history.epoch_accuracy:
                postfix["acc"] = f"{history.epoch_accuracy[-1]:.3f}"
            bar.set_postfix(postfix, refresh=False)
            bar.update(1)
        if callback is not None:
            callback(history, epoch)
    if bar is not None:
        bar.close()
    return history
