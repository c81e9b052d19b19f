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
    (folder / "nbformat2.ipynb").write_text(json.dumps({"nbformat": 2, "nbformat_minor": 0, "worksheets": []}))
    about = {s: what for s, (what, _) in subs.items()}
    about.update(empty="empty file", not_json="invalid JSON", nbformat2="nbformat 2")
    return about


# ==== a real class, built from the RELEASED student notebooks (issue 11) ==========================================
ROOT = Path(__file__).resolve().parents[1]
BEGIN_MARK, END_MARK = "### BEGIN SOLUTION", "### END SOLUTION"


def released(exercise_id: str) -> dict:
    """The committed student notebook of an exercise, as JSON."""
    from bpkit.exercises.catalog import get_exercise
    return json.loads((ROOT / "exercises" / get_exercise(exercise_id).notebook).read_text(encoding="utf-8"))


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def filled_with_solutions(exercise_id: str) -> dict:
    """The released notebook with every stub replaced by the instructor's solution (markers dropped)."""
    from bpkit.exercises.catalog import get_exercise
    source = json.loads((ROOT / "exercises" / "source" / get_exercise(exercise_id).notebook).read_text("utf-8"))
    nb = released(exercise_id)
    assert len(source["cells"]) == len(nb["cells"]), exercise_id
    for mine, theirs in zip(nb["cells"], source["cells"]):
        if mine["cell_type"] == "code" and "NotImplementedError" in _text(mine["source"]):
            lines = [line for line in _text(theirs["source"]).split("\n")
                     if line.strip() not in (BEGIN_MARK, END_MARK) and not line.strip().startswith(BEGIN_MARK)]
            mine["source"] = "\n".join(lines)
    return nb


def stub_cells(nb: dict) -> dict[str, dict]:
    """Graded name -> the released code cell that stubs it (``def name(...)`` + ``raise NotImplementedError``)."""
    import re
    found = {}
    for cell in nb["cells"]:
        text = _text(cell.get("source", ""))
        if cell["cell_type"] == "code" and "NotImplementedError" in text:
            match = re.search(r"^(?:def|class)\s+(\w+)", text, re.MULTILINE)
            if match:
                found[match.group(1)] = cell
    return found


def fill(nb: dict, answers: dict[str, str], before: tuple = (), after: tuple = ()) -> dict:
    """A copy of a released notebook with each graded function's stub cell replaced by ``answers[name]``, and
    extra code cells inserted after the first code cell (``before``) or appended (``after``)."""
    import copy
    nb = copy.deepcopy(nb)
    stubs = stub_cells(nb)
    for name, code in answers.items():
        stubs[name]["source"] = code
    first = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
    extra = lambda code: {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],  # noqa: E731
                          "source": code}
    nb["cells"][first + 1:first + 1] = [extra(c) for c in before]
    nb["cells"] += [extra(c) for c in after]
    return nb


