import numpy as np
import pytest
import torch

import featureviz as fv
from factories import PlantedSource, make_sae
from featureviz.sources import NeuronSource, SAESource

PROMPTS = ["Hello there, friend!", "No.", "The quick brown fox jumps over the lazy dog again and again"]


def direct(model, sae, prompt):
    """One prompt alone, no batching, no padding: the reference."""
    tokens = model.to_tokens(prompt)
    _, cache = model.run_with_cache(tokens, names_filter=sae.cfg.metadata.hook_name)
    return sae.encode(cache[sae.cfg.metadata.hook_name])[0, 1:]


def test_batched_padded_pass_equals_one_prompt_at_a_time(tiny_model, tiny_sae):
    acts = fv.activations(tiny_model, tiny_sae, PROMPTS, batch_tokens=64)  # forces several batches
    for i, prompt in enumerate(PROMPTS):
        torch.testing.assert_close(acts.prompt_values(i), direct(tiny_model, tiny_sae, prompt), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    "hook, blocks_run",
    [
        ("blocks.0.hook_resid_pre", 0),
        ("blocks.1.hook_resid_pre", 1),
        ("blocks.0.hook_resid_post", 1),
        ("blocks.0.mlp.hook_post", 1),
        ("blocks.1.attn.hook_z", 2),
        ("hook_embed", 0),
        ("ln_final.hook_normalized", 2),
    ],
)
def test_the_forward_stops_at_the_hook_bit_for_bit(tiny_model, hook, blocks_run):
    """run_to_hook runs no block past the hook (blocks.L.hook_resid_pre: the first L blocks only; before, L + 1)
    and returns run_with_cache's full-pass tensor bit for bit, padded batch included."""
    from featureviz.analysis._forward import run_to_hook

    tokens = torch.nn.utils.rnn.pad_sequence([tiny_model.to_tokens(p)[0] for p in PROMPTS], batch_first=True)
    _, cache = tiny_model.run_with_cache(tokens, names_filter=hook, return_type=None)
    ran = []
    counters = [(f"blocks.{i}.hook_resid_post", lambda acts, hook: ran.append(hook.name)) for i in range(2)]
    with tiny_model.hooks(fwd_hooks=counters):
        acts = run_to_hook(tiny_model, tokens, hook)
    assert torch.equal(acts, cache[hook])
    assert len(ran) == blocks_run
    with pytest.raises(ValueError, match="no hook"):
        run_to_hook(tiny_model, tokens, "blocks.7.hook_resid_pre")


def test_result_holds_tokens_without_bos(tiny_model, tiny_sae):
    acts = fv.activations(tiny_model, tiny_sae, PROMPTS)
    for i, prompt in enumerate(PROMPTS):
        expected = tiny_model.to_str_tokens(prompt)[1:]
        assert acts.str_tokens[i] == expected
        assert acts.token_ids[i].tolist() == tiny_model.to_tokens(prompt)[0, 1:].tolist()
    assert acts.n_tokens == sum(len(s) for s in acts.str_tokens) == acts.offsets[-1]
    assert acts.n_features == tiny_sae.cfg.d_sae


def test_neuron_source_reads_mlp_post(tiny_model):
    source = NeuronSource(tiny_model, 0)
    acts = fv.activations(tiny_model, source, ["one two three"])
    _, cache = tiny_model.run_with_cache(tiny_model.to_tokens("one two three"))
    torch.testing.assert_close(acts.values, cache["blocks.0.mlp.hook_post"][0, 1:])
    assert source.stop_at_layer == 1


def test_top_features_ranks_and_drops_always_on(tiny_model):
    acts = fv.activations(tiny_model, PlantedSource(), PROMPTS)
    stats = acts.feature_stats()
    assert stats.loc[0, "frac_active"] == 1.0
    assert stats.loc[1, "count"] == 0
    assert acts.top_features(1, by="count").index.tolist() == [0]
    assert 0 < stats.loc[2, "frac_active"] < 0.9
    kept = acts.top_features(3, by="count", exclude_always_on=True).index.tolist()
    assert kept == [2, 1]
    assert acts.always_on().tolist() == [True, False, False]
    v = acts.values.numpy()
    np.testing.assert_allclose(stats["max"], v.max(0))
    np.testing.assert_allclose(stats["mean"], v.mean(0), rtol=1e-6)


def test_chunked_encoding_and_stats_equal_the_whole_at_once(tiny_model, tiny_sae, monkeypatch):
    """activations() writes batches into a preallocated result, encoding a few rows at a time, and feature_stats()
    reads it in chunks (issue 24: no full-size temporaries); both give what the whole block at once gives."""
    from factories import synthetic_acts
    from featureviz.analysis import activations as module

    whole = fv.activations(tiny_model, tiny_sae, PROMPTS, batch_tokens=64)
    monkeypatch.setattr(module, "ENCODE_TOKENS", 1)  # one prompt row per encode
    assert torch.equal(fv.activations(tiny_model, tiny_sae, PROMPTS, batch_tokens=64).values, whole.values)
    monkeypatch.setattr(module, "STATS_ROWS", 7)
    for acts in (whole, synthetic_acts(9, 5, 6, 0.3), whole.subset([])):
        stats, v = acts.feature_stats(), acts.values.numpy()
        assert stats["max"].tolist() == (v.max(0) if len(v) else np.zeros(v.shape[1])).tolist()
        assert stats["count"].tolist() == (v > 0).sum(0).tolist()
        np.testing.assert_allclose(stats["mean"], v.mean(0) if len(v) else 0, rtol=1e-6)


