"""bpkit: the helper package of a JupyterLab course on backpropagation.

In a notebook, ``%load_ext bpkit`` sets Plotly to render in JupyterLab and NumPy to print readably.
"""

__version__ = "0.1.0"


def load_ipython_extension(ipython):
    """Called by ``%load_ext bpkit``."""
    from . import _extension
    _extension.load(ipython)


def unload_ipython_extension(ipython):
    """Called by ``%unload_ext bpkit``: undo what loading changed."""
    from . import _extension
    _extension.unload(ipython)
