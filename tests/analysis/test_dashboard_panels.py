"""The dashboard panels of issue 18 item 4 on real computations: negative values in the histogram, the
logit-effect histogram, correlated features by co-activation (against a brute-force count)."""

import numpy as np
import pytest
import test_dashboard
import torch

import featureviz as fv
from featureviz.analysis import dashboard as dash
from featureviz.analysis.dashboard import DashboardData, dashboard_data

corpus, source, data = test_dashboard.corpus, test_dashboard.source, test_dashboard.data  # the same fixtures
ARGS = {"k": 5, "n_samples": 8, "n_bins": 16, "batch_tokens": 96, "progress": False}  # as test_dashboard's `data`


def test_histogram_counts_negative_values_too(tiny_model, source, corpus, data):
    values = fv.activations(tiny_model, source, corpus).values.numpy()
    np.testing.assert_array_equal(data.hist_neg_counts.sum(1), (values < 0).sum(0))
    np.testing.assert_array_equal(data.hist_counts.sum(1), (values > 0).sum(0))
    negative_pages = 0
    for feature in data.feature_ids:
        hist = data.page(int(feature))["histogram"]
        assert sum(hist["counts"]) == (values[:, feature] != 0).sum()
        assert len(hist["edges"]) == len(hist["counts"]) + 1 or not hist["counts"]
        assert np.all(np.diff(hist["edges"]) > 0)
        column = values[:, feature]
        if (column < 0).any():
            negative_pages += 1
            assert hist["edges"][0] <= column.min() < hist["edges"][0] / 2  # the range is a power of two >= |min|
            zero = hist["edges"].index(0.0)
            assert sum(hist["counts"][:zero]) == (column < 0).sum()
    assert negative_pages == (0 if data.source_kind == "sae" else len(data.feature_ids))  # GELU: every neuron dips


def _brute_coactive(values: np.ndarray, n: int) -> list[list[tuple[int, int]]]:
    on = (values > 0).astype(np.int64)
    both = on.T @ on
    active = np.diag(both)
    out = []
    for f in range(len(both)):
        union = active[f] + active - both[f]
        jac = np.where(both[f] > 0, both[f] / np.maximum(union, 1), 0.0)
        ranked = sorted(
            (g for g in range(len(both)) if g != f and both[f, g] > 0), key=lambda g: (-jac[g], -both[f, g], g)
        )
        out.append([(g, int(both[f, g])) for g in ranked[:n]])
    return out


def test_coactivation_equals_a_brute_force_count(tiny_model, source, corpus, data):
    values = fv.activations(tiny_model, source, corpus).values.numpy()
    expected = _brute_coactive(values, 5)
    for feature in data.feature_ids:
        page = data.page(int(feature))
        assert [(c["feature"], c["count"]) for c in page["coactive"]] == expected[feature]
        for c in page["coactive"]:
            union = (values[:, feature] > 0).sum() + (values[:, c["feature"]] > 0).sum() - c["count"]
            assert c["jaccard"] == pytest.approx(c["count"] / union, rel=1e-6)
    assert sum(len(e) for e in expected) > len(expected)  # features do fire together here


@pytest.mark.parametrize("n_rows", [1, 2, 7])
def test_coactive_counts_are_exact_for_any_number_of_rows(n_rows):
    g = torch.Generator().manual_seed(n_rows)
    active = torch.rand(37, 9, generator=g) < 0.4
    rows = torch.randperm(9, generator=g)[:n_rows]
    expected = active[:, rows].T.long() @ active.long()
    assert torch.equal(dash._coactive_counts(active, rows).long(), expected)


