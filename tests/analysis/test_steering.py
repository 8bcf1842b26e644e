import numpy as np
import pytest
import torch

import featureviz as fv
from factories import make_sae, make_tiny_model
from featureviz.analysis.steering import SteeringHook, steer
from featureviz.analysis.steering_target import feature_scale
from featureviz.sources import NeuronSource, SAESource

PROMPT = "The weather today is"


def test_clamping_each_position_to_its_own_value_is_exact(tiny_model, tiny_sae):
    """The SAE error term is kept, so writing back the latent's own activation changes nothing at all."""
    source = SAESource(tiny_sae)
    tokens = tiny_model.to_tokens(PROMPT)
    _, cache = tiny_model.run_with_cache(tokens)
    own = tiny_sae.encode(cache[source.hook_name])[..., 7]  # [1, P]
    hook = SteeringHook(source, 7, "clamp", own, "all")
    with torch.no_grad():
        plain = tiny_model(tokens)
        hooked = tiny_model.run_with_hooks(tokens, fwd_hooks=[(source.hook_name, hook)])
    torch.testing.assert_close(hooked, plain, atol=1e-5, rtol=1e-5)


def test_clamping_changes_only_that_latent(tiny_model, tiny_sae):
    source = SAESource(tiny_sae)
    tokens = tiny_model.to_tokens(PROMPT)
    _, cache = tiny_model.run_with_cache(tokens, names_filter=source.hook_name)
    x = cache[source.hook_name]
    steered = SteeringHook(source, 7, "clamp", torch.tensor([3.0]), "all")(x, None)
    before, after = tiny_sae.encode(x), tiny_sae.encode(steered)
    assert torch.allclose(x[:, 0], steered[:, 0])  # BOS untouched
    delta = steered[:, 1:] - x[:, 1:]
    expected = (3.0 - before[:, 1:, 7:8]) * tiny_sae.W_dec[7]
    torch.testing.assert_close(delta, expected, atol=1e-5, rtol=1e-4)
    assert after.shape == before.shape


def test_adding_zero_changes_nothing(tiny_model, tiny_sae):
    result = steer(tiny_model, tiny_sae, PROMPT, 7, [0.0, 0.0], max_new_tokens=6)
    assert result.texts == [result.baseline_text] * 2
    assert np.allclose(result.kl, 0, atol=1e-6)
    np.testing.assert_allclose(result.next_token_probs[0], result.baseline_probs, atol=1e-6)


def test_the_prompt_runs_once(tiny_model, tiny_sae):
    """Before: one forward for the next-token probabilities, then generate ran the prompt again (issue 24)."""
    widths = []
    handle = tiny_model.blocks[0].register_forward_pre_hook(lambda module, args: widths.append(args[0].shape[1]))
    try:
        steer(tiny_model, tiny_sae, PROMPT, 7, [0.0, 3.0], max_new_tokens=3)
    finally:
        handle.remove()
    prompt_width = tiny_model.to_tokens(PROMPT).shape[1]
    assert widths[0] == prompt_width and widths.count(prompt_width) == 1 and set(widths[1:]) == {1}


def test_batched_sweep_equals_one_value_at_a_time(tiny_model, tiny_sae):
    values = [-4.0, 0.0, 2.0, 8.0]
    batched = steer(tiny_model, tiny_sae, PROMPT, 5, values, mode="clamp", max_new_tokens=8)
    for value, text in zip(values, batched.texts):
        alone = steer(tiny_model, tiny_sae, PROMPT, 5, [value], mode="clamp", max_new_tokens=8)
        assert alone.texts == [text]


def test_large_add_raises_the_directions_top_logit_tokens(tokenizer):
    """At the last residual (RMS norm, so the limit is exact) a big push along d makes d @ W_U's top token likely."""
    model = make_tiny_model(tokenizer, seed=1, n_layers=1, n_ctx=32, normalization_type="RMS")
    sae = make_sae(hook_name="blocks.0.hook_resid_post")
    top_token = int((sae.W_dec[3].detach() @ model.W_U.detach()).argmax())
    result = steer(model, sae, PROMPT, 3, [0.0, 50.0, 500.0], max_new_tokens=2)
    column = list(result.next_token_ids).index(top_token)
    probs = result.next_token_probs[:, column]
    assert probs[1] > 10 * probs[0] and probs[2] > 10 * probs[0]
    assert result.next_token_probs[1].argmax() == column == result.next_token_probs[2].argmax()
    assert result.kl[1] > result.kl[0] + 0.1


