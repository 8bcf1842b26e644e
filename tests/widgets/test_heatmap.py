import json
import resource
import tracemalloc
from pathlib import Path

import pytest
import traitlets

import featureviz as fv
from factories import PlantedSource, assert_within_half_step, synthetic_acts, wire_state
from featureviz.widgets.arrays import payload_bytes


def test_dense_heatmap_payload_is_under_a_tenth_of_json():
    """The issue's case: 2,048 tokens x 512 features, 60% active."""
    acts = synthetic_acts(16, 128, 512, 0.6)
    h = fv.Heatmap(acts, top_k=512)
    values = acts.values[:, h.feature_ids].numpy()
    as_json = len(json.dumps(values.tolist()).encode())
    assert h.matrix["format"] == "dense_u8"
    assert payload_bytes(h.matrix) <= 0.10 * as_json, (payload_bytes(h.matrix), as_json)
    assert_within_half_step(h.matrix, values)


def _peak_rss_reset() -> bool:
    """Reset the kernel's peak-RSS mark (Linux); False where that is unavailable."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_bytes(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def test_ten_thousand_tokens_build_a_bounded_heatmap():
    acts = synthetic_acts(100, 100, 1024, 0.3)
    block = acts.values.numel() * 4  # 41 MB of float32 activations
    for kwargs, n_cols in ((dict(top_k=20), 20), (dict(top_k=1000), 1000)):
        reset = _peak_rss_reset()
        before = _status_bytes("VmRSS") if reset else 0
        tracemalloc.start()
        h = fv.Heatmap(acts, **kwargs)
        _, numpy_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        grown = _status_bytes("VmHWM") - before if reset else None
        payload = payload_bytes(h.matrix)
        print(
            f"10,000 tokens, {n_cols} columns: {h.matrix['format']} payload {payload:,} B "
            f"(float32 would be {4 * 10_000 * n_cols:,}); numpy peak {numpy_peak / 2**20:.1f} MiB; "
            f"peak RSS +{(grown or 0) / 2**20:.0f} MiB (activations block {block / 2**20:.0f} MiB); "
            f"ru_maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )
        assert h.matrix["format"] == "dense_u8"
        assert payload == 10_000 * n_cols + 8 * n_cols  # one byte per cell
        assert numpy_peak < 10_000 * n_cols + 12 * 2**20  # the codes + one 8 MiB float64 block
        if grown is not None:
            # feature_stats over ALL features reads the values in chunks (issue 24: before, a full int copy).
            assert grown < 4 * block
        del h


@pytest.fixture
def acts(tiny_model, tiny_sae):
    return fv.activations(
        tiny_model, tiny_sae, {"happy": ["What a lovely day", "I am glad"], "angry": ["This is outrageous!"]}
    )


def test_heatmap_traits_carry_the_chosen_columns(acts):
    h = fv.Heatmap(acts, top_k=7)
    assert h.always_on.count(False) == 7  # plus the always-on features among the top 7, hidden by default
    assert_within_half_step(h.matrix, acts.values[:, h.feature_ids].numpy())
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
    h = fv.Heatmap(acts, top_k=2, sort_by="count", hide_always_on=False)
    assert 0 in h.feature_ids and h.always_on[h.feature_ids.index(0)]
    assert not any(flag for f, flag in zip(h.feature_ids, h.always_on) if f != 0)
    hidden = fv.Heatmap(acts, top_k=2, sort_by="count")  # hidden by default, still there for the toggle
    assert hidden.hide_always_on and hidden.feature_ids == h.feature_ids and hidden.always_on.count(False) == 2


def test_state_crosses_the_wire_as_binary(acts):
    h = fv.Heatmap(acts, top_k=10)
    state, buffers = wire_state(h)
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
    assert h.tokens[:3] == [" love", " this", "!"]  # the shipped SAE leaves out the first token (artifact latents)
    assert "render" in h.get_state()["_esm"]  # the built bundle is wired in


def test_always_on_features_are_kept_but_hidden_by_default(acts):
    """Issue 18: hidden by default, and the toggle has something to show (the always-on top features)."""
    always_on = acts.always_on()
    ranked = acts.top_features(acts.n_features, by="max").index.to_numpy()
    h = fv.Heatmap(acts, top_k=7)
    assert h.hide_always_on is True
    content = [f for f in ranked if not always_on[f]][:7]
    noisy = [f for f in ranked[:7] if always_on[f]]
    assert sorted(h.feature_ids) == sorted(content + noisy)
    assert h.always_on == [bool(always_on[f]) for f in h.feature_ids]
    assert sum(not a for a in h.always_on) == 7


def test_column_minima_and_colour_scale_trait(acts):
    h = fv.Heatmap(acts, features=[3, 1, 4])
    assert h.column_stats["min"] == pytest.approx(acts.values[:, [3, 1, 4]].min(dim=0).values.tolist())
    assert h.color_scale == "column"
    h.color_scale = "log"
    with pytest.raises(traitlets.TraitError):
        h.color_scale = "sqrt"
    h.height = 900
    with pytest.raises(traitlets.TraitError, match="height"):
        h.height = 10
    assert h.height == 900


def test_feature_labels_by_id_and_shared_through_link(acts):
    h = fv.Heatmap(acts, features=[3, 1, 4], feature_labels={3: "joy"})
    assert h.feature_labels == {3: "joy"}
    h.feature_labels = {"1": "anger", 4: ""}  # JSON keys come back as strings; "" removes a label
    assert h.feature_labels == {1: "anger"}
    with pytest.raises(traitlets.TraitError, match="feature ids"):
        h.feature_labels = {"x": "joy"}
    with pytest.raises(traitlets.TraitError, match="str"):
        h.feature_labels = {1: 5}
    other = fv.Heatmap(acts, top_k=5, feature_labels={7: "dog"})
    link = fv.link(h, other)
    assert h.feature_labels == other.feature_labels == {1: "anger", 7: "dog"}
    h.feature_labels = {1387: "joy"}
    assert other.feature_labels == {1387: "joy"}
    other.selected_feature = h.feature_ids[0]
    assert h.selected_feature == h.feature_ids[0]
    link.unlink()
    h.feature_labels = {}
    assert other.feature_labels == {1387: "joy"}
