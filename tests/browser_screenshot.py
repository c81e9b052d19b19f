"""Drive the course in a real JupyterLab with Debian's chromium; used by ``tests/test_browser.py`` and for the README.

``python tests/browser_screenshot.py`` runs the optimizer lesson (or lesson 01) in a throwaway JupyterLab and saves the
README screenshot ``docs/jupyterlab.png``. The server runs on 127.0.0.1 on a free port, with its own config, data,
runtime, settings and workspace folders under a temporary directory and the course's settings override
(``bpkit/jupyterlab_overrides.json``, the file ``make lab`` installs), and it is stopped by its own process group.
The notebooks run from a temporary copy of ``lessons/``, so the repository is never modified.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OVERRIDES = REPO / "bpkit" / "jupyterlab_overrides.json"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1440, "height": 900}
PLOTLY = ".jp-RenderedPlotly.js-plotly-plot, .jp-OutputArea .js-plotly-plot"  # static figure or FigureWidget
SLIDER = ".widget-slider"


def chromium_missing_reason() -> str | None:
    """Why the browser test cannot run here (None when it can)."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is absent (install Debian's chromium: apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """A JupyterLab server in a temporary home: ``with LabServer(root) as lab: page.goto(lab.url("x.ipynb"))``."""

    def __init__(self, root_dir, home=None, startup_timeout: float = 60.0):
        self.root_dir = Path(root_dir)
        self.home = Path(home or tempfile.mkdtemp(prefix="bpkit-lab-"))
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.log_path = self.home / "jupyterlab.log"

    def _environment(self) -> dict:
        env = dict(os.environ)
        for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                         ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "user-settings"),
                         ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")]:
            env[var] = str(self.home / sub)
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        env.pop("JUPYTER_PATH", None)
        env.pop("JUPYTER_CONFIG_PATH", None)
        return env

    def start(self) -> "LabServer":
        settings = self.home / "app-settings"  # same mechanism as `make lab`: <app settings>/overrides.d/bpkit.json
        (settings / "overrides.d").mkdir(parents=True, exist_ok=True)
        shutil.copy(OVERRIDES, settings / "overrides.d" / "bpkit.json")
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                   f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root_dir}",
                   f"--LabApp.app_settings_dir={settings}", "--LabApp.expose_app_in_browser=True",
                   "--LanguageServerManager.autodetect=False", "--ServerApp.allow_root=True"]
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, cwd=self.root_dir, env=self._environment(), stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2) as reply:
                    json.load(reply)
                return self
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {self.startup_timeout:.0f} s:\n{self.log_tail()}")

    def url(self, path: str = "", workspace: str | None = None) -> str:
        """The Lab URL that opens ``path`` (relative to the root folder), with the token.

        A named ``workspace`` starts with no other tabs open (the default one restores earlier tabs).
        """
        prefix = f"/lab/workspaces/{workspace}" if workspace else "/lab"
        return f"{self.base}{prefix}/tree/{path}?token={self.token}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM the server's own process group (it shuts its kernels down), SIGKILL it if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> "LabServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def copy_course(destination, clear_outputs: bool = True) -> Path:
    """Copy ``lessons/`` (and released ``exercises/``) into ``destination`` so runs never touch the repository.

    The copies' stored outputs are cleared by default: every test re-runs the notebook anyway, and drawing the
    committed figures first (3-D surfaces in software WebGL) would double the time the browser needs.
    """
    destination = Path(destination)
    for folder in ("lessons", "exercises"):
        source = REPO / folder
        if source.is_dir():
            shutil.copytree(source, destination / folder, ignore=shutil.ignore_patterns(
                ".ipynb_checkpoints", "source", "__pycache__"))
    if clear_outputs:
        for path in destination.glob("*/*.ipynb"):
            nb = json.loads(path.read_text(encoding="utf-8"))
            for cell in nb.get("cells", []):
                if cell.get("cell_type") == "code":
                    cell["outputs"], cell["execution_count"] = [], None
            path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return destination


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# ---------------------------------------------------------------------------------------------------- page helpers
_STATE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.model || !panel.sessionContext) return null;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = [];
  panel.content.widgets.forEach((cell, index) => {
    if (cell.model.type !== 'code') return;
    const outputs = cell.model.outputs.toJSON();
    cells.push({index, count: cell.model.executionCount,
                running: (cell.model.executionState || 'idle') !== 'idle',
                errors: outputs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue)});
  });
  return {path: panel.context.path, kernel: kernel ? kernel.status : 'none', cells};
}"""


def notebook_state(page) -> dict | None:
    """The current notebook, read from JupyterLab's own model: per code cell its execution count and errors."""
    return page.evaluate(_STATE_JS)


_CLOSE_AND_OPEN_JS = """async (path) => {
  const app = window.jupyterapp;
  for (const widget of Array.from(app.shell.widgets('main'))) {  // the previous notebook: kernel off, tab gone
    if (widget.sessionContext) await widget.sessionContext.shutdown();
    if (widget.context) widget.context.model.dirty = false;
    widget.dispose();
  }
  await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
}"""


def open_notebook(page, lab: LabServer, path: str, timeout: float = 60.0) -> None:
    """Open ``path`` and wait until it is current and its kernel is idle.

    The first call loads Lab in a workspace of its own; later calls on the same page close the open notebook (and
    shut its kernel down) and open the next one in the Lab already loaded, which saves a page load per notebook.
    """
    if page.evaluate("() => !!(window.jupyterapp && window.jupyterapp.shell)"):
        page.evaluate(_CLOSE_AND_OPEN_JS, path)
    else:
        page.goto(lab.url(path, workspace=Path(path).stem.replace(".", "-")))
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=timeout * 1000)
    page.wait_for_function(
        """(path) => { const p = window.jupyterapp.shell.currentWidget;
                     return p && p.context && p.context.path === path && p.sessionContext
                            && p.sessionContext.session && p.sessionContext.session.kernel
                            && p.sessionContext.session.kernel.status === 'idle'; }""",
        arg=path, timeout=timeout * 1000)


