import numpy as np
import pytest
import torch

import featureviz as fv
from featureviz.analysis.dashboard import DashboardData, dashboard_data

WORDS = "apple storm quiet river seven glass laugh engine paper wolf green tender happy angry calm".split()


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(WORDS, size=rng.integers(3, 12))) for _ in range(40)]


@pytest.fixture(params=["sae", "neurons"])
def source(request, tiny_model, tiny_sae):
    """SAE latents and plain MLP neurons (GELU: negative values too) go through the same dashboard."""
    return tiny_sae if request.param == "sae" else fv.NeuronSource(tiny_model, 0)


@pytest.fixture
def directions(source, tiny_model, tiny_sae):
    """Each feature's write direction into the residual stream, read off the weights directly."""
    weights = tiny_sae.W_dec if source is tiny_sae else tiny_model.blocks[0].mlp.W_out
    return weights.detach()


@pytest.fixture
def data(tiny_model, source, corpus):
    return dashboard_data(tiny_model, source, corpus, k=5, n_samples=8, n_bins=16, batch_tokens=96, progress=False)


def test_top_k_is_exact_against_brute_force(tiny_model, source, corpus, data):
    acts = fv.activations(tiny_model, source, corpus)
    per_text_max = np.stack([acts.prompt_values(i).max(0).values.numpy() for i in range(len(corpus))])  # [texts, F]
    for row, feature in enumerate(data.feature_ids[:30]):
        expected = np.sort(per_text_max[:, feature])[::-1][:5]
        expected = np.where(expected > 0, expected, -np.inf)
        np.testing.assert_allclose(data.top_values[row], expected, rtol=1e-5)


def test_stored_windows_equal_a_direct_recomputation(tiny_model, source, corpus, data):
    acts = fv.activations(tiny_model, source, corpus)
    checked = 0
    for feature in data.feature_ids[:20]:
        for example in data.page(int(feature))["top"]:
            # find the text whose tokens contain this window with the same max at its centre
            matches = []
            for i, tokens in enumerate(acts.str_tokens):
                values = acts.prompt_values(i)[:, feature].numpy()
                for start in range(len(tokens) - len(example["tokens"]) + 1):
                    if tokens[start : start + len(example["tokens"])] == example["tokens"]:
                        matches.append(values[start : start + len(example["tokens"])])
            assert any(np.allclose(m, example["acts"], atol=1e-3) for m in matches)
            assert example["acts"][example["center"]] == pytest.approx(example["value"], abs=1e-3)
            checked += 1
    assert checked > 20


def test_histogram_and_density_count_every_active_token(tiny_model, source, corpus, data):
    acts = fv.activations(tiny_model, source, corpus)
    assert data.n_tokens == acts.n_tokens
    for row, feature in enumerate(data.feature_ids):
        column = acts.values[:, feature].numpy()
        assert data.active_count[row] == (column > 0).sum()
        assert data.hist_counts[row].sum() == (column > 0).sum()
        if (column > 0).any():
            edges = np.linspace(0, data.hist_high[row], data.hist_counts.shape[1] + 1)
            expected, _ = np.histogram(np.clip(column[column > 0], 0, edges[-1]), bins=edges)
            # bins are half-open on the right in both; allow float32 rounding at the edges
            assert np.abs(expected - data.hist_counts[row]).sum() <= 2
            assert data.max_value[row] == pytest.approx(column.max(), rel=1e-5)


def test_samples_are_active_contexts(data):
    finite = np.isfinite(data.sample_values)
    assert (data.sample_values[finite] > 0).all()
    assert (finite.sum(1) <= np.minimum(8, data.active_count)).all()


def test_logit_effects_and_nearest_features(tiny_model, directions, data):
    feature = int(data.feature_ids[3])
    logits = directions[feature] @ tiny_model.W_U.detach()
    assert data.logit_top_ids[3].tolist() == logits.topk(10).indices.tolist()
    assert data.logit_bottom_ids[3].tolist() == logits.topk(10, largest=False).indices.tolist()
    unit = torch.nn.functional.normalize(directions, dim=1)
    cos = unit[feature] @ unit.T
    cos[feature] = -2
    assert data.nearest_ids[3].tolist() == cos.topk(5).indices.tolist()
    page = data.page(feature)
    assert page["logits_top"][0]["token"] == tiny_model.to_str_tokens(logits.topk(1).indices)[0]


