"""Bad input gets one clear exception naming the argument; odd but valid input never crashes."""

import json
import warnings

import numpy as np
import pytest
import torch
import traitlets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import featureviz as fv
from factories import NASTY, make_sae, wire_state
from featureviz.analysis._forward import tokenize
from featureviz.analysis.dashboard import dashboard_data
from featureviz.backends import as_backend


def bad_inputs(model, sae):
    acts = fv.activations(model, sae, ["a fine prompt", "another one"])
    return [
        (fv.activations, (model, sae, []), ValueError, "prompts is empty"),
        (fv.activations, (model, sae, [""]), ValueError, "empty string"),
        (fv.activations, (model, sae, [3]), TypeError, r"prompts\[0\] must be a string"),
        (fv.activations, (model, "sae", ["x"]), TypeError, "source must be"),
        (fv.activations, (model, make_sae(hook_name="blocks.9.hook_resid_pre"), ["x"]), ValueError, "does not exist"),
        (fv.activations, (model, make_sae(d_in=8), ["x"]), ValueError, "d_in=8"),
        (
            fv.top_activating,
            (model, sae, -1, ["x"]),
            IndexError,
            r"feature=-1 is out of range: valid features are 0\.\.95",
        ),
        (fv.top_activating, (model, sae, 1, ["x"], 0), ValueError, "k must be"),
        (fv.NeuronSource, (model, 5), ValueError, r"layer=5 is out of range"),
        (fv.hooks, (model, 9), ValueError, r"layer=9 is out of range: tiny-random has layers 0\.\.1"),
        (fv.hooks, (model, 1.5), TypeError, "layer must be an integer"),
        (fv.Heatmap, (acts,), None, None),
        (fv.Heatmap, (acts, 0), ValueError, "top_k"),
        (fv.Heatmap, ("acts",), TypeError, "activations"),
        (fv.contrast, ({"a": acts},), ValueError, "at least two groups"),
        (fv.contrast, (acts,), ValueError, "named groups"),
        (fv.contrast, ({"a": acts, "b": "x"},), TypeError, r"groups\['b'\]"),
        (fv.steer, (model, sae, "hi", 1, [1.0]), None, None),
        (fv.steer, (model, sae, "hi", 100, [1.0]), IndexError, "out of range"),
        (fv.steer, (model, sae, "hi", 1, [np.inf]), ValueError, "finite"),
        (dashboard_data, (model, sae, ["x y"], [1000]), IndexError, "out of range"),
        (dashboard_data, (model, sae, 12345), TypeError, None),
        (fv.load, ("no/such/model/anywhere",), ValueError, "neither a local directory"),
        (fv.export_html, ([], "x.html"), ValueError, "nothing to export"),
        (fv.emotion_prompts, (0,), ValueError, "per_group"),
    ]


def test_bad_input_matrix(tiny_model, tiny_sae, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for function, args, error, match in bad_inputs(tiny_model, tiny_sae):
        if error is None:  # the valid twin of the bad calls: must work
            function(*args)
            continue
        with pytest.raises(error, match=match) as info:
            function(*args)
        assert "\n" not in str(info.value), f"{function.__name__}: one sentence, please"


def test_feature_ids_must_be_integers(tiny_model, tiny_sae):
    """A float or negative feature id is refused; a numpy integer is a feature id like any other."""
    data = dashboard_data(tiny_model, tiny_sae, ["some words here", "and other words"], features=[1, 2], progress=False)
    with pytest.raises(TypeError, match="feature must be an integer, got 1.5"):
        data.row(1.5)  # was "not in this dashboard data", as if building it with all features would help
    with pytest.raises(TypeError, match="feature must be an integer"):
        fv.Dashboard(data, feature=1.5)
    assert fv.Dashboard(data, feature=np.int64(2)).feature == 2
    acts = fv.activations(tiny_model, tiny_sae, ["a fine prompt"])
    for key in (1.5, -1, "joy"):  # 1.5 labelled feature 1, -1 was kept
        with pytest.raises(traitlets.TraitError, match=r"feature_labels keys must be feature ids \(integers >= 0\)"):
            fv.Heatmap(acts, feature_labels={key: "joy"})
    assert fv.Heatmap(acts, feature_labels={np.int64(3): "joy", "4": "sad"}).feature_labels == {3: "joy", 4: "sad"}


def test_interpolation_values_are_checked_first(tiny_model, tiny_sae):
    with pytest.raises(TypeError, match="values must be a sequence of numbers, got str"):
        fv.Interpolation(tiny_model, tiny_sae, "hi", 1, "ab")  # was numpy's "could not convert string to float"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # linspace of an inf end warned "invalid value" before the error
        with pytest.raises(ValueError, match="finite numbers"):
            fv.Interpolation(tiny_model, tiny_sae, "hi", 1, (0.0, np.inf))


def test_corpus_longer_than_the_model_reads(tiny_model, tiny_sae):
    """The default context_size (128) exceeds the tiny model's n_ctx (64): contexts are cut at 64, with a
    warning, where the forward pass failed with a shape error inside TransformerLens."""
    with pytest.warns(UserWarning, match="context_size=128 exceeds tiny-random's context of 64 tokens"):
        data = dashboard_data(tiny_model, tiny_sae, ["word " * 200], features=[1], progress=False)
    assert data.n_tokens > 0
    wide = torch.ones(2, 65, dtype=torch.long)
    with pytest.raises(ValueError, match="65 tokens per context exceeds tiny-random's context of 64"):
        dashboard_data(tiny_model, tiny_sae, wide, features=[1], progress=False)


def test_nan_activations_are_reported(tiny_model):
    sae = make_sae()
    with torch.no_grad():
        sae.W_enc[0, 4] = float("nan")
    with pytest.raises(FloatingPointError, match="NaN/inf"):
        fv.activations(tiny_model, sae, ["some words here"])


def test_nasty_prompts_are_just_text(tiny_model, tiny_sae):
    with pytest.warns(UserWarning, match="truncated"):
        acts = fv.activations(tiny_model, tiny_sae, NASTY)
    heatmap = fv.Heatmap(acts, top_k=5)
    state, _ = wire_state(heatmap)
    json.dumps(state)
    assert any("<img" in "".join(tokens) for tokens in acts.str_tokens)  # kept verbatim, as data


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prompts=st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=4),
    top_k=st.integers(1, 40),
    by=st.sampled_from(["max", "mean", "count"]),
)
def test_fuzz_prompts_and_arguments(tiny_model, tiny_sae, prompts, top_k, by):
    if any(len(ids) < 2 for ids in tokenize(as_backend(tiny_model), prompts)):  # e.g. only a control character
        with pytest.raises(ValueError, match="has no token"):
            fv.activations(tiny_model, tiny_sae, prompts)
        return
    acts = fv.activations(tiny_model, tiny_sae, prompts)
    assert acts.n_tokens == sum(len(t) for t in acts.token_ids) == acts.offsets[-1]
    assert torch.isfinite(acts.values).all()
    top = acts.top_features(top_k, by=by)
    assert len(top) == min(top_k, acts.n_features) and top.index.is_unique
    heatmap = fv.Heatmap(acts, top_k=top_k, sort_by=by)
    assert len(heatmap.tokens) == acts.n_tokens
