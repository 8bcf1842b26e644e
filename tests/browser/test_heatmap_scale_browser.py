"""A 100,000-token x 512-feature heatmap in real Chromium (offline export, no Jupyter server): the first paint
happens, the canvas stays viewport-sized, and scrolling to the last token paints it and hovers it exactly."""

import time

import pytest

import featureviz as fv
from factories import synthetic_acts

pytestmark = pytest.mark.browser

N_PROMPTS, PER_PROMPT, N_FEATURES = 1_000, 100, 512
# Chromium: a canvas side above 32,767 px or over 268M pixels fails silently.
MAX_CANVAS_SIDE, MAX_CANVAS_PIXELS = 32_767, 268_435_456


@pytest.fixture(scope="module")
def big_report(tmp_path_factory):
    acts = synthetic_acts(N_PROMPTS, PER_PROMPT, N_FEATURES, density=0.3)  # dense enough to go as uint8
    heatmap = fv.Heatmap(acts, top_k=N_FEATURES, sort_by="index")
    assert heatmap.matrix["format"] == "dense_u8"
    path = tmp_path_factory.mktemp("scale") / "big.html"
    return fv.export_html(heatmap, path), heatmap, acts


def test_100k_tokens_first_paint_and_scroll(browser_context, big_report, artifacts_dir):
    path, heatmap, acts = big_report
    page = browser_context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        t0 = time.perf_counter()
        page.goto(path.as_uri(), timeout=120_000)
        root = page.locator(".fv-heatmap")
        root.wait_for(state="attached", timeout=120_000)
        page.wait_for_selector(".fv-heatmap[data-state=ready]", timeout=120_000)
        page.wait_for_function(
            "() => !!document.querySelector('.fv-heatmap').parentElement.dataset.firstPaintMs", timeout=120_000
        )
        load_s = time.perf_counter() - t0
        first_paint = float(root.evaluate("el => el.parentElement.dataset.firstPaintMs"))
        print(
            f"100k x 512 export: page load to ready {load_s:.1f} s, first paint {first_paint:.0f} ms "
            f"(render() -> first canvas paint)"
        )

        canvas = page.locator(".fv-heatmap-canvas")
        size = canvas.evaluate("c => [c.width, c.height]")
        assert 0 < size[0] <= MAX_CANVAS_SIDE and 0 < size[1] <= MAX_CANVAS_SIDE
        assert size[0] * size[1] <= MAX_CANVAS_PIXELS

        cell_h = float(root.get_attribute("data-cell-height"))
        header = float(root.get_attribute("data-header-height"))
        gutter = float(root.get_attribute("data-gutter-width"))
        scroller = page.locator(".fv-heatmap .fv-scroll")
        extent = scroller.evaluate("s => [s.scrollHeight, s.clientHeight]")
        assert extent[0] >= header + N_PROMPTS * PER_PROMPT * cell_h  # every row is reachable

        # Scroll to the very bottom and time the repaint (two animation frames).
        repaint_ms = scroller.evaluate("""s => new Promise(done => {
            const t = performance.now();
            s.scrollTop = s.scrollHeight;
            requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t)));
        })""")
        print(f"scroll to the bottom + repaint: {repaint_ms:.0f} ms")
        bottom = scroller.evaluate("s => s.scrollTop + s.clientHeight")
        assert bottom == pytest.approx(extent[0], abs=2)

        # Hover the last row, first feature column: the tooltip names the last token and its value.
        canvas_h = canvas.evaluate("c => c.clientHeight")
        canvas.hover(position={"x": gutter + 6, "y": canvas_h - cell_h / 2})
        tooltip = page.locator(".fv-heatmap .fv-tooltip")
        tooltip.wait_for(state="visible")
        text = tooltip.inner_text()
        last = PER_PROMPT - 1
        assert f"p{N_PROMPTS - 1}t{last}" in text, text
        assert f"{last} of {PER_PROMPT}" in text
        feature = min(heatmap.feature_ids)  # sort_by="index": the first column is the lowest id
        assert f"#{feature}" in text
        shown, half_step = (float(x) for x in text.split("value")[-1].strip().split("±"))  # e.g. "3.33 ± 0.0098"
        assert abs(shown - float(acts.values[-1, feature])) <= half_step + 0.005 * abs(shown) + 1e-6
        # The painted cells are not all background at the bottom.
        colours = canvas.evaluate("""c => {
            const ctx = c.getContext('2d');
            const d = ctx.getImageData(c.width / 2, c.height - 40, Math.floor(c.width / 2) - 2, 30).data;
            const seen = new Set();
            for (let i = 0; i < d.length; i += 4) seen.add(d[i] * 65536 + d[i + 1] * 256 + d[i + 2]);
            return seen.size;
        }""")
        assert colours > 10
        page.screenshot(path=str(artifacts_dir / "heatmap_100k.png"))
        assert not errors, errors
    finally:
        page.close()
