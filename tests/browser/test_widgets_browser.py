"""Dashboard (linked to a heatmap), contrast view and interpolation slider end to end in JupyterLab and
Notebook 7 (headless Debian Chromium).

The link tests (heatmap click -> dashboard, token tooltip, `›`) run in both frontends; the contrast and
interpolation tests in JupyterLab only (their kernel work is the slow part).

The tests share the session's notebook page and kernel per frontend (the `nb` fixture of conftest.py: the
model is already loaded by its setup cell) and add their own cells with `nb.run_code`. Within a frontend
they run in file order. New names in the kernel are prefixed (`hm`, `dash`, `cv`, `interp`) so the setup
cell's `h` stays the heatmap tests' heatmap.

The README's pictures are taken from the README's own quick start, in test_readme_browser.py.
"""

from __future__ import annotations

import json

import pytest

from conftest import KERNEL_TIMEOUT, SETUP_PROMPTS, Cells, wait_state

pytestmark = pytest.mark.browser

LAB_ONLY = pytest.mark.parametrize("nb", ["lab"], indirect=True)

DASHBOARD_TEXTS = [
    "The cat sat on the warm mat.",
    "I love sunny days at the beach.",
    "She hated the long wait at the station.",
    "Rain fell all night over the city.",
    "We won the game in the last minute!",
    "The market opens at nine every morning.",
    "He laughed loudly at the silly joke.",
    "This is terrible news for everyone.",
    "Coffee keeps me awake during exams.",
    "The train was late again today.",
    "What a wonderful surprise party!",
    "My phone battery died at noon.",
]

LINK_CELL = f"""\
hm = fv.Heatmap(acts, top_k=10)
dash = fv.Dashboard(model, source, {DASHBOARD_TEXTS + SETUP_PROMPTS!r}, features=hm.feature_ids, k=5, progress=False)
hm_link = fv.link(hm, dash)
print("HM_FEATURES=" + json.dumps(hm.feature_ids))
print("DASH_FEATURE=%d" % dash.feature)
display(hm)
display(dash)"""
PRINT_LINK_CELL = 'print("DASH_FEATURE=%d" % dash.feature); print("HM_SELECTED=%d" % hm.selected_feature)'

CONTRAST_CELL = """\
ctable = fv.contrast(fv.activations(model, source, fv.emotion_prompts(6)), baseline="baseline")
cv = fv.ContrastView(ctable, top_n=5)
print("CV_FEATURES=" + json.dumps([int(f) for f in cv.feature_ids]))
print("CV_SELECTED=%d" % cv.selected_feature)
cv"""
PRINT_CONTRAST_CELL = 'print("CV_SELECTED=%d" % cv.selected_feature)'

# h is the setup cell's heatmap (read only): its strongest feature.
INTERP_CELL = """\
# sweep well past the feature's own scale (SAE latents reach tens, neurons a few units)
_scale = max(6.0, 4 * float(acts.values[:, h.feature_ids[0]].max()))
interp = fv.Interpolation(model, source, "Today I went to the market and", feature=h.feature_ids[0],
                          values=(-_scale, _scale), steps=5, max_new_tokens=6)
print("INTERP_TEXTS=" + json.dumps(interp.texts))
print("INTERP_INDEX=%d" % interp.index)
interp"""
PRINT_INTERP_CELL = 'print("INTERP_INDEX=%d" % interp.index); print("INTERP_N=%d" % len(interp.values))'

# Read (not wait): the text of .fv-generated right after moving the slider in the same task, so no kernel
# message can have arrived in between.
MOVE_SLIDER_JS = """([root, i]) => {
    const slider = root.querySelector('input.fv-slider');
    const text = () => root.querySelector('.fv-generated').textContent;
    const before = text();
    slider.value = String(i);
    slider.dispatchEvent(new Event('input', {bubbles: true}));
    const after = text();
    slider.dispatchEvent(new Event('change', {bubbles: true}));
    return {before, after, index: root.dataset.index};
}"""


# ---- heatmap -> dashboard ---------------------------------------------------------------------------------


def _link_widgets(nb, index: int):
    cell = nb.cell(index)
    return cell.locator(".fv-heatmap"), cell.locator(".fv-dashboard")


