"""Issue 18 in the browser (JupyterLab and Notebook 7): the keyboard path to a heatmap column, feature labels set
in Python shared through fv.link (heatmap to heatmap, heatmap to dashboard), and fv.Explorer keeping heatmap and
dashboard both in view after a click; plus light / dark pictures at 900 and 1,400 px of every widget: heatmap,
dashboard, Explorer, contrast view, interpolation, scrubber and circuit (JupyterLab only; with
FEATUREVIZ_UX_SHOTS=dir they are also copied there).

Shares the session's notebook page and kernel (conftest `nb`); new kernel names start with `ux_`.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from conftest import Cells  # cell indices per frontend, shared with test_widgets_browser.py

pytestmark = pytest.mark.browser

LAB_ONLY = pytest.mark.parametrize("nb", ["lab"], indirect=True)
KERNEL_TIMEOUT = 300_000  # ms: activations, a contrast and dashboard data on 2 busy cores
DARK_THEME = "JupyterLab Dark"
LIGHT_THEME = "JupyterLab Light"

LABELS_CELL = """\
ux_a = fv.Heatmap(acts, top_k=8)
ux_b = fv.Heatmap(acts, top_k=8, sort_by="mean")
ux_link = fv.link(ux_a, ux_b)
ux_f = [f for f in ux_b.feature_ids if f in ux_a.feature_ids and not ux_b.always_on[ux_b.feature_ids.index(f)]][0]
print("UX_F=%d" % ux_f)
display(ux_a)
display(ux_b)"""
SET_LABEL_CELL = """\
ux_a.feature_labels = {ux_f: "joyful"}
print("UX_B_LABELS=" + json.dumps({str(k): v for k, v in ux_b.feature_labels.items()}))"""

EXPLORER_CELL = """\
ux_acts = fv.activations(model, source, fv.emotion_prompts(12))  # enough prompts for BH-corrected stars
ux_table = fv.contrast(ux_acts, baseline="baseline")
ux_feats = [int(f) for g in ("happy", "angry") for f in ux_table[ux_table.group == g].feature.head(5)]
ux_data = fv.dashboard_data(model, source, [p for ps in fv.emotion_prompts(8).values() for p in ps], k=5,
                            progress=False)
ux_ex = fv.Explorer(fv.activations(model, source, fv.emotion_prompts(2)), ux_data,
                    heatmap_options={"features": ux_feats})
print("EX_FEATURES=" + json.dumps(ux_ex.heatmap.feature_ids))
print("EX_FEATURE=%d" % ux_ex.dashboard.feature)
ux_ex"""
EXPLORER_LABEL_CELL = """\
ux_ex.heatmap.feature_labels = {ux_ex.dashboard.feature: "joyful <b>words</b>"}
print("EX_LABELS=" + json.dumps({str(k): v for k, v in ux_ex.dashboard.feature_labels.items()}))"""
PRINT_EXPLORER_CELL = (
    'print("EX_FEATURE=%d" % ux_ex.dashboard.feature); print("EX_SELECTED=%d" % ux_ex.heatmap.selected_feature)'
)

CONTRAST_CELL = """\
ux_cv = fv.ContrastView(ux_table, top_n=5, feature_labels={ux_feats[0]: "happy #1"})
ux_cv"""
SCRUBBER_CELL = """\
ux_sc = fv.CheckpointScrubber([(x, model, sae) for x, sae in fv.sae_checkpoints("default")],
                              ["I love sunny days at the beach!", "Stop shouting at me, I am furious."], top_k=16,
                              title="the shipped SAE's checkpoints")
ux_sc.selected_feature = ux_sc.feature_ids[0]
ux_sc"""
# The contrast's strongest happy feature, steered and traced (no fixed ids: the SAE may be retrained).
INTERP_CELL = """\
ux_scale = max(6.0, 4 * float(ux_acts.values[:, ux_feats[0]].max()))
ux_interp = fv.Interpolation(model, source, "Today I went to the market and", feature=ux_feats[0],
                             values=(-ux_scale, ux_scale), steps=5, max_new_tokens=8)
