"""fv.link: refused links leave nothing behind, and only widgets of one feature space link (issue 23 items 7, 10)."""

import numpy as np
import pytest
from ipywidgets import IntSlider

import featureviz as fv
from factories import make_sae
from featureviz.analysis.dashboard import dashboard_data

TEXTS = ["the cat sat on the mat", "a storm over the quiet river", "seven glass engines laugh", "green paper wolves"]


def handlers(widget, name="selected_feature"):
    return [
        h
        for h in widget._trait_notifiers.get(name, {}).get("change", [])
        if "propagate" in getattr(h, "__qualname__", "")
    ]


def test_a_refused_link_leaves_no_handler(tiny_model, tiny_sae):
    """Before: the TypeError came after the heatmap's handler was installed; every later selection raised."""
    heatmap = fv.Heatmap(fv.activations(tiny_model, tiny_sae, TEXTS), top_k=5)
    with pytest.raises(TypeError, match="IntSlider has no feature selection to link"):
        fv.link(heatmap, IntSlider())
    assert handlers(heatmap) == []
    heatmap.selected_feature = heatmap.feature_ids[1]  # no error from a dead link
    other = fv.Heatmap(fv.activations(tiny_model, tiny_sae, TEXTS[:2]), top_k=5)
    fv.link(heatmap, other)
    heatmap.selected_feature = heatmap.feature_ids[2]
    assert other.selected_feature == heatmap.feature_ids[2]


def test_link_refuses_widgets_of_different_feature_spaces(tiny_model, tiny_sae):
    """Before: SAE latent 12 selected neuron 12 in a neuron dashboard, and two SAEs of equal width linked silently."""
    sae_heatmap = fv.Heatmap(fv.activations(tiny_model, tiny_sae, TEXTS), top_k=5)
    neurons = fv.NeuronSource(tiny_model, 1)
    neuron_dashboard = fv.Dashboard(dashboard_data(tiny_model, neurons, TEXTS, features=range(8), progress=False))
    with pytest.raises(
        ValueError,
        match=r"Heatmap \(widget 1\) and Dashboard \(widget 2\) index different features "
        r"\(kind 'sae' vs 'neurons'\)",
    ) as info:
        fv.link(sae_heatmap, neuron_dashboard)
    assert "\n" not in str(info.value) and handlers(sae_heatmap) == [] and handlers(neuron_dashboard, "feature") == []

    other_sae = make_sae(seed=1)  # same hook, same width, other weights
    other_heatmap = fv.Heatmap(fv.activations(tiny_model, other_sae, TEXTS), top_k=5)
    with pytest.raises(ValueError, match="different decoder weights"):
        fv.link(sae_heatmap, other_heatmap)
    # the same SAE links with every kind of widget that shows it
    same = fv.Dashboard(dashboard_data(tiny_model, tiny_sae, TEXTS, features=range(96), progress=False))
    steering = fv.Interpolation(tiny_model, tiny_sae, "The weather", 3, values=(0.0, 2.0), steps=2, max_new_tokens=2)
    fv.link(sae_heatmap, same, steering)
    assert sae_heatmap.feature_space == same.feature_space == steering.feature_space is not None


def test_contrast_refuses_groups_from_different_saes(tiny_model, tiny_sae):
    """Before: two different SAEs of equal width were compared latent by latent without a word."""
    a = fv.activations(tiny_model, tiny_sae, TEXTS)
    b = fv.activations(tiny_model, make_sae(seed=1), TEXTS)
    with pytest.raises(
        ValueError,
        match=r"contrast: group 'a' and group 'b' index different features \(different "
        r"decoder weights",
    ):
        fv.contrast({"a": a, "b": b})
    neurons = fv.activations(tiny_model, fv.NeuronSource(tiny_model, 1), TEXTS)
    with pytest.raises(ValueError, match="the baseline index different features"):
        fv.contrast({"a": a, "b": a.subset([0, 1])}, baseline=neurons)
    table = fv.contrast({"a": a, "b": a.subset([2, 3, 0])})
    assert table.attrs["feature_space"] == a.feature_space == fv.ContrastView(table).feature_space
    assert np.isfinite(table["p_value"]).all()