def test_subset_save_load_and_errors(tiny_model, tiny_sae, corpus, tmp_path):
    data = dashboard_data(tiny_model, tiny_sae, corpus[:10], features=[4, 2], progress=False)
    assert data.feature_ids.tolist() == [4, 2]
    loaded = DashboardData.load(data.save(tmp_path / "dash"))
    assert loaded.page(2) == data.page(2)
    with pytest.raises(KeyError, match="not in this dashboard data"):
        data.page(7)
    with pytest.raises(IndexError, match=r"0\.\.95"):
        dashboard_data(tiny_model, tiny_sae, corpus, features=[96], progress=False)
    with pytest.raises(ValueError, match="corpus is empty"):
        dashboard_data(tiny_model, tiny_sae, [], progress=False)
    with pytest.raises(FileNotFoundError, match="saved dashboard"):
        DashboardData.load(tmp_path / "nothing")
    text_file = tmp_path / "corpus.txt"
    text_file.write_text("\n\n".join(corpus[:6]))
    from_file = dashboard_data(tiny_model, tiny_sae, text_file, features=[4], progress=False)
    assert from_file.n_tokens == fv.activations(tiny_model, tiny_sae, corpus[:6]).n_tokens


def test_dashboard_widget_navigates_searches_and_links(tiny_model, source, corpus, data):
    import traitlets

    dash = fv.Dashboard(data, feature=int(data.feature_ids[2]))
    assert dash.page == data.page(int(data.feature_ids[2]))
    dash.feature = int(data.feature_ids[5])
    assert dash.page["feature"] == int(data.feature_ids[5])
    with pytest.raises(traitlets.TraitError, match=r"10000 is out of range: valid features are 0\.\."):
        dash.feature = 10_000

    word = data.page(int(data.feature_ids[0]))["top"][0]["tokens"][-1].strip()
    dash.search = word.upper()
    assert dash.search_results and all(word.lower() in r["token"].lower() for r in dash.search_results)
    values = [r["value"] for r in dash.search_results]
    assert values == sorted(values, reverse=True)

    acts = fv.activations(tiny_model, source, corpus[:3])
    heatmap = fv.Heatmap(acts, top_k=5)
    link = fv.link(heatmap, dash)
    heatmap.selected_feature = heatmap.feature_ids[1]
    assert dash.feature == heatmap.feature_ids[1] and dash.page["feature"] == heatmap.feature_ids[1]
    dash.feature = int(data.feature_ids[7])
    assert heatmap.selected_feature == int(data.feature_ids[7])
    heatmap.selected_feature = -1  # "none" leaves the dashboard where it is
    assert dash.feature == int(data.feature_ids[7])
    link.unlink()
    heatmap.selected_feature = heatmap.feature_ids[0]
    assert dash.feature == int(data.feature_ids[7])


def test_dashboard_builds_from_model_and_corpus(tiny_model, tiny_sae, corpus):
    dash = fv.Dashboard(tiny_model, tiny_sae, corpus[:8], feature=3, features=[3, 9], progress=False)
    assert dash.feature_ids == [3, 9] and dash.page["feature"] == 3
    with pytest.raises(TypeError, match="needs a source and a corpus"):
        fv.Dashboard(tiny_model)
    with pytest.raises(KeyError):
        fv.Dashboard(dash.data, feature=4)


def test_save_is_one_file_and_a_failed_save_keeps_the_old_data(tiny_model, tiny_sae, corpus, tmp_path, monkeypatch):
    """Before: arrays and metadata were two files; a failure between them left new arrays beside old metadata,
    load() accepted the pair and every page raised KeyError."""
    import featureviz.analysis.dashboard as module

    old = dashboard_data(tiny_model, tiny_sae, corpus[:4], features=[4, 2], progress=False)
    new = dashboard_data(tiny_model, tiny_sae, corpus[4:12], features=[4, 2], progress=False)
    path = old.save(tmp_path / "dash")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dash.safetensors"] == [path.name]
    assert (
        DashboardData.load(tmp_path / "dash").feature_space == old.feature_space == fv.SAESource(tiny_sae).feature_space
    )

    def crash_writing(arrays, filename, metadata=None):  # the disk fills up halfway through the arrays
        open(filename, "wb").write(b"half a file")
        raise OSError("No space left on device")

    for failure in (
        lambda: monkeypatch.setattr(module, "save_file", crash_writing),
        lambda: monkeypatch.setattr(module.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("killed"))),
    ):
        failure()
        with pytest.raises(OSError):
            new.save(tmp_path / "dash")
        monkeypatch.undo()
        loaded = DashboardData.load(tmp_path / "dash")
        assert loaded.n_tokens == old.n_tokens and loaded.page(2) == old.page(2)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["dash.safetensors"]  # no debris


