"""The dashboard's on-request panels through a real kernel (JupyterLab and Notebook 7, issue 18 item 4): a text
typed in the box comes back as tokens coloured by the feature, the ablation button underlines the top contexts,
and an id typed out of range is said inline. Shares the session's notebook page and kernel (conftest `nb`);
new kernel names start with `dl_`."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser

KERNEL_TIMEOUT = 300_000  # ms: dashboard data, a text and ten ablated windows on 2 busy cores

DASHBOARD_CELL = """\
dl_texts = [p for ps in fv.emotion_prompts(4).values() for p in ps]
dl_data = fv.dashboard_data(model, source, dl_texts, features=list(range(64)), k=3, progress=False)
dl_feature = int(dl_data.feature_ids[dl_data.max_value.argmax()])
dl = fv.Dashboard(dl_data, feature=dl_feature, model=model, source=source)
print("DL_FEATURE=%d" % dl_feature)
print("DL_TEXT=" + json.dumps(dl_data.page(dl_feature)["top"][0]["tokens"]))
dl"""
PRINT_CELL = 'print("DL_PROBE=" + json.dumps(dl.probe)); print("DL_ABLATED=%d" % len(dl.ablation.get("top", [])))'


def test_text_box_and_ablation_round_trip_through_the_kernel(nb):
    index, out = nb.run_code(DASHBOARD_CELL, timeout=KERNEL_TIMEOUT)
    feature = int(nb.output_value(out, "DL_FEATURE"))
    text = "".join(json.loads(nb.output_value(out, "DL_TEXT")))  # the feature's best window fires on itself
    root = nb.cell(index).locator(".fv-dashboard")
    root.wait_for(state="attached", timeout=KERNEL_TIMEOUT)
    nb.page.wait_for_function(
        "([el, f]) => el.dataset.state === 'ready' && el.dataset.feature === String(f)",
        arg=[root.element_handle(), feature],
        timeout=KERNEL_TIMEOUT,
    )

    box = root.locator(".fv-probe-input")
    box.fill(text)
    box.press("Enter")
    tokens = root.locator(".fv-probe-result .fv-token")
    tokens.first.wait_for(state="attached", timeout=KERNEL_TIMEOUT)
    status = root.locator(".fv-probe-status")
    nb.page.wait_for_function(
        "el => el.textContent.startsWith('max ')", arg=status.element_handle(), timeout=KERNEL_TIMEOUT
    )
    _, out = nb.run_code(PRINT_CELL)
    probe = json.loads(nb.output_value(out, "DL_PROBE"))
    assert probe["feature"] == feature and probe["text"] == text
    assert tokens.count() == len(probe["tokens"]) and max(probe["acts"]) > 0
    assert [t.text_content() for t in tokens.all()][-1].strip() == probe["tokens"][-1].strip()

    root.locator(".fv-ablate").click()
    underlined = root.locator('.fv-context[data-source="top"] .fv-token[data-effect]')
    underlined.first.wait_for(state="attached", timeout=KERNEL_TIMEOUT)
    _, out = nb.run_code(PRINT_CELL)
    assert int(nb.output_value(out, "DL_ABLATED")) == root.locator('.fv-context[data-source="top"]').count()

    nav = root.locator(".fv-dash-input")
    nav.fill("99999")
    nav.press("Enter")
    assert root.locator(".fv-dash-status").text_content() == (
        "⚠ 99999 is not one of this dashboard's 64 features (ids 0–63)"
    )
    assert root.get_attribute("data-state") == "error"
