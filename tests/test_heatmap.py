import json

import numpy as np
import pytest
import torch
import traitlets
from ipywidgets.widgets.widget import _remove_buffers

import featureviz as fv
from factories import PlantedSource
from featureviz.widgets.arrays import decode_matrix, encode_matrix, payload_bytes


def test_sparse_matrix_goes_as_csr_and_round_trips():
    rng = np.random.default_rng(0)
    values = rng.random((50, 40)).astype(np.float32) * (rng.random((50, 40)) < 0.05)
    payload = encode_matrix(torch.from_numpy(values))
    assert payload["format"] == "csr"
    np.testing.assert_array_equal(decode_matrix(payload), values)
    assert payload_bytes(payload) < values.nbytes / 4


def test_dense_matrix_goes_dense_and_round_trips():
    values = np.random.default_rng(1).normal(size=(7, 5)).astype(np.float32)
    payload = encode_matrix(values)
    assert payload["format"] == "dense"
    np.testing.assert_array_equal(decode_matrix(payload), values)
    with pytest.raises(ValueError, match="2-D"):
        encode_matrix(np.zeros(3))


@pytest.fixture
def acts(tiny_model, tiny_sae):
    return fv.activations(tiny_model, tiny_sae, {"happy": ["What a lovely day", "I am glad"],
                                                  "angry": ["This is outrageous!"]})


def test_heatmap_traits_carry_the_chosen_columns(acts):
    h = fv.Heatmap(acts, top_k=7)
    assert len(h.feature_ids) == 7
    np.testing.assert_array_equal(decode_matrix(h.matrix), acts.values[:, h.feature_ids].numpy())
    assert h.tokens == [tok for prompt in acts.str_tokens for tok in prompt]
    assert h.prompt_lengths == [len(s) for s in acts.str_tokens]
    assert h.prompt_groups == ["happy", "happy", "angry"]
    stats = acts.feature_stats()
    assert h.column_stats["max"] == pytest.approx(stats.loc[h.feature_ids, "max"].tolist())
    maxes = h.column_stats["max"]
    assert maxes == sorted(maxes, reverse=True)
    assert h.vmax == pytest.approx(float(acts.values[:, h.feature_ids].max()))


def test_heatmap_explicit_features_and_validation(acts):
    h = fv.Heatmap(acts, features=[3, 1, 4])
    assert h.feature_ids == [3, 1, 4]
    h.selected_feature = 1
    h.selected_feature = -1
    with pytest.raises(traitlets.TraitError, match="out of range"):
        h.selected_feature = acts.n_features
    with pytest.raises(IndexError, match=r"0\.\.95"):
        fv.Heatmap(acts, features=[96])
    with pytest.raises(ValueError, match="features is empty"):
        fv.Heatmap(acts, features=[])
    with pytest.raises(ValueError, match="top_k"):
        fv.Heatmap(acts, top_k=0)
    with pytest.raises(ValueError, match="sort_by"):
        fv.Heatmap(acts, sort_by="median")
    with pytest.raises(TypeError, match="activations"):
        fv.Heatmap([[1, 2], [3, 4]])


def test_always_on_features_are_flagged_not_silently_dropped(tiny_model):
    acts = fv.activations(tiny_model, PlantedSource(), ["one two three four", "five six seven"])
    h = fv.Heatmap(acts, top_k=2, sort_by="count")
    assert 0 in h.feature_ids and h.always_on[h.feature_ids.index(0)]
    assert not any(flag for f, flag in zip(h.feature_ids, h.always_on) if f != 0)
    hidden = fv.Heatmap(acts, top_k=2, sort_by="count", hide_always_on=True)
    assert 0 not in hidden.feature_ids and len(hidden.feature_ids) == 2


def test_state_crosses_the_wire_as_binary(acts):
    h = fv.Heatmap(acts, top_k=10)
    state, _paths, buffers = _remove_buffers(h.get_state())
    state.pop("_esm")  # the bundle itself, sent once per widget
    assert buffers, "the matrix must travel as binary buffers"
    json_part = json.dumps(state)  # must serialise, and hold no float matrix
    assert len(json_part) < 20_000
    assert sum(len(b) for b in buffers) == payload_bytes(h.matrix)


@pytest.mark.embedded
def test_heatmap_on_the_embedded_default(embedded):
    model, source = embedded
    acts = fv.activations(model, source, ["I love this!", "Stop shouting at me, I am furious."])
    h = fv.Heatmap(acts, top_k=20)
    assert h.tokens[:4] == ["I", " love", " this", "!"]
    assert "render" in h.get_state()["_esm"]  # the built bundle is wired in
