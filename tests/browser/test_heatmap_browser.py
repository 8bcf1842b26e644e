"""Heatmap end to end in JupyterLab and Notebook 7 (headless Debian Chromium): drawing, tooltip, click to
select (browser -> kernel), Python -> browser selection, and light / dark screenshots.

The tests of one frontend share one server, page and kernel (module-scoped `nb` fixture) and run in file
order: the selection tests build on each other.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from conftest import CANVAS_PIXELS_JS, DARK_THEME, LIGHT_THEME, LUMINANCE_JS

pytestmark = pytest.mark.browser


def _token_text(token: str) -> str:
    """How the tooltip shows a plain token: spaces as middle dots (js/src/lib/tokens.ts)."""
    return token.replace(" ", "·")


def _word_row(tokens: list[str]) -> int:
    """Index of the first plain-word token (stable to match in the tooltip)."""
    for i, tok in enumerate(tokens):
        if tok.strip().isalpha() and len(tok.strip()) >= 2:
            return i
    raise AssertionError(f"no word token in {tokens}")


def test_heatmap_draws(nb):
    # The kernel is the repo's venv python.
    assert os.path.realpath(nb.outputs["KERNEL_PY"]) == os.path.realpath(sys.executable)

    heatmap = nb.heatmap
    assert heatmap.get_attribute("data-state") == "ready"
    first_paint = float(heatmap.evaluate("el => el.parentElement.dataset.firstPaintMs"))
    assert 0 < first_paint < 10_000
    print(
        f"\n[{nb.frontend}] setup cell (load default + activations + display) {nb.setup_seconds:.1f} s; "
        f"first paint {first_paint:.1f} ms"
    )

    features = json.loads(nb.outputs["FEATURES"])
    tokens = json.loads(nb.outputs["TOKENS"])
    g = nb.geometry()
    assert g["visible"], "no visible columns"
    assert set(g["visible"]) <= set(features)
    assert g["selected"] == -1
    assert g["cellW"] > 0 and g["cellH"] > 0 and g["gutterW"] > 0 and g["headerH"] > 0

    # Sample the centre of every visible cell: a real heatmap has several distinct colours.
    points = [
        [g["firstOffset"] + (c + 0.5) * g["cellW"], g["headerH"] + (r + 0.5) * g["cellH"]]
        for r in range(len(tokens))
        for c in range(len(g["visible"]))
    ]
    pixels = nb.page.evaluate(CANVAS_PIXELS_JS, [nb.canvas.element_handle(), points])
    assert all(p[3] == 255 for p in pixels), "cells are not painted (transparent pixels)"
    distinct = {tuple(p[:3]) for p in pixels}
    assert len(distinct) >= 5, f"only {len(distinct)} distinct cell colours: {sorted(distinct)[:10]}"


def test_hover_shows_tooltip(nb):
    tokens = json.loads(nb.outputs["TOKENS"])
    row = _word_row(tokens)
    g = nb.geometry()
    col = 1 if len(g["visible"]) > 1 else 0
    nb.canvas.hover(position=nb.cell_point(row, col))
    tooltip = nb.heatmap.locator(".fv-tooltip")
    tooltip.wait_for(state="visible")
    text = tooltip.inner_text()
    assert _token_text(tokens[row]) in text, text
    assert f"#{g['visible'][col]}" in text, text
    assert "value" in text, text
    # Leaving the canvas hides it.
    nb.page.mouse.move(1, 1)
    tooltip.wait_for(state="hidden")


def test_click_column_selects_feature_in_kernel(nb):
    g = nb.geometry()
    candidates = [i for i, fid in enumerate(g["visible"]) if fid != g["selected"]]
    col = candidates[min(2, len(candidates) - 1)]
    feature = g["visible"][col]
    nb.canvas.click(position=nb.cell_point(1, col))
    nb.page.wait_for_function(
        "([el, f]) => el.dataset.selectedFeature === String(f)", arg=[nb.heatmap.element_handle(), feature]
    )
    out = nb.run_cell(nb.PRINT_SELECTED)
    assert int(nb.output_value(out, "SELECTED")) == feature

    # Clicking the header of another column selects that one too.
    g = nb.geometry()
    col2 = next(i for i, fid in enumerate(g["visible"]) if fid != feature)
    feature2 = g["visible"][col2]
    x = g["firstOffset"] + col2 * g["cellW"] + g["cellW"] / 2
    nb.canvas.click(position={"x": x, "y": g["headerH"] / 2})
    nb.page.wait_for_function(
        "([el, f]) => el.dataset.selectedFeature === String(f)", arg=[nb.heatmap.element_handle(), feature2]
    )
    out = nb.run_cell(nb.PRINT_SELECTED)
    assert int(nb.output_value(out, "SELECTED")) == feature2


def test_python_sets_selection_in_browser(nb):
    before = nb.geometry()["selected"]
    out = nb.run_cell(nb.SET_SELECTED)
    feature = int(nb.output_value(out, "SET"))
    assert feature != before
    nb.page.wait_for_function(
        "([el, f]) => el.dataset.selectedFeature === String(f)", arg=[nb.heatmap.element_handle(), feature]
    )
    # The selected column is scrolled into view.
    assert feature in nb.geometry()["visible"]


def test_screenshots_light_and_dark(nb, artifacts_dir):
    canvas = nb.canvas.element_handle()
    nb.page.mouse.move(1, 1)  # no hover highlight / tooltip in the pictures
    nb.heatmap.scroll_into_view_if_needed()
    light_path = artifacts_dir / f"heatmap-{nb.frontend}-light.png"
    nb.heatmap.screenshot(path=str(light_path))
    light = nb.page.evaluate(LUMINANCE_JS, canvas)

    nb.set_theme(DARK_THEME)
    try:
        # The view repaints on the theme change (MutationObserver on <body>): wait for a dark canvas.
        nb.page.wait_for_function(f"c => ({LUMINANCE_JS})(c) < {light} - 60", arg=canvas)
        nb.page.wait_for_timeout(200)  # let the theme CSS settle around the canvas
        dark_path = artifacts_dir / f"heatmap-{nb.frontend}-dark.png"
        nb.heatmap.screenshot(path=str(dark_path))
        dark = nb.page.evaluate(LUMINANCE_JS, canvas)
    finally:
        nb.set_theme(LIGHT_THEME)
    print(
        f"\n[{nb.frontend}] canvas mean luminance light {light:.0f}, dark {dark:.0f}; "
        f"screenshots {light_path.name}, {dark_path.name}"
    )
    assert light > 150 and dark < 110
    for p in (light_path, dark_path):
        assert p.stat().st_size > 2_000