def save(nb: dict, path: Path, minor: int | None = None, crlf: bool = False) -> Path:
    """Write ``nb`` as JSON (nbformat 4.``minor``: cell ids only from 4.5, as Jupyter writes them), with a
    markdown cell naming its author first (so two students' files are never byte-identical by accident)."""
    import copy
    nb = copy.deepcopy(nb)
    nb["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": f"Submitted by {path.stem}"})
    if minor is not None:
        nb["nbformat"], nb["nbformat_minor"] = 4, minor
        for i, cell in enumerate(nb["cells"]):
            if minor >= 5:
                cell.setdefault("id", f"cell-{i}")
            else:
                cell.pop("id", None)
    if crlf:
        for cell in nb["cells"]:
            cell["source"] = _text(cell["source"]).replace("\n", "\r\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


# ---- ex03: honest answers, written the ways students write them ---------------------------------------------------
LF = {
    "ref": "def linear_forward(x, W, b):\n    return x @ W + b\n",
    "dot": "def linear_forward(x, W, b):\n    return np.dot(x, W) + b\n",
    "einsum": "def linear_forward(x, W, b):\n    return np.einsum('nd,dm->nm', x, W) + b[None, :]\n",
    "loops": ("def linear_forward(x, W, b):\n    N, M = x.shape[0], W.shape[1]\n    out = np.zeros((N, M))\n"
              "    for n in range(N):\n        for m in range(M):\n            out[n, m] = np.sum(x[n, :] * W[:, m]) + b[m]\n"
              "    return out\n"),
    "matmul": "def linear_forward(x, W, b):\n    return np.matmul(x, W) + b\n",
    "method": "def linear_forward(x, W, b):\n    out = x.dot(W)\n    out += b\n    return out\n",
}
LB = {
    "ref": "def linear_backward(dout, x, W):\n    return dout @ W.T, x.T @ dout, dout.sum(axis=0)\n",
    "einsum": ("def linear_backward(dout, x, W):\n    dx = np.einsum('nm,dm->nd', dout, W)\n"
               "    dW = np.einsum('nd,nm->dm', x, dout)\n    db = np.einsum('nm->m', dout)\n    return dx, dW, db\n"),
    "loops": ("def linear_backward(dout, x, W):\n    dx = np.zeros_like(x, dtype=float)\n"
              "    dW = np.zeros_like(W, dtype=float)\n    db = np.zeros(W.shape[1])\n"
              "    for n in range(x.shape[0]):\n        dx[n] = W @ dout[n]\n        dW += np.outer(x[n], dout[n])\n"
              "        db += dout[n]\n    return dx, dW, db\n"),
    "dot": ("def linear_backward(dout, x, W):\n    dx = np.dot(dout, W.T)\n    dW = np.dot(x.T, dout)\n"
            "    db = np.sum(dout, axis=0)\n    return (dx, dW, db)\n"),
    "ones": ("def linear_backward(dout, x, W):\n    ones = np.ones(dout.shape[0])\n"
             "    return dout @ W.transpose(), x.transpose() @ dout, ones @ dout\n"),
    "black": ('def linear_backward(dout, x, W):\n    assert (\n        dout.shape[1]\n        == W.shape[1]\n    ), "dout and W disagree"\n'
              '    label = (\n        "%s x %s"\n        % (x.shape, W.shape)\n    )\n    same = (\n        x.shape\n'
              '        != W.shape\n    )\n    dx = dout @ W.T\n    dW = x.T @ dout\n    db = dout.sum(axis=0)\n'
              '    return dx, dW, db\n'),
}
RB = {
    "ref": "def relu_backward(dout, x):\n    return dout * (x > 0)\n",
    "where": "def relu_backward(dout, x):\n    return np.where(x > 0, dout, 0.0)\n",
    "copy": "def relu_backward(dout, x):\n    dx = dout.copy()\n    dx[x <= 0] = 0\n    return dx\n",
    "heaviside": "def relu_backward(dout, x):\n    return dout * np.heaviside(x, 0.0)\n",
    "loops": ("def relu_backward(dout, x):\n    dx = np.empty_like(dout, dtype=float)\n    for i in range(x.shape[0]):\n"
              "        for j in range(x.shape[1]):\n            dx[i, j] = dout[i, j] if x[i, j] > 0 else 0.0\n"
              "    return dx\n"),
    "lambda": "relu_backward = lambda dout, x: dout * (x > 0).astype(dout.dtype)\n",
}
SB = {
    "ref": "def sigmoid_backward(dout, x):\n    s = 1 / (1 + np.exp(-x))\n    return dout * s * (1 - s)\n",
    "tanh": "def sigmoid_backward(dout, x):\n    s = 0.5 * (1 + np.tanh(x / 2))\n    return dout * s * (1 - s)\n",
    "helper": "def sigmoid_backward(dout, x):\n    s = sigmoid(x)\n    return dout * s * (1.0 - s)\n",
    "expit": ("def sigmoid_backward(dout, x):\n    from scipy.special import expit\n    s = expit(x)\n"
              "    return dout * s * (1 - s)\n"),
    "exp": "def sigmoid_backward(dout, x):\n    e = np.exp(-x)\n    return dout * e / (1 + e) ** 2\n",
    "vectorize": ("import math\n\ndef sigmoid_backward(dout, x):\n"
                  "    f = np.vectorize(lambda v: 1 / (1 + math.exp(-v)))\n    s = f(x)\n    return dout * s * (1 - s)\n"),
}
SIGMOID_HELPER = "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n"


def ex03_answers(lf="ref", lb="ref", rb="ref", sb="ref") -> dict[str, str]:
    return {"linear_forward": LF[lf], "linear_backward": LB[lb], "relu_backward": RB[rb], "sigmoid_backward": SB[sb]}


def honest_ex03() -> dict[str, tuple[dict, dict]]:
    """student -> (notebook JSON, how to save it: {"minor", "crlf", "path"}) for 36 honest ex03 submissions."""
    nb = released("ex03")
    out: dict[str, tuple[dict, dict]] = {}

    def add(student, answers=None, before=(), after=(), **how):
        out[student] = (fill(nb, answers or ex03_answers(), before, after), how)

    add("h01_reference")
    add("h02_dot", ex03_answers("dot", "dot", "where", "exp"))
    add("h03_einsum", ex03_answers("einsum", "einsum", "heaviside", "tanh"))
    add("h04_loops", ex03_answers("loops", "loops", "loops", "exp"))
    add("h05_helper_cell", ex03_answers(sb="helper"), before=(SIGMOID_HELPER,))
    add("h06_helper_after", ex03_answers(sb="helper"), after=(SIGMOID_HELPER,))   # defined after, found at call
    add("h07_magics", ex03_answers(), before=("%matplotlib inline\n%config InlineBackend.figure_format = 'svg'\n"
                                              "!pip list | head -3\nfiles = !ls\n%time y = 1 + 1\nprint(y)\n",
                                              "%%timeit -n 1 -r 1\nz = np.zeros(10)\n"))
    add("h08_black", ex03_answers(lb="black"))
    add("h09_writefile", {**ex03_answers(), "sigmoid_backward": "from mylayers import sigmoid_backward\n"},
        before=("%%writefile mylayers.py\nimport numpy as np\n\n\ndef sigmoid_backward(dout, x):\n"
                "    s = 1 / (1 + np.exp(-x))\n    return dout * s * (1 - s)\n",))
    for minor in range(6):
        add(f"h1{minor}_nbformat_4_{minor}", ex03_answers(lf=("ref", "dot", "matmul", "method", "einsum",
                                                               "ref")[minor]), minor=minor)
    widget_nb = fill(nb, ex03_answers("matmul", "ones", "copy", "ref"))
    widget_nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "version_major": 2, "version_minor": 0, "state": {"a1b2": {"model_name": "FloatSliderModel",
                                                                    "model_module": "@jupyter-widgets/controls",
                                                                    "model_module_version": "2.0.0",
                                                                    "state": {"value": 0.5}}}}}
    out["h16_widget_state"] = (widget_nb, {})
    add("h17_input", ex03_answers(), before=("name = input('your name? ')\nprint('hello', name)\n",))
    add("h18_sys_exit", ex03_answers(), after=("import sys\nsys.exit(0)\n",))
    add("h19_defined_twice", {**ex03_answers(), "linear_forward": LF["ref"]},
        before=("def linear_forward(x, W, b):\n    return x @ W  # first try, no bias\n",))
    add("h20_crlf", ex03_answers("method", "dot", "where", "tanh"), crlf=True)
    add("h21_lambda", ex03_answers(rb="lambda"))
    add("h22_expit", ex03_answers(sb="expit"))
    add("h23_vectorize", ex03_answers(sb="vectorize"))
    add("h24_prints", {k: v.replace("    return", "    print('debug', k := 1)\n    return", 1)
                       for k, v in ex03_answers().items()})
    add("h25_leftover_error", ex03_answers(), after=("undefined_name + 1\n",))
    add("h26_star_import", ex03_answers(), before=("from numpy import *\nimport numpy as np\n",))
    add("h27_tabs", {k: v.replace("    ", "\t") for k, v in ex03_answers("dot", "dot", "copy", "exp").items()})
    add("h28_typed", {k: v.replace("):\n", ") -> object:\n", 1) for k, v in ex03_answers().items()})
    add("h29_if_block", {k: "if True:\n" + "".join("    " + line + "\n" for line in v.splitlines())
                         for k, v in ex03_answers().items()})
    add("h30_docstrings", {k: v.replace(":\n", ':\n    """My answer (see lecture 3)."""\n', 1)
                           for k, v in ex03_answers("einsum", "ref", "where", "ref").items()})
    add("h31_float_check", ex03_answers(), after=("print(np.allclose(linear_forward(np.ones((2, 3)), np.ones((3, 4)),"
                                                  " np.zeros(4)), 3))\n",))
    add("张伟", ex03_answers("dot", "einsum", "ref", "tanh"))
    add("李娜", ex03_answers("einsum", "dot", "where", "exp"))
    add("zoë", ex03_answers())
    add("zo\u00e9", ex03_answers("matmul", "ref", "copy", "ref"))          # zoé, NFC
    return out


