"""``bpkit.notebooks`` (make notebooks): runs in place, deterministic kernel, no widget state, failures isolated."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from bpkit import notebooks
from bpkit.notebooks import WIDGET_VIEW


def test_widget_note_names_the_widget_and_keeps_progress_bars():
    assert notebooks.widget_note("VBox(children=(IntSlider(value=3),))") == \
        "[interactive VBox: run the notebook to use it]"
    bar = "100%|##########| 5/5 [00:00<00:00, 40.1it/s]"
    assert notebooks.widget_note(bar) == bar


def test_strip_widget_state_removes_metadata_and_views():
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    cell = nbformat.v4.new_code_cell("slider")
    cell.outputs = [nbformat.v4.new_output("execute_result", execution_count=1, data={
        WIDGET_VIEW: {"model_id": "0123abcd", "version_major": 2, "version_minor": 0},
        "text/plain": "IntSlider(value=3)"})]
    nb.cells = [cell]
    assert notebooks.strip_widget_state(nb) == 1
    assert "widgets" not in nb.metadata
    assert dict(cell.outputs[0].data) == {"text/plain": "[interactive IntSlider: run the notebook to use it]"}


def _write(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t")] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_main_executes_in_place_deterministically_and_leaves_failures_untouched(tmp_path, capsys):
    good = _write(tmp_path / "good.ipynb",
                  "import os\nprint(os.environ['PYTHONHASHSEED'], os.environ['OPENBLAS_NUM_THREADS'], hash('bpkit'))",
                  "import ipywidgets\nipywidgets.IntSlider(value=3)")
    bad = _write(tmp_path / "bad.ipynb", "x = 1", "raise ValueError('broken on purpose')")
    bad_before = bad.read_bytes()

    assert notebooks.main([str(good), str(bad)]) == 1
    captured = capsys.readouterr()
    assert "bad.ipynb: FAILED (file left unchanged): a cell raised ValueError: broken on purpose" in captured.err
    assert "good.ipynb: executed in" in captured.err
    assert "1 notebook(s) executed in" in captured.out and "1 failed" in captured.out
    assert bad.read_bytes() == bad_before

    nb = nbformat.read(good, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3" and "widgets" not in nb.metadata
    first, second = nb.cells[1], nb.cells[2]
    assert [first.execution_count, second.execution_count] == [1, 2]
    assert all("execution" not in c.metadata for c in nb.cells), "execution timestamps must not be stored"
    seed, threads, hashed = first.outputs[0].text.split()
    assert (seed, threads) == ("0", "1")
    expected = subprocess.run([sys.executable, "-c", "print(hash('bpkit'))"], env={"PYTHONHASHSEED": "0"},
                              capture_output=True, text=True, check=True).stdout.strip()
    assert hashed == expected, "the kernel's string hashes must be seeded (PYTHONHASHSEED=0)"
    assert dict(second.outputs[0].data) == {"text/plain": "[interactive IntSlider: run the notebook to use it]"}


def test_main_rejects_missing_files_and_expands_unmatched_patterns(tmp_path, capsys):
    assert notebooks.main([str(tmp_path / "nope.ipynb")]) == 2
    assert "not a notebook file" in capsys.readouterr().err
    assert notebooks.main([str(tmp_path / "lessons" / "*.ipynb")]) == 0  # the shell's unmatched glob: nothing to do


@pytest.mark.parametrize("layout", [["lessons/02_b.ipynb", "lessons/01_a.ipynb", "exercises/source/ex01.ipynb",
                                     "exercises/ex01.ipynb"]])
def test_course_notebooks_lists_lessons_then_exercise_sources(tmp_path, layout):
    for rel in layout:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    found = [p.relative_to(tmp_path).as_posix() for p in notebooks.course_notebooks(tmp_path)]
    assert found == ["lessons/01_a.ipynb", "lessons/02_b.ipynb", "exercises/source/ex01.ipynb"]


def test_static_image_size_keeps_the_layout_and_caps_a_huge_one():
    from bpkit.notebooks import PNG_HEIGHT, PNG_WIDTH, _png_size

    assert _png_size({}) == (PNG_WIDTH, PNG_HEIGHT, 1.0)
    assert _png_size({"width": 600, "height": 300}) == (600, 300, 1.0)
    width, height, scale = _png_size({"width": 2200, "height": 500})
    assert (width, height) == (2200, 500) and width * scale == 1100


def test_every_plotly_output_gets_a_png_and_other_outputs_do_not(tmp_path):
    pytest.importorskip("kaleido")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("kaleido draws in /usr/bin/chromium, which is absent")
    import base64

    import plotly.graph_objects as go

    from bpkit.notebooks import PLOTLY_MIME, _static_image_server, add_static_images

    nb = nbformat.v4.new_notebook()
    figure = go.Figure(go.Scatter(y=[1, 3, 2]), layout={"width": 400, "height": 300}).to_plotly_json()
    nb.cells = [nbformat.v4.new_code_cell("fig", execution_count=1, outputs=[
                    nbformat.v4.new_output("display_data", data={PLOTLY_MIME: figure})]),
                nbformat.v4.new_code_cell("1", execution_count=2, outputs=[
                    nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=2)])]
    with _static_image_server():
        assert add_static_images(nb) == 1
    figure_output, number_output = nb.cells[0].outputs[0], nb.cells[1].outputs[0]
    assert base64.b64decode(figure_output.data["image/png"]).startswith(b"\x89PNG")
    assert figure_output.metadata["image/png"] == {"width": 400, "height": 300}
    assert PLOTLY_MIME in figure_output.data, "JupyterLab still gets the interactive figure"
    assert "image/png" not in number_output.data
    nbformat.validate(nb)
