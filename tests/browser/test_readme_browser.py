"""The README's quick start in JupyterLab, and the README's pictures from it (issue 18.7).

The quick start's python block (read from README.md by `quick_start()`, as tests/test_readme.py runs it) is the
one cell of a fresh notebook with its own kernel, run as a user would after pasting it. The pictures are taken
from what it displays: the contrast table of happy and angry latents, the heatmap and dashboard of the Explorer
(the dashboard on the angry latent `pick_steering_target` chose), the interpolation slider steering that latent,
and the scrubber following the happy and angry latents over the shipped checkpoint series. The heatmap and
dashboard are also taken in the dark theme.

This is the only place the README's pictures are made: with FEATUREVIZ_SCREENSHOTS=docs/images they are
written there (heatmap.png, heatmap-dark.png, dashboard.png, dashboard-dark.png, contrast.png,
interpolation.png, scrubber.png); without it, to tests/browser/artifacts/ only.
"""

from __future__ import annotations

import json
import urllib.parse

import nbformat
import pytest
from test_readme import quick_start

from conftest import DARK_THEME, KERNEL_DISPLAY_NAME, LIGHT_THEME, LUMINANCE_JS, picture, wait_state

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("nb", ["lab"], indirect=True)]

NOTEBOOK = "readme_quick_start.ipynb"
QUICK_START_TIMEOUT = 600_000  # ms: the whole quick start (about a minute alone) on 2 busy cores
VIEWPORT = {"width": 1280, "height": 2600}
PICTURE_MAX_BYTES = 150_000  # README pictures are committed: keep them small

# What the quick start built, for the assertions (a second cell of the same notebook).
PRINT_CELL = """\
import json
print("QS=" + json.dumps({
    "happy": happy, "angry": angry, "target": target.feature,
    "heatmap_features": explorer.heatmap.feature_ids, "selected": explorer.selected_feature,
    "steering_values": [float(v) for v in steering.values], "steering_texts": steering.texts,
    "steering_index": steering.index,
}))"""


def _write_notebook(path, cells):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": KERNEL_DISPLAY_NAME, "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(notebook, str(path))


@pytest.fixture(scope="module")
def readme(nb, open_notebook):
    """The quick start run in its own notebook and kernel: (session, its output cell, what it built)."""
    server = nb.server
    _write_notebook(server.root / NOTEBOOK, [quick_start()])
    session = open_notebook(server, NOTEBOOK)
    try:
        # Tall enough that the notebook shows the whole dashboard and scrubber: an element screenshot is clipped
        # to the notebook's scroll area.
        session.page.set_viewport_size(VIEWPORT)
        out = session.run_cell(0, timeout=QUICK_START_TIMEOUT)
        assert "Traceback" not in out, out[-3000:]
        assert "a sensible steering target" in out  # print(target)
        _, printed = session.run_code(PRINT_CELL)
        built = json.loads(session.output_value(printed, "QS"))
        yield session, session.cell(0), built
        session.check_page_errors()
    finally:
        session.page.close()
        for s in json.loads(server.api("/api/sessions")):  # its kernel holds a model: shut it down
            if s.get("path", "").endswith(NOTEBOOK):
                server.api(f"/api/sessions/{urllib.parse.quote(s['id'])}", method="DELETE")


def _ready(session, root):
    root.wait_for(state="attached")
    wait_state(session, root, timeout=60_000)
    return root


def test_quick_start_displays_the_story(readme):
    session, cell, built = readme
    happy, angry, target = built["happy"], built["angry"], built["target"]
    assert target in angry and not set(happy) & set(angry)

    contrast = _ready(session, cell.locator(".fv-contrast"))
    rows = [int(f) for f in contrast.locator("tr.fv-contrast-row").evaluate_all("rs => rs.map(r => r.dataset.feature)")]
    assert set(happy + angry) <= set(rows), (rows, happy, angry)

    heatmap = _ready(session, cell.locator(".fv-explorer .fv-heatmap"))
    g = session.geometry(heatmap)
    assert set(g["visible"]) <= set(built["heatmap_features"]) and target in g["visible"]
    assert g["selected"] == built["selected"] == target  # explorer.selected_feature = target.feature

    dashboard = _ready(session, cell.locator(".fv-explorer .fv-dashboard"))
    assert dashboard.get_attribute("data-feature") == str(target)
    assert dashboard.locator(".fv-dash-id").inner_text().strip() == f"#{target}"
    assert dashboard.locator(".fv-dash-top .fv-context").count() >= 3  # top contexts in the held-out text

    interp = _ready(session, cell.locator(".fv-interpolation"))
    assert len(built["steering_values"]) == 9 and len(set(built["steering_texts"])) > 1
    assert interp.get_attribute("data-index") == str(built["steering_index"])

    scrubber = _ready(session, cell.locator(".fv-scrubber"))
    assert "happy and angry latents in training" in scrubber.inner_text()


def test_readme_pictures(readme, artifacts_dir, screenshot_dir):
    session, cell, built = readme
    contrast = cell.locator(".fv-contrast")
    heatmap = cell.locator(".fv-explorer .fv-heatmap")
    dashboard = cell.locator(".fv-explorer .fv-dashboard")
    interp = cell.locator(".fv-interpolation")
    scrubber = cell.locator(".fv-scrubber")

    # The interpolation at the sweep's strongest positive value: the angry latent pushed up.
    index, out = session.run_code(
        f'steering.index = {len(built["steering_values"]) - 1}; print("I=%d" % steering.index)'
    )
    session.page.wait_for_function(
        "([el, i]) => el.dataset.index === String(i) && el.dataset.state === 'ready'",
        arg=[interp.element_handle(), int(session.output_value(out, "I"))],
    )

    sizes = {
        "contrast": picture(session, contrast, "contrast", artifacts_dir, screenshot_dir),
        "heatmap": picture(session, heatmap, "heatmap", artifacts_dir, screenshot_dir),
        "dashboard": picture(session, dashboard, "dashboard", artifacts_dir, screenshot_dir),
        "interpolation": picture(session, interp, "interpolation", artifacts_dir, screenshot_dir),
        "scrubber": picture(session, scrubber, "scrubber", artifacts_dir, screenshot_dir),
    }
    canvas = heatmap.locator("canvas.fv-heatmap-canvas").element_handle()
    light = session.page.evaluate(LUMINANCE_JS, canvas)
    token = dashboard.locator(".fv-dash-top .fv-token-max").first  # the max token always has a colour
    token_bg = token.evaluate("el => el.style.background || el.style.backgroundColor")
    session.set_theme(DARK_THEME)
    try:
        # Both views repaint on the <body> theme change: a darker canvas, recoloured tokens.
        session.page.wait_for_function(f"c => ({LUMINANCE_JS})(c) < {light} - 60", arg=canvas)
        session.page.wait_for_function(
            "([el, bg]) => (el.style.background || el.style.backgroundColor) !== bg",
            arg=[token.element_handle(), token_bg],
        )
        session.page.wait_for_timeout(200)  # let the theme CSS settle
        sizes["heatmap-dark"] = picture(session, heatmap, "heatmap-dark", artifacts_dir, screenshot_dir)
        sizes["dashboard-dark"] = picture(session, dashboard, "dashboard-dark", artifacts_dir, screenshot_dir)
    finally:
        session.set_theme(LIGHT_THEME)
    too_big = {k: v for k, v in sizes.items() if v > PICTURE_MAX_BYTES}
    assert not too_big, f"pictures over {PICTURE_MAX_BYTES} bytes: {too_big}"
