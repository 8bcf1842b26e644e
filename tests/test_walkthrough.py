"""The walkthrough's method: rank against the baseline, keep position artifacts out, check steering targets."""

import json

import numpy as np
import pytest
import torch

import featureviz as fv
from featureviz.analysis.activations import ActivationResult
from featureviz.sources import FeatureSource, SAESource

GROUP_A, GROUP_B, BASELINE_WIDE, POSITION_1 = 0, 1, 2, 3
N_FEATURES = 20


def planted(rng, n_prompts, group_features=(), length=8) -> ActivationResult:
    """Prompts with a planted position-1 feature (30 on the first token, everywhere), a baseline-wide feature
    (on every token, stronger on the baseline), optional group features and sparse noise features."""
    prompts = []
    for _ in range(n_prompts):
        values = rng.random((length, N_FEATURES)) * (rng.random((length, N_FEATURES)) < 0.2)
        values[:, :4] = 0
        values[0, POSITION_1] = 30.0
        values[:, BASELINE_WIDE] = 4.0 if not group_features else 2.0
        for f in group_features:
            values[rng.choice(length, 3, replace=False), f] = rng.uniform(5, 10, 3)
        prompts.append(values)
    return ActivationResult(
        prompts=[f"p{i}" for i in range(n_prompts)],
        str_tokens=[[f"t{j}" for j in range(length)]] * n_prompts,
        token_ids=[torch.arange(length)] * n_prompts,
        values=torch.from_numpy(np.concatenate(prompts).astype(np.float32)),
        offsets=np.arange(n_prompts + 1) * length,
        hook_name="blocks.0.hook_resid_pre",
        source_kind="sae",
    )


@pytest.mark.parametrize("by", ["max", "mean"])
def test_baseline_relative_ranking_puts_planted_group_features_first(by):
    rng = np.random.default_rng(0)
    group, baseline = planted(rng, 10, (GROUP_A, GROUP_B)), planted(rng, 10)
    assert group.top_features(1, by=by).index[0] == POSITION_1  # the lesson: raw rankings lead with artifacts
    relative = group.top_features(10, by=by, baseline=baseline)
    assert set(relative.index[:2]) == {GROUP_A, GROUP_B}
    assert POSITION_1 not in relative.index and BASELINE_WIDE not in relative.index
    assert (relative["difference"] > 0).all() and relative["difference"].is_monotonic_decreasing
    a = relative.loc[GROUP_A]
    assert a["difference"] == pytest.approx(a[by] - a[f"{by}_baseline"])
    assert a["prompts_active"] == 1.0 and a["prompts_active_baseline"] == 0.0


def test_baseline_relative_ranking_refuses_mismatched_baselines():
    rng = np.random.default_rng(1)
    group, baseline = planted(rng, 3, (GROUP_A,)), planted(rng, 3)
    with pytest.raises(ValueError, match="'max' or 'mean'"):
        group.top_features(by="count", baseline=baseline)
    with pytest.raises(TypeError, match="activation result"):
        group.top_features(baseline="baseline")
    baseline.drop_first = 1
    with pytest.raises(ValueError, match="same drop_first"):
        group.top_features(baseline=baseline)


class PositionSource(FeatureSource):
    """Feature 0 is a position-1 artifact (50 on the first token after BOS); feature 1 reads the content."""

    kind = "sae"
    hook_name = "blocks.0.hook_resid_pre"
    n_features = 2

    def encode(self, hook_acts):
        out = torch.zeros(*hook_acts.shape[:-1], 2)
        out[..., 1, 0] = 50.0
        out[..., 1] = hook_acts[..., 0].relu()
        return out

    def decoder_directions(self):
        return torch.eye(2, 32)


TEXTS = {
    "happy": ["What a lovely sunny day it is", "We laughed all evening long together"],
    "baseline": ["The train leaves at half past eight", "Water boils at one hundred degrees"],
}