# ---- ex03 and ex04: the catalogued mistakes, one per notebook, everything else right ------------------------------
MISTAKES_EX03 = {
    "no_bias": ("linear_forward", "def linear_forward(x, W, b):\n    return x @ W\n"),
    "W_transposed": ("linear_forward", "def linear_forward(x, W, b):\n    return x @ W.T + b\n"),
    "bias_per_row": ("linear_forward", "def linear_forward(x, W, b):\n    return x @ W + b[:, None]\n"),
    "dW_transposed": ("linear_backward", LB["ref"].replace("x.T @ dout", "dout.T @ x")),
    "dx_W_not_transposed": ("linear_backward", LB["ref"].replace("dout @ W.T", "dout @ W")),
    "db_not_summed": ("linear_backward", LB["ref"].replace("dout.sum(axis=0)", "dout.copy()")),
    "db_wrong_axis": ("linear_backward", LB["ref"].replace("dout.sum(axis=0)", "dout.sum(axis=1)")),
    "db_mean": ("linear_backward", LB["ref"].replace("dout.sum(axis=0)", "dout.mean(axis=0)")),
    "sign_flipped": ("linear_backward", "def linear_backward(dout, x, W):\n"
                                        "    return -(dout @ W.T), -(x.T @ dout), -dout.sum(axis=0)\n"),
    "in_place": ("relu_backward", "def relu_backward(dout, x):\n    dout[x <= 0] = 0\n    return dout\n"),
    "passthrough": ("relu_backward", "def relu_backward(dout, x):\n    return dout.copy()\n"),
    "mask_from_dout": ("relu_backward", "def relu_backward(dout, x):\n    return dout * (dout > 0)\n"),
    "mask_inverted": ("relu_backward", "def relu_backward(dout, x):\n    return dout * (x <= 0)\n"),
    "mask_only": ("relu_backward", "def relu_backward(dout, x):\n    return (x > 0).astype(np.float64)\n"),
    "from_preactivation": ("sigmoid_backward", "def sigmoid_backward(dout, x):\n    return dout * x * (1 - x)\n"),
    "sig_passthrough": ("sigmoid_backward", "def sigmoid_backward(dout, x):\n    return dout.copy()\n"),
    "no_upstream": ("sigmoid_backward", "def sigmoid_backward(dout, x):\n    s = 1 / (1 + np.exp(-x))\n"
                                        "    return s * (1 - s)\n"),
    "sigmoid_only": ("sigmoid_backward", "def sigmoid_backward(dout, x):\n    return dout / (1 + np.exp(-x))\n"),
}
CE_REF = ("def softmax_cross_entropy(logits, y):\n    z = logits - logits.max(axis=1, keepdims=True)\n"
          "    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))\n    n = len(y)\n"
          "    d = np.exp(logp)\n    d[np.arange(n), y] -= 1\n    return -logp[np.arange(n), y].mean(), d / n\n")
