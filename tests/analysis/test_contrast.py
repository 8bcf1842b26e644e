import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

import featureviz as fv
from featureviz.analysis.activations import ActivationResult
from featureviz.analysis.contrast import prompt_aggregates


def synthetic(prompt_values: list[np.ndarray], group: str = "") -> ActivationResult:
    """An activation result straight from per-prompt [tokens, features] arrays (no model needed)."""
    lengths = [len(v) for v in prompt_values]
    return ActivationResult(
        prompts=[f"p{i}" for i in range(len(prompt_values))],
        str_tokens=[[f"t{j}" for j in range(n)] for n in lengths],
        token_ids=[torch.arange(n) for n in lengths],
        values=torch.from_numpy(np.concatenate(prompt_values).astype(np.float32)),
        offsets=np.concatenate([[0], np.cumsum(lengths)]),
        hook_name="blocks.0.hook_resid_pre",
        source_kind="sae",
        groups=[group] * len(prompt_values),
    )


def random_group(rng, n_prompts, n_features, shift=None, sparsity=0.5):
    prompts = []
    for _ in range(n_prompts):
        values = rng.exponential(1.0, size=(rng.integers(3, 9), n_features)) * (rng.random((1, n_features)) > 0)
        values[rng.random(values.shape) < sparsity] = 0
        if shift is not None:
            values[:, shift] += 2.0
        prompts.append(values)
    return synthetic(prompts)


def test_aggregates_are_per_prompt():
    acts = synthetic([np.array([[1.0, 0.0], [3.0, 2.0]]), np.array([[0.5, 4.0]])])
    np.testing.assert_allclose(prompt_aggregates(acts, "max"), [[3.0, 2.0], [0.5, 4.0]])
    np.testing.assert_allclose(prompt_aggregates(acts, "mean"), [[2.0, 1.0], [0.5, 4.0]])


def test_statistics_agree_with_scipy():
    rng = np.random.default_rng(0)
    a, b = random_group(rng, 12, 6), random_group(rng, 15, 6)
    table = fv.contrast({"a": a, "b": b}, aggregate="max").set_index(["group", "feature"])
    pa, pb = prompt_aggregates(a), prompt_aggregates(b)
    tested = table.loc["a"].index.to_numpy()
    p_values = []
    for f in tested:
        expected = stats.mannwhitneyu(pa[:, f], pb[:, f], alternative="greater")
        row = table.loc[("a", f)]
        assert row["p_value"] == pytest.approx(expected.pvalue)
        assert row["rank_biserial"] == pytest.approx(2 * expected.statistic / (12 * 15) - 1)
        pooled = np.sqrt((11 * pa[:, f].var(ddof=1) + 14 * pb[:, f].var(ddof=1)) / 25)
        assert row["cohens_d"] == pytest.approx((pa[:, f].mean() - pb[:, f].mean()) / pooled)
        assert row["mean"] == pytest.approx(a.values[:, f].mean().item())
        # what the test compared, for the view's bars (issue 18): the mean of the per-prompt maxima
        assert row["prompt_mean"] == pytest.approx(pa[:, f].mean())
        assert row["prompt_mean_rest"] == pytest.approx(pb[:, f].mean())
        p_values.append(expected.pvalue)
    # Benjamini-Hochberg by hand: q_(i) = min_{j >= i} p_(j) m / j
    p = np.array(p_values)
    order = np.argsort(p)
    q_sorted = np.minimum.accumulate((p[order] * len(p) / np.arange(1, len(p) + 1))[::-1])[::-1]
    q = np.empty_like(p)
    q[order] = np.minimum(q_sorted, 1)
    np.testing.assert_allclose(table.loc["a"].loc[tested, "q_value"], q)
    welch = fv.contrast({"a": a, "b": b}, test="welch").set_index(["group", "feature"])
    f = tested[0]
    assert welch.loc[("a", f), "p_value"] == pytest.approx(
        stats.ttest_ind(pa[:, f], pb[:, f], equal_var=False, alternative="greater").pvalue
    )


def test_planted_feature_is_found_and_ranked_first():
    rng = np.random.default_rng(1)
    happy, angry = random_group(rng, 20, 40, shift=17), random_group(rng, 20, 40)
    table = fv.contrast({"happy": happy, "angry": angry})
    top = table[table.group == "happy"].iloc[0]
    assert top["feature"] == 17 and top["significant"] and top["q_value"] < 0.01
    # the mirror comparison puts it last for angry, with the opposite sign
    assert table[table.group == "angry"].iloc[-1]["feature"] == 17
    assert table[table.group == "happy"]["significant"].sum() <= 3


def test_significance_is_one_sided_so_counts_are_not_doubled():
    """Before: two-sided tests listed every significant feature under both groups (notebook 02's "angry 42 /
    happy 42" was 25 higher + 17 lower in each)."""
    rng = np.random.default_rng(5)
    happy, angry = random_group(rng, 20, 40, shift=17), random_group(rng, 20, 40, shift=23)
    for test in ("mannwhitney", "welch"):
        table = fv.contrast({"happy": happy, "angry": angry}, test=test)
        found = {g: set(table[(table.group == g) & table.significant]["feature"]) for g in ("happy", "angry")}
        assert 17 in found["happy"] and (23 in found["angry"] or test == "welch"), found
        assert 17 not in found["angry"] and 23 not in found["happy"] and not found["happy"] & found["angry"]
        significant = table[table.significant]
        assert (significant["rank_biserial"] > 0).all() and (significant["mean"] > significant["mean_rest"]).all()


