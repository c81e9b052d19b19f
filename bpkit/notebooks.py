"""Re-execute the course notebooks in place, deterministically and without stored widget state (``make notebooks``).

Usage: ``python -m bpkit.notebooks [NOTEBOOK.ipynb ...]`` (default: every ``lessons/*.ipynb`` and
``exercises/source/*.ipynb`` of the course). Each notebook runs top to bottom in a fresh kernel started in the
notebook's folder, with a fixed hash seed and single-threaded BLAS (so sums are added in the same order on every run).
What is written back is what a student should see before running anything:

- outputs of every cell, no execution timestamps, a ``python3`` kernelspec (JupyterLab opens it without asking);
- no widget state: ``metadata.widgets`` is removed, and a widget output keeps only a short plain-text note ("run the
  notebook to use it") instead of a view of a model that will not exist (its id is random on every run);
- beside every Plotly figure (``application/vnd.plotly.v1+json``) a small static ``image/png`` of it, drawn by kaleido
  in Debian's chromium, so GitHub, nbviewer and VS Code show the figure too (JupyterLab ranks Plotly's own renderer
  first and still shows the interactive one). ``--png-only`` adds or refreshes these images without re-executing;
- a notebook whose execution fails is left untouched on disk; the others still run, and the exit code is 1.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
PNG_MIME = "image/png"
PNG_WIDTH, PNG_HEIGHT = 800, 450  # px, for a figure whose layout sets no size (a notebook column is ~800 px wide)
PNG_MAX_SIDE = 1100               # px: a wider figure is drawn at its own layout but scaled down to this
PNG_BUDGET = 100 * 1024           # bytes: a busier image (3-D surfaces) is drawn smaller until it fits
PNG_SCALES = (1.0, 0.75, 0.55, 0.4)
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


def _png_size(layout: dict) -> tuple[int, int, float]:
    """(width, height, scale) for the static image of a figure with this layout: its own size, never huge."""
    width = int(layout.get("width") or PNG_WIDTH)
    height = int(layout.get("height") or PNG_HEIGHT)
    scale = min(1.0, PNG_MAX_SIDE / max(width, height))
    return width, height, scale


def figure_png(figure: dict) -> tuple[bytes, float]:
    """(PNG, scale) of one Plotly figure (its JSON as stored in a notebook), drawn by kaleido in a reused chromium.

    The figure keeps its own layout (width, height); the image is scaled down (PNG_SCALES) until it fits PNG_BUDGET,
    so a notebook with several 3-D surfaces stays well under 2 MB.
    """
    import kaleido

    width, height, largest = _png_size(figure.get("layout", {}))
    for factor in PNG_SCALES:
        scale = largest * factor
        png = kaleido.calc_fig_sync(figure, opts={"format": "png", "width": width, "height": height, "scale": scale})
        if len(png) <= PNG_BUDGET:
            break
    return png, scale


@contextmanager
def _static_image_server():
    """One chromium for every figure of the run (starting it costs ~2 s, a figure then ~0.15 s)."""
    try:
        import kaleido
    except ImportError as error:
        raise RuntimeError("static images need kaleido: pip install -e '.[notebooks]' (or '.[test]'); "
                           "it draws in the system chromium (apt-get install chromium)") from error
    kaleido.start_sync_server(silence_warnings=True)
    try:
        yield
    finally:
        kaleido.stop_sync_server(silence_warnings=True)


def add_static_images(nb) -> int:
    """Give every Plotly output of ``nb`` an ``image/png`` copy (replacing a stale one); return how many were drawn."""
    import base64

    drawn = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME not in data:
                continue
            figure = data[PLOTLY_MIME]
            png, scale = figure_png(dict(figure))
            data[PNG_MIME] = base64.b64encode(png).decode("ascii")
            width, height, _ = _png_size(figure.get("layout", {}))
            output.setdefault("metadata", {})[PNG_MIME] = {"width": round(width * scale), "height": round(height * scale)}
            drawn += 1
    return drawn


def execute_in_place(path, timeout: int = 600, static_images: bool = True) -> float:
    """Run every cell of the notebook at ``path`` and write it back with its outputs; return the seconds taken.

    Raises nbclient's ``CellExecutionError`` (and leaves the file untouched) when a cell fails. With
    ``static_images`` (the default) every Plotly output also gets its PNG (call inside ``_static_image_server()``
    to share one chromium between notebooks).
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
    if static_images:
        add_static_images(nb)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return time.perf_counter() - start


def add_static_images_in_place(path) -> int:
    """Add or refresh the PNG copies of the Plotly outputs of the notebook at ``path`` without executing it."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    drawn = add_static_images(nb)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return drawn


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
    parser.add_argument("--png-only", action="store_true",
                        help="do not execute: only add or refresh the static PNG of every stored Plotly figure")
    parser.add_argument("--no-png", action="store_true", help="execute without drawing static PNGs (no kaleido)")
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

    if args.png_only and args.no_png:
        parser.error("--png-only and --no-png exclude each other")
    seconds, failures = {}, {}
    images = nullcontext() if args.no_png else _static_image_server()
    with images, tqdm(paths, desc="notebooks", unit="nb", file=sys.stderr) as bar:
        for path in bar:
            bar.set_postfix_str(path.name)
            try:
                if args.png_only:
                    start = time.perf_counter()
                    drawn = add_static_images_in_place(path)
                    seconds[path] = time.perf_counter() - start
                    bar.write(f"{path}: {drawn} static image(s) drawn", file=sys.stderr)
                    continue
                seconds[path] = execute_in_place(path, timeout=args.timeout, static_images=not args.no_png)
                bar.write(f"{path}: executed in {seconds[path]:.1f} s", file=sys.stderr)
            except Exception as error:  # one broken notebook must not stop the others
                failures[path] = _describe(error)
                bar.write(f"{path}: FAILED (file left unchanged): {failures[path]}", file=sys.stderr)
    verb = "given static images" if args.png_only else "executed"
    print(f"{len(seconds)} notebook(s) {verb} in {sum(seconds.values()):.1f} s, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