MSE_REF = "def mse_loss(pred, target):\n    diff = pred - target\n    return np.mean(diff ** 2), 2 * diff / diff.size\n"
MISTAKES_EX04 = {
    "no_factor_2": ("mse_loss", MSE_REF.replace("2 * diff / diff.size", "diff / diff.size")),
    "not_averaged": ("mse_loss", MSE_REF.replace("2 * diff / diff.size", "2 * diff")),
}


def odd_ex03(folder: Path) -> dict[str, dict]:
    """The odd cases, written into ``folder``; student -> what to expect (status, score, note or flag words)."""
    import os
    nb = released("ex03")
    right = ex03_answers()
    expect: dict[str, dict] = {}
    (folder / "o_empty.ipynb").write_bytes(b"")
    expect["o_empty"] = {"status": "invalid", "score": 0.0}
    (folder / "o_not_json.ipynb").write_text('{"cells": [', encoding="utf-8")
    expect["o_not_json"] = {"status": "invalid", "score": 0.0}
    (folder / "o_nbformat2.ipynb").write_text(json.dumps({"nbformat": 2, "nbformat_minor": 0, "worksheets": []}))
    expect["o_nbformat2"] = {"status": "invalid", "score": 0.0}
    save(nb, folder / "o_untouched.ipynb")
    expect["o_untouched"] = {"status": "missing", "score": 0.0}
    save(fill(nb, {"linear_forward": LF["ref"]}), folder / "o_only_forward.ipynb")
    expect["o_only_forward"] = {"status": "missing",
                                "score": ("max_minus", ["linear_backward", "relu_backward", "sigmoid_backward"])}
    leak = {**right, "relu_backward": "def relu_backward(dout, x):\n    raise ValueError(np.array2string(x, "
                                      "precision=6))\n"}
    save(fill(nb, leak), folder / "o_leaks_inputs.ipynb")
    expect["o_leaks_inputs"] = {"status": "error", "score": ("max_minus", ["relu_backward"])}
    cheat = {**right, "linear_forward": "from bpkit.nn.functional import linear_forward\n"}
    save(fill(nb, cheat), folder / "o_reference_in_graded.ipynb")
    expect["o_reference_in_graded"] = {"status": "error", "score": ("max_minus", ["linear_forward"]),
                                       "flag": "bpkit's reference code"}
    # nbgrader-style folders: a renamed copy, two notebooks (the newer one is the work), no notebook at all
    save(fill(nb, right), folder / "o_copy1" / "ex03" / "ex03_matrix_calculus-Copy1.ipynb")
    expect["o_copy1"] = {"status": "ok", "score": "max", "note": "the only notebook in the folder"}
    old = save(fill(nb, {"linear_forward": LF["ref"]}), folder / "o_two" / "ex03" / "draft.ipynb")
    new = save(fill(nb, right), folder / "o_two" / "ex03" / "final answers.ipynb")
    os.utime(old, (1_600_000_000, 1_600_000_000))
    os.utime(new, (1_700_000_000, 1_700_000_000))
    expect["o_two"] = {"status": "ok", "score": "max", "note": "graded final answers.ipynb, the most recently"}
    (folder / "o_no_notebook" / "ex03").mkdir(parents=True)
    (folder / "o_no_notebook" / "ex03" / "notes.txt").write_text("forgot")
    expect["o_no_notebook"] = {"status": "missing", "score": 0.0}
    # Canvas downloads: login_userid_attachmentid_name.ipynb, a late one, and a student who uploaded twice
    save(fill(nb, right), folder / "smithjo_1001_5001_ex03_matrix_calculus.ipynb")
    expect["smithjo"] = {"status": "ok", "score": "max", "canvas_id": "1001"}
    save(fill(nb, right), folder / "leeann_late_1002_5002_ex03_matrix_calculus.ipynb")
    expect["leeann"] = {"status": "ok", "score": "max", "canvas_id": "1002"}
    first = save(fill(nb, {"linear_forward": LF["ref"]}), folder / "ngkim_1003_5003_ex03_matrix_calculus.ipynb")
    save(fill(nb, right), folder / "ngkim_1003_5010_ex03_matrix_calculus-1.ipynb")
    os.utime(first, (1_800_000_000, 1_800_000_000))      # newer on disk, but Canvas's later upload counts
    expect["ngkim"] = {"status": "ok", "score": "max", "canvas_id": "1003", "note": "graded the latest upload"}
    return expect


