"""What every dashboard shares: its widgets are attributes (tests drive them from Python, no browser needed),
``ui`` is the assembled box, and the object displays as that box in a notebook."""
from __future__ import annotations


class Dashboard:
    """Base class: subclasses set ``self.ui`` (an ipywidgets box) and ``self.fig`` (a go.FigureWidget)."""

    ui = None
    fig = None

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)

    def display(self):
        """Show the dashboard (the same as leaving it as the last expression of a cell)."""
        from IPython.display import display
        display(self.ui)


def log_slider(description: str, value: float, low: float, high: float, readout_format: str = ".2g"):
    """A FloatLogSlider from ``low`` to ``high`` (powers of ten), for learning rates."""
    import ipywidgets as widgets
    import numpy as np

    return widgets.FloatLogSlider(value=value, base=10, min=float(np.log10(low)), max=float(np.log10(high)),
                                  step=0.05, description=description, readout_format=readout_format,
                                  continuous_update=False, style={"description_width": "initial"})


def value_slider(name: str, start: float, low: float, high: float, step: float):
    """A FloatSlider for one input of a formula, live while dragged; a start outside [low, high] is an error
    (ipywidgets would silently clip it, and the figure would disagree with the caller's value)."""
    import ipywidgets as widgets

    if not low <= start <= high:
        raise ValueError(f"{name}: expected a start value in [{low}, {high}], got {start}")
    return widgets.FloatSlider(value=float(start), min=low, max=high, step=step, description=name,
                               continuous_update=True, readout_format=".2f")
