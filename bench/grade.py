"""Grading speed: ``bpkit grade`` on a generated class vs executing the same notebooks with nbclient.

nbclient (one fresh Jupyter kernel per notebook, run serially) is the floor of nbgrader's autograde, which also
executes the hidden tests. The class mixes right answers, catalogued mistakes, broken notebooks and hostile ones
(endless loops, memory bombs, numpy patching, os._exit). Both are timed in the same run; nbclient on a subset of the
non-hostile notebooks (it cannot survive the hostile ones without long timeouts), reported per submission.

    .venv/bin/python bench/grade.py               # 200 submissions, -j 2, nbclient on 16 of them
    .venv/bin/python bench/grade.py --n 800       # the "800 submissions under 2 minutes on 2 cores" target

Then the same comparison on issue 11's class (tests/grading_fixtures.py ``real_class``): the RELEASED ex03 notebook
filled in 36 honest ways, 18 catalogued mistakes and the odd cases, each notebook with its provided cells, check()
calls and a Plotly figure; nbclient executes the first ``--nbclient-real`` honest ones.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from grading_fixtures import FORWARD, RELU, RIGHT, real_class  # noqa: E402

HEADER = "%load_ext bpkit\nimport numpy as np\nfrom bpkit.exercises import check"
WRONG = [RIGHT.replace("x.T @ dout", "dout.T @ x"), RIGHT.replace("dout.sum(axis=0)", "dout.mean(axis=0)"),
         RIGHT.replace("dout @ W.T", "dout @ W"), RIGHT.replace("s * (1 - s)", "x * (1 - x)"),
         RIGHT.replace("return x @ W + b", "return x @ W")]
BROKEN = [RIGHT + "\ndef oops(:\n    pass", "import numpy as np\n" + FORWARD + RELU,
          RIGHT.replace("return dout * (x > 0)", "raise ValueError('todo')"),
          RIGHT.replace("def linear_backward(dout, x, W):", "def linear_backward(dout, x):\n    W = x")]
HOSTILE = [RIGHT.replace("return dout * (x > 0)", "while True: pass"),
           RIGHT + "\nimport numpy as np\nnp.allclose = lambda *a, **k: True\nbig = np.ones((10**6, 10**6))",
           RIGHT.replace("    s = 1 / (1 + np.exp(-x))", "    import os\n    os._exit(1)"),
           RIGHT + "\nimport os\nfor _ in range(100):\n    try:\n        if os.fork() == 0:\n            os._exit(0)\n"
                   "    except OSError:\n        break"]


def make_class(folder: Path, n: int, seed: int = 0) -> dict[str, str]:
    """``n`` notebooks: 60% right, 20% wrong, 12% broken, 8% hostile; returns student -> kind."""
    rng = random.Random(seed)
    kinds = {}
    for i in range(n):
        roll = rng.random()
        kind = "right" if roll < 0.6 else "wrong" if roll < 0.8 else "broken" if roll < 0.92 else "hostile"
        student = f"student{i:04d}"
        path = folder / f"{student}.ipynb"
        if kind == "broken" and rng.random() < 0.25:
            path.write_text('{"cells": [')
        else:
            body = {"right": [RIGHT], "wrong": WRONG, "broken": BROKEN, "hostile": HOSTILE}[kind]
            code = rng.choice(body)
            cells = [new_markdown_cell("# ex03: matrix calculus\nFill in the functions below."),
                     new_code_cell(HEADER), new_code_cell(code),
                     new_markdown_cell("Check your work:"), new_code_cell("check(linear_backward)")]
            nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3",
                                                                               "display_name": "Python 3",
                                                                               "language": "python"}}), path)
        kinds[student] = kind
    return kinds


def time_bpkit(folder: Path, outdir: Path, jobs: int, timeout: float) -> float:
    from bpkit import cli
    start = time.perf_counter()
    code = cli.main(["grade", "--exercise", "ex03", str(folder), "--out", str(outdir), "-j", str(jobs),
                     "--timeout", str(timeout), "--seed", "bench-secret-0123", "--force"])
    assert code == 0
    return time.perf_counter() - start


def time_nbclient(paths) -> float:
    from nbclient import NotebookClient
    start = time.perf_counter()
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=30, kernel_name="python3", allow_errors=True).execute()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="submissions in the class (default 200)")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=5.0, help="bpkit's per-submission limit (default 5 s)")
    parser.add_argument("--nbclient", type=int, default=16, help="notebooks nbclient executes (default 16)")
    parser.add_argument("--nbclient-real", type=int, default=6,
                        help="honest notebooks of the real class nbclient executes (default 6; 0 skips the class)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bpkit-bench-") as tmp:
        folder, outdir = Path(tmp) / "class", Path(tmp) / "graded"
        folder.mkdir()
        kinds = make_class(folder, args.n)
        bpkit_s = time_bpkit(folder, outdir, args.jobs, args.timeout)
        calm = [folder / f"{s}.ipynb" for s, k in kinds.items() if k in ("right", "wrong")][:args.nbclient]
        nbclient_s = time_nbclient(calm)
        doc = json.loads((outdir / "grades.json").read_text())
        statuses = {}
        for s in doc["students"]:
            statuses[s["status"]] = statuses.get(s["status"], 0) + 1
    per_bpkit, per_nb = bpkit_s / args.n, nbclient_s / max(len(calm), 1)
    mix = ", ".join(f"{sum(k == kind for k in kinds.values())} {kind}" for kind in ("right", "wrong", "broken",
                                                                                    "hostile"))
    print(f"class: {args.n} submissions ({mix}); statuses: {statuses}")
    print(f"bpkit grade -j {args.jobs}: {bpkit_s:.1f} s total (worker start-up included), "
          f"{per_bpkit * 1000:.0f} ms per submission")
    print(f"nbclient (serial, one kernel per notebook, {len(calm)} notebooks): {per_nb * 1000:.0f} ms per submission")
    print(f"ratio: bpkit is {per_nb / per_bpkit:.1f}x faster per submission (target >= 10x)")
    print(f"projected for 800 submissions: {per_bpkit * 800:.0f} s (target < 120 s)")
    if args.nbclient_real > 0:
        with tempfile.TemporaryDirectory(prefix="bpkit-bench-") as tmp:
            folder = Path(tmp) / "class"
            expect = real_class(folder)
            n = len(expect)
            bpkit_s = time_bpkit(folder, Path(tmp) / "graded", args.jobs, args.timeout)
            honest = [folder / f"{s}.ipynb" for s, w in expect.items() if w["kind"] == "honest"
                      and (folder / f"{s}.ipynb").exists()][:args.nbclient_real]
            nbclient_s = time_nbclient(honest)
        per_bpkit, per_nb = bpkit_s / n, nbclient_s / max(len(honest), 1)
        print(f"issue 11's class from the released ex03 notebook ({n} submissions): bpkit grade -j {args.jobs} "
              f"{bpkit_s:.1f} s, {per_bpkit * 1000:.0f} ms per submission; nbclient {per_nb * 1000:.0f} ms per "
              f"submission ({len(honest)} notebooks); ratio {per_nb / per_bpkit:.1f}x (target >= 10x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