def test_ranking_breaks_ties_by_count_then_feature_even_past_the_candidates():
    score = torch.tensor(
        [[0.5] * 30 + [0.9, 0.1], [0.0] * 31 + [0.2], [0.3, 0.3, 0.3, 0.7] + [0.0] * 28], dtype=torch.float64
    )
    count = torch.tensor([list(range(32)), [1] * 32, [1, 5, 5, 2] + [0] * 28])
    order = dash._ranked_pairs(score, count, 3).tolist()
    assert order[0] == [30, 29, 28]  # 30 ties at 0.5, beyond the topk candidates: by count, descending
    assert order[1][0] == 31  # the only positive one (zeros are dropped by the caller)
    assert order[2] == [3, 1, 2]  # equal score and count: by feature


def test_coactivation_is_bounded_to_the_features_asked_for(tiny_model, tiny_sae, corpus, monkeypatch, tmp_path):
    some = dashboard_data(tiny_model, tiny_sae, corpus, coactivation=[7, 3], **ARGS)
    assert some.coactive_computed.nonzero()[0].tolist() == [3, 7]
    full = dashboard_data(tiny_model, tiny_sae, corpus, **ARGS)
    assert some.page(7)["coactive"] == full.page(7)["coactive"] and some.page(4)["coactive"] is None
    state = dash.DashboardState(96, 2, 2, 4, coactivation=np.array([3, 7]))
    assert state.coact.shape == (2, 96) and state.coact.dtype == torch.int32
    monkeypatch.setattr(dash, "COACTIVATION_MAX_ENTRIES", 96 * 96 - 1)  # a "large dictionary": none by default
    assert dashboard_data(tiny_model, tiny_sae, corpus, **ARGS).coactive_computed.sum() == 0
    assert dashboard_data(tiny_model, tiny_sae, corpus, coactivation=True, **ARGS).coactive_computed.all()
    assert dashboard_data(tiny_model, tiny_sae, corpus, coactivation=False, **ARGS).page(7)["coactive"] is None
    with pytest.raises(ValueError, match="not among the features built"):
        dashboard_data(tiny_model, tiny_sae, corpus, features=[1, 2], coactivation=[3], **ARGS)
    loaded = DashboardData.load(some.save(tmp_path / "d"))
    assert loaded.page(7) == some.page(7) and loaded.page(4)["coactive"] is None


def test_logit_histogram_covers_the_whole_vocabulary(tiny_model, tiny_sae, corpus, tmp_path):
    data = dashboard_data(tiny_model, tiny_sae, corpus, features=[5, 9], **ARGS)
    logits = (tiny_sae.W_dec[9] @ tiny_model.W_U).detach()
    hist = data.page(9)["logit_histogram"]
    assert sum(hist["counts"]) == tiny_model.cfg.d_vocab and len(hist["counts"]) == dash.LOGIT_BINS
    assert hist["edges"][0] == pytest.approx(logits.min().item(), rel=1e-5)
    assert hist["edges"][-1] == pytest.approx(logits.max().item(), rel=1e-5)
    expected, _ = np.histogram(logits.numpy(), bins=np.asarray(hist["edges"]))
    assert np.abs(expected - np.asarray(hist["counts"])).sum() <= 2  # float32 rounding at bin edges
    loaded = DashboardData.load(data.save(tmp_path / "d"))
    assert loaded.page(9)["logit_histogram"] == hist and loaded.page(5) == data.page(5)


def test_text_box_activations_equal_fv_activations(tiny_model, tiny_sae):
    from featureviz.analysis.dashboard_live import feature_on_text

    text = "quiet river laugh engine"
    expected = fv.activations(tiny_model, tiny_sae, [text])
    got = feature_on_text(tiny_model, tiny_sae, 11, text)
    assert got["tokens"] == expected.str_tokens[0]
    np.testing.assert_allclose(got["acts"], expected.prompt_values(0)[:, 11].numpy(), atol=1e-4)
    assert "type a text" in feature_on_text(tiny_model, tiny_sae, 11, "  ")["error"]
    assert "at most" in feature_on_text(tiny_model, tiny_sae, 11, "x" * 5000)["error"]


