"""Train a network from sliders: learning rate, batch size, epochs, optimizer; a Train button; a progress bar; live
loss and accuracy curves (training and validation) drawn from ``bpkit.nn.fit``'s per-epoch callback."""
from __future__ import annotations

import numpy as np

from ..nn.model import fit
from ..nn.optim import OPTIMIZERS, make_optimizer
from ._dashboard import Dashboard, log_slider


class TrainingDashboard(Dashboard):
    """Widgets: ``lr`` (FloatLogSlider), ``batch_size`` (SelectionSlider of powers of two up to N, then N),
    ``epochs`` (IntSlider), ``optimizer`` (Dropdown), ``train_button`` (Button), ``progress`` (IntProgress),
    ``status`` (HTML). Figure ``fig``: data[0] training loss, data[1] validation loss, data[2] training accuracy,
    data[3] validation accuracy, each against the epoch (1, 2, ...).

    make_model(seed) -> a fresh model: every press of Train starts again from the same initial weights, so runs with
    different settings can be compared. loss_fn, X, y as for ``fit``; validation: optional (X_val, y_val).
    After a run, ``model`` and ``history`` hold the result.
    """

    def __init__(self, make_model, loss_fn, X, y, validation=None, lr: float = 0.1, batch_size: int = 32,
                 epochs: int = 20, optimizer: str = "SGD", seed: int = 0, max_epochs: int = 200):
        import ipywidgets as widgets
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        if not callable(make_model):
            raise TypeError(f"make_model: expected a function seed -> model, got {type(make_model).__name__}")
        self.make_model, self.loss_fn, self.X, self.y = make_model, loss_fn, X, y
        self.validation, self.seed = validation, seed
        self.model = self.history = None
        sizes = [2 ** k for k in range(int(np.log2(len(X))) + 1)]
        sizes += [len(X)] if sizes[-1] != len(X) else []
        self.lr = log_slider("learning rate", lr, 1e-4, 1.0, ".2g")
        self.batch_size = widgets.SelectionSlider(options=sizes, value=min(sizes, key=lambda s: abs(s - batch_size)),
                                                  description="batch size", continuous_update=False)
        self.epochs = widgets.IntSlider(value=epochs, min=1, max=max_epochs, description="epochs",
                                        continuous_update=False)
        self.optimizer = widgets.Dropdown(options=list(OPTIMIZERS), value=optimizer, description="optimizer")
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play")
        self.progress = widgets.IntProgress(value=0, min=0, max=epochs, description="epoch 0")
        self.status = widgets.HTML("Press <b>Train</b> to train a fresh network with these settings.")
        fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
        for col, what in ((1, "loss"), (1, "validation loss"), (2, "accuracy"), (2, "validation accuracy")):
            dash = "dash" if what.startswith("validation") else "solid"
            color = "#1f77b4" if col == 1 else "#2ca02c"
            fig.add_trace(go.Scatter(x=[], y=[], mode="lines+markers", name=what,
                                     line={"dash": dash, "color": color}, marker={"size": 4}), row=1, col=col)
        fig.update_xaxes(title_text="epoch")
        fig.update_yaxes(type="log", row=1, col=1)
        fig.update_yaxes(range=[0, 1.02], row=1, col=2)
        fig.update_layout(height=360, margin={"t": 40, "b": 40}, legend={"orientation": "h", "y": -0.2})
        self.fig = go.FigureWidget(fig)
        self.train_button.on_click(lambda _: self.train())
        self.ui = widgets.VBox([widgets.HBox([self.lr, self.batch_size]),
                                widgets.HBox([self.epochs, self.optimizer]),
                                widgets.HBox([self.train_button, self.progress]), self.status, self.fig])

    def train(self):
        """Train a fresh model with the current settings, drawing the curves after every epoch; return the History."""
        self.model = self.make_model(self.seed)
        opt = make_optimizer(self.optimizer.value, self.model, self.lr.value)
        self.progress.max, self.progress.value = self.epochs.value, 0
        with self.fig.batch_update():
            for trace in self.fig.data:
                trace.x, trace.y = [], []
        self.train_button.disabled = True
        self.status.value = "training..."
        try:
            self.history = fit(self.model, self.loss_fn, opt, self.X, self.y, epochs=self.epochs.value,
                               batch_size=self.batch_size.value, seed=self.seed, progress=False,
                               validation=self.validation, callback=self._on_epoch)
        finally:
            self.train_button.disabled = False
        h = self.history
        text = f"done: {len(h.epoch_loss)} epochs, {len(h.step_loss)} steps; final loss {h.epoch_loss[-1]:.4f}"
        if h.val_accuracy:
            text += f", validation accuracy {h.val_accuracy[-1]:.3f}"
        if not np.isfinite(h.epoch_loss[-1]):
            text += " (the loss is not finite: the learning rate is too large)"
        self.status.value = text
        return h

    def _on_epoch(self, history, epoch: int) -> None:
        epochs = np.arange(1, epoch + 2)
        with self.fig.batch_update():
            for trace, values in zip(self.fig.data, (history.epoch_loss, history.val_loss,
                                                     history.epoch_accuracy, history.val_accuracy)):
                if values:
                    trace.x, trace.y = epochs, np.array(values)
        self.progress.value = epoch + 1
        self.progress.description = f"epoch {epoch + 1}"
