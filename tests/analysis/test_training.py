"""The SAE training pipeline (analysis/training.py) on a tiny random model: cached shards, training with export
and resume, evaluation, on the model's device. The shipped SAE's own checks stay in tests/test_default_sae.py."""

import json

import numpy as np
import pytest
import torch

from factories import DEVICES, DeviceAudit, make_tiny_model
from featureviz.analysis import training as tr

HOOK = "blocks.1.hook_resid_pre"


def _tiny_cache(tiny_model, directory, n_contexts=24, ctx_len=17, seed=0, max_norm=None, drop_first=0):
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.randint(3, 1000, (n_contexts, ctx_len), generator=gen)
    tokens[:, 0] = 1  # BOS
    return tr.ActivationCache(
        directory,
        tokens,
        HOOK,
        model=tiny_model,
        contexts_per_shard=10,
        max_norm=max_norm,
        log=lambda s: None,
        drop_first=drop_first,
    )


def _tiny_cfg(**kw):
    defaults = dict(
        hook_name=HOOK,
        d_in=32,
        d_sae=64,
        k=4,
        total_tokens=64 * 30,
        batch_size=64,
        lr=3e-3,
        warmup_steps=3,
        dead_feature_window=5,
        export_at=(128, 512),
        model_name="tiny-random",
        context_size=17,
    )
    return tr.TrainConfig(**{**defaults, **kw})


def test_cache_shards_and_batches_are_deterministic(tiny_model, tmp_path):
    cache = _tiny_cache(tiny_model, tmp_path / "shards")
    assert cache.n_shards == 3 and cache.n_tokens == 24 * 16
    acts = cache.all_acts()
    assert acts.shape == (24 * 16, 32) and acts.dtype == torch.float16
    # position 0 is dropped: the first cached row is position 1 of context 0
    full = tiny_model(cache.tokens[:1], stop_at_layer=1)
    torch.testing.assert_close(acts[0].float(), full[0, 1], atol=1e-2, rtol=1e-2)
    stream = cache.batches(50, seed=1)
    first = [next(stream) for _ in range(12)]  # crosses an epoch boundary
    resumed = cache.batches(50, start_token=5 * 50, seed=1)
    for b in first[5:]:
        torch.testing.assert_close(next(resumed), b)


def test_cache_drops_the_first_positions_after_bos(tiny_model, tmp_path):
    cache = _tiny_cache(tiny_model, tmp_path / "shards", drop_first=2)
    acts = cache.all_acts()
    assert cache.n_tokens == 24 * 14 and acts.shape == (24 * 14, 32)
    # the first cached row is position 3 of context 0, the 15th that of context 1
    full = tiny_model(cache.tokens[:2], stop_at_layer=1)
    torch.testing.assert_close(acts[0].float(), full[0, 3], atol=1e-2, rtol=1e-2)
    torch.testing.assert_close(acts[14].float(), full[1, 3], atol=1e-2, rtol=1e-2)


def test_cache_drops_tokens_over_max_norm(tiny_model, tmp_path):
    full = _tiny_cache(tiny_model, tmp_path / "full").all_acts().float()
    norms = full.norm(dim=-1)
    ordered = norms.sort().values
    limit = ((ordered[len(ordered) // 2] + ordered[len(ordered) // 2 + 1]) / 2).item()  # between two tokens
    cache = _tiny_cache(tiny_model, tmp_path / "filtered", max_norm=limit)
    kept = cache.all_acts()
    assert len(kept) == int((norms <= limit).sum()) and kept.float().norm(dim=-1).max() <= limit + 0.1
    stream = cache.batches(40, seed=2)
    batches = [next(stream) for _ in range(8)]  # shards of unequal sizes, across an epoch boundary
    resumed = cache.batches(40, start_token=3 * 40, seed=2)
    for b in batches[3:]:
        torch.testing.assert_close(next(resumed), b)


def test_train_export_resume_and_evaluate(tiny_model, tmp_path):
    from sae_lens import SAE

    cache = _tiny_cache(tiny_model, tmp_path / "shards")
    full = tr.train_sae(
        cache,
        _tiny_cfg(),
        tmp_path / "a",
        export_dir=tmp_path / "a_ckpt",
        final_dir=tmp_path / "a_final",
        log=lambda s: None,
    )
    # interrupted after one step, then resumed: the same final weights as the uninterrupted run
    tr.train_sae(cache, _tiny_cfg(), tmp_path / "b", export_dir=tmp_path / "b_ckpt", deadline=0, log=lambda s: None)
    assert (tmp_path / "b" / "state").exists()
    resumed = tr.train_sae(
        cache,
        _tiny_cfg(),
        tmp_path / "b",
        export_dir=tmp_path / "b_ckpt",
        final_dir=tmp_path / "b_final",
        log=lambda s: None,
    )
    torch.testing.assert_close(full.W_dec, resumed.W_dec)

    series = tr.load_checkpoint_series(tmp_path / "a_ckpt")
    assert [t for t, _ in series] == [128, 512]
    for _, path in [*series, (0, tmp_path / "a_final")]:
        sae = SAE.load_from_disk(path)
        assert sae.cfg.metadata.hook_name == HOOK and sae.W_dec.dtype == torch.float32
        assert json.loads((path / "cfg.json").read_text())["architecture"] == "topk"
        from safetensors.torch import load_file

        assert load_file(path / "sae_weights.safetensors")["W_dec"].dtype == torch.float16

    final = SAE.load_from_disk(tmp_path / "a_final")
    metrics = tr.evaluate_sae(final, tiny_model, cache.tokens, ce_contexts=8)
    assert metrics["n_tokens"] == cache.n_tokens and metrics["mean_l0"] <= 4
    assert 0 <= metrics["dead_fraction"] <= 1 and np.isfinite(metrics["ce_recovered"])
    assert metrics["ce_clean"] <= metrics["ce_zero"] + 1  # random model: just sane, finite values
    # the cached activations give the same reconstruction metrics as a fresh forward pass
    cached = tr.evaluate_sae(final, tiny_model, cache.tokens, acts=cache.all_acts(), ce_contexts=8)
    assert cached["explained_variance"] == pytest.approx(metrics["explained_variance"], abs=2e-3)
    assert cached["ce_recovered"] == pytest.approx(metrics["ce_recovered"], abs=1e-4)
    # excluded positions are left clean: with every token excluded, the spliced model is the clean model
    none_kept = tr.evaluate_sae(final, tiny_model, cache.tokens[:4], max_norm=-1.0)
    assert none_kept["ce_sae"] == pytest.approx(none_kept["ce_clean"], abs=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_training_and_evaluation_run_on_the_models_device(tokenizer, tmp_path, device):
    """Before: the activation cache called .numpy() on device activations, and evaluate_sae accumulated into CPU
    tensors and spliced with a CPU mask beside the model's device activations (CUDA crashed)."""
    from sae_lens import SAE

    model = make_tiny_model(tokenizer, device)
    with DeviceAudit() as audit:
        cache = _tiny_cache(model, tmp_path / "shards")
        sae = tr.train_sae(
            cache,
            _tiny_cfg(device=device, total_tokens=64 * 6, export_at=()),
            tmp_path / "run",
            final_dir=tmp_path / "final",
            log=lambda s: None,
        )
        metrics = tr.evaluate_sae(
            SAE.load_from_disk(tmp_path / "final", device=device), model, cache.tokens[:8], ce_contexts=4
        )
    assert not audit.problems, sorted(audit.problems)
    assert sae.W_dec.device.type == device and np.isfinite(metrics["ce_recovered"]) and metrics["n_tokens"] == 8 * 16
