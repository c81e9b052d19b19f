"""Widget response in a real JupyterLab (chromium): how long from a student's change of a control to the redrawn
figure, for lesson 07's optimizer race (landscape dropdown at 990 steps, learning-rate and steps sliders) and lesson
06's gradient-descent explorer.

    python bench/widget_response.py [--shots DIR]

Each figure is the median of several changes, measured in the page: the clock starts when the student lets go of
the slider (the ``pointerup`` that sends the new value, as ``continuous_update=False`` sliders do) or when the
dropdown's ``change`` fires, and stops at the last Plotly redraw event of the widget's figure (kernel round trip,
Python, the comm message and the redraw). The robot's own mouse travel before the release is not counted (a
previous version started the clock before the drag and so counted ~100 ms of Playwright's mouse moves).
Screenshots at 1440x900 go to DIR (default tests/artifacts).
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import browser_screenshot as lab_tools  # noqa: E402

_ARM_JS = """([marker, index]) => {
  const cells = [...document.querySelectorAll('.jp-CodeCell')];
  const cell = cells.find(c => c.innerText.includes(marker));
  const gd = cell.querySelectorAll('.js-plotly-plot')[index || 0];
  window.__bench = {gd, cell, t0: 0, t1: 0, armed: false};
  if (!window.__benchListening) {
    const start = () => { if (window.__bench.armed) { window.__bench.t0 = performance.now();
                                                        window.__bench.armed = false; } };
    document.addEventListener('pointerup', start, true);
    document.addEventListener('change', start, true);
    window.__benchListening = true; }
  if (!gd.__benchHooked) {
    for (const ev of ['plotly_afterplot', 'plotly_restyle', 'plotly_relayout', 'plotly_update'])
      gd.on(ev, () => { window.__bench.t1 = performance.now(); });
    gd.__benchHooked = true; }
  cell.scrollIntoView({block: 'start'});
  return !!gd;
}"""


def run_code(page, code: str) -> None:
    """Execute ``code`` in the notebook's kernel (as if typed in a cell) and wait for it to finish."""
    page.evaluate("""async (code) => {
      const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
      await kernel.requestExecute({code}).done; }""", code)


def timed(page, action, timeout: float = 20.0) -> float:
    """Seconds from the release of the control in ``action()`` to the armed figure's last redraw."""
    page.evaluate("() => { window.__bench.t1 = 0; window.__bench.t0 = 0; window.__bench.armed = true; }")
    action()
    page.wait_for_function("() => window.__bench.t0 > 0 && window.__bench.t1 > window.__bench.t0",
                           timeout=timeout * 1000)
    while True:                                   # the last redraw of this change: none for 0.5 s
        last = page.evaluate("() => window.__bench.t1")
        time.sleep(0.5)
        if page.evaluate("() => window.__bench.t1") == last:
            break
    return page.evaluate("() => (window.__bench.t1 - window.__bench.t0) / 1000")


def select(page, marker: str, label: str, value: str):
    cell = page.locator(".jp-CodeCell", has_text=marker)
    return lambda: cell.locator(f".widget-dropdown:has-text('{label}') select").select_option(value)


def drag(page, marker: str, label: str, fraction: float):
    cell = page.locator(".jp-CodeCell", has_text=marker)

    def go():
        slider = cell.locator(f".widget-slider:has-text('{label}')").first
        track = slider.locator(".noUi-target").first.bounding_box()
        handle = slider.locator(".noUi-handle").first.bounding_box()
        x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(track["x"] + fraction * track["width"], y, steps=4)
        page.mouse.up()
    return go


def report_errors(state) -> None:
    failed = [(c["index"], c["errors"]) for c in state["cells"] if c["errors"]]
    if failed:
        print(f"warning: {state['path']} had failing cells (the widgets are still timed): {failed}", flush=True)


