"""`make site`: the static course website (bpkit.site) on a small course made here, and its CI workflow file.

The real course, opened in chromium from file://, is tested in tests/test_browser.py (Plotly draws, math typesets).
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbconvert")
pytest.importorskip("jupyter_server_mathjax")

from bpkit import site  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def tiny_course(root: Path) -> Path:
    """Two lessons (one with a stored Plotly figure and math) and one released exercise."""
    import plotly.graph_objects as go

    (root / "lessons").mkdir(parents=True)
    (root / "exercises").mkdir()
    figure = go.Figure(go.Scatter(y=[1, 3, 2])).to_plotly_json()
    first = nbformat.v4.new_notebook()
    first.cells = [nbformat.v4.new_markdown_cell("# 01 · First lesson\n\nThe loss $L = (y - \\hat y)^2$."),
                   nbformat.v4.new_code_cell("fig", execution_count=1, outputs=[nbformat.v4.new_output(
                       "display_data", data={site.PLOTLY_MIME: figure, "image/png": "iVBORw0KGgo="})])]
    second = nbformat.v4.new_notebook()
    second.cells = [nbformat.v4.new_markdown_cell("## 02 · Second lesson\n\n$$\\frac{dL}{dw}$$")]
    exercise = nbformat.v4.new_notebook()
    exercise.cells = [nbformat.v4.new_markdown_cell("# Exercise 01")]
    nbformat.write(first, root / "lessons" / "01_first.ipynb")
    nbformat.write(second, root / "lessons" / "02_second.ipynb")
    nbformat.write(exercise, root / "exercises" / "ex01_first.ipynb")
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tiny_course(tmp_path_factory.mktemp("course"))
    out = root / "site"
    site.build(out, root)
    return out


def test_index_links_every_lesson_and_exercise_in_order(built):
    index = (built / "index.html").read_text()
    links = ["lessons/01_first.html", "lessons/02_second.html", "exercises/ex01_first.html"]
    positions = [index.index(f'href="{link}"') for link in links]
    assert positions == sorted(positions)
    assert "01 · First lesson" in index and "Exercise 01" in index
    for link in links:
        assert (built / link).is_file()


def nav_links(page: str) -> dict[str, str]:
    """rel -> href of the navigation links (nbconvert may write the attributes in either order)."""
    import re

    links = {}
    for tag in re.findall(r"<a [^>]*>", page):
        rel, href = re.search(r'rel="(\w+)"', tag), re.search(r'href="([^"]+)"', tag)
        if rel and href:
            links[rel.group(1)] = href.group(1)
    return links


def test_pages_link_previous_next_and_index(built):
    second = (built / "lessons" / "02_second.html").read_text()
    assert nav_links(second) == {"prev": "../lessons/01_first.html", "next": "../exercises/ex01_first.html"}
    assert 'href="../index.html"' in second
    first = (built / "lessons" / "01_first.html").read_text()
    assert "prev" not in nav_links(first)


def test_figures_are_interactive_from_one_local_plotly_js_and_math_is_left_to_local_mathjax(built):
    page = (built / "lessons" / "01_first.html").read_text()
    assert page.count('src="../assets/plotly.min.js"') == 1
    assert "Plotly.newPlot" in page and 'id="figure-1"' in page
    assert '<img src="data:image/png' not in page, "the static PNG is for GitHub; the site shows the interactive figure"
    assert 'src="../assets/mathjax/MathJax.js' in page
    assert "$L = (y - \\hat y)^2$" in page
    assert site.external_references(page) == []
    assert (built / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    assert (built / "assets" / "mathjax" / "MathJax.js").is_file()
    assert (built / "assets" / "mathjax" / "config" / "TeX-AMS-MML_HTMLorMML-full.js").is_file()


def test_external_references_finds_a_cdn():
    assert site.external_references('<script src="https://cdn.example/x.js"></script>') != []
    assert site.external_references('<script src="//cdn.example/x.js"></script>') != []
    assert site.external_references('<script src="../assets/x.js"></script>') == []


def test_the_github_pages_workflow_builds_the_site_and_publishes_it():
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "site.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    runs = "\n".join(step.get("run", "") for step in steps)
    uses = [step.get("uses", "") for step in steps]
    assert "bpkit.site --out site" in runs and "[site]" in runs
    assert any(u.startswith("actions/upload-pages-artifact") for u in uses)
    assert any(u.startswith("actions/deploy-pages") for u in uses)
    assert workflow["permissions"]["pages"] == "write"