def test_neuron_clamp_and_positions(tiny_model):
    neurons = NeuronSource(tiny_model, 0)
    result = steer(tiny_model, neurons, PROMPT, 11, [0.0, 30.0], mode="clamp", positions="generated", max_new_tokens=5)
    # generated-only steering leaves the prompt's next-token distribution alone
    assert np.allclose(result.kl, 0, atol=1e-6)
    prompt_only = steer(tiny_model, neurons, PROMPT, 11, [30.0], mode="clamp", positions="prompt", max_new_tokens=5)
    assert prompt_only.kl[0] > 0
    ablated = steer(tiny_model, neurons, PROMPT, 11, None, mode="ablate", max_new_tokens=3)
    assert ablated.values.tolist() == [0.0]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"mode": "boost"}, ValueError, "mode must be"),
        ({"positions": "middle"}, ValueError, "positions must be"),
        ({"values": []}, ValueError, "non-empty"),
        ({"values": [float("nan")]}, ValueError, "finite"),
        ({"max_new_tokens": 0}, ValueError, "max_new_tokens"),
        ({"max_new_tokens": 500}, ValueError, "context"),
        ({"feature": 96}, IndexError, r"0\.\.95"),
        ({"prompt": ""}, ValueError, "prompt"),
    ],
)
def test_bad_steering_arguments(tiny_model, tiny_sae, kwargs, error, match):
    args = {"prompt": PROMPT, "feature": 1, "values": [1.0], **kwargs}
    with pytest.raises(error, match=match):
        steer(tiny_model, tiny_sae, args.pop("prompt"), args.pop("feature"), args.pop("values"), **args)


def test_interpolation_widget_sweeps_and_extends(tiny_model, tiny_sae):
    from featureviz.widgets.arrays import decode_matrix

    widget = fv.Interpolation(tiny_model, tiny_sae, PROMPT, 5, values=(-4.0, 4.0), steps=5, max_new_tokens=4)
    assert widget.values == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert widget.values[widget.index] == 0.0 and widget.texts[widget.index] == widget.baseline_text
    probs = decode_matrix(widget.next_token_probs)
    assert probs.shape == (5, len(widget.next_token_strings))
    widget.extend = "high"
    assert widget.values[-1] == 8.0 and len(widget.values) == 7 and widget.extend == "" and not widget.busy
    assert widget.values[widget.index] == 6.0
    direct = steer(tiny_model, tiny_sae, PROMPT, 5, [8.0], max_new_tokens=4)
    assert widget.texts[-1] == direct.texts[0]


def test_interpolation_failure_shows_in_the_widget(tiny_model, tiny_sae, monkeypatch, caplog):
    widget = fv.Interpolation(tiny_model, tiny_sae, PROMPT, 5, values=[0.0, 1.0], max_new_tokens=2)
    import featureviz.widgets.interpolation as module

    monkeypatch.setattr(module, "steer", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("out of memory")))
    widget.extend = "low"
    assert "out of memory" in widget.error and not widget.busy and widget.values == [0.0, 1.0]
    assert "computing more values failed" in caplog.text


def test_custom_source_steers_along_its_own_direction(tiny_model):
    """Before: every non-SAESource was treated as neurons, so feature 3 of a probe edited residual coordinate 3
    (cos(delta, W[3]) was ~0)."""
    from factories import ProbeSource

    W = torch.randn(6, 32, generator=torch.Generator().manual_seed(0))
    probe = ProbeSource(W)
    _, cache = tiny_model.run_with_cache(tiny_model.to_tokens(PROMPT), names_filter=probe.hook_name)
    x = cache[probe.hook_name]
    for mode, value in (("add", 5.0), ("clamp", 2.0)):
        delta = SteeringHook(probe, 3, mode, torch.tensor([value]), "all")(x, None) - x
        shift = torch.full_like(x[..., :1], value) if mode == "add" else value - probe.encode(x)[..., 3:4]
        torch.testing.assert_close(delta[:, 1:], (shift * W[3])[:, 1:], atol=1e-5, rtol=1e-4)
        assert torch.nn.functional.cosine_similarity(delta[0, 1:], W[3], dim=-1).min() > 0.999
    # through steer(): the same next-token distribution as adding 5 x W[3] by hand
    result = steer(tiny_model, probe, PROMPT, 3, [5.0], max_new_tokens=2)

    def by_hand(acts, hook):
        acts = acts.clone()
        acts[:, 1:] += 5.0 * W[3]
        return acts

    with torch.no_grad():
        logits = tiny_model.run_with_hooks(tiny_model.to_tokens(PROMPT), fwd_hooks=[(probe.hook_name, by_hand)])[0, -1]
    expected = logits.softmax(-1)[torch.as_tensor(result.next_token_ids)].numpy()
    np.testing.assert_allclose(result.next_token_probs[0], expected, atol=1e-5)


