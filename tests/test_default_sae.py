"""The shipped default SAE (skipped until it exists): assets, checkpoints and the model card's metrics.
The training pipeline's own tests are in tests/analysis/test_training.py."""

import json

import numpy as np
import pytest
import torch

from featureviz.analysis import training as tr
from featureviz.paths import ASSETS

needs_default = pytest.mark.skipif(
    not (ASSETS / "default_sae" / "cfg.json").exists(), reason="the default SAE has not been trained yet"
)


def test_assets_fit_the_size_budget():
    total = sum(p.stat().st_size for p in ASSETS.rglob("*") if p.is_file())
    assert total <= 60 * 2**20


def test_shipped_checkpoints_load_and_fit_the_model():
    from sae_lens import SAE

    series = tr.load_checkpoint_series(ASSETS / "default_sae_checkpoints")
    if not series:
        pytest.skip("no checkpoints exported yet")
    tokens = [t for t, _ in series]
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)
    for _, path in series:
        sae = SAE.load_from_disk(path)
        assert sae.cfg.d_in == 576 and sae.cfg.metadata.hook_name == "blocks.15.hook_resid_pre"


@needs_default
def test_default_series_has_enough_checkpoints():
    assert len(tr.default_sae_checkpoints()) >= 9  # >= 8 intermediate + the final SAE


@needs_default
@pytest.mark.embedded
def test_card_metrics_match_the_weights(embedded):
    """Recompute the card's test-slice metrics from the shipped weights and held-out tokens."""
    model, source = embedded
    card = json.loads((ASSETS / "default_sae_metrics.json").read_text())
    expected = card["final"]["test_slice"]
    tokens = np.load(ASSETS / "heldout_tokens.npy")[: card["test_slice_contexts"]]
    got = tr.evaluate_sae(source.sae, model, torch.from_numpy(tokens.astype(np.int64)), max_norm=card["max_norm"])
    for key in ("explained_variance", "mean_l0", "ce_recovered"):
        assert got[key] == pytest.approx(expected[key], abs=0.01), key
    assert card["final"]["heldout"]["mean_l0"] <= 64
