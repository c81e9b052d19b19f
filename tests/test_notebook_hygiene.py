"""The committed notebooks are what a student should open: valid, executed, small, no widget state, no leaked answers.

Lessons and exercise sources are re-executed by ``make notebooks`` (``bpkit.notebooks``); released exercise notebooks
(``exercises/exNN_*.ipynb``) are generated from the sources by ``bpkit release``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from bpkit.notebooks import WIDGET_VIEW

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "lessons").glob("*.ipynb"))
SOURCES = sorted((REPO / "exercises" / "source").glob("*.ipynb"))
RELEASED = sorted((REPO / "exercises").glob("*.ipynb"))
ALL = LESSONS + SOURCES + RELEASED
MAX_BYTES = 2 * 1024 * 1024
IGNORE_OUTPUT = "nbval-ignore-output"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
PROGRESS_BAR = re.compile(r"\d+%\|")
SOLUTION = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", re.S)
SECRET_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def ids(paths):
    return [str(p.relative_to(REPO)) for p in paths]


def params(paths):
    """One parameter per notebook, or a single skipped one saying the folder has none yet."""
    return paths or [pytest.param(None, marks=pytest.mark.skip(reason="no such notebooks in the repository yet"))]


def read(path):
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def source(cell) -> str:
    return "".join(cell.source) if isinstance(cell.source, list) else cell.source


def code_cells(nb):
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and source(c).strip()]


def shows_figure_widget_or_progress(cell) -> bool:
    """Whether a cell's stored output is a Plotly figure, a widget (view or its note) or a tqdm progress bar."""
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        plain = data.get("text/plain", "")
        plain = "".join(plain) if isinstance(plain, list) else plain
        text = output.get("text", "")
        text = "".join(text) if isinstance(text, list) else text
        if PLOTLY_MIME in data or WIDGET_VIEW in data or plain.startswith("[interactive ") \
                or PROGRESS_BAR.search(plain) or PROGRESS_BAR.search(text):
            return True
    return False


@pytest.mark.parametrize("path", params(ALL), ids=ids(ALL) if ALL else None)
def test_is_valid_nbformat_4_and_under_2_mb(path):
    size = path.stat().st_size
    assert size <= MAX_BYTES, f"{path.name} is {size / 2**20:.2f} MB > 2 MB: store fewer points or a smaller figure"
    nb = read(path)
    assert nb.nbformat == 4, f"{path.name} is nbformat {nb.nbformat}, expected 4"
    nbformat.validate(nb)


@pytest.mark.parametrize("path", params(ALL), ids=ids(ALL) if ALL else None)
def test_stores_no_widget_state(path):
    nb = read(path)
    assert "widgets" not in nb.metadata, f"{path.name} stores widget state in metadata.widgets: run make notebooks"
    states = [i for i, c in enumerate(nb.cells) for o in c.get("outputs", []) if "state" in o.get("data", {})
              .get(WIDGET_VIEW, {})]
    assert not states, f"{path.name}: cells {states} embed widget state in their outputs"


