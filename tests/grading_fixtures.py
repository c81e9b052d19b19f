"""Submissions for the grading tests: a right answer, wrong ones, broken files and hostile notebooks (ex03)."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

FORWARD = '''
def linear_forward(x, W, b):
    return x @ W + b
'''
BACKWARD = '''
def linear_backward(dout, x, W):
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)
'''
RELU = '''
def relu_backward(dout, x):
    return dout * (x > 0)
'''
SIGMOID = '''
def sigmoid_backward(dout, x):
    s = 1 / (1 + np.exp(-x))
    return dout * s * (1 - s)
'''
RIGHT = "import numpy as np\n" + FORWARD + BACKWARD + RELU + SIGMOID
ZEROS = '''import numpy as np
def linear_forward(x, W, b):
    return np.zeros((x.shape[0], W.shape[1]))
def linear_backward(dout, x, W):
    return np.zeros_like(x), np.zeros_like(W), np.zeros(W.shape[1])
def relu_backward(dout, x):
    return np.zeros_like(x)
def sigmoid_backward(dout, x):
    return np.zeros_like(x)
'''


def write_notebook(path: Path, *cells: str) -> Path:
    """A valid nbformat-4 notebook with a markdown title and the given code cells."""
    nb = new_notebook(cells=[new_markdown_cell("# ex03: matrix calculus")] + [new_code_cell(c) for c in cells])
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def hostile_class(folder: Path, outdir: Path) -> dict[str, str]:
    """Write the hostile batch into ``folder``; returns student -> what the submission does."""
    folder = Path(folder)
    src = Path(__file__).resolve().parents[1] / "exercises" / "source"
    secrets_to_steal = [str(folder / "right_a.ipynb"), str(outdir / "grades.csv"), str(outdir / ".grading-secret"),
                        str(src), "/proc/1/cmdline", "/etc/passwd", str(Path(__file__).resolve())]
    peek = f'''
import os, glob
found = []
for target in {secrets_to_steal!r} + glob.glob({str(folder)!r} + "/*.ipynb"):
    try:
        if os.path.isdir(target):
            found.append(target + ": " + ",".join(os.listdir(target)))
        else:
            with open(target) as fh:
                found.append(target + ": " + fh.read(40))
    except OSError as exc:
        pass
try:
    os.kill(os.getppid(), 9)
    found.append("killed the worker")
except OSError:
    pass
raise RuntimeError("LEAKED " + repr(found) if found else "nothing readable")
'''
    steal = f'''
import json
nb = json.load(open({str(folder / "right_a.ipynb")!r}))
for cell in nb["cells"]:
    if cell["cell_type"] == "code":
        exec("".join(cell["source"]))
'''
    write_outdir = f'''
import os
for target in [{str(outdir / "grades.csv")!r}, {str(outdir / "results" / "right_a.json")!r},
               {str(outdir / "results" / "zz_fake.json")!r}, {str(folder / "right_b.ipynb")!r}]:
    try:
        with open(target, "w") as fh:
            fh.write("score: 100")
    except OSError:
        pass
'''
    patch = '''
import numpy as np, builtins, math
np.allclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.array_equal = lambda *a, **k: True
np.isclose = lambda *a, **k: np.ones(1, bool)
np.abs = lambda x, *a, **k: 0 * x
np.max = lambda *a, **k: 0.0
builtins.abs = lambda x: 0
builtins.all = lambda x: True
math.isclose = lambda *a, **k: True
try:
    np.ndarray.__eq__ = lambda self, other: True
except TypeError:
    pass
'''
    rigged = '''
import numpy as np
class Always:
    shape = (1,)
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __sub__(self, other): return 0
    def __abs__(self): return 0
class Liar(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), bool)
    def __sub__(self, other): return np.zeros(np.shape(other))
    def __array_ufunc__(self, *a, **k): return np.zeros(1)
def linear_forward(x, W, b):
    return Always()
def linear_backward(dout, x, W):
    z = lambda a: np.zeros(np.shape(a)).view(Liar)
    return z(x), z(W), z(W[0])
def relu_backward(dout, x):
    return Always()
def sigmoid_backward(dout, x):
    return np.zeros(np.shape(x)).view(Liar)
'''
    frame_walk = '''
import sys, gc
def linear_forward(x, W, b):
    return sys._getframe(1).f_globals["linear_forward"](x, W, b)
def linear_backward(dout, x, W):
    refs = [o for o in gc.get_objects() if callable(o) and getattr(o, "__name__", "") == "linear_backward"
            and o is not linear_backward]
    return refs[0](dout, x, W)
from bpkit.nn.layers import Linear
def relu_backward(dout, x):
    import bpkit.nn as nn
    return nn.ReLU().backward(dout)
'''
    subs = {
        "right_a": ("right answer", ["%load_ext bpkit\nfrom bpkit.exercises import check", RIGHT,
                                     "check(linear_backward)\n!ls -la"]),
        "wrong_dW": ("dW transposed", [RIGHT.replace("x.T @ dout", "dout.T @ x")]),
        "zeros": ("returns zeros everywhere", [ZEROS]),
        "zeros_patched": ("returns zeros and patches numpy/builtins", [patch, ZEROS, patch]),
        "loop_cell": ("endless loop in a top-level cell after defining everything", [RIGHT, "while True:\n    pass"]),
        "loop_fn": ("endless loop inside relu_backward", [RIGHT.replace("return dout * (x > 0)", "while True: pass")]),
        "loop_hard": ("ignores SIGALRM and loops", [RIGHT, "import signal\nsignal.signal(signal.SIGALRM, "
                                                    "signal.SIG_IGN)\nwhile True:\n    pass"]),
        "memory_cell": ("allocates 1e12 floats in a cell", [RIGHT, "big = np.ones((10**6, 10**6))"]),
        "memory_fn": ("grows a list until memory runs out in linear_backward",
                      [RIGHT.replace("    return dout @ W.T, x.T @ dout, dout.sum(axis=0)",
                                     "    junk = []\n    while True:\n        junk.append(np.empty(2 * 10**7))")]),
        "fork_loop": ("forks until the process limit", [RIGHT, "import os, time\nn = 0\nwhile n < 10000:\n"
                      "    try:\n        pid = os.fork()\n    except OSError:\n        break\n    if pid == 0:\n"
                      "        time.sleep(60)\n        os._exit(0)\n    n += 1\nraise RuntimeError(f'forked {n}')"]),
        "os_exit": ("os._exit(3) inside sigmoid_backward",
                    [RIGHT.replace("    s = 1 / (1 + np.exp(-x))", "    import os\n    os._exit(3)")]),
        "sys_exit": ("sys.exit() in a cell and inside relu_backward",
                     [RIGHT.replace("    return dout * (x > 0)", "    import sys\n    sys.exit(0)"),
                      "import sys\nsys.exit(1)"]),
        "raises": ("linear_forward raises", [RIGHT.replace("    return x @ W + b", "    raise ValueError('oops')")]),
        "rigged": ("returns objects with rigged __eq__ and ndarray subclasses", [rigged]),
        "peek": ("reads the source notebooks, other students' files, OUTDIR, /proc; signals the worker",
                 [RIGHT, peek]),
        "steal": ("execs another student's notebook", [steal]),
        "write_out": ("writes into OUTDIR and another student's file", [RIGHT, write_outdir]),
        "fake_print": ("prints fake result lines, returns zeros",
                       [ZEROS, "import sys\nprint('score: 100')\nprint('{\"score\": 10, \"status\": \"ok\"}')\n"
                        "print('score: 100', file=sys.stderr)"]),
        "deleted": ("deletes linear_backward after defining it", [RIGHT, "del linear_backward"]),
        "warns": ("right, but prints warnings to stderr", [RIGHT.replace(
            "    return dout * (x > 0)", "    import warnings, sys\n    warnings.warn('careful')\n"
            "    print('DeprecationWarning: foo', file=sys.stderr)\n    return dout * (x > 0)"),
            "import warnings\nwarnings.warn('cell warning')\nprint('noise')"]),
        "frame_walk": ("looks for the reference via frames, gc and bpkit imports", [frame_walk, SIGMOID.replace(
            "np.exp", "__import__('numpy').exp")]),
        "syntax": ("a syntax error in the only cell", [RIGHT + "\ndef broken(:\n    pass"]),
        "missing_fn": ("defines only linear_forward", ["import numpy as np\n" + FORWARD]),
        "signature": ("linear_backward(dout, x)", [RIGHT.replace("def linear_backward(dout, x, W):",
                                                                "def linear_backward(dout, x):\n    W = x")]),
        "nan": ("returns NaN everywhere", [ZEROS.replace("np.zeros_like(x)", "np.full(x.shape, np.nan)")]),
        "wrong_shape": ("dx transposed", [RIGHT.replace("return dout @ W.T,", "return (dout @ W.T).T,")]),
        "huge": ("returns 8 MB (the tests' output limit is 4 MB)",
                 [RIGHT.replace("    return x @ W + b", "    return np.zeros(10**6)")]),
        "right_b": ("right answer, again", [RIGHT]),
        "template_imports": ("imports bpkit helpers at the top (as a template might) but does its own work",
                             ["%load_ext bpkit\nfrom bpkit.gradcheck import numerical_gradient\n"
                              "from bpkit.nn import Linear\nimport numpy as np", FORWARD + BACKWARD + RELU + SIGMOID]),
        "numerical": ("computes linear_backward with bpkit's numerical_gradient", [RIGHT.replace(
            "    return dout @ W.T, x.T @ dout, dout.sum(axis=0)",
            "    from bpkit.gradcheck import numerical_gradient\n"
            "    dx = numerical_gradient(lambda v: np.sum((v @ W) * dout), x)\n"
            "    return dx, x.T @ dout, dout.sum(axis=0)")]),
        "right_c": ("right answer, in three cells, with Plotly figures and widgets",
                    ["import numpy as np\nimport plotly.graph_objects as go\nimport ipywidgets as widgets",
                     FORWARD + BACKWARD, "fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))\nfig.show()\n"
                     "widgets.FloatSlider(value=1.0)", RELU + SIGMOID]),
    }
    for student, (_, cells) in subs.items():
        write_notebook(folder / f"{student}.ipynb", *cells)
    (folder / "empty.ipynb").write_bytes(b"")
    (folder / "not_json.ipynb").write_text('{"cells": [', encoding="utf-8")
    (folder / "nbformat3.ipynb").write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": []}))
    about = {s: what for s, (what, _) in subs.items()}
    about.update(empty="empty file", not_json="invalid JSON", nbformat3="nbformat 3")
    return about