def open_and_arm(page, lab, path: str, marker: str, settle_ms: int) -> None:
    """Open ``path``, restart and run all, wait for the figure of the cell holding ``marker`` and arm the clock
    on it (its first Plotly figure)."""
    lab_tools.open_notebook(page, lab, path)
    report_errors(lab_tools.restart_and_run_all(page, timeout=180))
    cell = page.locator(".jp-CodeCell", has_text=marker)
    cell.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    cell.first.scroll_into_view_if_needed()
    page.wait_for_timeout(settle_ms)
    page.evaluate(_ARM_JS, [marker, 0])


def show(name, values) -> None:
    print(f"{name}: median {statistics.median(values) * 1e3:.0f} ms, max {max(values) * 1e3:.0f} ms "
          f"over {len(values)} changes", flush=True)


def main(shots: Path) -> None:
    from playwright.sync_api import sync_playwright

    shots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bpkit-bench-") as tmp:
        course = lab_tools.copy_course(Path(tmp) / "course")
        with lab_tools.LabServer(course, home=Path(tmp) / "home") as lab, sync_playwright() as p:
            browser = lab_tools.launch_browser(p)
            page = browser.new_page(viewport=lab_tools.VIEWPORT, device_scale_factor=1)
            results = {}

            marker = "race_widget = OptimizerRace"
            open_and_arm(page, lab, "lessons/07_optimizers.ipynb", marker, settle_ms=2000)
            page.screenshot(path=str(shots / "07-race-before.png"))
            run_code(page, "race_widget.steps.value = 990")
            page.wait_for_timeout(1500)
            switch = []
            for value in ["rosenbrock", "saddle", "ill-conditioned quadratic"] * 2:
                switch.append(timed(page, select(page, marker, "landscape", value)))
                if value == "rosenbrock" and len(switch) == 1:
                    page.screenshot(path=str(shots / "07-race-rosenbrock-990.png"))
            results["07 landscape switch at 990 steps"] = switch
            show("07 landscape switch at 990 steps", switch)
            lr = []
            for fraction in [0.9, 0.3, 0.7, 0.5, 0.8, 0.2]:
                lr.append(timed(page, drag(page, marker, "lr x tuned", fraction)))
            page.screenshot(path=str(shots / "07-race-lr-moved.png"))
            results["07 'lr x tuned' slider at 990 steps"] = lr
            show("07 'lr x tuned' slider at 990 steps", lr)
            steps = []
            for fraction in [0.2, 0.9, 0.5, 0.95]:
                steps.append(timed(page, drag(page, marker, "steps", fraction)))
            results["07 'steps' slider"] = steps
            show("07 'steps' slider", steps)
            cell = page.locator(".jp-CodeCell", has_text=marker)
            cell.locator(".widget-checkbox input").first.check()
            page.wait_for_timeout(3000)
            page.evaluate(_ARM_JS, [marker, 1])        # now time the 3-D figure's redraw
            three_d = [timed(page, drag(page, marker, "lr x tuned", f)) for f in [0.6, 0.4, 0.5]]
            results["07 'lr x tuned' slider with the 3-D view shown"] = three_d
            show("07 'lr x tuned' slider with the 3-D view shown", three_d)
            cell.locator(".js-plotly-plot").nth(1).scroll_into_view_if_needed()
            page.wait_for_timeout(1000)
            page.screenshot(path=str(shots / "07-race-3d.png"))

            marker = "explorer = GradientDescentExplorer"
            open_and_arm(page, lab, "lessons/06_gradient_descent.ipynb", marker, settle_ms=1500)
            explorer = []
            for fraction in [0.9, 0.3, 0.7, 0.5, 0.8, 0.2]:
                explorer.append(timed(page, drag(page, marker, "learning rate", fraction)))
            page.screenshot(path=str(shots / "06-explorer.png"))
            results["06 explorer learning-rate slider"] = explorer
            show("06 explorer learning-rate slider", explorer)
            browser.close()
    import os

    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          f"(a slider of a trivial 2-D figure is the floor: compare with the 06 explorer line)")
    for name, values in results.items():
        show(name, values)


if __name__ == "__main__":
    main(Path(sys.argv[sys.argv.index("--shots") + 1]) if "--shots" in sys.argv
         else Path(__file__).resolve().parents[1] / "tests" / "artifacts")
