"""Transcoders (issue 20): sae-lens Transcoder objects read their input hook and steer on their output hook."""

import numpy as np
import pytest
import torch

import featureviz as fv

PROMPT = "I am so happy today, what a wonderful"
HF_IN, HF_OUT = "model.layers.0.post_attention_layernorm:input", "model.layers.0.mlp"  # resid_mid -> mlp_out
TL_IN, TL_OUT = "blocks.0.hook_resid_mid", "blocks.0.hook_mlp_out"


def make_transcoder(hook_in, hook_out, seed=0, d_out=32):
    """A random sae-lens Transcoder (random weights suffice for plumbing; its latents do fire)."""
    from sae_lens.saes.sae import SAEMetadata
    from sae_lens.saes.transcoder import Transcoder, TranscoderConfig

    torch.manual_seed(seed)
    transcoder = Transcoder(
        TranscoderConfig(
            d_in=32,
            d_sae=40,
            d_out=d_out,
            apply_b_dec_to_input=False,
            metadata=SAEMetadata(hook_name=hook_in, hook_name_out=hook_out),
        )
    )
    with torch.no_grad():
        transcoder.b_enc.fill_(0.1)
    return transcoder


def steered_by_hand(hf, transcoder, hooks_out):
    """Next-token probabilities of PROMPT with `hooks_out` applied at the output hook on every position but BOS."""
    tokens = hf.tokenize(PROMPT)[None]
    read = {}

    def record(acts):
        read["in"] = acts
        return acts

    def edit(acts):
        out = hooks_out(acts, read["in"])
        out[:, 0] = acts[:, 0]  # steering never touches BOS
        return out

    logits = hf.run_with_hooks(tokens, {HF_IN: record, HF_OUT: edit})[0, -1]
    return logits.float().log_softmax(-1)


def test_reads_the_input_hook(tiny_pair):
    hf, _ = tiny_pair
    transcoder = make_transcoder(HF_IN, HF_OUT)
    acts = fv.activations(hf, transcoder, PROMPT, drop_first=0)  # a bare Transcoder becomes a TranscoderSource
    expected = transcoder.encode(hf.run_to_hook(hf.tokenize(PROMPT)[None], HF_IN))[0, 1:]
    assert acts.source_kind == "transcoder" and torch.allclose(acts.values, expected, atol=1e-6)
    assert (acts.values > 0).any()


@pytest.mark.parametrize("mode", ["add", "clamp"])
def test_steering_acts_on_the_output_hook(tiny_pair, mode):
    """steer() changes the logits exactly as adding the decoder row at the output hook by hand ("add": value x
    W_dec[f]; "clamp": (value - a_f) x W_dec[f], a_f read at the input hook)."""
    hf, _ = tiny_pair
    transcoder = make_transcoder(HF_IN, HF_OUT)
    source = fv.TranscoderSource(transcoder)
    feature, value = 4, 5.0
    row = transcoder.W_dec[feature].detach()

    def by_hand(acts, acts_in):
        if mode == "add":
            return acts + value * row
        return acts + (value - transcoder.encode(acts_in)[..., feature : feature + 1]) * row

    result = fv.steer(hf, source, PROMPT, feature, [value], mode=mode, max_new_tokens=1)
    steered = steered_by_hand(hf, transcoder, by_hand)
    plain = hf.run_with_hooks(hf.tokenize(PROMPT)[None], {})[0, -1].float().log_softmax(-1)
    ids = torch.as_tensor(result.next_token_ids)
    assert np.allclose(result.next_token_probs[0], steered.exp()[ids].numpy(), atol=1e-5)
    kl = (steered.exp() * (steered - plain)).sum()
    assert result.kl[0] == pytest.approx(float(kl), abs=1e-5) and result.kl[0] > 1e-4
    # editing the input hook instead (where an SAE would act) gives something else
    wrong = steered_by_hand(hf, transcoder, lambda acts, _: acts)
    assert not torch.allclose(wrong, steered, atol=1e-4)


def test_clamping_to_its_own_value_changes_nothing(tiny_pair):
    hf, _ = tiny_pair
    source = fv.TranscoderSource(make_transcoder(HF_IN, HF_OUT))
    tokens = hf.tokenize(PROMPT)[None]
    latent = source.encode(hf.run_to_hook(tokens, HF_IN))[0, :, 4]
    values = latent[None].float()  # per-position values: each position clamped to what it already has
    from featureviz.analysis.steering import SteeringHook

    hook = SteeringHook(source, 4, "clamp", values, "all")
    logits = hf.run_with_hooks(tokens, source.steering_hooks(lambda acts: hook(acts, None)))
    assert torch.allclose(logits, hf.run_with_hooks(tokens, {}), atol=1e-5)


def test_both_backends_and_dashboards(tiny_pair):
    hf, tl = tiny_pair
    ours, theirs = make_transcoder(HF_IN, HF_OUT), make_transcoder(TL_IN, TL_OUT)
    a, b = fv.activations(hf, ours, PROMPT).values, fv.activations(tl, theirs, PROMPT).values
    assert (a - b).abs().max() <= 1e-4 * b.abs().max()
    kwargs = {"values": [-6.0, 6.0], "max_new_tokens": 6}
    one, other = fv.steer(hf, ours, PROMPT, 4, **kwargs), fv.steer(tl, theirs, PROMPT, 4, **kwargs)
    assert one.texts == other.texts and np.allclose(one.kl, other.kl, atol=1e-4)
    data = fv.dashboard_data(hf, ours, [PROMPT, "The cat sat on the mat."], k=2, progress=False)
    assert data.source_kind == "transcoder" and data.logit_top_ids.shape == (40, 10)  # mlp_out is residual


def test_mismatches_are_one_sentence(tiny_pair):
    hf, _ = tiny_pair
    with pytest.raises(ValueError, match="writes d_out=16 at model.layers.0.mlp, but .* has width 32 there"):
        fv.activations(hf, fv.TranscoderSource(make_transcoder(HF_IN, HF_OUT, d_out=16)), PROMPT)
    with pytest.raises(ValueError, match="names no output hook"):
        fv.TranscoderSource(make_transcoder(HF_IN, None))
    with pytest.raises(ValueError, match="module path 'model.layers.0.mpl' matches no module"):
        fv.activations(hf, fv.TranscoderSource(make_transcoder(HF_IN, "model.layers.0.mpl")), PROMPT)
