"""``%load_ext bpkit`` in a real IPython shell: the magics work, and ``%unload_ext bpkit`` undoes every change."""
from __future__ import annotations

import json
import random

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import bpkit.exercises
from bpkit import _extension

PLOTLY_MIME = "application/vnd.plotly.v1+json"


@pytest.fixture
def shell():
    """The IPython shell with known 'before' state; bpkit is unloaded and that state restored afterwards."""
    created = not InteractiveShell.initialized()
    ip = InteractiveShell.instance()
    before_renderer, before_print = pio.renderers.default, np.get_printoptions()
    pio.renderers.default = "json"
    np.set_printoptions(precision=7, suppress=False, linewidth=75)
    try:
        yield ip
    finally:
        if "bpkit" in ip.extension_manager.loaded:
            ip.run_line_magic("unload_ext", "bpkit")
        pio.renderers.default = before_renderer
        np.set_printoptions(**before_print)
        if created:  # leave no IPython singleton behind for other tests in this process
            InteractiveShell.clear_instance()


def line_magics(ip):
    return ip.magics_manager.magics["line"]


def test_load_registers_magics_renderer_and_print_options(shell):
    shell.run_line_magic("load_ext", "bpkit")
    assert set(_extension.MAGICS) <= set(line_magics(shell))
    assert pio.renderers.default == "plotly_mimetype"
    bundle = go.Figure(go.Scatter(x=[0, 1], y=[1, 0]))._repr_mimebundle_({}, {})
    assert PLOTLY_MIME in bundle, f"a figure should render as {PLOTLY_MIME}, got {sorted(bundle)}"
    options = np.get_printoptions()
    assert (options["precision"], options["suppress"], options["linewidth"]) == (4, True, 110)
    assert np.array2string(np.array([1e-9, 0.123456789])) == "[0.     0.1235]"


def test_unload_undoes_every_change(shell):
    before_print = np.get_printoptions()
    shell.run_line_magic("load_ext", "bpkit")
    shell.run_line_magic("unload_ext", "bpkit")
    for name in _extension.MAGICS:
        assert name not in line_magics(shell), f"%{name} is still registered after %unload_ext bpkit"
        assert name not in vars(shell.magics_manager.user_magics)
    assert pio.renderers.default == "json"
    assert np.get_printoptions() == before_print
    assert _extension._saved == {}


def test_reload_then_unload_restores_the_state_from_before_the_first_load(shell):
    before_print = np.get_printoptions()
    shell.run_line_magic("load_ext", "bpkit")
    shell.run_line_magic("reload_ext", "bpkit")
    _extension.load(shell)  # a stray second load must not overwrite the saved state
    shell.run_line_magic("unload_ext", "bpkit")
    assert pio.renderers.default == "json"
    assert np.get_printoptions() == before_print
    assert "check" not in line_magics(shell)


def test_unload_puts_back_a_magic_the_course_shadowed(shell):
    def lessons(line):
        return "mine"

    shell.register_magic_function(lessons, "line", "lessons")
    try:
        shell.run_line_magic("load_ext", "bpkit")
        assert shell.run_line_magic("lessons", "") != "mine"
        shell.run_line_magic("unload_ext", "bpkit")
        assert shell.run_line_magic("lessons", "") == "mine"
    finally:
        line_magics(shell).pop("lessons", None)
        vars(shell.magics_manager.user_magics).pop("lessons", None)


def test_seed_magic_seeds_numpy_and_python_and_says_so(shell, capsys):
    shell.run_line_magic("load_ext", "bpkit")
    shell.run_line_magic("bpkit_seed", "123")
    drawn = (np.random.rand(3), random.random())
    expected = (np.random.RandomState(123).rand(3), random.Random(123).random())
    np.testing.assert_array_equal(drawn[0], expected[0])
    assert drawn[1] == expected[1]
    out = capsys.readouterr().out
    assert "np.random.seed(123)" in out and "random.seed(123)" in out


@pytest.mark.parametrize("bad", ["", "abc", "1.5", "-1", str(2**32)])
def test_seed_magic_rejects_bad_input_with_a_usage_error(shell, bad):
    shell.run_line_magic("load_ext", "bpkit")
    with pytest.raises(UsageError, match="bpkit_seed"):
        shell.run_line_magic("bpkit_seed", bad)


def _notebook(path, heading):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": [f"# {heading}\n", "Goals..."]}]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_lessons_magic_lists_lessons_and_exercises_as_links_relative_to_here(shell, tmp_path, monkeypatch):
    (tmp_path / "lessons").mkdir()
    (tmp_path / "exercises" / "source").mkdir(parents=True)
    _notebook(tmp_path / "lessons" / "02_b.ipynb", "Lesson two")
    _notebook(tmp_path / "lessons" / "01_a.ipynb", "The chain rule")
    _notebook(tmp_path / "exercises" / "ex01_a.ipynb", "Exercise one")
    _notebook(tmp_path / "exercises" / "source" / "ex01_a.ipynb", "SOLUTIONS")  # instructor copy: not listed
    monkeypatch.chdir(tmp_path / "lessons")
    shell.run_line_magic("load_ext", "bpkit")
    listing = shell.run_line_magic("lessons", "")
    markdown = listing._repr_markdown_()
    assert markdown.index("[The chain rule](01_a.ipynb)") < markdown.index("[Lesson two](02_b.ipynb)")
    assert "[Exercise one](../exercises/ex01_a.ipynb)" in markdown
    assert "SOLUTIONS" not in markdown and "SOLUTIONS" not in repr(listing)
    assert "01_a.ipynb" in repr(listing)


def test_lessons_magic_says_where_to_start_when_there_are_no_lessons(shell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shell.run_line_magic("load_ext", "bpkit")
    assert "No lessons/ folder" in repr(_extension.lessons_magic("", start=tmp_path))


def test_check_magic_passes_the_name_and_the_notebook_namespace(shell, monkeypatch):
    calls = []
    monkeypatch.setattr(bpkit.exercises, "magic_check", lambda line, ns: calls.append((line, ns)) or "report",
                        raising=False)
    shell.run_line_magic("load_ext", "bpkit")
    assert shell.run_line_magic("check", "linear_backward") == "report"
    assert calls == [("linear_backward", shell.user_ns)]


def test_check_magic_runs_the_real_exercise_checks_on_the_notebooks_function(shell):
    shell.run_line_magic("load_ext", "bpkit")
    shell.user_ns["linear_forward"] = lambda x, W, b: x @ W + b
    assert shell.run_line_magic("check", "linear_forward").passed
    shell.user_ns["linear_forward"] = lambda x, W, b: x @ W  # forgot the bias
    report = shell.run_line_magic("check", "linear_forward")
    assert not report.passed and report.score < report.max_score


@pytest.mark.parametrize("line, message", [("", "expects a function name"), ("no_such_function", "no_such_function")])
def test_check_magic_turns_usage_mistakes_into_one_clear_line(shell, line, message):
    shell.run_line_magic("load_ext", "bpkit")
    with pytest.raises(UsageError, match=message):
        shell.run_line_magic("check", line)
