"""The exported HTML works with every network request blocked: widgets render and respond without a kernel."""

import json
import re

import pytest

import featureviz as fv
from factories import offline_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report(tmp_path_factory, tiny_model, tokenizer):
    from factories import make_sae

    sae = make_sae()
    acts = fv.activations(
        tiny_model,
        sae,
        {
            "happy": ["What a lovely day", "So glad"],
            "angry": ["This is outrageous <img src=x onerror=alert(1)>", "Awful!"],
        },
    )
    heatmap = fv.Heatmap(acts, top_k=8)
    corpus = ["the river was calm", "storm glass engine", "a tender green wolf", "seven paper laughs"]
    dashboard = fv.Dashboard(tiny_model, sae, corpus, feature=heatmap.feature_ids[0], progress=False)
    slider = fv.Interpolation(tiny_model, sae, "The weather is", 3, values=(-40, 40), steps=5, max_new_tokens=4)
    contrast = fv.ContrastView(fv.contrast(acts), top_n=3)
    early = make_sae(seed=1)  # a second "checkpoint": another SAE of the same shape
    scrubber = fv.CheckpointScrubber(
        [(1, tiny_model, early), (2, tiny_model, sae)], ["What a lovely day", "Awful!"], top_k=6
    )
    path = tmp_path_factory.mktemp("export") / "report.html"
    return fv.export_html([heatmap, dashboard, slider, contrast, scrubber], path, link=True), heatmap, slider


def test_export_works_offline(browser_context, report, artifacts_dir):
    path, heatmap, slider = report
    page, requests, dialogs, errors = offline_page(browser_context)
    try:
        page.goto(path.as_uri())
        page.wait_for_selector("#featureviz-root[data-mounted=true]", timeout=20_000)
        for root in (".fv-heatmap", ".fv-dashboard", ".fv-interpolation", ".fv-contrast", ".fv-scrubber"):
            page.wait_for_selector(f"{root}[data-state=ready]", timeout=10_000)
        assert page.locator("img").count() == 0

        # interpolation (before a linked click selects another feature): the slider changes the text with no
        # kernel at all
        def text_at():
            return page.locator(".fv-generated").inner_text()

        first = text_at()
        page.locator(".fv-interpolation input.fv-slider").fill("4")
        page.wait_for_function("() => document.querySelector('.fv-interpolation').dataset.index === '4'")
        assert slider.texts[4] in text_at() or text_at() != first

        # heatmap: hover shows a tooltip, clicking a column moves the linked dashboard
        first = page.locator(".fv-export-widget").first  # the scrubber draws a heatmap too
        canvas = first.locator(".fv-heatmap-canvas")
        root = first.locator(".fv-heatmap")
        cell_w = float(root.get_attribute("data-cell-width"))
        header = float(root.get_attribute("data-header-height"))
        offset = float(root.get_attribute("data-first-visible-offset") or root.get_attribute("data-gutter-width"))
        columns = [int(c) for c in root.get_attribute("data-visible-columns").split(",")]
        canvas.hover(position={"x": offset + 1.5 * cell_w, "y": header + 5})
        assert first.locator(".fv-heatmap .fv-tooltip").is_visible()
        canvas.click(position={"x": offset + 1.5 * cell_w, "y": header + 5})
        page.wait_for_selector(f".fv-dashboard[data-feature='{columns[1]}'][data-state=ready]", timeout=5_000)

        # dashboard: next moves to another precomputed page
        before = page.locator(".fv-dashboard").get_attribute("data-feature")
        page.locator(".fv-next").click()
        page.wait_for_function(
            "b => document.querySelector('.fv-dashboard').dataset.feature !== b"
            " && document.querySelector('.fv-dashboard').dataset.state === 'ready'",
            arg=before,
        )

        # scrubber: the slider switches to the other checkpoint's frame, all in the page
        scrub = page.locator(".fv-scrubber")
        start = scrub.get_attribute("data-index")
        target = "0" if start != "0" else "1"
        scrub.locator("input.fv-slider").fill(target)
        page.wait_for_function("t => document.querySelector('.fv-scrubber').dataset.index === t", arg=target)
        page.screenshot(path=str(artifacts_dir / "export.png"), full_page=True)
        assert not dialogs and not errors and not requests, (dialogs, errors, requests)
    finally:
        page.close()


