"""``bpkit release``: solution stripping, determinism, clear errors, and the release-check of the repo's exercises."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from bpkit.cli import main
from bpkit.grading.release import ReleaseError, enclosing_names, release_notebook, strip_solutions

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_student_notebooks_match_a_fresh_release(capsys):
    """The release-check of ``make test``: fails when exercises/ drifts from exercises/source."""
    sources = sorted((ROOT / "exercises" / "source").glob("*.ipynb"))
    assert sources, "no exercise sources"
    code = main(["release", str(ROOT / "exercises" / "source"), "--out", str(ROOT / "exercises"), "--check"])
    assert code == 0, capsys.readouterr().err


def test_a_region_becomes_a_raise_at_its_indentation_with_the_catalog_hint():
    source = ("def linear_backward(dout, x, W):\n"
              "    \"\"\"Shapes...\"\"\"\n"
              "    ### BEGIN SOLUTION\n"
              "    dx = dout @ W.T\n"
              "    return dx, x.T @ dout, dout.sum(axis=0)\n"
              "    ### END SOLUTION\n")
    out = strip_solutions(source, "nb, cell 1")
    assert out == ("def linear_backward(dout, x, W):\n"
                   "    \"\"\"Shapes...\"\"\"\n"
                   "    raise NotImplementedError(\"dx, dW and db have the shapes of x (N, D), W (D, M) and b (M,): "
                   "let the shapes pick each product\")\n")
    compile(out, "released", "exec")


def test_a_method_region_gets_the_methods_hint_and_nested_indentation():
    source = ("class Value:\n"
              "    def __mul__(self, other):\n"
              "        out = Value(self.data * other.data, (self, other))\n"
              "        def _backward():\n"
              "            ### BEGIN SOLUTION\n"
              "            self.grad += other.data * out.grad\n"
              "            ### END SOLUTION\n"
              "        out._backward = _backward\n"
              "        return out\n")
    out = strip_solutions(source, "nb, cell 2")
    assert '            raise NotImplementedError("each operand receives the OTHER operand\'s value' in out
    assert "out._backward = _backward" in out
    compile(out, "released", "exec")
    assert enclosing_names(source.split("\n")[:4], 12) == ["Value", "__mul__", "_backward"]


def test_regions_outside_catalog_functions_and_in_markdown():
    assert strip_solutions("x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION\n", "c") == \
        'x = 1\nraise NotImplementedError("replace this line with your solution")\n'
    assert strip_solutions("Why?\n\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", "c", markdown=True) == \
        "Why?\n\n_Your answer here._"
    assert strip_solutions('def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION', "c",
                           hint_for=lambda names: 'say "hi" \\ bye') == \
        'def f():\n    raise NotImplementedError("say \\"hi\\" \\\\ bye")'


@pytest.mark.parametrize("source, words", [
    ("### END SOLUTION\n", "line 1: ### END SOLUTION without a ### BEGIN SOLUTION"),
    ("a\n### BEGIN SOLUTION\nb\n", "line 2: ### BEGIN SOLUTION is never closed"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "line 2: ### BEGIN SOLUTION inside the region "
     "opened on line 1"),
])
def test_unbalanced_markers_name_the_notebook_cell_and_line(source, words):
    with pytest.raises(ReleaseError, match=f"ex03.ipynb, cell 4, {words}"):
        strip_solutions(source, "ex03.ipynb, cell 4")


def _notebook(tmp_path, cells, name="ex03_test.ipynb"):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src = tmp_path / "source"
    src.mkdir(exist_ok=True)
    nbformat.write(nb, src / name)
    return src / name


def test_outputs_counts_and_timings_are_cleared_and_check_cells_kept(tmp_path):
    code = nbformat.v4.new_code_cell("def relu_backward(dout, x):\n    ### BEGIN SOLUTION\n    return dout * (x > 0)"
                                     "\n    ### END SOLUTION", execution_count=3,
                                     outputs=[nbformat.v4.new_output("stream", text="hi\n")])
    code.metadata["execution"] = {"iopub.status.busy": "2024-01-01T00:00:00"}
    check = nbformat.v4.new_code_cell("check(relu_backward)", execution_count=4,
                                      outputs=[nbformat.v4.new_output("stream", text="passes\n")])
    check.metadata["tags"] = ["nbval-ignore-output"]
    path = _notebook(tmp_path, [nbformat.v4.new_markdown_cell("# ex03"), code, check])
    nb = nbformat.reads(release_notebook(path), as_version=4)
    assert [c.get("outputs", []) for c in nb.cells] == [[], [], []]
    assert nb.cells[1].execution_count is None and "execution" not in nb.cells[1].metadata
    assert "raise NotImplementedError(\"the gradient flows where the forward input was positive" in nb.cells[1].source
    assert nb.cells[2].source == "check(relu_backward)" and nb.cells[2].metadata["tags"] == ["nbval-ignore-output"]


def test_release_is_deterministic_and_check_detects_drift(tmp_path, capsys):
    _notebook(tmp_path, [nbformat.v4.new_code_cell("x = 1")], "ex01_a.ipynb")
    _notebook(tmp_path, [nbformat.v4.new_code_cell("y = 2")], "ex02_b.ipynb")
    out = tmp_path / "out"
    assert main(["release", str(tmp_path / "source"), "--out", str(out)]) == 0
    first = {p.name: p.read_bytes() for p in out.glob("*.ipynb")}
    assert main(["release", str(tmp_path / "source"), "--out", str(out)]) == 0
    assert first == {p.name: p.read_bytes() for p in out.glob("*.ipynb")}
    assert main(["release", str(tmp_path / "source"), "--out", str(out), "--check"]) == 0
    (out / "ex02_b.ipynb").write_text((out / "ex02_b.ipynb").read_text().replace("y = 2", "y = 3"))
    (out / "ex01_a.ipynb").unlink()
    capsys.readouterr()
    assert main(["release", str(tmp_path / "source"), "--out", str(out), "--check"]) == 1
    err = capsys.readouterr().err
    assert "ex01_a.ipynb (missing)" in err and "ex02_b.ipynb (differs from a fresh release)" in err


def test_a_cell_without_an_id_gets_a_fixed_one(tmp_path):
    path = _notebook(tmp_path, [nbformat.v4.new_code_cell("x = 1")])
    raw = json.loads(path.read_text())
    del raw["cells"][0]["id"]
    path.write_text(json.dumps(raw))
    assert release_notebook(path) == release_notebook(path)
    assert '"id": "cell-1"' in release_notebook(path)


@pytest.mark.parametrize("text", ["{not json", "", json.dumps({"cells": "nope"})])
def test_a_malformed_notebook_is_a_clear_error(tmp_path, capsys, text):
    src = tmp_path / "source"
    src.mkdir()
    (src / "ex05_broken.ipynb").write_text(text)
    assert main(["release", str(src), "--out", str(tmp_path / "out")]) == 2
    assert "ex05_broken.ipynb: not a readable notebook" in capsys.readouterr().err


def test_an_unbalanced_notebook_fails_the_whole_release_before_writing(tmp_path, capsys):
    _notebook(tmp_path, [nbformat.v4.new_code_cell("x = 1")], "ex01_ok.ipynb")
    _notebook(tmp_path, [nbformat.v4.new_markdown_cell("a"), nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx")],
              "ex02_bad.ipynb")
    assert main(["release", str(tmp_path / "source"), "--out", str(tmp_path / "out")]) == 2
    assert "ex02_bad.ipynb, cell 2, line 1: ### BEGIN SOLUTION is never closed" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_empty_or_missing_source_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["release", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "expected a folder of source notebooks" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["release", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert "no .ipynb notebooks" in capsys.readouterr().err