@pytest.mark.parametrize("path", params(ALL), ids=ids(ALL) if ALL else None)
def test_widget_outputs_are_notes_not_dangling_views(path):
    """A stored widget view points at a model that will not exist (no state, random id): make notebooks replaces it."""
    nb = read(path)
    views = [i for i, c in enumerate(nb.cells) for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
    assert not views, (f"{path.name}: cells {views} store widget views whose (random) model ids point at no state; "
                       f"re-execute with `python -m bpkit.notebooks {path.relative_to(REPO)}`")


@pytest.mark.parametrize("path", params(LESSONS), ids=ids(LESSONS) if LESSONS else None)
def test_every_lesson_code_cell_ran_top_to_bottom(path):
    nb = read(path)
    counts = [c.execution_count for _, c in code_cells(nb)]
    missing = [i for i, c in code_cells(nb) if c.execution_count is None]
    assert not missing, f"{path.name}: code cells {missing} were never executed (run make notebooks)"
    assert counts == list(range(1, len(counts) + 1)), \
        f"{path.name}: execution counts {counts} are not one top-to-bottom run in a fresh kernel"
    errors = [i for i, c in enumerate(nb.cells) for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: cells {errors} stored an error"


MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.S)
DOUBLED_COMMAND = re.compile(r"\\\\[A-Za-z]")  # "\\top" in the cell's text: a line break, then the word "top"


@pytest.mark.parametrize("path", params(ALL), ids=ids(ALL) if ALL else None)
def test_markdown_math_has_no_doubled_backslash_before_a_command(path):
    """A TeX command written with two backslashes (``$x^\\\\top$``, an escaping slip when the cell was generated) is
    typeset as a line break followed by the command's name as text; lesson 08 had two of them."""
    slips = [(i, m.group(0)) for i, c in enumerate(read(path).cells) if c.cell_type == "markdown"
             for m in MATH.finditer(source(c)) if DOUBLED_COMMAND.search(m.group(0))]
    assert not slips, f"{path.name}: math with a doubled backslash before a command (cell, math): {slips}"


@pytest.mark.parametrize("path", params(LESSONS + SOURCES), ids=ids(LESSONS + SOURCES) if LESSONS + SOURCES else None)
def test_figure_widget_and_progress_cells_are_tagged_ignore_output(path):
    nb = read(path)
    untagged = [i for i, c in code_cells(nb)
                if shows_figure_widget_or_progress(c) and IGNORE_OUTPUT not in c.metadata.get("tags", [])]
    assert not untagged, (f"{path.name}: cells {untagged} show a figure, a widget or a progress bar but are not "
                          f"tagged {IGNORE_OUTPUT!r}, so nbval would compare output that differs on every run")


MAX_PNG_BYTES = 160 * 1024  # bpkit.notebooks draws each PNG under 100 KB; this leaves room for another chromium


@pytest.mark.parametrize("path", params(LESSONS + SOURCES), ids=ids(LESSONS + SOURCES) if LESSONS + SOURCES else None)
def test_every_plotly_figure_carries_a_small_static_png(path):
    """GitHub, nbviewer and VS Code show the PNG; JupyterLab ranks Plotly's renderer first and shows the live figure."""
    import base64

    nb = read(path)
    missing, large = [], []
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME not in data:
                continue
            png = data.get("image/png")
            if not png:
                missing.append(i)
                continue
            raw = base64.b64decode("".join(png) if isinstance(png, list) else png)
            assert raw.startswith(b"\x89PNG"), f"{path.name}: cell {i}'s image/png is not a PNG"
            if len(raw) > MAX_PNG_BYTES:
                large.append((i, len(raw) // 1024))
    assert not missing, (f"{path.name}: cells {missing} show a Plotly figure without a static PNG; re-execute with "
                         f"`python -m bpkit.notebooks {path.relative_to(REPO)}` (or add it: `--png-only`)")
    assert not large, f"{path.name}: static PNGs over {MAX_PNG_BYTES // 1024} KB (cell, KB): {large}"


def secret_lines(source_nb) -> set[str]:
    """Lines inside solution regions of a source notebook that do not also appear outside them (the answers)."""
    inside, outside = set(), set()
    for cell in source_nb.cells:
        text = source(cell)
        regions = SOLUTION.findall(text)
        inside.update(line.strip() for region in regions for line in region.splitlines())
        outside.update(line.strip() for line in SOLUTION.sub("", text).splitlines())
    return {line for line in inside - outside if len(line) >= 12 and not line.startswith("#")}


@pytest.mark.parametrize("path", params(RELEASED), ids=ids(RELEASED) if RELEASED else None)
def test_released_exercise_contains_no_solution(path):
    text = json.dumps(json.loads(path.read_text(encoding="utf-8")))  # code, markdown and outputs alike
    raw = path.read_text(encoding="utf-8")
    for marker in SECRET_MARKERS:
        assert marker not in raw, f"{path.name} still contains the marker {marker!r}"
    source_path = REPO / "exercises" / "source" / path.name
    if not source_path.exists():
        pytest.skip(f"no source notebook {source_path.relative_to(REPO)} to compare with")
    leaked = sorted(line for line in secret_lines(read(source_path)) if json.dumps(line)[1:-1] in text)
    assert not leaked, f"{path.name} contains solution lines from its source: {leaked[:5]}"


def test_secret_lines_finds_the_answer_and_not_the_scaffold():
    """The leak check above can fail: solution lines are found, scaffold lines shared with the release are not."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "def relu_backward(dout, x):\n    ### BEGIN SOLUTION\n    dx = dout * (x > 0)\n    ### END SOLUTION\n"
        "    return dx\n")]
    assert secret_lines(nb) == {"dx = dout * (x > 0)"}
