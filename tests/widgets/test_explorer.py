"""fv.Explorer (issue 18 item 3): a heatmap and a dashboard linked in one flex row that wraps."""

import pytest

import featureviz as fv
from featureviz.analysis.dashboard import dashboard_data

TEXTS = [
    "the quiet river ran past the green hill",
    "an angry storm broke the glass",
    "I laugh at the wolf",
    "seven papers on the engine",
    "a calm and tender evening",
]


@pytest.fixture
def acts(tiny_model, tiny_sae):
    return fv.activations(tiny_model, tiny_sae, TEXTS[:3])


def test_explorer_builds_both_views_linked(tiny_model, tiny_sae, acts):
    explorer = fv.Explorer(acts, tiny_model, tiny_sae, TEXTS, heatmap_options={"top_k": 6}, k=3, progress=False)
    heatmap, dashboard = explorer.children
    assert heatmap is explorer.heatmap and dashboard is explorer.dashboard
    # Starts on the heatmap's first content feature, selected in both.
    first = next(f for f, on in zip(heatmap.feature_ids, heatmap.always_on) if not on)
    assert heatmap.selected_feature == dashboard.feature == explorer.selected_feature == first
    # A heatmap click (the trait the view sets) opens that feature's page in the dashboard.
    other = [f for f in heatmap.feature_ids if f != first][-1]
    heatmap.selected_feature = other
    assert dashboard.feature == other and dashboard.page["feature"] == other
    explorer.selected_feature = first
    assert dashboard.feature == first
    # One row that wraps: side by side while both fit, stacked on narrow outputs.
    assert explorer.layout.display == "flex" and explorer.layout.flex_flow == "row wrap"
    assert dashboard.layout.flex == "1 1 420px"
    assert "fv-explorer" in explorer._dom_classes
    assert repr(explorer).startswith("Explorer(Heatmap(")


def test_explorer_reuses_dashboard_data_and_checks_its_arguments(tiny_model, tiny_sae, acts):
    data = dashboard_data(tiny_model, tiny_sae, TEXTS, k=3, progress=False)
    feature = int(data.feature_ids[4])
    explorer = fv.Explorer(acts, data, feature=feature, heatmap_options={"features": [feature, 2, 3]})
    assert explorer.dashboard.data is data and explorer.heatmap.selected_feature == feature
    explorer.heatmap.feature_labels = {feature: "storm"}
    assert explorer.heatmap.feature_labels == {feature: "storm"}
    with pytest.raises(TypeError, match="needs a model"):
        fv.Explorer(acts)
    with pytest.raises(TypeError, match="unknown heatmap_options"):
        fv.Explorer(acts, data, heatmap_options={"colour": "red"})
    with pytest.raises(TypeError, match="activations"):
        fv.Explorer([1, 2], data)


def test_labels_pass_between_a_heatmap_and_a_contrast_view(tiny_model, tiny_sae):
    acts = fv.activations(tiny_model, tiny_sae, {"a": TEXTS[:3], "b": TEXTS[2:]})
    view = fv.ContrastView(fv.contrast(acts), top_n=3)
    heatmap = fv.Heatmap(acts, top_k=5)
    fv.link(heatmap, view)
    heatmap.feature_labels = {view.feature_ids[0]: "storm"}
    assert view.feature_labels == {view.feature_ids[0]: "storm"}


def test_dashboard_shows_labels_set_on_a_linked_heatmap(tiny_model, tiny_sae, acts):
    data = dashboard_data(tiny_model, tiny_sae, TEXTS, k=3, progress=False)
    first, second = (int(f) for f in data.feature_ids[:2])
    dashboard = fv.Dashboard(data, feature=first, feature_labels={str(first): "river", second: ""})
    assert dashboard.feature_labels == {first: "river"}  # JSON's string keys back to ids; "" drops a label
    with pytest.raises(Exception, match="must be a str"):
        dashboard.feature_labels = {first: 3}
    # The Explorer's link: a label set on the heatmap reaches the dashboard, and back.
    explorer = fv.Explorer(acts, data, feature=first, heatmap_options={"features": [first, second]})
    explorer.heatmap.feature_labels = {first: "storm", second: "calm"}
    assert explorer.dashboard.feature_labels == {first: "storm", second: "calm"}
    explorer.dashboard.feature_labels = {second: "quiet"}
    assert explorer.heatmap.feature_labels == {second: "quiet"}
    # A heatmap built with labels hands them to the dashboard when linked.
    labelled = fv.Explorer(acts, data, heatmap_options={"features": [first], "feature_labels": {first: "joy"}})
    assert labelled.dashboard.feature_labels == {first: "joy"}
