"""Crosscoders (issue 20): several hooks read in one forward pass, encoded jointly, loaded in two layouts."""

import numpy as np
import pytest
import torch

import featureviz as fv
from featureviz.analysis.crosscoder import crosscoder_activations, explained_variance, train_crosscoder

PROMPTS = ["The cat sat on the mat.", "I am so happy today, what a wonderful surprise!", "Numbers: 1, 2, 3, 4"]
HF_HOOKS = ["model.layers.0:input", "model.layers.1:input"]
TL_HOOKS = ["blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre"]


def random_weights(n_layers=2, d_in=32, d_hidden=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "W_enc": torch.randn(n_layers, d_in, d_hidden, generator=g) / 4,
        "W_dec": torch.randn(d_hidden, n_layers, d_in, generator=g) / 4,
        "b_enc": torch.randn(d_hidden, generator=g) / 10,
        "b_dec": torch.randn(n_layers, d_in, generator=g) / 10,
    }


def by_hand(hf, weights, prompt, k=None):
    """Latents computed directly: relu(sum_l x_l W_enc[l] + b_enc) from each hook read on its own."""
    tokens = hf.tokenize(prompt)[None]
    pre = sum(hf.run_to_hook(tokens, hook)[0] @ weights["W_enc"][i] for i, hook in enumerate(HF_HOOKS))
    pre = pre + weights["b_enc"]
    if k is not None:
        pre = torch.where(pre >= pre.topk(k, dim=-1).values[..., -1:], pre, torch.zeros_like(pre))
    return torch.relu(pre)[1:]  # BOS is left out


def test_joint_encoding_in_one_pass(tiny_pair):
    hf, tl = tiny_pair
    weights = random_weights()
    source = fv.CrosscoderSource(HF_HOOKS, **weights)
    acts = fv.activations(hf, source, PROMPTS)
    assert torch.allclose(acts.prompt_values(1), by_hand(hf, weights, PROMPTS[1]), atol=1e-5)
    assert (acts.values > 0).any()
    topk = fv.activations(hf, fv.CrosscoderSource(HF_HOOKS, **weights, k=3), PROMPTS)
    assert int((topk.values > 0).sum(1).max()) <= 3
    assert torch.allclose(topk.prompt_values(1), by_hand(hf, weights, PROMPTS[1], k=3), atol=1e-5)
    # the same crosscoder at TransformerLens's residual hooks gives the same latents
    theirs = fv.activations(tl, fv.CrosscoderSource(TL_HOOKS, **weights), PROMPTS)
    assert (acts.values - theirs.values).abs().max() <= 1e-4 * theirs.values.abs().max()
    top = fv.top_activating(hf, source, 7, PROMPTS, k=2)
    assert list(top["text"]) == list(
        fv.top_activating(tl, fv.CrosscoderSource(TL_HOOKS, **weights), 7, PROMPTS, k=2)["text"]
    )


def test_the_forward_stops_after_the_last_hook(tiny_pair):
    hf, _ = tiny_pair
    ran = []
    handle = hf.model.model.layers[1].register_forward_hook(lambda *args: ran.append(1))
    try:
        first, second = hf.run_to_hooks(hf.tokenize(PROMPTS[0])[None], HF_HOOKS)
    finally:
        handle.remove()
    assert first.shape == second.shape == (1, len(hf.tokenize(PROMPTS[0])), 32) and not ran  # layer 1 never ran


def test_dashboard_carries_decoder_norms_per_hook(tiny_pair, tmp_path):
    hf, tl = tiny_pair
    weights = random_weights()
    weights["W_dec"][5, 1] = 0  # latent 5 writes layer 0 only
    source = fv.CrosscoderSource(HF_HOOKS, **weights)
    data = fv.dashboard_data(hf, source, PROMPTS * 2, features=[3, 5, 9], k=3, progress=False)
    expected = weights["W_dec"].norm(dim=-1)[[3, 5, 9]].numpy()
    assert np.allclose(data.decoder_norms, expected) and data.decoder_norm_hooks == HF_HOOKS
    page = data.page(5)
    assert page["decoder_norms"] == [
        {"hook": HF_HOOKS[0], "norm": pytest.approx(float(expected[1, 0]))},
        {"hook": HF_HOOKS[1], "norm": 0.0},
    ]
    assert page["top"] and len(page["nearest"]) == 5
    again = fv.DashboardData.load(data.save(tmp_path / "cc"))
    assert again.page(5)["decoder_norms"] == page["decoder_norms"]
    theirs = fv.dashboard_data(
        tl, fv.CrosscoderSource(TL_HOOKS, **weights), PROMPTS * 2, features=[3, 5, 9], k=3, progress=False
    )
    assert np.array_equal(data.top_tokens, theirs.top_tokens)
    assert np.allclose(data.top_values, theirs.top_values, atol=1e-4)
    widget = fv.Dashboard(data, feature=5)
    assert widget.page["decoder_norms"][1]["norm"] == 0.0 and widget.title.startswith("crosscoder latent")
    one_hook = fv.dashboard_data(hf, fv.HookNeuronSource(hf, HF_HOOKS[1]), PROMPTS, [0], progress=False)
    assert one_hook.decoder_norms is None and one_hook.page(0)["decoder_norms"] == []


