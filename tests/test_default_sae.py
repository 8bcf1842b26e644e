"""The shipped SAEs (the tutorials' SAE at blocks.15 and the circuits' SAE at blocks.8): assets, checkpoints and
the model card's metrics, recomputed from the shipped weights. The training pipeline's own tests are in
tests/analysis/test_training.py."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from featureviz.analysis import training as tr
from featureviz.loading import default_sae_hooks, load_sae
from featureviz.paths import ASSETS

SHIPPED = {"default_sae": "blocks.15.hook_resid_pre", "sae_blocks8": "blocks.8.hook_resid_pre"}


def test_assets_fit_the_size_budget():
    total = sum(p.stat().st_size for p in ASSETS.rglob("*") if p.is_file())
    assert total <= 60 * 2**20


def test_both_saes_ship_with_their_cards_metadata():
    assert {h: p.name for h, p in default_sae_hooks().items()} == {h: n for n, h in SHIPPED.items()}
    for name, hook in SHIPPED.items():
        cfg = json.loads((ASSETS / name / "cfg.json").read_text())
        assert cfg["metadata"]["hook_name"] == hook and cfg["k"] <= 48
        card = json.loads((ASSETS / f"{name}_metrics.json").read_text())
        # the norm limit the card's metrics used, low enough to leave out every <|endoftext|> sink at blocks.15
        assert cfg["metadata"]["max_input_norm"] == card["max_norm"] <= 2000.0
        assert cfg["metadata"]["drop_first_positions"] == 1


def test_shipped_checkpoints_load_and_fit_the_model():
    from sae_lens import SAE

    series = tr.load_checkpoint_series(ASSETS / "default_sae_checkpoints")
    tokens = [t for t, _ in series]
    assert len(series) >= 8 and tokens == sorted(tokens) and len(set(tokens)) == len(tokens)
    for _, path in series:
        sae = SAE.load_from_disk(path)
        assert sae.cfg.d_in == 576 and sae.cfg.metadata.hook_name == "blocks.15.hook_resid_pre"
    assert len(tr.default_sae_checkpoints()) == len(series) + 1  # the intermediate ones + the final SAE


@pytest.mark.embedded
@pytest.mark.parametrize("name", SHIPPED)
def test_card_metrics_match_the_weights(embedded, name):
    """Recompute the card's test-slice metrics from the shipped weights and held-out tokens; check the targets
    on the whole held-out set as recorded (issue 16: 1-FVU >= 0.85, L0 <= 48, CE recovered >= 0.97)."""
    model, _ = embedded
    source = load_sae(ASSETS / name, model)
    card = json.loads((ASSETS / f"{name}_metrics.json").read_text())
    assert card["hook_name"] == SHIPPED[name]
    expected = card["final"]["test_slice"]
    tokens = np.load(ASSETS / "heldout_tokens.npy")[: card["test_slice_contexts"]]
    got = tr.evaluate_sae(source.sae, model, torch.from_numpy(tokens.astype(np.int64)), max_norm=card["max_norm"])
    for key in ("explained_variance", "mean_l0", "ce_recovered"):
        assert got[key] == pytest.approx(expected[key], abs=0.01), key
    heldout = card["final"]["heldout"]
    assert heldout["explained_variance"] >= 0.85 and heldout["mean_l0"] <= 48 and heldout["ce_recovered"] >= 0.97


@pytest.mark.embedded
@pytest.mark.parametrize("name", SHIPPED)
def test_no_sink_latents_among_the_most_frequent(embedded, name):
    """Issue 16: no attention-sink latent among the 20 most frequent. On held-out text read as featureviz reads
    it (BOS and the SAE's drop_first positions left out, tokens over its norm limit unencoded), none of them peaks
    on an <|endoftext|>, the token attention sinks form on inside a context (v2 had four such latents)."""
    model, _ = embedded
    source = load_sae(ASSETS / name, model)
    first = 1 + source.drop_first
    tokens = torch.from_numpy(np.load(ASSETS / "heldout_tokens.npy")[:96].astype(np.int64))
    with torch.no_grad():
        latents = source.encode(tr.resid_pre(model, tokens, source.hook_name))[:, first:]
    flat = latents.reshape(-1, latents.shape[-1])
    frequent = (flat > 0).float().mean(0).topk(20).indices
    sink = (tokens[:, first:] == model.tokenizer.convert_tokens_to_ids("<|endoftext|>")).reshape(-1)
    peaks_on_sink = sink[flat[:, frequent].argmax(0)]
    assert not peaks_on_sink.any(), f"sink latents among the 20 most frequent: {frequent[peaks_on_sink].tolist()}"


def _card_emotion_rows(heading: str) -> dict[int, float]:
    """{latent: rank-biserial} of the model card's table under `heading` (rows "| L123 | rank | r | q | ...")."""
    section = (ASSETS / "MODEL_CARD.md").read_text().split(heading, 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1:4] for line in section.splitlines() if line.startswith("| L")]
    return {int(latent.strip()[1:]): float(r) for latent, _, r in rows}