# ---- issue 23: a linked export whose every click works (item 5) and an Interpolation that says it needs a
# kernel for another feature (item 1) ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def linked_reports(tmp_path_factory, tiny_model, tokenizer):
    from factories import make_sae

    sae = make_sae()
    acts = fv.activations(tiny_model, sae, {"happy": ["What a lovely day", "So glad"], "angry": ["Awful!", "No way"]})
    # columns far apart in feature order: an export that only kept pages "near" feature 0 would miss them
    heatmap = fv.Heatmap(acts, features=[0, 95, 50, 71, 33, 88])
    corpus = ["the river was calm", "storm glass engine", "a tender green wolf", "seven paper laughs"]
    dashboard = fv.Dashboard(tiny_model, sae, corpus, feature=0, progress=False)
    slider = fv.Interpolation(tiny_model, sae, "The weather is", 0, values=(-40, 40), steps=3, max_new_tokens=4)
    contrast = fv.ContrastView(fv.contrast(acts), top_n=3)
    folder = tmp_path_factory.mktemp("linked")
    full = fv.export_html([heatmap, dashboard, slider, contrast], folder / "full.html", link=True)
    one_page = len(json.dumps(dashboard.page, separators=(",", ":")))
    with pytest.warns(UserWarning, match="left out"):
        small = fv.export_html(
            [heatmap, dashboard], folder / "small.html", link=True, page_budget_mb=2.5 * one_page / 1e6
        )
    return full, small, heatmap


def _open(browser_context, path):
    page = browser_context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_selector("#featureviz-root[data-mounted=true]", timeout=20_000)
    return page, errors


def _click_column(page, feature: int) -> None:
    root = page.locator(".fv-heatmap").first
    cell_w = float(root.get_attribute("data-cell-width"))
    header = float(root.get_attribute("data-header-height"))
    offset = float(root.get_attribute("data-first-visible-offset") or root.get_attribute("data-gutter-width"))
    columns = [int(c) for c in root.get_attribute("data-visible-columns").split(",")]
    root.locator(".fv-heatmap-canvas").click(
        position={"x": offset + (columns.index(feature) + 0.5) * cell_w, "y": header + 5}
    )


def test_linked_export_every_heatmap_click_shows_its_dashboard_page(browser_context, linked_reports, artifacts_dir):
    full, _, heatmap = linked_reports
    page, errors = _open(browser_context, full)
    try:
        dash, interp = page.locator(".fv-dashboard"), page.locator(".fv-interpolation")
        for feature in heatmap.feature_ids:
            _click_column(page, feature)
            page.wait_for_selector(f".fv-dashboard[data-feature='{feature}'][data-state=ready]", timeout=5_000)
            if feature != 0:  # the interpolation holds feature 0's steering only: it says so, no stale texts
                assert interp.get_attribute("data-state") == "unavailable"
                assert not interp.locator(".fv-interp-body").is_visible()
                message = interp.locator(".fv-message").inner_text()
                assert message.startswith(f"Steering feature {feature} needs a running Python kernel"), message
        page.screenshot(path=str(artifacts_dir / "export-linked-unavailable.png"), full_page=True)
        _click_column(page, 0)
        page.wait_for_selector(".fv-interpolation[data-state=ready]", timeout=5_000)
        assert interp.locator(".fv-interp-desc").inner_text().startswith("add feature 0 ")
        assert interp.locator(".fv-generated").is_visible()

        # kernel-only controls are off, with a tooltip that says why
        search = dash.locator(".fv-search")
        assert search.is_disabled() and "needs a running Python kernel" in search.get_attribute("title")
        for button in (".fv-extend-low", ".fv-extend-high"):
            assert interp.locator(button).is_disabled()
            assert "needs a running Python kernel" in interp.locator(button).get_attribute("title")
        assert "kernel running" not in page.locator("body").inner_text()
        assert not errors, errors
    finally:
        page.close()


def test_linked_export_over_budget_says_which_pages_are_missing(browser_context, linked_reports):
    _, small, heatmap = linked_reports
    page, errors = _open(browser_context, small)
    try:
        note = page.locator("#featureviz-note")
        assert note.is_visible() and "left out of this file" in note.inner_text()
        pages = page.locator(".fv-dashboard")
        data = re.search(r'id="featureviz-data">(.*?)</script>', small.read_text(), re.S).group(1)
        missing = json.loads(data)["left_out"]
        assert missing and ", ".join(map(str, missing)) in note.inner_text()
        _click_column(page, missing[0])
        page.wait_for_selector(".fv-dashboard[data-state=error]", timeout=5_000)
        assert f"#{missing[0]} has no page in this exported file" in pages.locator(".fv-dash-status").inner_text()
        page.wait_for_timeout(10_500)  # past the live view's wait for a kernel's answer
        assert "is the kernel running" not in page.locator("body").inner_text()  # the live view's time-out
        assert not errors, errors
    finally:
        page.close()