def test_link_heatmap_to_dashboard(nb):
    index, out = nb.run_code(LINK_CELL, timeout=KERNEL_TIMEOUT)
    Cells.put(nb, "link", index)
    features = json.loads(nb.output_value(out, "HM_FEATURES"))
    heatmap, dashboard = _link_widgets(nb, index)
    heatmap.wait_for(state="attached")
    nb.page.wait_for_function(
        "el => el.dataset.state === 'ready' && !!el.parentElement.dataset.firstPaintMs", arg=heatmap.element_handle()
    )
    dashboard.wait_for(state="attached")
    wait_state(nb, dashboard)
    start = int(dashboard.get_attribute("data-feature"))
    assert start == int(nb.output_value(out, "DASH_FEATURE"))

    # Click a visible column showing another feature that has a next one (for the `›` test below).
    g = nb.geometry(heatmap)
    cols = [i for i, f in enumerate(g["visible"]) if f != start and f != features[-1]]
    assert cols, f"no other column to click: visible {g['visible']}, features {features}"
    col = cols[min(2, len(cols) - 1)]
    feature = g["visible"][col]
    heatmap.locator("canvas.fv-heatmap-canvas").click(position=nb.cell_point(1, col, heatmap))
    nb.page.wait_for_function(
        "([el, f]) => el.dataset.state === 'ready' && el.dataset.feature === String(f)",
        arg=[dashboard.element_handle(), feature],
        timeout=KERNEL_TIMEOUT,
    )
    assert dashboard.locator(".fv-dash-id").inner_text().strip() == f"#{feature}"
    assert dashboard.locator(".fv-context").count() >= 1
    assert dashboard.locator(".fv-context .fv-token").count() >= 3

    # Kernel: the link moved the dashboard; the heatmap keeps the click.
    _, out = nb.run_code(PRINT_LINK_CELL)
    assert int(nb.output_value(out, "DASH_FEATURE")) == feature
    assert int(nb.output_value(out, "HM_SELECTED")) == feature


def test_dashboard_token_tooltip(nb):
    _, dashboard = _link_widgets(nb, Cells.get(nb, "link"))
    token = dashboard.locator(".fv-dash-top .fv-context .fv-token").first
    token.hover()
    tooltip = dashboard.locator(".fv-tooltip")
    tooltip.wait_for(state="visible")
    text = tooltip.inner_text()
    assert text.strip(), "empty tooltip"
    nb.page.mouse.move(1, 1)
    tooltip.wait_for(state="hidden")


def test_dashboard_next_moves_kernel_and_heatmap(nb):
    heatmap, dashboard = _link_widgets(nb, Cells.get(nb, "link"))
    before = int(dashboard.get_attribute("data-feature"))
    nxt = dashboard.locator("button.fv-next")
    assert nxt.is_enabled(), f"`›` disabled on #{before}"
    nxt.click()
    nb.page.wait_for_function(
        "([el, b]) => el.dataset.state === 'ready' && el.dataset.feature !== '' && el.dataset.feature !== String(b)",
        arg=[dashboard.element_handle(), before],
        timeout=KERNEL_TIMEOUT,
    )
    after = int(dashboard.get_attribute("data-feature"))
    assert dashboard.locator(".fv-context").count() >= 1
    _, out = nb.run_code(PRINT_LINK_CELL)
    assert int(nb.output_value(out, "DASH_FEATURE")) == after
    # The link also moves the heatmap, in the kernel and (selection highlight) in the browser.
    assert int(nb.output_value(out, "HM_SELECTED")) == after
    nb.page.wait_for_function(
        "([el, f]) => el.dataset.selectedFeature === String(f)", arg=[heatmap.element_handle(), after]
    )


# ---- contrast ------------------------------------------------------------------------------------------


