"""Cross-cutting correctness (issue 23): one validation rule for counts (numpy integers too), float32 range,
clear errors for the small mistakes, threads sharing a model, devices and dtypes."""

import numpy as np
import pytest

import featureviz as fv
from featureviz.analysis.dashboard import dashboard_data
from featureviz.loading import HubUnavailableError

PROMPT = "The weather today is"
N = np.int64


def test_numpy_integers_are_accepted_as_counts(tiny_model, tiny_sae):
    """Before: every count check was `isinstance(x, int)`, so np.int64(5) was "not a positive integer"."""
    acts = fv.activations(tiny_model, tiny_sae, ["a fine prompt", "another one here"])
    assert len(acts.top_features(N(5))) == 5
    top = fv.top_activating(tiny_model, tiny_sae, N(3), ["one text", "two texts", "three"], k=N(2))
    assert len(top) == 2
    assert len(fv.Heatmap(acts, top_k=N(4)).feature_ids) == 4
    result = fv.steer(tiny_model, tiny_sae, PROMPT, N(3), [1.0], max_new_tokens=N(2), top_tokens=N(3))
    assert len(result.new_tokens[0]) <= 2
    assert fv.NeuronSource(tiny_model, N(1)).hook_name == "blocks.1.mlp.hook_post"
    data = dashboard_data(tiny_model, tiny_sae, ["some words here"], features=[N(2)], k=N(3), n_samples=N(4),
                          n_bins=N(8), progress=False)
    assert data.top_values.shape == (1, 3)
    assert all(len(v) == 2 for v in fv.emotion_prompts(N(2)).values())
    table = fv.contrast({"a": acts, "b": acts})
    assert len(fv.ContrastView(table, top_n=N(1)).groups) == 2


def test_interpolation_range_of_numpy_integers_is_swept(tiny_model, tiny_sae):
    """Before: (np.int64(-8), np.int64(8)) was not taken for a (start, end) range and gave 2 values."""
    widget = fv.Interpolation(tiny_model, tiny_sae, PROMPT, 3, values=(N(-8), N(8)), steps=N(9), max_new_tokens=2)
    assert widget.values == [-8.0, -6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0]


@pytest.mark.parametrize("value", [True, 2.0, "3", None])
def test_counts_refuse_non_integers(tiny_model, tiny_sae, value):
    acts = fv.activations(tiny_model, tiny_sae, ["a fine prompt"])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        acts.top_features(value)


def test_values_beyond_float32_are_refused(tiny_model, tiny_sae):
    """Before: 1e39 passed the float64 finiteness check, became inf in the model and returned kl=[nan]."""
    with pytest.raises(ValueError, match="float32 range") as info:
        fv.steer(tiny_model, tiny_sae, PROMPT, 1, [1.0, 1e39])
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="float32 range"):
        fv.Interpolation(tiny_model, tiny_sae, PROMPT, 1, values=(-1e39, 1e39), steps=3)


def test_lone_surrogate_names_the_prompt(tiny_model, tiny_sae):
    """Before: the tokenizer's TypeError did not say which prompt was bad."""
    with pytest.raises(ValueError, match=r"prompts\[1\] is not valid Unicode"):
        fv.activations(tiny_model, tiny_sae, ["fine", "bad \ud800 text"])
    with pytest.raises(ValueError, match="prompt is not valid Unicode"):
        fv.steer(tiny_model, tiny_sae, "bad \udfff", 1, [1.0])
    with pytest.raises(ValueError, match="corpus text 0 is not valid Unicode"):
        dashboard_data(tiny_model, tiny_sae, ["bad \ud800"], progress=False)


def test_mistyped_corpus_path_is_a_missing_file(tiny_model, tiny_sae, tmp_path):
    """Before: any string with a slash went to the hub and came back as HubUnavailableError."""
    for path in (str(tmp_path / "corpus.txt"), "data/my_corpus.txt", "./texts/corpus"):
        with pytest.raises(FileNotFoundError, match="not an existing file"):
            dashboard_data(tiny_model, tiny_sae, path, progress=False)
    with pytest.raises(HubUnavailableError):  # a real dataset name still means the hub (offline here)
        dashboard_data(tiny_model, tiny_sae, "someone/some-dataset", progress=False)


def test_group_names_that_read_the_same_are_refused(tiny_model, tiny_sae):
    """Before: groups 1 and "1" silently merged into one group."""
    with pytest.raises(ValueError, match="ambiguous"):
        fv.activations(tiny_model, tiny_sae, {1: ["a b c", "d e f"], "1": ["g h i", "j k l"]})
    acts = fv.activations(tiny_model, tiny_sae, ["a b c", "d e f"])
    with pytest.raises(ValueError, match="ambiguous"):
        fv.contrast({1: acts, "1": acts})


def test_wrong_model_and_baseline_types_are_clear(tiny_model, tiny_sae):
    """Before: model=None and baseline=0 gave AttributeErrors from deep inside."""
    with pytest.raises(TypeError, match="model must be a TransformerLens HookedTransformer"):
        fv.activations(None, tiny_sae, ["hello"])
    with pytest.raises(TypeError, match="model must be"):
        fv.steer(None, tiny_sae, PROMPT, 1, [1.0])
    acts = fv.activations(tiny_model, tiny_sae, {"a": ["a b c", "d e f"], "b": ["g h i", "j k l"]})
    with pytest.raises(TypeError, match="baseline must be the name of a group or an activation result"):
        fv.contrast(acts, baseline=0)


def test_table_missing_a_column_names_it(tiny_model, tiny_sae):
    """Before: a bare KeyError('mean')."""
    acts = fv.activations(tiny_model, tiny_sae, {"a": ["a b c", "d e f"], "b": ["g h i", "j k l"]})
    table = fv.contrast(acts).drop(columns=["mean"])
    with pytest.raises(TypeError, match=r"lacks the column\(s\) \['mean'\]"):
        fv.ContrastView(table)


@pytest.mark.parametrize("fraction", [-1, 1.5, float("nan")])
def test_exclude_always_on_outside_zero_one_is_refused(tiny_model, tiny_sae, fraction):
    """Before: exclude_always_on=-1 silently returned an empty table."""
    acts = fv.activations(tiny_model, tiny_sae, ["a fine prompt"])
    with pytest.raises(ValueError, match=r"exclude_always_on must be in \[0, 1\]"):
        acts.top_features(5, exclude_always_on=fraction)
    assert len(acts.top_features(5, exclude_always_on=1.0)) == 5