def test_ablation_effect_equals_a_manual_rerun_with_the_feature_zeroed(tiny_model, tiny_sae, corpus):
    from featureviz.analysis.dashboard_live import ablation_effects

    data = dashboard_data(tiny_model, tiny_sae, corpus, **ARGS)
    feature = int(np.argmax(data.active_count))
    page = data.page(feature)
    effects = ablation_effects(tiny_model, tiny_sae, data, feature)
    assert len(effects) == len(page["top"])
    hook = tiny_sae.cfg.metadata.hook_name
    W_dec = tiny_sae.W_dec.detach()
    checked = 0
    for slot, (example, got) in enumerate(zip(page["top"], effects)):
        ids = [tiny_model.tokenizer.bos_token_id] + [int(i) for i in data.top_tokens[data.row(feature)][slot] if i >= 0]
        tokens = torch.tensor([ids])
        assert len(got["effects"]) == len(example["tokens"]) == len(ids) - 1
        assert got["effects"][-1] is None
        with torch.no_grad():
            clean = torch.log_softmax(tiny_model(tokens)[0].double(), -1)
            resid = tiny_model.run_with_cache(tokens, names_filter=hook)[1][hook]
            acts = tiny_sae.encode(resid)[0, :, feature]
        np.testing.assert_allclose(got["acts"], acts[1:].numpy(), atol=1e-4)
        for t in range(1, len(ids) - 1):
            if acts[t] == 0:
                assert got["effects"][t - 1] == 0
                continue

            def zero_at_t(x, hook=None, t=t, acts=acts):
                x = x.clone()
                x[0, t] -= acts[t] * W_dec[feature]
                return x

            with torch.no_grad():
                ablated = torch.log_softmax(
                    tiny_model.run_with_hooks(tokens, fwd_hooks=[(hook, zero_at_t)])[0].double(), -1
                )
            expected = (clean[t, ids[t + 1]] - ablated[t, ids[t + 1]]).item()
            assert got["effects"][t - 1] == pytest.approx(expected, abs=1e-5)
            checked += 1
    assert checked >= 5


def test_widget_round_trips_refuses_bad_ids_inline_and_computes_on_request(tiny_model, tiny_sae, corpus):
    data = dashboard_data(tiny_model, tiny_sae, corpus, **ARGS)
    w = fv.Dashboard(data, feature=5, model=tiny_model, source=tiny_sae)
    assert w.live
    w.set_state({"feature": 96})  # what the view sends: refused, said, no exception
    assert w.feature == 5 and "out of range: valid features are 0..95" in w.feature_error
    w.set_state({"feature": 6})
    assert w.feature == 6 and w.feature_error == ""
    w.probe_text = "apple storm quiet"
    assert (
        w.probe["feature"] == 6
        and w.probe["tokens"] == fv.activations(tiny_model, tiny_sae, ["apple storm quiet"]).str_tokens[0]
    )
    w.feature = 7  # the box follows the feature shown
    assert w.probe["feature"] == 7
    w.set_state({"ablation_for": 7})
    assert w.ablation["feature"] == 7 and len(w.ablation["top"]) == len(w.page["top"])
    assert w.ablation_for == 7
    w.feature = 8
    assert w.ablation_for == -1
    subset = fv.Dashboard(dashboard_data(tiny_model, tiny_sae, corpus, features=[1, 2], **ARGS), feature=1)
    heatmap = fv.Heatmap(fv.activations(tiny_model, tiny_sae, corpus[:3]), top_k=5)
    fv.link(heatmap, subset)
    heatmap.selected_feature = next(f for f in heatmap.feature_ids if f not in (1, 2))
    assert (
        subset.feature == 1
        and "linked widget" in subset.feature_error
        and "not in this dashboard" in subset.feature_error
    )
    offline = fv.Dashboard(data, feature=5)
    assert not offline.live
    offline.probe_text = "apple"
    assert "no model" in offline.probe["error"]
    offline.ablation_for = 5
    assert "no model" in offline.ablation["error"]
