"""Widgets never show a result under inputs it was not computed for (issue 23, item 1): a changed input
recomputes, an invalid one is refused by validation and the old state stays."""

import numpy as np
import pytest
import traitlets as t

import featureviz as fv
from featureviz.analysis.steering import steer

PROMPT = "The weather today is"


def _shown(widget):
    return (
        widget.feature,
        widget.prompt,
        widget.mode,
        widget.positions,
        list(widget.values),
        list(widget.texts),
        list(widget.kl),
        dict(widget.computed_for),
        widget.index,
    )


@pytest.fixture
def interp(tiny_model, tiny_sae):
    return fv.Interpolation(tiny_model, tiny_sae, PROMPT, 5, values=(-30.0, 30.0), steps=3, max_new_tokens=4)


def _assert_matches_direct(widget, tiny_model, tiny_sae):
    direct = steer(
        tiny_model,
        tiny_sae,
        widget.prompt,
        widget.feature,
        widget.values,
        mode=widget.mode,
        positions=widget.positions,
        max_new_tokens=4,
    )
    assert widget.texts == direct.texts and widget.baseline_text == direct.baseline_text
    np.testing.assert_allclose(widget.kl, direct.kl, rtol=1e-5, atol=1e-7)
    assert widget.computed_for == {
        "prompt": widget.prompt,
        "feature": widget.feature,
        "mode": widget.mode,
        "positions": widget.positions,
    }


def test_linked_interpolation_resteers_the_selected_feature(tiny_model, tiny_sae, interp):
    acts = fv.activations(tiny_model, tiny_sae, ["What a lovely day", "This is outrageous"])
    heatmap = fv.Heatmap(acts, top_k=6)
    target = next(f for f in heatmap.feature_ids if f != interp.feature)
    before = list(interp.texts)
    busy_seen = []
    interp.observe(lambda change: busy_seen.append(change["new"]), names="busy")
    fv.link(heatmap, interp)
    heatmap.selected_feature = target  # as a click in the heatmap does
    assert interp.feature == target and interp.computed_for["feature"] == target
    assert busy_seen == [True, False]  # the view is told while Python steers
    _assert_matches_direct(interp, tiny_model, tiny_sae)
    assert interp.texts != before  # feature 5's texts are gone (the sweep is wide enough to change them)


@pytest.mark.parametrize(
    "name, value",
    [("prompt", "Once upon a time"), ("mode", "clamp"), ("positions", "prompt"), ("values", [-20.0, 0.0, 10.0, 20.0])],
)
def test_every_input_change_resteers(tiny_model, tiny_sae, interp, name, value):
    setattr(interp, name, value)
    assert getattr(interp, name) == value
    _assert_matches_direct(interp, tiny_model, tiny_sae)


def test_ablate_then_add_sweeps_the_original_values_again(tiny_model, tiny_sae, interp):
    interp.mode = "ablate"
    assert interp.values == [0.0] and interp.index == 0
    interp.mode = "add"
    assert interp.values == [-30.0, 0.0, 30.0]
    _assert_matches_direct(interp, tiny_model, tiny_sae)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("feature", 10**9, "out of range"),
        ("feature", -1, "out of range"),
        ("index", -5, "out of range"),
        ("index", 3, "out of range"),
        ("mode", "steer-harder", "mode"),
        ("positions", "everywhere", "positions"),
        ("prompt", "", "empty"),
        ("prompt", "word " * 200, "tokens"),
        ("values", [], "non-empty"),
        ("values", [1e39], "float32"),
    ],
)
def test_invalid_inputs_are_refused_and_the_old_state_kept(interp, name, value, message):
    before = _shown(interp)
    with pytest.raises(t.TraitError, match=message):
        setattr(interp, name, value)
    assert _shown(interp) == before


def test_a_failed_resteer_keeps_the_old_result_and_says_why(interp, monkeypatch, caplog):
    import featureviz.widgets.interpolation as module

    before = _shown(interp)
    monkeypatch.setattr(module, "steer", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("out of memory")))
    with pytest.raises(t.TraitError, match="out of memory"):
        interp.feature = 7
    assert _shown(interp) == before and not interp.busy  # feature 5 again, with feature 5's texts
    assert "out of memory" in interp.error and "re-steering failed" in caplog.text


def test_other_widgets_refuse_inputs_they_cannot_show(tiny_model, tiny_sae):
    """The same class of bug in the other widgets: every two-way trait is validated, the old value kept."""
    acts = fv.activations(tiny_model, tiny_sae, {"a": ["What a lovely day", "So glad"], "b": ["Awful!", "No way"]})
    view = fv.ContrastView(fv.contrast(acts), top_n=3)
    heatmap = fv.Heatmap(acts, top_k=4)
    dashboard = fv.Dashboard(
        tiny_model, tiny_sae, ["the river was calm", "storm glass"], features=[1, 2, 3], progress=False
    )
    for widget, name, value in [
        (view, "alpha", 0.0),
        (view, "alpha", 1.5),
        (view, "sort_group", "c"),
        (heatmap, "selected_feature", tiny_sae.cfg.d_sae),
        (heatmap, "sort_by", "size"),
        (dashboard, "feature", 50),
    ]:
        before = getattr(widget, name)
        with pytest.raises(t.TraitError):
            setattr(widget, name, value)
        assert getattr(widget, name) == before
    dashboard.feature = 3  # a valid change recomputes what the widget shows
    assert dashboard.page == dashboard.data.page(3)
