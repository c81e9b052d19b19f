"""The course as a static website (``make site``): every lesson and every released exercise as an HTML page.

Usage: ``python -m bpkit.site [--out site] [--root .]``. The pages are made from the committed, executed notebooks
(nothing is re-executed), with nbconvert's JupyterLab template, and work offline, straight from ``file://``:

- **Plotly** figures stay interactive: each stored figure (``application/vnd.plotly.v1+json``) becomes a ``<div>``
  drawn by ONE local copy of plotly.js (``assets/plotly.min.js``, the file inside the installed plotly wheel); no CDN.
- **Math** is typeset by MathJax 2.7 from ``assets/mathjax/`` (the copy that ships in the ``jupyter-server-mathjax``
  wheel, Jupyter's own package: JupyterLab's wheel bundles MathJax 3 only inside its webpack chunks and nbconvert's
  templates point at a CDN). Over http(s) MathJax uses its STIX web fonts; from ``file://`` the browser refuses web
  fonts (CORS), and MathJax draws with the local fonts instead.
- **Navigation**: an index page (``index.html``), and on every page links to the index and to the previous and next
  page. Widgets (sliders) are listed as "run the notebook to use it", as in the committed notebooks.

Nothing from the network is referenced: no require.js, no mermaid, no CDN (``external_references`` checks a page).
"""
from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

PLOTLY_MIME = "application/vnd.plotly.v1+json"
TEMPLATE_DIR = Path(__file__).resolve().parent / "site_template"
MATHJAX_PARTS = ("MathJax.js", "LICENSE", "config", "extensions", "fonts", "jax")  # not the 2 MB of translations
_EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)


@dataclass
class Page:
    """One page of the site: the notebook it is made from, where it goes, its title and its section."""
    notebook: Path
    href: str      # relative to the site root, e.g. "lessons/01_chain_rule_sympy.html"
    title: str
    section: str   # "Lessons" or "Exercises"


def notebook_title(nb, fallback: str) -> str:
    """The first Markdown heading of a notebook (without its '#'s and links), or ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("#"):
                title = line.lstrip("#").strip()
                return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title).replace("`", "")
    return fallback


def course_pages(root) -> list[Page]:
    """Lessons (``lessons/*.ipynb``) then released student exercises (``exercises/ex*.ipynb``), in order."""
    import nbformat

    root = Path(root)
    pages = []
    for section, folder, pattern in (("Lessons", "lessons", "*.ipynb"), ("Exercises", "exercises", "ex*.ipynb")):
        for path in sorted((root / folder).glob(pattern)):
            nb = nbformat.read(path, as_version=4)
            pages.append(Page(path, f"{folder}/{path.stem}.html", notebook_title(nb, path.stem), section))
    return pages


def plotly_div(figure: dict, div_id: str) -> str:
    """The HTML of one stored Plotly figure, drawn by the page's plotly.js (loaded once in the page's head)."""
    import plotly.io as pio

    return pio.to_html(figure, include_plotlyjs=False, full_html=False, div_id=div_id, validate=False,
                       config={"responsive": True})


def interactive_figures(nb) -> int:
    """Turn every stored Plotly figure of ``nb`` (a copy) into an HTML div; drop its static PNG. Return the count."""
    count = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME in data:
                count += 1
                figure = data.pop(PLOTLY_MIME)
                data.pop("image/png", None)
                data["text/html"] = plotly_div(figure, f"figure-{count}")
    return count


def exporter():
    from nbconvert import HTMLExporter

    return HTMLExporter(extra_template_basedirs=[str(TEMPLATE_DIR)], template_name="bpkit_site",
                        exclude_input_prompt=False, exclude_output_prompt=True)


def navigation(pages: list[Page], index: int, prefix: str) -> str:
    """The bar at the top and bottom of a page: course index, previous page, next page."""
    links = [f'<a href="{prefix}index.html">Course index</a>']
    if index > 0:
        previous = pages[index - 1]
        links.insert(0, f'<a rel="prev" href="{prefix}{previous.href}">&larr; {html.escape(previous.title)}</a>')
    if index + 1 < len(pages):
        following = pages[index + 1]
        links.append(f'<a rel="next" href="{prefix}{following.href}">{html.escape(following.title)} &rarr;</a>')
    return '<nav class="bpkit-nav">' + " &middot; ".join(links) + "</nav>"


def render_page(pages: list[Page], index: int) -> str:
    import copy

    import nbformat

    page = pages[index]
    nb = copy.deepcopy(nbformat.read(page.notebook, as_version=4))
    interactive_figures(nb)
    prefix = "../" * page.href.count("/")
    resources = {"bpkit_assets": f"{prefix}assets/", "bpkit_nav": navigation(pages, index, prefix),
                 "bpkit_title": page.title, "metadata": {"name": page.title}}
    body, _ = exporter().from_notebook_node(nb, resources=resources)
    return body


def index_page(pages: list[Page]) -> str:
    sections = []
    for section in ("Lessons", "Exercises"):
        items = "".join(f'<li><a href="{p.href}">{html.escape(p.title)}</a> <code>{p.notebook.name}</code></li>'
                        for p in pages if p.section == section)
        if items:
            sections.append(f"<h2>{section}</h2><ol>{items}</ol>")
    return (TEMPLATE_DIR / "index.html").read_text(encoding="utf-8").replace("{{ sections }}", "".join(sections))


def copy_assets(out: Path) -> None:
    """plotly.min.js from the plotly wheel, MathJax from jupyter-server-mathjax's, the site's stylesheet."""
    import plotly

    assets = out / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", assets / "plotly.min.js")
    shutil.copy(TEMPLATE_DIR / "site.css", assets / "site.css")
    try:
        import jupyter_server_mathjax
    except ImportError as error:
        raise RuntimeError("the site's offline MathJax comes from jupyter-server-mathjax: "
                           "pip install -e '.[site]'") from error
    mathjax = Path(jupyter_server_mathjax.__file__).parent / "static"
    target = assets / "mathjax"
    if target.exists():
        shutil.rmtree(target)
    for part in MATHJAX_PARTS:
        source = mathjax / part
        if source.is_dir():
            shutil.copytree(source, target / part)
        elif source.exists():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target / part)


def external_references(page_html: str) -> list[str]:
    """Every src/href of a page that points at another host (the site must have none)."""
    return [match.group(0) for match in _EXTERNAL.finditer(page_html)]


def build(out="site", root=".") -> list[Path]:
    """Write the whole site into ``out`` (emptied first); return the pages written."""
    out, root = Path(out), Path(root)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    pages = course_pages(root)
    if not pages:
        raise RuntimeError(f"no lessons or exercises under {root.resolve()}")
    copy_assets(out)
    written = [out / "index.html"]
    written[0].write_text(index_page(pages), encoding="utf-8")
    for number, page in enumerate(pages):
        target = out / page.href
        target.parent.mkdir(parents=True, exist_ok=True)
        text = render_page(pages, number)
        external = external_references(text)
        if external:
            raise RuntimeError(f"{page.href} references another host: {external[:3]}")
        target.write_text(text, encoding="utf-8")
        written.append(target)
    (out / ".nojekyll").write_text("")  # GitHub Pages: serve the folders as they are
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bpkit.site", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="site", help="output folder (default: site/, emptied first)")
    parser.add_argument("--root", default=".", help="the course folder holding lessons/ and exercises/")
    args = parser.parse_args(argv)
    pages = build(args.out, args.root)
    index = Path(args.out).resolve() / "index.html"
    print(f"{len(pages)} pages written; open file://{index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
