"""Vision gallery and vision checkpoint scrubber in JupyterLab and Notebook 7 (headless Debian Chromium).

Built on the embedded vision CNN's shipped checkpoints. The gallery paints optimised images (non-uniform
canvases), hover shows unit and activation, a click reaches the kernel's `selected_unit`. The scrubber's slider
and play button change the painted grid in the browser, `index` syncs both ways. Pictures in light and dark.
"""

from __future__ import annotations

import json

import pytest

from conftest import picture, wait_state

pytestmark = pytest.mark.browser

KERNEL_TIMEOUT = 600_000  # ms
VISION_CELL = """\
import featureviz.vision as V
vg = V.Gallery(V.visualize(V.load_checkpoint(), "block2", list(range(12)), steps=96, size=32, progress=False),
               title="vision gallery test")
vs = V.checkpoint_gallery(V.load_checkpoints(), "block1", list(range(8)), probe=V.make_images(128, seed=1)[0],
                          steps=64, size=32, progress=False).show(title="vision scrubber test")
print("VS_LABELS=" + json.dumps(vs.labels))
display(vg)
vs"""

# FNV-1a of every image canvas of a root, in order: equal hashes, equal grids.
GRID_HASH_JS = """root => {
    let h = 2166136261;
    for (const canvas of root.querySelectorAll('canvas.fv-vimage')) {
        const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < d.length; i++) { h ^= d[i]; h = Math.imul(h, 16777619); }
    }
    return (h >>> 0).toString(16);
}"""
# Standard deviation of one canvas's pixels: an optimised image is not flat grey.
CANVAS_SPREAD_JS = """canvas => {
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let s = 0, s2 = 0, n = 0;
    for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 3; k++) { s += d[i + k]; s2 += d[i + k] ** 2; n++; }
    return Math.sqrt(s2 / n - (s / n) ** 2);
}"""


class _Cell:
    by_frontend: dict[str, int] = {}


def _roots(nb):
    cell = nb.cell(_Cell.by_frontend[nb.frontend])
    return cell.locator(".fv-vision-gallery"), cell.locator(".fv-vision-scrubber")


def _kernel(nb, expr: str) -> str:
    _, out = nb.run_code(f'print("V=" + str({expr}))')
    return nb.output_value(out, "V")


def test_vision_gallery_paints_hovers_and_selects(nb, artifacts_dir):
    index, out = nb.run_code(VISION_CELL, timeout=KERNEL_TIMEOUT)
    _Cell.by_frontend[nb.frontend] = index
    gallery, scrubber = _roots(nb)
    wait_state(nb, gallery)
    wait_state(nb, scrubber)
    assert gallery.locator(".fv-vtile").count() == 12
    spreads = [
        nb.page.evaluate(CANVAS_SPREAD_JS, c.element_handle()) for c in gallery.locator("canvas.fv-vimage").all()
    ]
    assert min(spreads) > 10, spreads
    tile = gallery.locator(".fv-vtile").nth(5)
    tile.locator("canvas").hover()
    tooltip = gallery.locator(".fv-tooltip")
    tooltip.wait_for(state="visible")
    assert "channel 5" in tooltip.inner_text() and "activation" in tooltip.inner_text()
    tile.click()
    nb.page.wait_for_function("el => el.dataset.selectedUnit === '5'", arg=gallery.element_handle())
    assert _kernel(nb, "vg.selected_unit") == "5"
    gallery.locator(".fv-vgrid").press("ArrowRight")
    nb.page.wait_for_function("el => el.dataset.selectedUnit === '6'", arg=gallery.element_handle())
    nb.page.wait_for_timeout(300)
    assert _kernel(nb, "vg.selected_unit") == "6"
    picture(nb, gallery, "vision-gallery", artifacts_dir, None)
    nb.check_page_errors()


def test_vision_scrubber_changes_the_grid_in_the_browser_and_syncs(nb, artifacts_dir):
    _, scrubber = _roots(nb)
    _, out = nb.run_code('print("VS_LABELS=" + json.dumps(vs.labels))')
    labels = json.loads(nb.output_value(out, "VS_LABELS"))
    last = len(labels) - 1
    assert scrubber.get_attribute("data-index") == str(last)
    hash_last = nb.page.evaluate(GRID_HASH_JS, scrubber.element_handle())
    picture(nb, scrubber, "vision-scrubber-last", artifacts_dir, None)
    slider = scrubber.locator("input.fv-slider")
    slider.focus()
    slider.press("Home")
    nb.page.wait_for_function("el => el.dataset.index === '0'", arg=scrubber.element_handle())
    hash_first = nb.page.evaluate(GRID_HASH_JS, scrubber.element_handle())
    assert hash_first != hash_last
    assert labels[0] in scrubber.locator(".fv-scrub-label").inner_text()
    nb.page.wait_for_timeout(300)
    assert _kernel(nb, "vs.index") == "0"
    picture(nb, scrubber, "vision-scrubber-first", artifacts_dir, None)
    # play from the start: the grid changes without the kernel, and stops at the last checkpoint
    scrubber.locator("button.fv-play").click()
    nb.page.wait_for_function(
        f"el => el.dataset.index === '{last}' && el.dataset.playing === 'false'",
        arg=scrubber.element_handle(),
        timeout=60_000,
    )
    assert nb.page.evaluate(GRID_HASH_JS, scrubber.element_handle()) == hash_last
    # Python moves the view
    nb.run_code("vs.index = 3")
    nb.page.wait_for_function("el => el.dataset.index === '3'", arg=scrubber.element_handle())
    # the selected unit's curve: one point per checkpoint and series
    assert scrubber.locator(".fv-traj-activation .fv-point").count() == 3 * len(labels)
    scrubber.locator(".fv-vtile").nth(2).click()
    nb.page.wait_for_timeout(300)
    assert _kernel(nb, "vs.selected_unit") == "2"
    nb.check_page_errors()


@pytest.mark.parametrize("nb", ["lab"], indirect=True)
def test_vision_pictures_dark(nb, artifacts_dir):
    gallery, scrubber = _roots(nb)
    nb.set_theme("JupyterLab Dark")
    try:
        nb.run_code("vs.index = 0")
        nb.page.wait_for_function("el => el.dataset.index === '0'", arg=scrubber.element_handle())
        picture(nb, scrubber, "vision-scrubber-first-dark", artifacts_dir, None)
        nb.run_code("vs.index = len(vs.labels) - 1")
        nb.page.wait_for_function(
            "el => el.dataset.index === el.dataset.checkpoints - 1 + ''", arg=scrubber.element_handle()
        )
        picture(nb, gallery, "vision-gallery-dark", artifacts_dir, None)
        picture(nb, scrubber, "vision-scrubber-last-dark", artifacts_dir, None)
        bg = nb.page.evaluate("el => getComputedStyle(el).backgroundColor", scrubber.element_handle())
        assert bg not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"), bg
    finally:
        nb.set_theme("JupyterLab Light")
