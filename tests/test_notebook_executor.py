"""``bpkit.notebooks`` (make notebooks): runs in place, deterministic kernel, no widget state, failures isolated."""
from __future__ import annotations

import subprocess
import sys

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
