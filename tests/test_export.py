import json
import re

import pytest

import featureviz as fv


@pytest.fixture
def widgets(tiny_model, tiny_sae):
    acts = fv.activations(tiny_model, tiny_sae, {"happy": ["What a lovely day", "So glad"], "angry": ["This is outrageous", "Awful!"]})
    heatmap = fv.Heatmap(acts, top_k=6)
    corpus = ["the river was calm", "storm glass engine", "a tender green wolf", "seven paper laughs"]
    dashboard = fv.Dashboard(tiny_model, tiny_sae, corpus, feature=heatmap.feature_ids[0], progress=False)
    contrast = fv.ContrastView(fv.contrast(acts), top_n=3)
    slider = fv.Interpolation(tiny_model, tiny_sae, "The weather is", 3, values=(-2, 2), steps=3, max_new_tokens=3)
    return heatmap, dashboard, contrast, slider


def _data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="featureviz-data">(.*?)</script>', page, re.S)
    return json.loads(match.group(1))


def test_export_is_self_contained(widgets, tmp_path):
    path = fv.export_html(list(widgets), tmp_path / "report.html", title="<b>report</b>", link=True)
    page = path.read_text()
    # nothing is fetched: no src/href to anything, and the only URL is the SVG namespace
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert set(re.findall(r"https?://[\w./-]+", page)) <= {"http://www.w3.org/2000/svg"}
    assert "<b>report</b>" not in page and "&lt;b&gt;report&lt;/b&gt;" in page
    data = _data(page)
    assert len(data["widgets"]) == 4 and data["link_selection"] is True
    assert len(data["bundles"]) == 4  # one per widget type
    heatmap = data["widgets"][0]
    assert heatmap["buffers"] and "_esm" not in heatmap["state"]
    dashboard = data["widgets"][1]
    pages = dashboard["responses"]["feature"]
    assert str(widgets[1].feature) in pages and len(pages) > 1


def test_export_cannot_be_broken_out_of_by_tokens(tiny_model, tiny_sae, tmp_path):
    evil = '</script><script>alert(1)</script><img src=x onerror=alert(2)>'
    acts = fv.activations(tiny_model, tiny_sae, [evil])
    page = fv.export_html(fv.Heatmap(acts, top_k=3), tmp_path / "evil.html").read_text()
    assert page.count("</script>") == 2  # only the data and runtime blocks close
    assert any(evil in "".join(w["state"]["tokens"]) or "script" in "".join(w["state"]["tokens"])
               for w in _data(page)["widgets"])


def test_export_rejects_non_widgets(tmp_path):
    with pytest.raises(TypeError, match="featureviz widgets"):
        fv.export_html(["not a widget"], tmp_path / "x.html")
    with pytest.raises(ValueError, match="nothing to export"):
        fv.export_html([], tmp_path / "x.html")