@pytest.mark.embedded
def test_card_emotion_latents_are_significant_in_the_shipped_weights(embedded):
    """The latents the card reads as joy or anger, recomputed from the shipped weights on the card's prompts: each
    is significant for its group at q < 0.01 with the rank-biserial the card gives. Issue 16 asks for 5 of each;
    the card meets it for joy and says it misses it for anger (4)."""
    import featureviz as fv

    model, source = embedded
    prompts = json.loads((ASSETS / "emotion_prompts.json").read_text())
    groups = {"happy": prompts["happy"], "angry": prompts["angry"], "neutral": prompts["baseline"]}
    acts = fv.activations(model, source, groups, progress=False)
    table = fv.contrast(acts, baseline="neutral", alpha=0.01).set_index(["group", "feature"])
    for group, heading in (("happy", "**Happy latents that read"), ("angry", "**Angry latents that read")):
        cited = _card_emotion_rows(heading)
        assert len(cited) >= (5 if group == "happy" else 4), (group, cited)
        for latent, rank_biserial in cited.items():
            row = table.loc[(group, latent)]
            assert row["significant"] and row["q_value"] < 0.01, (group, latent, row["q_value"])
            assert row["rank_biserial"] == pytest.approx(rank_biserial, abs=0.01), (group, latent)


@pytest.mark.embedded
def test_card_start_of_text_latents_are_the_per_position_mean(embedded):
    """The card's diagnosis of the start-of-text latents among the 20 most frequent, recomputed on its 96 held-out
    contexts: L1542 and L2202 fire at the first positions because each position's mean activation puts them there
    (their activation is that offset's contribution, and mostly gone with the offset removed), and L1659 mirrors
    L1542 along the same direction: silent near the start, active once the offset is removed."""
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "scripts" / "position_latents.py"
    spec = importlib.util.spec_from_file_location("position_latents", script)
    position_latents = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(position_latents)

    model, source = embedded
    tokens = torch.from_numpy(np.load(ASSETS / "heldout_tokens.npy")[:96].astype(np.int64))
    d = position_latents.position_diagnosis(model, source, tokens, features=[1542, 2202, 1659])

    def early(row, key):  # mean over positions 2-6
        return float(np.mean(row[key][2:7]))

    for latent in (1542, 2202):
        row = d["latents"][latent]
        activation = early(row, "mean_activation")
        assert activation > 10, (latent, activation)
        assert early(row, "offset_contribution") == pytest.approx(activation, rel=0.2), latent
        assert early(row, "offset_removed") < activation / 4, latent
    mirror = d["latents"][1659]
    assert d["latents"][1542]["cos_position"] > 0.6 and mirror["cos_position"] < -0.6
    assert early(mirror, "mean_activation") < 1 < early(mirror, "offset_removed")
    assert 0.01 < d["variance_share"] < 0.03  # the card: 1.8% of the held-out variance