def restart_and_run_all(page, timeout: float = 60.0) -> dict:
    """Clear outputs, restart the kernel and run every cell (the toolbar's ⏩ button); return the final state.

    Clearing first makes "done" unambiguous: every code cell has a fresh execution count, or a cell failed.
    """
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:restart-run-all'); }")
    page.locator(".jp-Dialog .jp-mod-accept").click(timeout=15_000)  # "Restart kernel?" -> Restart
    deadline = time.monotonic() + timeout
    while True:
        state = notebook_state(page)
        cells = state["cells"]
        settled = state["kernel"] == "idle" and not any(c["running"] for c in cells)
        if settled and (all(c["count"] is not None for c in cells) or any(c["errors"] for c in cells)):
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"{state['path']} did not finish running within {timeout:.0f} s: "
                               f"{sum(c['count'] is not None for c in cells)}/{len(cells)} code cells ran")
        time.sleep(0.25)


_SNAPSHOT_JS = """() => {
  const plots = [...document.querySelectorAll('.jp-OutputArea .js-plotly-plot')].map(gd =>
      JSON.stringify((gd.data || []).map(t => [t.x, t.y, t.z])));
  const texts = [...document.querySelectorAll('.jp-OutputArea-output')].map(el => {
      const copy = el.cloneNode(true);
      copy.querySelectorAll('.widget-readout, .js-plotly-plot').forEach(n => n.remove());
      return copy.textContent; });
  return {plots, texts};
}"""


def outputs_snapshot(page) -> dict:
    """Every Plotly figure's data and every output's text (slider readouts left out): what a slider can change."""
    return page.evaluate(_SNAPSHOT_JS)


def drag_slider(page, slider) -> None:
    """Drag the slider's handle with the mouse to the far side of its track (as a student would)."""
    slider.scroll_into_view_if_needed()
    track = slider.locator(".noUi-target").first.bounding_box()
    handle = slider.locator(".noUi-handle").first.bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    fraction = 0.2 if x > track["x"] + 0.5 * track["width"] else 0.8
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(track["x"] + fraction * track["width"], y, steps=8)
    page.mouse.up()


def move_a_slider_and_wait_for_change(page, max_sliders: int = 4, timeout: float = 10.0) -> int:
    """Drag sliders one by one until one changes a figure or a printed number; return its index, else raise."""
    sliders = page.locator(SLIDER)
    for index in range(min(sliders.count(), max_sliders)):
        before = outputs_snapshot(page)
        drag_slider(page, sliders.nth(index))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if outputs_snapshot(page) != before:
                return index
            time.sleep(0.2)
    raise AssertionError(f"moving the first {min(sliders.count(), max_sliders)} slider(s) changed no figure and no "
                         f"printed number within {timeout:.0f} s each")


_SCROLL_TO_CELL_JS = """el => { const cell = el.closest('.jp-Cell');
  cell.scrollIntoView({block: 'start'});
  const scroller = cell.closest('.jp-WindowedPanel-outer') || cell.parentElement;
  return Math.round(cell.getBoundingClientRect().top - scroller.getBoundingClientRect().top); }"""


def frame_widget(page, attempts: int = 20) -> None:
    """Scroll the first slider's cell to the top of the notebook, with its figure below it, and park the mouse.

    Figures above it may still be growing while they render, so scroll again until the position holds still.
    """
    slider = page.locator(SLIDER).first
    previous = None
    for _ in range(attempts):
        offset = slider.evaluate(_SCROLL_TO_CELL_JS)
        page.wait_for_timeout(300)
        if previous is not None and abs(offset - previous) <= 2 and abs(offset) <= 20:
            break
        previous = offset
    page.mouse.move(5, VIEWPORT["height"] - 5)  # off every figure, so no Plotly toolbar shows
    page.wait_for_timeout(300)


def take_readme_screenshot(out=REPO / "docs" / "jupyterlab.png", lesson: str | None = None) -> Path:
    """Run a lesson with a slider and a figure in a fresh Lab and save a screenshot of it to ``out``."""
    from playwright.sync_api import sync_playwright

    candidates = [lesson] if lesson else ["lessons/07_optimizers.ipynb", "lessons/01_chain_rule_sympy.ipynb"]
    with tempfile.TemporaryDirectory(prefix="bpkit-shot-") as tmp:
        course = copy_course(Path(tmp) / "course")
        path = next((c for c in candidates if (course / c).exists()), None)
        if path is None:
            raise SystemExit(f"none of {candidates} exists yet")
        with LabServer(course, home=Path(tmp) / "home") as lab, sync_playwright() as p:
            browser = launch_browser(p)
            page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
            open_notebook(page, lab, path)
            state = restart_and_run_all(page, timeout=120)
            errors = [c for c in state["cells"] if c["errors"]]
            if errors:
                raise SystemExit(f"{path} has failing cells: {errors}")
            page.locator(SLIDER).first.wait_for(timeout=20_000)
            page.locator(PLOTLY).first.wait_for(timeout=20_000)
            frame_widget(page)
            out = Path(out)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            browser.close()
    return out


if __name__ == "__main__":
    reason = chromium_missing_reason()
    if reason:
        raise SystemExit(reason)
    print(take_readme_screenshot(lesson=sys.argv[1] if len(sys.argv) > 1 else None))