def test_source_that_cannot_steer_says_so(tiny_model):
    """Before: a transcoder-like source (directions not in its hook's space) silently edited coordinate `feature`."""
    from factories import ProbeSource

    unknown = ProbeSource(torch.randn(6, 32), steering=None)
    with pytest.raises(NotImplementedError, match="ProbeSource does not say how to steer"):
        steer(tiny_model, unknown, PROMPT, 3, [5.0], max_new_tokens=2)
    assert all(not hp.fwd_hooks for hp in tiny_model.hook_dict.values())
    assert SAESource.steering == "direction" and NeuronSource.steering == "coordinate"


def test_default_sweep_follows_the_features_own_scale(tiny_model):
    """Issue 16.6: without values, the sweep is +-4x the feature's typical activation: a feature made to fire
    10x as strongly gets a 10x wider sweep, the others keep theirs."""
    sae, louder = make_sae(), make_sae()
    firing = [f for f in range(sae.cfg.d_sae) if feature_scale(tiny_model, sae, f, "Hello there").prompt_max > 0]
    f, other = firing[:2]
    with torch.no_grad():
        louder.W_enc[:, f] *= 10
        louder.b_enc[f] *= 10
    quiet = steer(tiny_model, sae, "Hello there", f, max_new_tokens=2)
    loud = steer(tiny_model, louder, "Hello there", f, max_new_tokens=2)
    assert len(quiet.values) == 9 and quiet.values[-1] > 0 and quiet.values[0] == -quiet.values[-1]
    np.testing.assert_allclose(loud.values, 10 * quiet.values, rtol=1e-4)
    np.testing.assert_allclose(
        steer(tiny_model, louder, "Hello there", other, max_new_tokens=2).values,
        steer(tiny_model, sae, "Hello there", other, max_new_tokens=2).values,
        rtol=1e-5,
    )
    assert "typical activation" in quiet.note and "on this prompt it reaches" in quiet.note
    assert steer(tiny_model, sae, "Hello there", f, [1.0], max_new_tokens=2).note == ""  # explicit values: no note


def test_a_feature_that_never_fires_gets_a_sweep_and_is_told_why(tiny_model):
    sae = make_sae()
    with torch.no_grad():
        sae.b_enc[7] = -1e4  # dead everywhere
    result = steer(tiny_model, sae, "Hello there", 7, max_new_tokens=2)
    assert result.values.max() > 0  # the typical scale of the SAE's other features, not a sweep of zeros
    n_texts = sum(len(group) for group in fv.emotion_prompts().values())
    assert (
        f"never fires on the {n_texts} calibration texts" in result.note and "never fires on this prompt" in result.note
    )


def test_interpolation_sweep_follows_each_new_feature_until_values_are_set(tiny_model):
    sae = make_sae()
    with torch.no_grad():
        sae.W_enc[:, 3] *= 10
        sae.b_enc[3] *= 10
    widget = fv.Interpolation(tiny_model, sae, "Hello there", 4, steps=5, max_new_tokens=2)
    assert "typical activation" in widget.note and len(widget.values) == 5
    widget.feature = 3  # e.g. a linked heatmap click: the sweep follows the new feature's scale
    np.testing.assert_allclose(widget.values, steer(tiny_model, sae, "Hello there", 3, steps=5).values, rtol=1e-5)
    widget.values = [-1.0, 1.0]  # the user's own range: kept from now on, and no scale note
    widget.feature = 4
    assert widget.values == [-1.0, 1.0] and widget.note == ""
