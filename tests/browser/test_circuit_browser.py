"""The circuit view in a real browser, offline (export_html): light and dark themes, hover, keyboard, and a click
on an upstream neuron that opens its page in a linked dashboard of the same hook."""

import pytest

import featureviz as fv
from factories import offline_page

pytestmark = pytest.mark.browser

PROMPTS = ["What a lovely day at the beach", "This is outrageous <img src=x onerror=alert(1)>", "So glad you came"]


@pytest.fixture(scope="module")
def report(tmp_path_factory, tiny_model):
    from factories import make_sae

    target = fv.SAESource(make_sae(hook_name="blocks.1.hook_resid_pre", seed=3))
    latent = int(fv.activations(tiny_model, target, PROMPTS).top_features(1, by="mean").index[0])
    neurons = fv.NeuronSource(tiny_model, 0)
    circuit = fv.feature_circuit(
        tiny_model,
        (target, latent),
        [fv.HeadSource(tiny_model, 0), neurons],
        PROMPTS,
        downstream="logits",
        top_k=8,
        progress=False,
    )
    view = fv.CircuitView(circuit, fv.cluster_features(circuit), color_by="sign")
    corpus = ["the river was calm", "storm glass engine", "a tender green wolf", "seven paper laughs", *PROMPTS]
    shown = [n["feature"] for n in view.graph["nodes"] if n["kind"] == "neurons"]
    dashboard = fv.Dashboard(tiny_model, neurons, corpus, features=list(range(neurons.n_features)), progress=False)
    path = tmp_path_factory.mktemp("circuit") / "circuit.html"
    return fv.export_html([view, dashboard], path, link=True), circuit, shown


def test_circuit_view_offline_themes_hover_keyboard_and_link(browser_context, report, artifacts_dir):
    path, circuit, shown = report
    page, requests, dialogs, errors = offline_page(browser_context)
    try:
        page.emulate_media(color_scheme="light")
        page.goto(path.as_uri())
        page.wait_for_selector("#featureviz-root[data-mounted=true]", timeout=20_000)
        view = page.locator(".fv-circuit[data-state=ready]")
        view.wait_for(timeout=10_000)
        assert view.get_attribute("data-theme") == "light"
        assert page.locator(".fv-circuit-node").count() == len(circuit.nodes)
        assert page.locator(".fv-circuit-edge").count() == len(circuit.edges)
        assert page.locator("img").count() == 0
        view.screenshot(path=str(artifacts_dir / "circuit-light.png"))

        # hover: the numbers of a node
        top = circuit.upstream().iloc[0]
        node = page.locator(f'.fv-circuit-node[data-node="{top.node}"]')
        node.hover()
        tip = page.locator(".fv-circuit .fv-tooltip")
        assert tip.is_visible() and top.label in tip.inner_text() and "effect" in tip.inner_text()

        # a click on a neuron selects it, and the linked dashboard (same hook) shows that neuron
        neuron = shown[0]
        page.locator(f'.fv-circuit-node[data-node="blocks.0.mlp.hook_post:{neuron}"]').click()
        page.wait_for_selector(f".fv-dashboard[data-feature='{neuron}'][data-state=ready]", timeout=5_000)
        assert view.get_attribute("data-selected") == f"blocks.0.mlp.hook_post:{neuron}"
        # a head has another hook: the dashboard stays where it is
        head = next(r.node for r in circuit.upstream().itertuples() if r.kind == "heads")
        page.locator(f'.fv-circuit-node[data-node="{head}"]').click()
        assert view.get_attribute("data-selected") == head
        assert page.locator(".fv-dashboard").get_attribute("data-feature") == str(neuron)

        # keyboard: Tab reaches a node, arrows move, Enter selects
        page.locator(".fv-circuit-svg").click(position={"x": 2, "y": 2})
        for _ in range(30):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement?.classList.contains('fv-circuit-node')"):
                break
        first = page.evaluate("() => document.activeElement.dataset.node")
        page.keyboard.press("ArrowRight")
        moved = page.evaluate("() => document.activeElement.dataset.node")
        assert moved and moved != first
        page.keyboard.press("Enter")
        assert view.get_attribute("data-selected") == moved

        # dark: the OS colour scheme flips the export's variables; the view repaints
        page.emulate_media(color_scheme="dark")
        page.wait_for_selector(".fv-circuit[data-theme=dark]", timeout=5_000)
        fills = page.evaluate(
            "() => [...document.querySelectorAll('.fv-circuit-node rect')].map(r => r.getAttribute('fill'))"
        )
        assert len(set(fills)) > 1
        page.mouse.move(0, 0)
        view.screenshot(path=str(artifacts_dir / "circuit-dark.png"))
        assert not dialogs and not errors and not requests, (dialogs, errors, requests)
    finally:
        page.close()