def test_drop_first_removes_leading_tokens_from_activations(tiny_model):
    source = PositionSource()
    full = fv.activations(tiny_model, source, TEXTS, drop_first=0)
    dropped = fv.activations(tiny_model, source, TEXTS, drop_first=1)
    assert full.values[full.offsets[:-1], 0].eq(50).all() and dropped.values[:, 0].eq(0).all()
    keep = np.ones(full.n_tokens, bool)
    keep[full.offsets[:-1]] = False
    torch.testing.assert_close(dropped.values, full.values[torch.from_numpy(keep)])
    assert dropped.str_tokens == [s[1:] for s in full.str_tokens] and dropped.drop_first == 1
    assert dropped.group("happy").drop_first == 1
    # The position feature is nowhere in the baseline-relative ranking, and only there without dropping.
    assert 0 not in dropped.group("happy").top_features(baseline=dropped.group("baseline")).index
    with pytest.raises(ValueError, match="drop_first=2 leaves none"):
        fv.activations(tiny_model, source, "Hi there", drop_first=2)


def test_drop_first_keeps_position_artifacts_out_of_top_contexts_and_dashboards(tiny_model):
    source, corpus = PositionSource(), [t for texts in TEXTS.values() for t in texts]
    assert fv.top_activating(tiny_model, source, 0, corpus, k=2, drop_first=0)["activation"].tolist() == [50.0, 50.0]
    top = fv.top_activating(tiny_model, source, 0, corpus, k=2, drop_first=1)
    assert top["activation"].tolist() == [0.0, 0.0]
    assert top["str_tokens"][0] == list(tiny_model.to_str_tokens(top["text"][0]))[2:]

    with_artifact = fv.dashboard_data(tiny_model, source, corpus, k=2, progress=False, drop_first=0)
    data = fv.dashboard_data(tiny_model, source, corpus, k=2, progress=False, drop_first=1)
    assert with_artifact.max_value[0] == 50 and data.max_value[0] == 0 and data.active_count[0] == 0
    lengths = [len(tiny_model.to_tokens(t)[0]) for t in corpus]
    assert data.n_tokens == sum(n - 2 for n in lengths) and with_artifact.n_tokens == sum(n - 1 for n in lengths)
    assert not data.page(0)["top"] and data.drop_first == 1


def test_drop_first_defaults_to_the_saes_metadata(tiny_sae):
    assert SAESource(tiny_sae).drop_first == 0
    tiny_sae.cfg.metadata.drop_first_positions = 2
    assert SAESource(tiny_sae).drop_first == 2 and SAESource(tiny_sae, drop_first=0).drop_first == 0
    with pytest.raises(ValueError, match="drop_first"):
        SAESource(tiny_sae, drop_first=-1)
    from featureviz.loading import default_sae_dir

    cfg = json.loads((default_sae_dir() / "cfg.json").read_text())
    assert cfg["metadata"]["drop_first_positions"] == 1  # measured: see the model card's position section


class TokenSource(FeatureSource):
    """Feature i fires (5.0) exactly on token `token_ids[i]`, read from the embedding hook."""

    kind = "sae"
    hook_name = "hook_embed"

    def __init__(self, model, token_ids):
        self.embeddings = model.W_E[torch.tensor(token_ids)].detach()
        self.n_features = len(token_ids)

    def encode(self, hook_acts):
        distance = (hook_acts[..., None, :] - self.embeddings).norm(dim=-1)
        return (distance < 1e-4).float() * 5.0

    def decoder_directions(self):
        return self.embeddings


EVIDENCE = [
    "Once upon a time there was a big cat who sat by the door.",
    "My neighbour has a cat and a garden full of roses.",
    " dog and cat were friends for many years.",
    " dog days of summer are long and hot.",
]