def test_top_features_by_decoder_norm():
    weights = random_weights()
    weights["W_dec"][:, 1] *= 0.1
    weights["W_dec"][7, 0] = 0  # latent 7 lives at layer 1 only
    source = fv.CrosscoderSource(HF_HOOKS, **weights)
    by_total = source.top_by_decoder_norm(5)
    assert list(by_total.index) == list(weights["W_dec"].norm(dim=-1).sum(1).argsort(descending=True)[:5].tolist())
    local = source.top_by_decoder_norm(3, hook=HF_HOOKS[1])
    assert local.index[0] == 7 and local["share"].iloc[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="is not one of this crosscoder's hooks"):
        source.top_by_decoder_norm(3, hook="model.layers.5:input")


def test_both_checkpoint_layouts_load(tiny_pair, tmp_path):
    """The W_enc/W_dec state dict (safetensors) and dictionary_learning's CrossCoder checkpoint (a weights-only
    torch file, decoder.weight [n_layers, d_hidden, d_in], as torch.compile saves it) give the same latents."""
    from safetensors.torch import save_file

    hf, _ = tiny_pair
    weights = random_weights()
    save_file(weights, str(tmp_path / "seed.safetensors"))
    dictionary_learning = {
        "_orig_mod.encoder.weight": weights["W_enc"],
        "_orig_mod.encoder.bias": weights["b_enc"],
        "_orig_mod.decoder.weight": weights["W_dec"].transpose(0, 1).contiguous(),
        "_orig_mod.decoder.bias": weights["b_dec"],
    }
    torch.save(dictionary_learning, tmp_path / "crosscoder.pt")
    expected = fv.activations(hf, fv.CrosscoderSource(HF_HOOKS, **weights), PROMPTS).values
    for name in ("seed.safetensors", "crosscoder.pt"):
        loaded = fv.CrosscoderSource.load(tmp_path / name, HF_HOOKS)
        assert torch.equal(loaded.W_dec, weights["W_dec"])
        assert torch.allclose(fv.activations(hf, loaded, PROMPTS).values, expected)
    trained = fv.CrosscoderSource(HF_HOOKS, **weights, k=4, input_scale=torch.tensor([0.5, 2.0]))
    again = fv.CrosscoderSource.load(trained.save(tmp_path / "ours.safetensors"))  # hooks and k from the header
    assert again.hook_names == trained.hook_names and again.k == 4
    assert torch.equal(again.input_scale, trained.input_scale)
    torch.save({"W_enc": weights["W_enc"], "not a tensor": tmp_path}, tmp_path / "pickle.pt")  # a pickled object
    with pytest.raises(ValueError, match="refused to load"):
        fv.CrosscoderSource.load(tmp_path / "pickle.pt", HF_HOOKS)
    with pytest.raises(ValueError, match="neither crosscoder layout"):
        save_file({"weight": weights["b_enc"]}, str(tmp_path / "other.safetensors"))
        fv.CrosscoderSource.load(tmp_path / "other.safetensors", HF_HOOKS)


def test_mismatches_are_one_sentence(tiny_pair):
    hf, _ = tiny_pair
    weights = random_weights()
    with pytest.raises(ValueError, match=r"^the crosscoder has 2 layers but 3 hooks were given .*one hook per layer$"):
        fv.CrosscoderSource([*HF_HOOKS, "model.layers.1"], **weights)
    wide = fv.CrosscoderSource(["model.layers.0:input", "model.layers.0.mlp.down_proj:input"], **weights)
    with pytest.raises(
        ValueError,
        match=r"expects d_in=32 at each hook, but .* has width 64 at "
        r"model.layers.0.mlp.down_proj:input",
    ):
        fv.activations(hf, wide, PROMPTS)
    with pytest.raises(ValueError, match="module path 'model.layer.1' matches no module"):
        fv.activations(hf, fv.CrosscoderSource(["model.layers.0:input", "model.layer.1:input"], **weights), PROMPTS)
    with pytest.raises(ValueError, match=r"W_dec must be \[d_hidden, n_layers, d_in\]"):
        fv.CrosscoderSource(HF_HOOKS, weights["W_enc"], weights["W_dec"].transpose(0, 1))
    with pytest.raises(NotImplementedError, match="steering a crosscoder latent is not supported"):
        fv.steer(hf, fv.CrosscoderSource(HF_HOOKS, **weights), PROMPTS[0], 0, [1.0])


def test_a_short_training_run_fits(tiny_pair):
    """Our own short loop: on the tiny model's two residual hooks, 48 latents with k=8 reconstruct the tokens
    they were trained on (explained variance 0.99 / 0.99 measured; 0.24 / 0.18 after one step)."""
    hf, _ = tiny_pair
    texts = [f"{p} Then {q.lower()}" for p in PROMPTS for q in PROMPTS]
    acts = crosscoder_activations(hf, HF_HOOKS, texts, context_size=32, drop_first=0)
    assert acts.shape[1:] == (2, 32)
    untrained = train_crosscoder(hf, HF_HOOKS, activations=acts, n_features=48, k=8, steps=1, progress=False)
    source = train_crosscoder(hf, HF_HOOKS, activations=acts, n_features=48, k=8, steps=300, progress=False)
    fitted, before = explained_variance(source, acts), explained_variance(untrained, acts)
    assert (fitted > 0.9).all() and (before < 0.5).all()
    values = fv.activations(hf, source, texts[:2], drop_first=0).values
    assert int((values > 0).sum(1).max()) <= 8
    assert torch.allclose(source.decode(source.encode(acts[:5])), acts[:5], atol=0.3 * float(acts.abs().max()))