def test_grouped_prompts_keep_their_group(tiny_model, tiny_sae):
    acts = fv.activations(tiny_model, tiny_sae, {"happy": ["I am glad", "What joy"], "angry": ["I am furious"]})
    assert acts.groups == ["happy", "happy", "angry"]
    assert acts.prompts == ["I am glad", "What joy", "I am furious"]


def test_top_activating_is_exact_top_k(tiny_model, tiny_sae):
    words = "apple storm quiet river seven glass laugh engine paper wolf green tender".split()
    rng = np.random.default_rng(0)
    corpus = [" ".join(rng.choice(words, size=2 + i % 5)) for i in range(12)]
    feature = 5
    top = fv.top_activating(tiny_model, tiny_sae, feature, corpus, k=4, batch_tokens=48)
    with torch.no_grad():
        maxima = [float(direct(tiny_model, tiny_sae, t)[:, feature].max()) for t in corpus]
    # Equal maxima can tie, so compare values: the k largest, each belonging to the text reported.
    np.testing.assert_allclose(top["activation"], sorted(maxima, reverse=True)[:4], rtol=1e-5)
    for text, value in zip(top["text"], top["activation"]):
        assert maxima[corpus.index(text)] == pytest.approx(value, rel=1e-5)
    assert top["text"].is_unique
    row = top.iloc[0]
    assert row["activations"][row["position"]] == pytest.approx(row["activation"])
    assert row["str_tokens"][row["position"]] == row["token"]


@pytest.mark.parametrize(
    "prompts, error, match",
    [
        ([], ValueError, "prompts is empty"),
        ("", ValueError, "empty string"),
        ([1, 2], TypeError, r"prompts\[0\] must be a string"),
        (None, TypeError, "prompts must be"),
        ({"happy": []}, ValueError, "every group"),
    ],
)
def test_bad_prompts_get_one_clear_error(tiny_model, tiny_sae, prompts, error, match):
    with pytest.raises(error, match=match):
        fv.activations(tiny_model, tiny_sae, prompts)


def test_sae_that_does_not_fit_the_model_is_refused(tiny_model):
    with pytest.raises(ValueError, match="does not exist"):
        fv.activations(tiny_model, make_sae(hook_name="blocks.7.hook_resid_pre"), ["hi"])
    with pytest.raises(ValueError, match="d_in=48"):
        fv.activations(tiny_model, make_sae(d_in=48), ["hi"])
    with pytest.raises(TypeError, match="FeatureSource"):
        fv.activations(tiny_model, "not a source", ["hi"])


def test_out_of_range_feature_and_layer(tiny_model, tiny_sae):
    with pytest.raises(IndexError, match=r"0\.\.95"):
        fv.top_activating(tiny_model, tiny_sae, 96, ["hi"], k=1)
    with pytest.raises(TypeError, match="integer"):
        fv.top_activating(tiny_model, tiny_sae, 1.5, ["hi"], k=1)
    with pytest.raises(ValueError, match=r"layers 0\.\.1"):
        NeuronSource(tiny_model, 2)
    with pytest.raises(ValueError, match="by must be"):
        fv.activations(tiny_model, tiny_sae, ["hi there"]).top_features(3, by="median")


def test_prompt_longer_than_context_is_truncated_with_a_warning(tiny_model, tiny_sae):
    with pytest.warns(UserWarning, match="truncated"):
        acts = fv.activations(tiny_model, tiny_sae, ["word " * 200])
    assert acts.n_tokens == tiny_model.cfg.n_ctx - 1


def test_sae_source_wraps_bare_sae(tiny_model, tiny_sae):
    source = SAESource(tiny_sae)
    assert source.layer == 1 and source.stop_at_layer == 2 and source.n_features == 96
    assert source.decoder_directions().shape == (96, 32)


def test_sae_source_leaves_tokens_over_max_input_norm_unencoded(tiny_model, tiny_sae):
    hook = tiny_sae.cfg.metadata.hook_name
    _, cache = tiny_model.run_with_cache("a few ordinary words here", names_filter=hook)
    x = cache[hook][0, 1:]
    norms = x.norm(dim=-1)
    limit = float(norms.median())
    plain, capped = SAESource(tiny_sae).encode(x), SAESource(tiny_sae, max_input_norm=limit).encode(x)
    over = norms > limit
    assert over.any() and (~over).any()
    assert (capped[over] == 0).all() and plain[over].abs().sum() > 0
    torch.testing.assert_close(capped[~over], plain[~over])
    # the limit travels in the SAE's config metadata (as on featureviz's shipped SAEs)
    tiny_sae.cfg.metadata.max_input_norm = limit
    try:
        assert SAESource(tiny_sae).max_input_norm == limit
    finally:
        del tiny_sae.cfg.metadata.max_input_norm
    assert SAESource(tiny_sae).max_input_norm is None
