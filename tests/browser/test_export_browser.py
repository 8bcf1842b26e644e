"""The exported HTML works with every network request blocked: widgets render and respond without a kernel."""

import pytest

import featureviz as fv

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report(tmp_path_factory, tiny_model, tokenizer):
    from factories import make_sae

    sae = make_sae()
    acts = fv.activations(tiny_model, sae, {"happy": ["What a lovely day", "So glad"],
                                            "angry": ["This is outrageous <img src=x onerror=alert(1)>", "Awful!"]})
    heatmap = fv.Heatmap(acts, top_k=8)
    corpus = ["the river was calm", "storm glass engine", "a tender green wolf", "seven paper laughs"]
    dashboard = fv.Dashboard(tiny_model, sae, corpus, feature=heatmap.feature_ids[0], progress=False)
    slider = fv.Interpolation(tiny_model, sae, "The weather is", 3, values=(-40, 40), steps=5, max_new_tokens=4)
    contrast = fv.ContrastView(fv.contrast(acts), top_n=3)
    early = make_sae(seed=1)  # a second "checkpoint": another SAE of the same shape
    scrubber = fv.CheckpointScrubber([(1, tiny_model, early), (2, tiny_model, sae)], ["What a lovely day", "Awful!"],
                                     top_k=6)
    path = tmp_path_factory.mktemp("export") / "report.html"
    return fv.export_html([heatmap, dashboard, slider, contrast, scrubber], path, link=True), heatmap, slider


def test_export_works_offline(browser_context, report, artifacts_dir):
    path, heatmap, slider = report
    page = browser_context.new_page()
    requests, dialogs, errors = [], [], []
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "blob:", "data:"))
               else (requests.append(route.request.url), route.abort()))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(path.as_uri())
        page.wait_for_selector("#featureviz-root[data-mounted=true]", timeout=20_000)
        for root in (".fv-heatmap", ".fv-dashboard", ".fv-interpolation", ".fv-contrast", ".fv-scrubber"):
            page.wait_for_selector(f"{root}[data-state=ready]", timeout=10_000)
        assert page.locator("img").count() == 0

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
        page.wait_for_function("b => document.querySelector('.fv-dashboard').dataset.feature !== b"
                               " && document.querySelector('.fv-dashboard').dataset.state === 'ready'", arg=before)

        # interpolation: the slider changes the text with no kernel at all
        text_at = lambda: page.locator(".fv-generated").inner_text()
        first = text_at()
        page.locator(".fv-interpolation input.fv-slider").fill("4")
        page.wait_for_function("() => document.querySelector('.fv-interpolation').dataset.index === '4'")
        assert slider.texts[4] in text_at() or text_at() != first

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
