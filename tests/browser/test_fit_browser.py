"""Issue 18 odds and ends in a real browser, offline (export_html, no kernel): the contrast table and a 10-feature
heatmap fit a 470 px output without scrolling sideways (the heatmap's toolbar wraps within its grid's width), and
an exported fv.Explorer shows its heatmap and dashboard side by side, linked, with the heatmap's feature labels in
the dashboard's header."""

import pytest

import featureviz as fv
from factories import offline_page

pytestmark = pytest.mark.browser

GROUPS = {
    "happy": ["What a lovely day at the beach", "So glad you came", "I love this song"],
    "angry": ["This is outrageous", "Stop shouting at me", "I am furious with you"],
    "baseline": ["The train leaves at nine", "Rain fell over the city", "The market opens early"],
}
CORPUS = ["the river was calm", "storm glass engine", "a tender green wolf", "seven paper laughs"]
# Scroll and client widths of the contrast view's table scroller and of its root.
WIDTHS_JS = """root => {
    const s = root.querySelector('.fv-contrast-scroll');
    return {scroll: s.scrollWidth, client: s.clientWidth, rootScroll: root.scrollWidth, root: root.clientWidth};
}"""
# The heatmap's widths (root, toolbar, grid) and how many feature columns it draws.
HEATMAP_WIDTHS_JS = """root => ({
    rootScroll: root.scrollWidth, root: root.clientWidth,
    toolbar: root.querySelector('.fv-toolbar').getBoundingClientRect().width,
    grid: root.querySelector('.fv-scroll').getBoundingClientRect().width,
    columns: root.dataset.visibleColumns.split(',').length,
})"""


@pytest.fixture(scope="module")
def report(tmp_path_factory, tiny_model):
    from factories import make_sae

    tiny_sae = make_sae()
    acts = fv.activations(tiny_model, tiny_sae, GROUPS)
    table = fv.contrast(acts, baseline="baseline")
    first = int(table.feature.iloc[0])
    contrast = fv.ContrastView(table, top_n=5, feature_labels={first: "a long label for the happy feature"})
    contrast.title = "happy and angry against the baseline"
    explorer = fv.Explorer(acts, tiny_model, tiny_sae, CORPUS, heatmap_options={"top_k": 6}, k=3, progress=False)
    shown = explorer.heatmap
    labelled = [f for f, on in zip(shown.feature_ids, shown.always_on) if not on and f != explorer.dashboard.feature][0]
    explorer.heatmap.feature_labels = {labelled: "storm words"}
    heatmap = fv.Heatmap(acts, top_k=10)  # on its own, after the Explorer
    assert sum(not on for on in heatmap.always_on) == 10
    path = tmp_path_factory.mktemp("fit") / "fit.html"
    return fv.export_html([contrast, explorer, heatmap], path), explorer, labelled


def _open(browser_context, path, width, height):
    """The exported file in a new offline page of width x height, once its widgets are mounted:
    (page, requests, dialogs, errors) as `offline_page` gives them. The page is closed if it fails to mount."""
    page, requests, dialogs, errors = offline_page(browser_context)
    try:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(path.as_uri())
        page.wait_for_selector("#featureviz-root[data-mounted=true]", timeout=20_000)
    except BaseException:
        page.close()
        raise
    return page, requests, dialogs, errors


def _in_470px(page, which, view, widths_js, picture):
    """The page's `which` export widget (":first-child", ...) as wide as a notebook's 470 px output area, once its
    `view` is ready: (the view's locator, widths_js's answer for it); its picture is saved to `picture`."""
    widget = f"#featureviz-root > .fv-export-widget{which}"
    root = page.locator(f"{widget} {view}[data-state=ready]")
    root.wait_for(timeout=10_000)
    page.add_style_tag(content=f"{widget} {{ width: 470px; }}")
    page.wait_for_timeout(100)
    root.screenshot(path=str(picture))
    return root, root.evaluate(widths_js)


def test_contrast_table_fits_a_470px_output(browser_context, report, artifacts_dir):
    path, _, _ = report
    page, requests, dialogs, errors = _open(browser_context, path, 900, 900)
    try:
        root, w = _in_470px(page, ":first-child", ".fv-contrast", WIDTHS_JS, artifacts_dir / "contrast-470.png")
        assert w["root"] <= 470, w
        assert w["scroll"] <= w["client"] and w["rootScroll"] <= w["root"], w
        assert root.locator("tr.fv-contrast-row").count() > 0
        assert not requests and not dialogs and not errors, (requests, dialogs, errors)
    finally:
        page.close()


def test_heatmap_of_10_features_fits_a_470px_output(browser_context, report, artifacts_dir):
    path, _, _ = report
    page, requests, dialogs, errors = _open(browser_context, path, 900, 900)
    try:
        _, w = _in_470px(page, ":last-child", ".fv-heatmap", HEATMAP_WIDTHS_JS, artifacts_dir / "heatmap-10-470.png")
        assert w["columns"] == 10, w
        assert w["rootScroll"] <= w["root"] <= 470, w
        # The toolbar wraps within the grid's width instead of widening the widget past its grid.
        assert w["toolbar"] <= w["grid"] + 0.5, w
        assert not requests and not dialogs and not errors, (requests, dialogs, errors)
    finally:
        page.close()


def test_exported_explorer_is_side_by_side_linked_and_labelled(browser_context, report, artifacts_dir):
    path, explorer, labelled = report
    page, requests, dialogs, errors = _open(browser_context, path, 1400, 1000)
    try:
        row = page.locator(".fv-export-row")
        heatmap, dashboard = row.locator(".fv-heatmap"), row.locator(".fv-dashboard")
        page.wait_for_selector(".fv-export-row .fv-heatmap[data-state=ready]", timeout=10_000)
        page.wait_for_selector(".fv-export-row .fv-dashboard[data-state=ready]", timeout=10_000)
        hb, db = heatmap.bounding_box(), dashboard.bounding_box()
        assert db["x"] >= hb["x"] + hb["width"] - 1 and abs(db["y"] - hb["y"]) < 40, (hb, db)
        label = dashboard.locator(".fv-dash-label")
        assert dashboard.get_attribute("data-feature") == str(explorer.dashboard.feature)
        assert label.inner_text() == ""  # the shown feature has no label
        # A click on the labelled column (no kernel: the file's own link) moves the dashboard, label and all.
        cell_w = float(heatmap.get_attribute("data-cell-width"))
        header = float(heatmap.get_attribute("data-header-height"))
        offset = float(heatmap.get_attribute("data-first-visible-offset") or heatmap.get_attribute("data-gutter-width"))
        columns = [int(c) for c in heatmap.get_attribute("data-visible-columns").split(",")]
        lane = columns.index(labelled)
        heatmap.locator("canvas.fv-heatmap-canvas").click(
            position={"x": offset + (lane + 0.5) * cell_w, "y": header + 5}
        )
        page.wait_for_selector(f".fv-export-row .fv-dashboard[data-feature='{labelled}'][data-state=ready]")
        assert label.inner_text() == "storm words"
        assert dashboard.locator(".fv-dash-id").inner_text() == f"#{labelled}"
        page.mouse.move(1, 1)
        row.screenshot(path=str(artifacts_dir / "explorer-export-1400.png"))
        assert not requests and not dialogs and not errors, (requests, dialogs, errors)
    finally:
        page.close()