def real_class(folder: Path) -> dict[str, dict]:
    """The whole ex03 class: honest (many styles), one notebook per catalogued mistake, and the odd cases.

    Returns student -> expectation: kind (honest, mistake, odd), status, score ("max", "in-process" or a number),
    and for mistakes the function, the mistake's name in the catalog and its source."""
    folder.mkdir(parents=True, exist_ok=True)
    expect: dict[str, dict] = {}
    for student, (nb, how) in honest_ex03().items():
        save(nb, folder / f"{student}.ipynb", minor=how.get("minor"), crlf=how.get("crlf", False))
        expect[student] = {"kind": "honest", "status": "ok", "score": "max"}
    nb = released("ex03")
    for name, (function, code) in MISTAKES_EX03.items():
        student = f"m_{name}"
        save(fill(nb, {**ex03_answers(), function: code}), folder / f"{student}.ipynb")
        catalog_name = "passthrough" if name == "sig_passthrough" else name
        raises = name in ("W_transposed",)        # x @ W.T fails on a non-square W: the student's error
        expect[student] = {"kind": "mistake", "status": "error" if raises else "ok", "score": "in-process",
                           "function": function, "mistake": catalog_name, "answers": {**ex03_answers(), function: code}}
    for student, what in odd_ex03(folder).items():
        expect[student] = {"kind": "odd", **what}
    return expect


def ex04_class(folder: Path) -> dict[str, dict]:
    nb = released("ex04")
    folder.mkdir(parents=True, exist_ok=True)
    expect = {}
    right = {"softmax_cross_entropy": CE_REF, "mse_loss": MSE_REF}
    save(fill(nb, right), folder / "honest_a.ipynb")
    expect["honest_a"] = {"kind": "honest", "status": "ok", "score": "max"}
    save(fill(nb, {**right, "mse_loss": "def mse_loss(pred, target):\n    d = (pred - target).ravel()\n"
                                         "    return float(d @ d / d.size), (2 / d.size) * (pred - target)\n"}),
         folder / "honest_b.ipynb", minor=2)
    expect["honest_b"] = {"kind": "honest", "status": "ok", "score": "max"}
    for name, (function, code) in MISTAKES_EX04.items():
        save(fill(nb, {**right, function: code}), folder / f"m_{name}.ipynb")
        expect[f"m_{name}"] = {"kind": "mistake", "status": "ok", "score": "in-process", "function": function,
                               "mistake": name, "answers": {**right, function: code}}
    return expect