ux_interp"""
# A dashboard on its own (two columns at 1,400 px), on the Explorer's data: no new pass.
DASHBOARD_CELL = """\
ux_dash = fv.Dashboard(ux_data, feature=ux_ex.dashboard.feature, feature_labels=ux_ex.dashboard.feature_labels)
ux_dash"""
CIRCUIT_CELL = """\
ux_circuit = fv.feature_circuit(model, (source, ux_feats[0]), [fv.HeadSource(model, layer) for layer in range(3)]
                                + [fv.NeuronSource(model, 14)], fv.emotion_prompts(2)["happy"], downstream="logits",
                                top_k=10, progress=False)
fv.CircuitView(ux_circuit)"""


def _ready(nb, root, timeout: float = KERNEL_TIMEOUT) -> None:
    root.wait_for(state="attached", timeout=timeout)
    nb.page.wait_for_function("el => el.dataset.state === 'ready'", arg=root.element_handle(), timeout=timeout)


def _shown(nb, code: str, selector: str):
    """Run `code` in a new cell and wait for its widget, in view (a long shared notebook may not draw cells out of
    view); if it never draws, fail with what the cell printed."""
    index, out = nb.run_code(code, timeout=KERNEL_TIMEOUT)
    cell = nb.cell(index)
    cell.scroll_into_view_if_needed()
    root = cell.locator(selector)
    try:
        _ready(nb, root)
    except PlaywrightTimeoutError:
        raise AssertionError(f"{selector} never drew; the cell printed:\n{out}") from None
    return root


def _selected(nb, heatmap, feature: int) -> None:
    nb.page.wait_for_function(
        "([el, f]) => el.dataset.selectedFeature === String(f)", arg=[heatmap.element_handle(), feature]
    )


def test_arrow_keys_select_heatmap_columns(nb):
    heatmap, canvas = nb.heatmap, nb.canvas
    canvas.focus()
    assert canvas.evaluate("el => document.activeElement === el"), "the heatmap canvas cannot take focus"
    nb.page.keyboard.press("Home")
    first = nb.geometry()["visible"][0]
    _selected(nb, heatmap, first)
    nb.page.keyboard.press("ArrowRight")
    second = nb.geometry()["visible"][1]
    _selected(nb, heatmap, second)
    # The keys stayed with the canvas (not the notebook's cell navigation) and reached the kernel.
    assert canvas.evaluate("el => document.activeElement === el")
    out = nb.run_cell(nb.PRINT_SELECTED)
    assert int(nb.output_value(out, "SELECTED")) == second
    canvas.focus()
    nb.page.keyboard.press("ArrowLeft")
    _selected(nb, heatmap, first)


def test_feature_labels_set_in_python_show_in_the_linked_heatmap(nb):
    index, out = nb.run_code(LABELS_CELL, timeout=KERNEL_TIMEOUT)
    feature = int(nb.output_value(out, "UX_F"))
    cell = nb.cell(index)
    a, b = cell.locator(".fv-heatmap").nth(0), cell.locator(".fv-heatmap").nth(1)
    _ready(nb, a)
    _ready(nb, b)
    plain = int(b.get_attribute("data-header-height"))
    _, out = nb.run_code(SET_LABEL_CELL)
    assert json.loads(nb.output_value(out, "UX_B_LABELS")) == {str(feature): "joyful"}
    # The other heatmap's header grows to hold the name, and its column tooltip names the feature.
    nb.page.wait_for_function("([el, h]) => +el.dataset.headerHeight > h", arg=[b.element_handle(), plain])
    b.scroll_into_view_if_needed()
    g = nb.geometry(b)
    lane = g["visible"].index(feature)
    b.locator("canvas.fv-heatmap-canvas").hover(
        position={"x": g["firstOffset"] + (lane + 0.5) * g["cellW"], "y": g["headerH"] / 2}
    )
    tooltip = b.locator(".fv-tooltip")
    tooltip.wait_for(state="visible")
    assert f"#{feature} joyful" in tooltip.inner_text()
    nb.page.mouse.move(1, 1)


def _box(locator) -> dict:
    box = locator.bounding_box()
    assert box, "not laid out"
    return box


# An element's top-left corner and the part of the page the user sees there: the viewport cut down to every
# clipping ancestor (in JupyterLab, the notebook's scroll area between its toolbar and the status bar). The body's
# overflow is the viewport's (CSS propagates it; JupyterLab's body is 0 px tall), so the walk stops below it.
SEEN_JS = """el => {
    const r = el.getBoundingClientRect();
    let top = 0, left = 0, bottom = window.innerHeight, right = window.innerWidth;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        const s = getComputedStyle(a);
        if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
        const c = a.getBoundingClientRect();
        top = Math.max(top, c.top); left = Math.max(left, c.left);
        bottom = Math.min(bottom, c.bottom); right = Math.min(right, c.right);
    }
    return {x: r.left, y: r.top, top, left, bottom, right};
}"""


def _top_in_view(locator) -> tuple[bool, dict]:
    """Whether the element's top (its toolbar or header) is on screen: inside the viewport and the notebook's
    visible scroll area (1 px for subpixel layout), with 40 px of its width showing."""
    s = locator.evaluate(SEEN_JS)
    seen = s["top"] - 1 <= s["y"] < s["bottom"] and s["left"] - 1 <= s["x"] and s["x"] + 40 < s["right"]
    return seen, s


def test_explorer_click_keeps_heatmap_and_dashboard_in_view(nb):
    index, out = nb.run_code(EXPLORER_CELL, timeout=KERNEL_TIMEOUT)
    Cells.put(nb, "explorer", index)
    features = json.loads(nb.output_value(out, "EX_FEATURES"))
    explorer = nb.cell(index).locator(".fv-explorer")
    heatmap, dashboard = explorer.locator(".fv-heatmap"), explorer.locator(".fv-dashboard")
    _ready(nb, heatmap)
    _ready(nb, dashboard)
    start = int(dashboard.get_attribute("data-feature"))
    assert start == int(nb.output_value(out, "EX_FEATURE")) and start in features
    # The user has the Explorer in view from its top (heatmap toolbar, dashboard header) and clicks a column. Put it
    # there whatever the notebook's scroll: scroll_into_view_if_needed centres an element that is out of view, and
    # at 1280x900 the Explorer (about 1,040 px) is taller than the notebook's scroll area (779 px), so with its cell
    # below the view (the test run on its own) both tops sat 38 px above the screen before any click; after the
    # previous test's cells it was partly in view and got its top aligned instead.
    explorer.evaluate("el => el.scrollIntoView({block: 'start', inline: 'nearest'})")
    for root in (heatmap, dashboard):
        seen, s = _top_in_view(root)
        assert seen, f"top not in view before the click: {s}"
    g = nb.geometry(heatmap)
    col = next(i for i, f in enumerate(g["visible"]) if f != start)
    feature = g["visible"][col]
    heatmap.locator("canvas.fv-heatmap-canvas").click(position=nb.cell_point(1, col, heatmap))
    nb.page.wait_for_function(
        "([el, f]) => el.dataset.state === 'ready' && el.dataset.feature === String(f)",
        arg=[dashboard.element_handle(), feature],
        timeout=KERNEL_TIMEOUT,
    )
    # Side by side, both still on screen: the dashboard to the right of the heatmap, tops in the notebook's view.
    hb, db = _box(heatmap), _box(dashboard)
    assert db["x"] >= hb["x"] + hb["width"] - 1, (hb, db)
    for root in (heatmap, dashboard):
        seen, s = _top_in_view(root)
        assert seen, f"top not in view after the click: {s} ({hb}, {db}, {nb.page.viewport_size})"
    assert dashboard.locator(".fv-dash-id").inner_text().strip() == f"#{feature}"
    _, out = nb.run_code(PRINT_EXPLORER_CELL)
    assert int(nb.output_value(out, "EX_FEATURE")) == feature == int(nb.output_value(out, "EX_SELECTED"))
    # A label set on the heatmap in Python shows in the linked dashboard's header, as text.
    _, out = nb.run_code(EXPLORER_LABEL_CELL)
    assert json.loads(nb.output_value(out, "EX_LABELS")) == {str(feature): "joyful <b>words</b>"}
    label = dashboard.locator(".fv-dash-header .fv-dash-label")
    nb.page.wait_for_function("el => el.textContent === 'joyful <b>words</b>'", arg=label.element_handle())
    assert label.locator("b").count() == 0 and label.is_visible()
    # A narrow output stacks them: the dashboard below the heatmap.
    size = nb.page.viewport_size
    nb.page.set_viewport_size({"width": 640, "height": size["height"]})
    try:
        nb.page.wait_for_function(
            "([h, d]) => d.getBoundingClientRect().top >= h.getBoundingClientRect().bottom - 1",
            arg=[heatmap.element_handle(), dashboard.element_handle()],
        )
    finally:
        nb.page.set_viewport_size(size)


# ---- pictures ----------------------------------------------------------------------------------------------


def _shots_dir(artifacts_dir: Path) -> Path | None:
    target = os.environ.get("FEATUREVIZ_UX_SHOTS", "").strip()
    if not target:
        return None
    path = Path(target)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _shoot(nb, root, name: str, artifacts_dir: Path) -> Path:
    nb.page.mouse.move(1, 1)
    root.scroll_into_view_if_needed()
    nb.page.wait_for_timeout(250)
    path = artifacts_dir / f"{name}.png"
    root.screenshot(path=str(path), animations="disabled")
    assert path.stat().st_size > 2_000, f"{path.name} is nearly empty"
    shots = _shots_dir(artifacts_dir)
    if shots is not None:
        shutil.copyfile(path, shots / path.name)
    return path


@LAB_ONLY
def test_pictures_light_and_dark_at_900_and_1400(nb, artifacts_dir):
    explorer_cell = nb.cell(Cells.get(nb, "explorer"))
    contrast = _shown(nb, CONTRAST_CELL, ".fv-contrast")
    scrubber = _shown(nb, SCRUBBER_CELL, ".fv-scrubber")
    interpolation = _shown(nb, INTERP_CELL, ".fv-interpolation")
    circuit = _shown(nb, CIRCUIT_CELL, ".fv-circuit")
    dashboard = _shown(nb, DASHBOARD_CELL, ".fv-dashboard")
    nb.page.add_style_tag(content=".Toastify { display: none !important; }")
    roots = {
        "heatmap": explorer_cell.locator(".fv-heatmap"),
        "dashboard": dashboard,
        "explorer": explorer_cell.locator(".fv-explorer"),
        "contrast": contrast,
        "interpolation": interpolation,
        "scrubber": scrubber,
        "circuit": circuit,
    }
    size = nb.page.viewport_size
    taken = []
    try:
        for theme, theme_name in (("light", LIGHT_THEME), ("dark", DARK_THEME)):
            nb.set_theme(theme_name)
            for width in (900, 1400):
                nb.page.set_viewport_size({"width": width, "height": 2200})  # tall widgets whole
                nb.page.wait_for_timeout(400)  # re-layout and repaint (theme and size observers)
                for name, root in roots.items():
                    taken.append(_shoot(nb, root, f"{name}-{theme}-{width}", artifacts_dir))
    finally:
        nb.set_theme(LIGHT_THEME)
        nb.page.set_viewport_size(size)
    assert len(taken) == 4 * len(roots)
    # The scrubber's tick labels never overlap at either width (issue 18 item 6).
    boxes = scrubber.locator(".fv-tick-label:visible").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.right]; })"
    )
    boxes.sort()
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(boxes)), boxes