def test_load_refuses_a_mismatched_pair(tiny_model, tiny_sae, corpus, tmp_path):
    """The older two-file layout: arrays of one build beside the metadata of another are refused in one sentence."""
    import json

    from safetensors.numpy import save_file

    old = dashboard_data(tiny_model, tiny_sae, ["apple apple apple"], features=[4, 2], progress=False)
    new = dashboard_data(tiny_model, tiny_sae, corpus, features=[4, 2], progress=False)
    folder = tmp_path / "pair"
    folder.mkdir()
    save_file(
        {
            name: getattr(new, name)
            for name in (
                "feature_ids",
                "active_count",
                "max_value",
                "top_values",
                "top_tokens",
                "top_acts",
                "sample_values",
                "sample_tokens",
                "sample_acts",
                "hist_counts",
                "hist_high",
                "logit_top_ids",
                "logit_top_values",
                "logit_bottom_ids",
                "logit_bottom_values",
                "nearest_ids",
                "nearest_cosine",
            )
        },
        str(folder / "dashboard.safetensors"),
    )
    meta = {
        "n_tokens": old.n_tokens,
        "hook_name": old.hook_name,
        "source_kind": old.source_kind,
        "window_before": 10,
        "token_strings": {str(k): v for k, v in old.token_strings.items()},
    }
    (folder / "dashboard.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="does not hold one consistent save") as info:
        DashboardData.load(folder)
    assert "\n" not in str(info.value)


def test_logit_effects_are_computed_per_page_not_per_build(tiny_model, tiny_sae, corpus, tmp_path, monkeypatch):
    """Issue 24 item 2: the product of every direction with the whole unembedding (49k tokens on SmolLM2) was a
    fixed cost of every build. Now a page computes its feature's row on first use, rows are shared by every
    build of the same model and source, and save() stores them all (a file is read without the model)."""
    import featureviz.analysis.dashboard as module

    module._UNEMBEDDINGS.clear()
    computed = []
    rows = module._Unembedding.rows
    monkeypatch.setattr(
        module._Unembedding,
        "rows",
        lambda self, features, **kw: (
            computed.extend(f for f in features if int(f) not in self.computed),
            rows(self, features, **kw),
        )[1],
    )
    data = dashboard_data(tiny_model, tiny_sae, corpus[:6], progress=False)
    assert computed == []  # the build multiplied nothing by W_U
    page = data.page(5)
    assert computed == [5]
    logits = tiny_sae.W_dec.detach()[5] @ tiny_model.W_U.detach()
    top, bottom = logits.topk(10), logits.topk(10, largest=False)
    assert [t["token"] for t in page["logits_top"]] == tiny_model.to_str_tokens(top.indices)
    assert [t["token"] for t in page["logits_bottom"]] == tiny_model.to_str_tokens(bottom.indices)
    np.testing.assert_allclose([t["value"] for t in page["logits_top"]], top.values.numpy(), rtol=1e-6)

    again = dashboard_data(tiny_model, tiny_sae, corpus[6:12], features=[5, 7], progress=False)
    assert again.page(5)["logits_top"] == page["logits_top"] and computed == [5]  # per (model, source), once
    loaded = DashboardData.load(data.save(tmp_path / "dash"))  # save computes every other row, in batches
    assert sorted(computed) == list(range(96)) and loaded.logits.done.all()
    assert loaded.page(5) == data.page(5) and loaded.page(60) == data.page(60)
    everything = tiny_sae.W_dec.detach() @ tiny_model.W_U.detach()
    assert loaded.logit_top_ids.tolist() == everything.topk(10, dim=1).indices.tolist()
    assert loaded.logit_bottom_ids.tolist() == everything.topk(10, dim=1, largest=False).indices.tolist()

    with torch.no_grad():  # weights changed in place (an optimizer step): the shared rows are stale, recomputed
        tiny_sae.W_dec[5] *= -1
    try:
        flipped = dashboard_data(tiny_model, tiny_sae, corpus[:2], features=[5], progress=False).page(5)
        assert [t["token"] for t in flipped["logits_top"]] == [t["token"] for t in page["logits_bottom"]]
    finally:
        with torch.no_grad():
            tiny_sae.W_dec[5] *= -1


def _assert_same_dashboards(a, b):
    assert a.n_tokens == b.n_tokens and a.drop_first == b.drop_first
    for name in ("feature_ids", "active_count", "top_tokens", "sample_tokens", "hist_counts"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for name in ("max_value", "top_values", "top_acts", "sample_values", "sample_acts", "hist_high"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_array_equal(a.density, b.density)
    for feature in a.feature_ids[:10]:
        page_a, page_b = a.page(int(feature)), b.page(int(feature))
        assert page_a["histogram"]["counts"] == page_b["histogram"]["counts"]
        assert [e["tokens"] for e in page_a["top"]] == [e["tokens"] for e in page_b["top"]]
        assert page_a["logits_top"] == page_b["logits_top"] and page_a["nearest"] == page_b["nearest"]


def test_dashboards_from_cached_activations_equal_the_corpus_pass(tiny_model, source, corpus, data, monkeypatch):
    """Issue 24 item 5: dashboard_data(activations=fv.activations(...)) builds without running the model and
    equals the corpus pass over the same prompts: top-k contexts, samples, histograms, densities, maxima."""
    import featureviz.analysis._forward as module

    # the same forward batches as the corpus passes: then even tied maxima (same window twice) rank alike
    acts = fv.activations(tiny_model, source, corpus, batch_tokens=96)
    acts_drop = fv.activations(tiny_model, source, corpus, drop_first=1, batch_tokens=64)
    from_corpus_drop = dashboard_data(
        tiny_model, source, corpus, features=[9, 2, 31], drop_first=1, k=4, batch_tokens=64, progress=False
    )
    monkeypatch.setattr(type(tiny_model), "forward", lambda *a, **kw: pytest.fail("the model ran"))
    monkeypatch.setattr(module, "run_to_hook", lambda *a, **kw: pytest.fail("the model ran"))
    stored = dashboard_data(
        tiny_model, source, activations=acts, k=5, n_samples=8, n_bins=16, batch_tokens=96, progress=False
    )
    _assert_same_dashboards(stored, data)
    # a subset, drop_first > 0 (the left-out tokens still show in the windows, at activation 0), other batches
    stored_drop = dashboard_data(
        tiny_model, source, activations=acts_drop, features=[9, 2, 31], k=4, batch_tokens=64, progress=False
    )
    _assert_same_dashboards(stored_drop, from_corpus_drop)
    widget = fv.Dashboard(
        tiny_model, source, activations=acts, feature=3, k=5, n_samples=8, n_bins=16, batch_tokens=96, progress=False
    )
    assert widget.page == data.page(3)


def test_dashboards_from_activations_refuse_what_does_not_fit(tiny_model, tiny_sae, corpus):
    acts = fv.activations(tiny_model, tiny_sae, corpus[:5])
    neurons = fv.activations(tiny_model, fv.NeuronSource(tiny_model, 0), corpus[:5])
    with pytest.raises(ValueError, match="computed for another source .*kind 'sae' vs 'neurons'"):
        dashboard_data(tiny_model, tiny_sae, activations=neurons, progress=False)
    short = fv.analysis.activations.ActivationResult(
        prompts=acts.prompts,
        str_tokens=acts.str_tokens,
        token_ids=acts.token_ids,
        values=acts.values[:-1],
        offsets=acts.offsets,
        hook_name=acts.hook_name,
        source_kind=acts.source_kind,
        feature_space=acts.feature_space,
    )
    with pytest.raises(ValueError, match=r"do not hold one row of 96 values per token: values \("):
        dashboard_data(tiny_model, tiny_sae, activations=short, progress=False)
    with pytest.raises(ValueError, match="not both"):
        dashboard_data(tiny_model, tiny_sae, corpus[:5], activations=acts, progress=False)
    with pytest.raises(ValueError, match="below the activations' drop_first=1"):
        dashboard_data(
            tiny_model,
            tiny_sae,
            activations=fv.activations(tiny_model, tiny_sae, corpus[:5], drop_first=1),
            drop_first=0,
            progress=False,
        )
    with pytest.raises(TypeError, match="must be an ActivationResult"):
        dashboard_data(tiny_model, tiny_sae, activations=acts.values, progress=False)
    with pytest.raises(TypeError, match="needs a corpus"):
        dashboard_data(tiny_model, tiny_sae, progress=False)
