"""``bpkit new-exercise NAME --dir DIR``: a source notebook and its spec, ready to release, check and grade.

The scaffold holds one small worked example, ``tanh_backward(dout, x) -> dx``, so the new exercise releases, checks
and grades as it stands; the instructor then replaces it with their own functions (docs/authoring.md).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

SPEC = '''"""Spec of {name}: how the functions of {name}.ipynb are checked (format: docs/authoring.md).

The reference solutions are the notebook's solution cells (between ### BEGIN SOLUTION and ### END SOLUTION);
this file says which inputs to try, how to call the student's function, what to compare, and which common
mistakes to recognise.
"""
from bpkit.exercises.authoring import *  # noqa: F403

SHAPES = [(1, 3), (4, 2), (3, 5)]   # batch size 1, and shapes whose dimensions differ


def _cases(rng):
    """Inputs as plain values; a label that names shapes only (never values: hidden inputs stay hidden)."""
    return finish_cases([{{"x": rng.standard_normal(shape), "dout": rng.standard_normal(shape),
                          "label": f"x of shape {{shape}}"}} for shape in SHAPES])


def _expected(case):
    """The right answer by the definition of the derivative: central differences of the forward pass."""
    return {{"dx": gradient(lambda x: np.tanh(x), {{"x": case["x"]}}, "x", case["dout"])}}


TANH_BACKWARD = function_spec(
    "tanh_backward", "tanh_backward(dout, x) -> dx",
    make_cases=_cases,
    call=drivers.function("tanh_backward", args=("dout", "x"), returns=("dx",)),
    expected=_expected, finite_differences=True,
    checks=[returns_check(("dx",), 0.5),
            unchanged_check(("dout", "x"), 0.5),
            value_check("dx", 1.0, "central differences", hint="dx = dout * (1 - tanh(x)**2)")],
    mistakes=[
        Mistake("from_input", "tanh's derivative is 1 - t**2 with t = tanh(x), its output; you used 1 - x**2",
                lambda dout, x: dout * (1 - x ** 2)),
        Mistake("no_upstream", "you returned the local derivative alone: multiply it by dout (the chain rule)",
                lambda dout, x: 1 - np.tanh(x) ** 2),
    ],
    release_hint="the local derivative of tanh, written with its output, times dout")


EXERCISE = exercise("{name}", "{title}", [TANH_BACKWARD])
'''


def _cell(kind: str, text: str, index: int) -> dict:
    lines = text.split("\n")
    cell = {"cell_type": kind, "id": f"cell-{index}", "metadata": {},
            "source": [line + "\n" for line in lines[:-1]] + [lines[-1]]}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def notebook(name: str, title: str) -> dict:
    cells = [
        ("markdown", f"# {title}\n\nWrite your code where a cell says `raise NotImplementedError(...)`, then run the "
                     "check cell below it: `check(...)` calls your function on a few inputs, compares with central "
                     "differences (relative error at most 1e-7) and says what is wrong, and how to fix it."),
        ("code", "%load_ext bpkit\nimport numpy as np\nfrom bpkit.exercises import check"),
        ("markdown", "## tanh, backward\n\n$t = \\tanh x$ has the local derivative $1 - t^2$. Given `dout` "
                     "$= \\partial L/\\partial t$, return `dx` $= \\partial L/\\partial x$ (the shape of `x`)."),
        ("code", 'def tanh_backward(dout, x):\n    """dout (N, D), x (N, D) the input of tanh -> dx (N, D)."""\n'
                 "    ### BEGIN SOLUTION\n    t = np.tanh(x)\n    return dout * (1 - t ** 2)\n    ### END SOLUTION"),
        ("code", "check(tanh_backward)"),
    ]
    return {"cells": [_cell(kind, text, i) for i, (kind, text) in enumerate(cells, start=1)],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def create(name: str, directory: Path, title: str = "") -> tuple[Path, Path]:
    """Write DIR/NAME.ipynb and DIR/NAME.spec.py; refuse to overwrite. Returns both paths."""
    if not NAME.match(name):
        raise ValueError(f"{name!r}: an exercise name must be an identifier (letters, digits, _), e.g. act_backward")
    directory = Path(directory)
    nb_path, spec_path = directory / f"{name}.ipynb", directory / f"{name}.spec.py"
    existing = [str(p) for p in (nb_path, spec_path) if p.exists()]
    if existing:
        raise FileExistsError(f"{', '.join(existing)} already exist(s): choose another name or folder")
    directory.mkdir(parents=True, exist_ok=True)
    title = title or f"Exercise {name}: the backward pass of tanh"
    nb_path.write_text(json.dumps(notebook(name, title), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    spec_path.write_text(SPEC.format(name=name, title=title.replace('"', "'")), encoding="utf-8")
    return nb_path, spec_path


def add_arguments(parser) -> None:
    parser.add_argument("name", help="the exercise's name (any identifier), e.g. act_backward")
    parser.add_argument("--dir", type=Path, default=Path("."), help="the folder of source notebooks")
    parser.add_argument("--title", default="", help="the notebook's title")


def run(args) -> int:
    try:
        nb_path, spec_path = create(args.name, args.dir, args.title)
    except (ValueError, FileExistsError) as exc:
        print(f"bpkit new-exercise: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {nb_path} (the solutions) and {spec_path} (the checks); next:\n"
          f"  bpkit release {args.dir} --out RELEASED      # student notebook + public check data\n"
          f"  bpkit grade --source {nb_path} SUBMISSIONS --out GRADED\n"
          "see docs/authoring.md")
    return 0
