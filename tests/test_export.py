import json
import re

import pytest

import featureviz as fv


@pytest.fixture
def widgets(tiny_model, tiny_sae):
    acts = fv.activations(
        tiny_model, tiny_sae, {"happy": ["What a lovely day", "So glad"], "angry": ["This is outrageous", "Awful!"]}
    )
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
    evil = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
    acts = fv.activations(tiny_model, tiny_sae, [evil])
    page = fv.export_html(fv.Heatmap(acts, top_k=3), tmp_path / "evil.html").read_text()
    assert page.count("</script>") == 2  # only the data and runtime blocks close
    assert any(
        evil in "".join(w["state"]["tokens"]) or "script" in "".join(w["state"]["tokens"])
        for w in _data(page)["widgets"]
    )


def test_export_rejects_non_widgets(tmp_path):
    with pytest.raises(TypeError, match="featureviz widgets"):
        fv.export_html(["not a widget"], tmp_path / "x.html")
    with pytest.raises(ValueError, match="nothing to export"):
        fv.export_html([], tmp_path / "x.html")


# ---- issue 23: exports whose links work (item 5) and writes that lose nothing (item 9) --------------------


def _pages(data, widget_index):
    return data["widgets"][widget_index]["responses"]["feature"]


def test_linked_export_has_the_page_of_every_feature_a_click_can_select(tiny_model, tiny_sae, tmp_path, recwarn):
    acts = fv.activations(tiny_model, tiny_sae, {"happy": ["What a lovely day", "So glad"], "angry": ["Awful!", "No"]})
    heatmap = fv.Heatmap(acts, features=[0, 95, 50, 71])  # far from the dashboard's feature 0: not "nearby"
    contrast = fv.ContrastView(fv.contrast(acts), top_n=3)
    corpus = ["the river was calm", "storm glass engine", "a tender green wolf", "seven paper laughs"]
    dashboard = fv.Dashboard(tiny_model, tiny_sae, corpus, feature=0, progress=False)
    page = fv.export_html([heatmap, dashboard, contrast], tmp_path / "r.html", link=True).read_text()
    data = _data(page)
    pages = _pages(data, 1)
    for feature in [*heatmap.feature_ids, *contrast.feature_ids]:
        assert pages[str(feature)]["page"] == dashboard.data.page(feature)
    assert data["left_out"] == [] and "featureviz-note" not in page
    assert not [w for w in recwarn if "left out" in str(w.message)]
    # the exported dashboard can move between exactly the pages it holds
    assert sorted(data["widgets"][1]["state"]["feature_ids"]) == sorted(int(f) for f in pages)


def test_linked_export_over_its_page_budget_names_what_it_left_out(tiny_model, tiny_sae, tmp_path):
    acts = fv.activations(tiny_model, tiny_sae, ["What a lovely day", "This is outrageous"])
    heatmap = fv.Heatmap(acts, features=list(range(0, 96, 4)))
    corpus = ["the river was calm", "storm glass engine", "a tender green wolf", "seven paper laughs"]
    dashboard = fv.Dashboard(tiny_model, tiny_sae, corpus, feature=2, progress=False)
    one_page = len(json.dumps(dashboard.page, separators=(",", ":")))
    budget_mb = 6.5 * one_page / 1e6  # room for about six pages of 25 wanted
    with pytest.warns(UserWarning, match="left out") as caught:
        page = fv.export_html(
            [heatmap, dashboard], tmp_path / "r.html", link=True, page_budget_mb=budget_mb
        ).read_text()
    data = _data(page)
    pages = _pages(data, 1)
    sizes = [len(json.dumps(p["page"], separators=(",", ":"))) for p in pages.values()]
    assert sum(sizes) <= budget_mb * 1e6 and 3 <= len(pages) <= 12
    left_out = [f for f in heatmap.feature_ids if str(f) not in pages]
    assert data["left_out"] == left_out and len(left_out) >= 10
    message = str(caught[0].message)
    note = re.search(r'<p class="fv-export-note" id="featureviz-note">(.*?)</p>', page).group(1)
    for shown in (message, note):
        assert f"{len(left_out)} selectable feature(s)" in shown and "page_budget_mb" in shown
        assert ", ".join(map(str, left_out[:5])) in shown
    with pytest.raises(ValueError, match="page_budget_mb"):
        fv.export_html([heatmap, dashboard], tmp_path / "r.html", page_budget_mb=0)


def test_a_failed_export_leaves_the_existing_report_intact(widgets, tmp_path, monkeypatch):
    path = fv.export_html(list(widgets), tmp_path / "report.html", title="first")
    before = path.read_bytes()
    with pytest.raises(ValueError, match="title .*lone surrogate"):
        fv.export_html(list(widgets), path, title="bad \ud800 title")
    assert path.read_bytes() == before

    import featureviz.export as export

    def interrupted(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(export.os, "replace", interrupted)
    with pytest.raises(OSError, match="disk full"):
        fv.export_html(list(widgets), path, title="second")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left behind
    monkeypatch.undo()
    assert "second" in fv.export_html(list(widgets), path, title="second").read_text()
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)  # readable like any file open() makes


def test_export_takes_an_explorer_as_its_two_views_linked_in_one_row(tiny_model, tiny_sae, tmp_path):
    acts = fv.activations(tiny_model, tiny_sae, ["What a lovely day", "This is outrageous"])
    corpus = ["the river was calm", "storm glass engine", "a tender green wolf", "seven paper laughs"]
    explorer = fv.Explorer(acts, tiny_model, tiny_sae, corpus, heatmap_options={"top_k": 5}, k=3, progress=False)
    explorer.heatmap.feature_labels = {explorer.heatmap.feature_ids[0]: "storm"}
    alone = fv.Heatmap(acts, top_k=3)
    page = fv.export_html([explorer, alone], tmp_path / "explorer.html").read_text()  # link=False
    data = _data(page)
    heatmap, dashboard, other = data["widgets"]
    assert [heatmap["group"], dashboard["group"], other["group"]] == [0, 0, None]
    assert data["bundles"][heatmap["bundle"]] != data["bundles"][dashboard["bundle"]]
    assert heatmap["state"]["feature_ids"] == explorer.heatmap.feature_ids
    assert dashboard["state"]["feature"] == explorer.dashboard.feature
    # Linked to each other though link=False: the dashboard holds the page of every heatmap column.
    pages = dashboard["responses"]["feature"]
    for feature in explorer.heatmap.feature_ids:
        assert pages[str(feature)]["page"] == explorer.dashboard.data.page(feature)
    # The labels the link shares are in both states.
    label = {str(explorer.heatmap.feature_ids[0]): "storm"}
    assert heatmap["state"]["feature_labels"] == dashboard["state"]["feature_labels"] == label
    assert data["link_selection"] is False and ".fv-export-row" in page


def test_export_refuses_a_box_of_other_widgets(tmp_path):
    import ipywidgets

    with pytest.raises(TypeError, match="holds Button"):
        fv.export_html(ipywidgets.HBox([ipywidgets.Button()]), tmp_path / "x.html")