def test_null_p_values_are_uniform_and_bh_controls_false_discoveries():
    rng = np.random.default_rng(2)
    a, b = random_group(rng, 25, 400, sparsity=0.0), random_group(rng, 25, 400, sparsity=0.0)
    # Per-prompt means: a prompt's length moves the max of every feature together, which tilts all one-sided
    # p-values of a draw the same way (two-sided p-values hid it by symmetry).
    p = fv.contrast({"a": a, "b": b}, aggregate="mean").query("group == 'a'")["p_value"].to_numpy()
    counts, _ = np.histogram(p, bins=10, range=(0, 1))
    # 40 expected per decile.
    assert counts.min() >= 20 and counts[:9].max() <= 60 and counts[9] <= 80, counts
    assert 0.02 <= np.mean(p < 0.05) <= 0.08
    # Mixed truth, repeated: the average false discovery proportion stays near alpha = 0.1.
    fdp = []
    for seed in range(30):
        rng = np.random.default_rng(100 + seed)
        shifts = list(range(10))  # features 0-9 differ, 10-59 do not
        a = random_group(rng, 15, 60, sparsity=0.3)
        for i in range(len(a.prompts)):
            a.values[a.offsets[i] : a.offsets[i + 1], shifts] += 1.5
        b = random_group(rng, 15, 60, sparsity=0.3)
        found = fv.contrast({"a": a, "b": b}, alpha=0.1).query("group == 'a' and significant")["feature"]
        fdp.append(np.mean(found >= 10) if len(found) else 0.0)
    assert np.mean(fdp) < 0.15


def test_baseline_always_on_features_are_removed():
    rng = np.random.default_rng(3)
    happy, angry, base = (random_group(rng, 10, 8) for _ in range(3))
    for acts in (happy, angry, base):
        acts.values[:, 5] = 3.0 + torch.rand(acts.n_tokens)  # on at every token, everywhere
    happy.values[:, 5] += 2.0  # ... and would even look "significant"
    table = fv.contrast({"happy": happy, "angry": angry}, baseline=base)
    assert 5 not in table["feature"].tolist() and table.attrs["always_on"] == [5]
    assert 5 in fv.contrast({"happy": happy, "angry": angry})["feature"].tolist()


def test_grouped_result_and_named_baseline(tiny_model, tiny_sae):
    acts = fv.activations(
        tiny_model,
        tiny_sae,
        {
            "happy": ["I am so happy", "What a joy", "Lovely day"],
            "angry": ["I am so angry", "What a mess", "Awful day"],
            "baseline": ["The table is brown", "It is Tuesday", "Water is wet"],
        },
    )
    table = fv.contrast(acts, baseline="baseline")
    assert set(table["group"]) == {"happy", "angry"}
    with pytest.raises(ValueError, match="not one of the groups"):
        fv.contrast(acts, baseline="neutral")
    with pytest.raises(ValueError, match="at least two groups"):
        fv.contrast({"happy": acts}, baseline=None)
    with pytest.raises(ValueError, match="aggregate"):
        fv.contrast(acts, aggregate="median")


def test_feature_histograms():
    acts = synthetic([np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 0.0]])])
    counts, edges = acts.histogram(0, bins=2)
    assert counts.tolist() == [1, 1] and edges[0] == 2.0 and edges[-1] == 4.0
    counts, edges = acts.density_histogram(bins=1)
    assert counts.sum() == 2  # both features alive
    with pytest.raises(IndexError):
        acts.histogram(2)


def test_contrast_view_traits():
    from featureviz.widgets.arrays import decode_matrix

    rng = np.random.default_rng(4)
    happy, angry = random_group(rng, 12, 30, shift=3), random_group(rng, 12, 30, shift=8)
    table = fv.contrast({"happy": happy, "angry": angry})
    view = fv.ContrastView(table, top_n=4)
    assert view.groups == ["happy", "angry"]
    assert view.feature_ids[0] == 3 and 8 in view.feature_ids[:5]
    wide = table.set_index(["group", "feature"])
    means = decode_matrix(view.means)
    q = decode_matrix(view.q_values)
    for row, feature in enumerate(view.feature_ids):
        for col, group in enumerate(view.groups):
            assert means[row, col] == pytest.approx(wide.loc[(group, feature), "mean"])
            assert q[row, col] == pytest.approx(wide.loc[(group, feature), "q_value"])
    bars = decode_matrix(view.prompt_means)
    for row, feature in enumerate(view.feature_ids):
        for col, group in enumerate(view.groups):
            assert bars[row, col] == pytest.approx(wide.loc[(group, feature), "prompt_mean"])
    # Labels by feature id, shared with a heatmap through fv.link (issue 18).
    view.feature_labels = {"8": "anger"}
    assert view.feature_labels == {8: "anger"}
    older = fv.ContrastView(table.drop(columns=["prompt_mean", "prompt_mean_rest"]), top_n=4)
    assert older.prompt_means == {}  # the view falls back to token means and says so
    view.selected_feature = 8
    with pytest.raises(Exception, match="sort_group"):
        view.sort_group = "neutral"
    with pytest.raises(TypeError, match="featureviz.contrast"):
        fv.ContrastView(pd.DataFrame({"a": [1]}))
