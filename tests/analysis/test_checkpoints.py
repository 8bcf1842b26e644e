import copy
import pickle

import numpy as np
import pytest
import torch

import featureviz as fv
from factories import make_sae
from featureviz.analysis.checkpoints import checkpoint_frames, sae_checkpoints, sae_from_state_dict

PROMPTS = ["the calm river", "a storm of glass and paper", "seven green wolves laugh"]


def permuted(sae, perm, noise=0.0, seed=1):
    """The same SAE with its latents reordered: latent perm[i] of the copy is latent i of the original."""
    other = copy.deepcopy(sae)
    inverse = np.argsort(perm)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        other.W_enc.copy_(sae.W_enc[:, inverse])
        other.b_enc.copy_(sae.b_enc[inverse])
        other.W_dec.copy_(sae.W_dec[inverse] + noise * torch.randn(sae.W_dec.shape, generator=gen))
    return other


def test_matching_recovers_a_known_permutation(tiny_model, tiny_sae):
    perm = np.random.default_rng(0).permutation(tiny_sae.cfg.d_sae)
    early = permuted(tiny_sae, perm, noise=0.05)
    frames = checkpoint_frames(
        [(100, tiny_model, early), (200, tiny_model, tiny_sae)], PROMPTS, top_k=12, progress=False
    )
    np.testing.assert_array_equal(frames.match_index[0], perm[frames.feature_ids])
    np.testing.assert_array_equal(frames.match_index[1], frames.feature_ids)
    assert (frames.match_cosine[1] > 0.999).all() and (frames.match_cosine[0] > 0.8).all()


def test_frames_equal_a_direct_recomputation(tiny_model, tiny_sae):
    other = make_sae(seed=7)
    frames = checkpoint_frames(
        [(1, tiny_model, other), (2, tiny_model, tiny_sae)], PROMPTS, features=[3, 5, 8], x_label="step", progress=False
    )
    for c, sae in enumerate([other, tiny_sae]):
        direct = fv.activations(tiny_model, sae, PROMPTS).values[:, frames.match_index[c]]
        np.testing.assert_allclose(frames.frames[c], direct.numpy(), rtol=1e-5, atol=1e-6)
    x = torch.cat(
        [tiny_model.run_with_cache(tiny_model.to_tokens(p))[1][tiny_sae.cfg.metadata.hook_name][0, 1:] for p in PROMPTS]
    )
    with torch.no_grad():
        x_hat = tiny_sae.decode(tiny_sae.encode(x))
    expected = 1 - ((x - x_hat) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()
    assert frames.metrics["explained_variance"].iloc[1] == pytest.approx(float(expected), rel=1e-4)
    trajectory = frames.trajectory(5)
    assert trajectory["max"].tolist() == pytest.approx(frames.frames[:, :, 1].max(1).tolist())
    with pytest.raises(KeyError):
        frames.trajectory(4)


def test_neuron_series_keeps_neuron_identity(tiny_model):
    neurons = fv.NeuronSource(tiny_model, 1)
    frames = checkpoint_frames(
        [(0, tiny_model, neurons), (1, tiny_model, neurons)], PROMPTS, features=[2, 9], progress=False
    )
    assert frames.match_index.tolist() == [[2, 9], [2, 9]]


def test_state_dict_checkpoints_load_safely(tmp_path, tiny_sae):
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in tiny_sae.state_dict().items()}, str(tmp_path / "a.safetensors"))
    torch.save(tiny_sae.state_dict(), tmp_path / "b.pt")
    series = sae_checkpoints([tmp_path / "a.safetensors", tmp_path / "b.pt"], like=tiny_sae)
    for _, sae in series:
        torch.testing.assert_close(sae.W_dec, tiny_sae.W_dec)

    class Boom:
        def __reduce__(self):
            return (print, ("pwned: this pickle ran code",))

    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"W_dec": Boom()}, f)
    with pytest.raises(ValueError, match="refused to load"):
        sae_from_state_dict(tmp_path / "evil.pt", tiny_sae)
    with pytest.raises(ValueError, match="like="):
        sae_from_state_dict(tmp_path / "a.safetensors", None)


def test_series_errors(tiny_model, tiny_sae):
    with pytest.raises(ValueError, match="at least 2"):
        checkpoint_frames([(0, tiny_model, tiny_sae)], PROMPTS)
    with pytest.raises(IndexError):
        checkpoint_frames([(0, tiny_model, tiny_sae), (1, tiny_model, tiny_sae)], PROMPTS, features=[999])


def test_scrubber_widget_carries_every_frame(tiny_model, tiny_sae):
    import traitlets

    from featureviz.widgets.arrays import decode_matrix

    early = make_sae(seed=3)
    scrubber = fv.CheckpointScrubber([(10, tiny_model, early), (20, tiny_model, tiny_sae)], PROMPTS, top_k=6)
    frames = scrubber.data
    decoded = decode_matrix(scrubber.frames).reshape(frames.frames.shape)
    np.testing.assert_array_equal(decoded, frames.frames)
    assert scrubber.index == 1 and scrubber.selected_feature == scrubber.feature_ids[0]
    assert set(scrubber.metrics) >= {"l0", "explained_variance", "inactive_fraction"}
    assert len(scrubber.tokens) == sum(scrubber.prompt_lengths) == frames.frames.shape[1]
    with pytest.raises(traitlets.TraitError, match="out of range"):
        scrubber.index = 2
    with pytest.raises(traitlets.TraitError, match="not one of"):
        scrubber.selected_feature = 10_000


def test_checkpoint_labels_use_the_axes_number_format():
    """Issue 18: labels and the scrubber's axes agree (js formatCompact): 123k / 3.0M / 1.23M."""
    from featureviz.analysis.checkpoints import _label, compact_number

    assert [compact_number(x) for x in (122880, 3_000_000, 1_234_000, 45_600, 999_999, 512)] == [
        "123k",
        "3.0M",
        "1.23M",
        "45.6k",
        "1.0M",
        "512",
    ]
    assert _label(1_500_000, "training tokens") == "1.5M tokens"
    assert _label(7, "step") == "step 7"
