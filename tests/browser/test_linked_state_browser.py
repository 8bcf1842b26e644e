"""A linked Interpolation re-steers the feature a heatmap click selects, in JupyterLab and Notebook 7, and
never shows one feature's steering under another's number meanwhile (issue 23, item 1).

Every DOM state the view can paint is recorded by a MutationObserver; each one's header (the feature the
texts are named for) must match its texts, and the progress state must show while Python steers.
"""

from __future__ import annotations

import json

import pytest

from conftest import KERNEL_TIMEOUT, wait_state

pytestmark = pytest.mark.browser

# h and acts come from the setup cell (read only). The sweep goes well past the feature's own scale.
LINKED_INTERP_CELL = """\
lih = fv.Heatmap(acts, top_k=6)
_scale = max(6.0, 4 * float(acts.values[:, lih.feature_ids[0]].max()))
linterp = fv.Interpolation(model, source, "Today I went to the market and", feature=lih.feature_ids[0],
                           values=(-_scale, 0.0, _scale), max_new_tokens=6)
lilink = fv.link(lih, linterp)
print("LI_FEATURE=%d" % linterp.feature)
print("LI_TEXTS=" + json.dumps(linterp.texts))
display(lih)
display(linterp)"""
PRINT_LINKED_CELL = """\
print("LI_FEATURE=%d" % linterp.feature)
print("LI_COMPUTED=%d" % linterp.computed_for["feature"])
print("LI_INDEX=%d" % linterp.index)
print("LI_TEXTS=" + json.dumps(linterp.texts))"""

# Record (header, texts, state, data-feature) of every DOM state of the view, as painted.
RECORD_JS = """root => {
    const snap = () => window.__fvInterpSnaps.push({
        desc: root.querySelector('.fv-interp-desc').textContent,
        text: root.querySelector('.fv-generated').textContent,
        state: root.dataset.state, feature: root.dataset.feature,
    });
    window.__fvInterpSnaps = [];
    snap();
    window.__fvInterpObserver = new MutationObserver(snap);
    window.__fvInterpObserver.observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
}"""
STOP_JS = "() => { window.__fvInterpObserver.disconnect(); return window.__fvInterpSnaps; }"


def test_linked_interpolation_resteers_the_clicked_feature(nb):
    index, out = nb.run_code(LINKED_INTERP_CELL, timeout=KERNEL_TIMEOUT)
    first = int(nb.output_value(out, "LI_FEATURE"))
    old_texts = json.loads(nb.output_value(out, "LI_TEXTS"))
    cell = nb.cell(index)
    heatmap, interp = cell.locator(".fv-heatmap"), cell.locator(".fv-interpolation")
    heatmap.wait_for(state="attached")
    nb.page.wait_for_function(
        "el => el.dataset.state === 'ready' && !!el.parentElement.dataset.firstPaintMs", arg=heatmap.element_handle()
    )
    wait_state(nb, interp, timeout=30_000)
    assert interp.locator(".fv-interp-desc").inner_text().startswith(f"add feature {first} ")

    # The most negative value, where steering changes the text (0 would be the unsteered text for any feature).
    interp.locator("input.fv-slider").fill("0")
    nb.page.wait_for_function("el => el.dataset.index === '0'", arg=interp.element_handle())
    old_text = interp.locator(".fv-generated").text_content()

    g = nb.geometry(heatmap)
    col = next(i for i, f in enumerate(g["visible"]) if f != first)
    target = g["visible"][col]
    nb.page.evaluate(RECORD_JS, interp.element_handle())
    heatmap.locator("canvas.fv-heatmap-canvas").click(position=nb.cell_point(1, col, heatmap))
    nb.page.wait_for_function(
        "([el, f]) => el.dataset.state === 'ready' && el.dataset.feature === String(f)",
        arg=[interp.element_handle(), target],
        timeout=KERNEL_TIMEOUT,
    )
    snaps = nb.page.evaluate(STOP_JS)

    _, out = nb.run_code(PRINT_LINKED_CELL, timeout=KERNEL_TIMEOUT)
    assert int(nb.output_value(out, "LI_FEATURE")) == target
    assert int(nb.output_value(out, "LI_COMPUTED")) == target
    new_texts = json.loads(nb.output_value(out, "LI_TEXTS"))
    new_index = int(nb.output_value(out, "LI_INDEX"))
    assert new_index == 0  # the slider keeps its value
    if new_texts[0] == old_texts[0]:
        pytest.fail(
            f"features {first} and {target} steer to the same text at this value: the test cannot tell them apart"
        )
    assert interp.locator(".fv-generated").text_content() != old_text

    # Every painted state names the feature its texts were steered with; "computing" showed in between.
    for snap in snaps:
        assert snap["desc"].startswith(f"add feature {snap['feature']} "), snap
        if snap["feature"] == str(target):
            assert snap["text"] != old_text, f"feature {first}'s text under feature {target}'s name: {snap}"
        else:
            assert snap["feature"] == str(first) and snap["text"] == old_text, snap
    assert "busy" in {s["state"] for s in snaps}, f"no progress state while Python steered: {snaps}"
    assert interp.locator(".fv-interp-desc").inner_text().startswith(f"add feature {target} ")