def test_steering_target_checks_the_evidence(tiny_model):
    cat, period, dog = (tiny_model.to_single_token(t) for t in (" cat", ".", " dog"))
    source = TokenSource(tiny_model, [cat, period, dog])
    evidence = fv.dashboard_data(tiny_model, source, EVIDENCE, k=4, progress=False)
    prompt = "The old cat sat on the mat."

    good = fv.check_steering_target(tiny_model, source, 0, prompt, evidence)
    assert good.accepted and good.prompt_max == 5.0 and good.typical == 5.0
    np.testing.assert_allclose(good.values, 5.0 * np.array(fv.analysis.steering_target.SWEEP_MULTIPLES))
    assert "fires on the prompt" in str(good) and "' cat'" in str(good)

    punctuation = fv.check_steering_target(tiny_model, source, 1, prompt, evidence)
    assert not punctuation.accepted and punctuation.punctuation_share == 1.0
    assert "REJECT" in str(punctuation) and "punctuation" in str(punctuation)

    never = fv.check_steering_target(tiny_model, source, 2, prompt, evidence)
    assert not never.accepted and never.prompt_max == 0.0
    assert "never fires on the prompt" in str(never)
    assert never.position_share == 1.0  # " dog" only ever opens a text in the evidence

    target, tried = fv.pick_steering_target(tiny_model, source, [2, 1, 0], prompt, evidence)
    assert target.feature == 0 and [t.feature for t in tried] == [2, 1, 0]
    with pytest.raises(ValueError, match="none of the 2 candidates"):
        fv.pick_steering_target(tiny_model, source, [2, 1], prompt, evidence)


def contrast_groups(rng):
    """Three groups of prompts with per-prompt activations drawn at random: happy, angry and a baseline."""

    def group(n, shift):
        values = rng.exponential(1.0, size=(n * 5, 6)) * (rng.random((n * 5, 6)) < 0.6)
        values[:, shift] += 1.5
        return ActivationResult(
            prompts=[f"p{i}" for i in range(n)],
            str_tokens=[[f"t{j}" for j in range(5)]] * n,
            token_ids=[torch.arange(5)] * n,
            values=torch.from_numpy(values.astype(np.float32)),
            offsets=np.arange(n + 1) * 5,
            hook_name="blocks.0.hook_resid_pre",
            source_kind="sae",
        )

    return {"happy": group(9, 0), "angry": group(11, 1), "baseline": group(10, 2)}


@pytest.mark.parametrize(
    "against, rest_of",
    [
        ("rest", {"happy": ["angry", "baseline"], "angry": ["happy", "baseline"]}),
        ("baseline", {"happy": ["baseline"], "angry": ["baseline"]}),
        ("groups", {"happy": ["angry"], "angry": ["happy"]}),
    ],
)
def test_contrast_modes_agree_with_scipy(against, rest_of):
    from scipy import stats

    from featureviz.analysis.contrast import prompt_aggregates

    groups = contrast_groups(np.random.default_rng(3))
    table = fv.contrast(groups, baseline="baseline", against=against).set_index(["group", "feature"])
    assert sorted(table.index.get_level_values("group").unique()) == ["angry", "happy"]  # baseline not compared
    for name, others in rest_of.items():
        inside = prompt_aggregates(groups[name])
        rest = np.concatenate([prompt_aggregates(groups[o]) for o in others])
        assert len(table.loc[name]) >= 4
        for f in table.loc[name].index:  # the baseline's always-on feature 2 is not tested
            expected = stats.mannwhitneyu(inside[:, f], rest[:, f], alternative="greater")
            row = table.loc[(name, f)]
            assert row["p_value"] == pytest.approx(expected.pvalue)
            assert row["rank_biserial"] == pytest.approx(2 * expected.statistic / (len(inside) * len(rest)) - 1)
            assert row["mean_rest"] == pytest.approx(np.concatenate([groups[o].values[:, f] for o in others]).mean())
    assert table.attrs["against"] == against and "Mann-Whitney" in table.attrs["comparison"]
    view = fv.ContrastView(table.reset_index(), top_n=3)
    assert view.title == table.attrs["comparison"]  # the view says which test it shows


def test_contrast_modes_refuse_what_they_cannot_compare():
    groups = contrast_groups(np.random.default_rng(4))
    with pytest.raises(ValueError, match="against must be one of"):
        fv.contrast(groups, baseline="baseline", against="neutral")
    with pytest.raises(ValueError, match="needs a baseline"):
        fv.contrast({k: groups[k] for k in ("happy", "angry")}, against="baseline")
    with pytest.raises(ValueError, match="two groups besides the baseline"):
        fv.contrast({k: groups[k] for k in ("happy", "baseline")}, baseline="baseline", against="groups")
    one = fv.contrast({k: groups[k] for k in ("happy", "baseline")}, baseline="baseline")  # one group vs baseline
    assert set(one["group"]) == {"happy"}