@LAB_ONLY  # ~20 s of kernel work per frontend; Notebook 7 is covered by the link tests
def test_contrast_rows_and_selection(nb):
    index, out = nb.run_code(CONTRAST_CELL, timeout=KERNEL_TIMEOUT)
    features = json.loads(nb.output_value(out, "CV_FEATURES"))
    root = nb.cell(index).locator(".fv-contrast")
    root.wait_for(state="attached")
    wait_state(nb, root, timeout=30_000)
    rows = root.locator("tr.fv-contrast-row")
    assert rows.count() == len(features) > 0
    shown = [int(f) for f in rows.evaluate_all("rs => rs.map(r => r.dataset.feature)")]
    assert sorted(shown) == sorted(features)

    row = rows.nth(1 if rows.count() > 1 else 0)
    feature = int(row.get_attribute("data-feature"))
    row.click()
    nb.page.wait_for_function(
        "r => r.classList.contains('fv-selected') && r.getAttribute('aria-selected') === 'true'",
        arg=row.element_handle(),
    )
    assert root.get_attribute("data-selected-feature") == str(feature)
    _, out = nb.run_code(PRINT_CONTRAST_CELL)
    assert int(nb.output_value(out, "CV_SELECTED")) == feature


# ---- interpolation -------------------------------------------------------------------------------------


@LAB_ONLY
def test_interpolation_slider_is_local_and_syncs(nb):
    index, out = nb.run_code(INTERP_CELL, timeout=KERNEL_TIMEOUT)
    Cells.put(nb, "interp", index)
    texts = json.loads(nb.output_value(out, "INTERP_TEXTS"))
    start = int(nb.output_value(out, "INTERP_INDEX"))
    root = nb.cell(index).locator(".fv-interpolation")
    root.wait_for(state="attached")
    wait_state(nb, root, timeout=30_000)
    assert root.get_attribute("data-index") == str(start)
    # A value whose continuation differs from the current one (farthest first).
    targets = sorted((i for i in range(len(texts)) if texts[i] != texts[start]), key=lambda i: -abs(i - start))
    assert targets, f"steering changes nothing on this prompt: {texts}"
    target = targets[0]

    moved = nb.page.evaluate(MOVE_SLIDER_JS, [root.element_handle(), target])
    assert moved["index"] == str(target), moved
    assert moved["after"] != moved["before"], f"text unchanged right after the slider moved: {moved}"
    _, out = nb.run_code(PRINT_INTERP_CELL)
    assert int(nb.output_value(out, "INTERP_INDEX")) == target
    assert root.get_attribute("data-state") == "ready"


@LAB_ONLY
def test_interpolation_extend_high(nb):
    index = Cells.get(nb, "interp")
    root = nb.cell(index).locator(".fv-interpolation")
    _, out = nb.run_code(PRINT_INTERP_CELL)
    n_before = int(nb.output_value(out, "INTERP_N"))
    slider = root.locator("input.fv-slider")
    max_before = int(slider.get_attribute("max"))
    root.locator("button.fv-extend-high").click()
    nb.page.wait_for_function(
        "([el, m]) => el.dataset.state === 'ready' && +el.querySelector('input.fv-slider').max > m",
        arg=[root.element_handle(), max_before],
        timeout=KERNEL_TIMEOUT,
    )
    max_after = int(slider.get_attribute("max"))
    _, out = nb.run_code(PRINT_INTERP_CELL, timeout=KERNEL_TIMEOUT)
    n_after = int(nb.output_value(out, "INTERP_N"))
    assert n_after > n_before and n_after == max_after + 1, (n_before, n_after, max_after)
    assert int(nb.output_value(out, "INTERP_INDEX")) == int(root.get_attribute("data-index"))


@LAB_ONLY
def test_view_css_stays_in_its_view(nb):
    """The dashboard and the interpolation view on one page (the README's quick start) both have `.fv-token`
    spans: each view's rules are scoped under its root class, so the interpolation view's hover outline
    never lands on the dashboard's tokens, while it still outlines its own."""
    _, dashboard = _link_widgets(nb, Cells.get(nb, "link"))
    interp = nb.cell(Cells.get(nb, "interp")).locator(".fv-interpolation")
    outline = "el => getComputedStyle(el).outlineStyle"
    dash_token = dashboard.locator(".fv-context .fv-token").first
    dash_token.hover()
    nb.page.wait_for_timeout(100)
    assert dash_token.evaluate(outline) == "none"
    interp_token = interp.locator(".fv-generated .fv-token").first
    interp_token.hover()
    nb.page.wait_for_timeout(100)
    assert interp_token.evaluate(outline) == "solid"
    nb.page.mouse.move(1, 1)
