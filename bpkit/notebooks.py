"""Re-execute the course notebooks in place, deterministically and without stored widget state (``make notebooks``).

Usage: ``python -m bpkit.notebooks [NOTEBOOK.ipynb ...]`` (default: every ``lessons/*.ipynb`` and
``exercises/source/*.ipynb`` of the course). Each notebook runs top to bottom in a fresh kernel started in the
notebook's folder, with a fixed hash seed and single-threaded BLAS (so sums are added in the same order on every run).
What is written back is what a student should see before running anything:

- outputs of every cell, no execution timestamps, a ``python3`` kernelspec (JupyterLab opens it without asking);
- no widget state: ``metadata.widgets`` is removed, and a widget output keeps only a short plain-text note ("run the
  notebook to use it") instead of a view of a model that will not exist (its id is random on every run);
- a notebook whose execution fails is left untouched on disk; the others still run, and the exit code is 1.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
KERNEL_ENV = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_PROGRESS_BAR = re.compile(r"\d+%\|")  # tqdm's text fallback: keep it, it is what the bar showed


@contextmanager
def _kernel_environment():
    """Environment inherited by the kernels started inside the block (restored afterwards)."""
    saved = {name: os.environ.get(name) for name in KERNEL_ENV}
    os.environ.update(KERNEL_ENV)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def widget_note(text_plain: str) -> str:
    """The plain text that replaces a widget view in a stored notebook, e.g. 'VBox(children=...' -> a note."""
    if _PROGRESS_BAR.search(text_plain):
        return text_plain
    kind = text_plain.split("(", 1)[0].strip() or "widget"
    return f"[interactive {kind}: run the notebook to use it]"


def strip_widget_state(nb) -> int:
    """Remove stored widget state and widget views from ``nb`` in place; return the number of views replaced."""
    nb.metadata.pop("widgets", None)
    replaced = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                text = data.get("text/plain", "")
                data["text/plain"] = widget_note("".join(text) if isinstance(text, list) else text)
                replaced += 1
    return replaced


def execute_in_place(path, timeout: int = 600) -> float:
    """Run every cell of the notebook at ``path`` and write it back with its outputs; return the seconds taken.

    Raises nbclient's ``CellExecutionError`` (and leaves the file untouched) when a cell fails.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=False,
                            record_timing=False, resources={"metadata": {"path": str(path.parent.resolve())}})
    with _kernel_environment():
        client.execute()
    strip_widget_state(nb)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return time.perf_counter() - start


def course_notebooks(root=".") -> list[Path]:
    """Every lesson and every exercise source notebook under ``root``, in order."""
    root = Path(root)
    return sorted(root.glob("lessons/*.ipynb")) + sorted(root.glob("exercises/source/*.ipynb"))


def _expand(arguments) -> list[Path]:
    """Paths and glob patterns (a pattern the shell left unexpanded because it matched nothing) -> existing files."""
    paths = []
    for argument in arguments:
        matches = sorted(glob.glob(argument)) if glob.has_magic(argument) else [argument]
        paths.extend(Path(match) for match in matches)
    return paths


def _describe(error: Exception) -> str:
    """One line for a failed notebook: the exception a cell raised (nbclient's ename/evalue) or the error itself."""
    if hasattr(error, "ename"):
        return f"a cell raised {error.ename}: {error.evalue}"
    return f"{type(error).__name__}: {error}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bpkit.notebooks", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks or glob patterns (default: the whole course)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")
    args = parser.parse_args(argv)

    paths = _expand(args.notebooks) if args.notebooks else course_notebooks()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"not a notebook file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not paths:
        print("no notebooks to execute", file=sys.stderr)
        return 0

    from tqdm.auto import tqdm

    seconds, failures = {}, {}
    with tqdm(paths, desc="notebooks", unit="nb", file=sys.stderr) as bar:
        for path in bar:
            bar.set_postfix_str(path.name)
            try:
                seconds[path] = execute_in_place(path, timeout=args.timeout)
                bar.write(f"{path}: executed in {seconds[path]:.1f} s", file=sys.stderr)
            except Exception as error:  # one broken notebook must not stop the others
                failures[path] = _describe(error)
                bar.write(f"{path}: FAILED (file left unchanged): {failures[path]}", file=sys.stderr)
    print(f"{len(seconds)} notebook(s) executed in {sum(seconds.values()):.1f} s, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
