"""Dashboards split into shards (Ray tasks or here) merge into exactly the one-process result; a dead worker
re-runs only its shard; checkpoints let a re-run skip finished shards. One local 2-CPU Ray for the module."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import featureviz as fv
from featureviz.analysis.dashboard import DashboardState, dashboard_data
from featureviz.sources import SAESource

WORDS = "apple storm quiet river seven glass laugh engine paper wolf green tender happy angry calm".split()
ARGS = dict(k=5, n_samples=8, n_bins=16, batch_tokens=96, progress=False)
COMPARED = (
    "feature_ids",
    "n_tokens",
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
    "token_strings",
    "hist_neg_counts",
    "hist_neg_high",
    "coactive_ids",
    "coactive_counts",
    "coactive_jaccard",
    "coactive_computed",
)


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(1)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(3, 30))) for _ in range(60)]
    return texts + texts[:12]  # repeated texts: equal context maxima, so top-k ties must break the same way


@pytest.fixture(scope="module")
def ray_local():
    import ray  # the distributed extra, in the dev extra: `make test` has it

    from featureviz.analysis.distributed import start_local_ray

    start_local_ray(2)
    yield ray
    ray.shutdown()


def assert_same(a, b):
    for name in COMPARED:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert x == y, name


def logged_source(sae, log: Path, kill_once: Path | None = None):
    """The SAE as a source that logs every batch it encodes (its shape and sum) and, while `kill_once` exists,
    removes it and kills its process: the first batch encoded anywhere dies with its worker. Defined here, in a
    function, so Ray ships the class by value."""

    class Logged(SAESource):
        def encode(self, hook_acts):
            with open(log, "a") as f:
                f.write(f"{tuple(hook_acts.shape)} {float(hook_acts.double().sum()):.9e} {os.getpid()}\n")
            if kill_once is not None:
                try:
                    kill_once.unlink()
                except FileNotFoundError:
                    pass
                else:
                    with open(log, "a") as f:
                        f.write(f"died {os.getpid()}\n")
                    os._exit(1)
            return super().encode(hook_acts)

    return Logged(sae)


def batches_encoded(log: Path) -> list[str]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.rsplit(" ", 1)[0] for line in lines if not line.startswith("died")]


@pytest.mark.parametrize("kind", ["sae", "neurons"])
def test_shards_merge_into_the_one_process_result(tiny_model, tiny_sae, corpus, kind, tmp_path):
    source = tiny_sae if kind == "sae" else fv.NeuronSource(tiny_model, 0)
    one = dashboard_data(tiny_model, source, corpus, **ARGS)
    sharded = dashboard_data(tiny_model, source, corpus, shards=5, checkpoint_dir=tmp_path, **ARGS)
    assert len(list(tmp_path.glob("shard-*.safetensors"))) == 5
    assert_same(one, sharded)
    assert one.page(int(one.feature_ids[0])) == sharded.page(int(one.feature_ids[0]))


def test_histogram_and_reservoir_merge_in_any_order():
    """Synthetic batches with values at exact powers of two (where a range doubles), ties and negative values:
    the states of three parts merged in any order equal the state of one pass, and the merged co-activation
    counts equal a brute-force count over every valid token."""
    g = torch.Generator().manual_seed(0)
    n_feat, batches = 6, []
    for b in range(9):
        feats = torch.rand(4, 7, n_feat, generator=g) * 2 ** (b % 4)
        feats[feats < 0.3] = 0.0
        feats[:, :, 4] -= 2.0 ** (b % 3)  # a neuron-like column, mostly negative
        feats[0, 2, :3] = torch.tensor([1.0, 2.0, 4.0]) * 2 ** (b % 3)
        feats[1] = feats[0]  # two contexts with the same maximum
        batches.append((list(range(4 * b, 4 * b + 4)), feats, torch.randint(0, 50, (4, 7), generator=g)))

    def state(part):
        s = DashboardState(n_feat, k=3, n_samples=5, n_bins=8)
        for b in part:
            ids, feats, tokens = batches[b]
            s.add_batch(b, ids, feats, tokens, [7, 6, 7, 5], drop_first=0, seed=3)
        return s

    whole = state(range(9)).arrays()
    parts = [range(0, 2), range(2, 7), range(7, 9)]
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        merged = state(parts[order[0]]).merge(state(parts[order[1]])).merge(state(parts[order[2]]))
        for name, value in merged.arrays().items():
            np.testing.assert_array_equal(value, whole[name], err_msg=name)
    assert (whole["high"] > 0).all() and whole["hist"].sum() > 0
    assert whole["hist_neg"][4].sum() > 0 and whole["hist_neg"][[0, 1, 2, 3, 5]].sum() == 0
    lengths = torch.tensor([7, 6, 7, 5])
    valid = (torch.arange(7)[None, :] < lengths[:, None]) & (torch.arange(7)[None, :] >= 1)  # BOS never counted
    brute = np.zeros((n_feat, n_feat), dtype=np.int64)
    for _, feats, _ in batches:
        on = ((feats > 0) & valid[..., None]).reshape(-1, n_feat).numpy().astype(np.int64)
        brute += on.T @ on
    np.testing.assert_array_equal(whole["coact"], brute)
    np.testing.assert_array_equal(np.diag(brute), whole["active"])


def test_merged_reservoir_is_a_uniform_sample_of_the_union():
    """300 contexts active on every one of 400 features, split 100 / 200 into two states: each feature's merged
    sample of 20 holds each context with probability 20/300, whichever shard it came from. With the fixed
    seed the checks sit far inside their tolerances (standard errors given)."""
    n_feat, n_ctx, per_batch, slots = 400, 300, 10, 20
    feats = torch.ones(per_batch, 3, n_feat)
    tokens = torch.zeros(per_batch, 3, dtype=torch.long)

    def state(batches):
        s = DashboardState(n_feat, k=1, n_samples=slots, n_bins=4)
        for b in batches:
            s.add_batch(b, list(range(b * per_batch, (b + 1) * per_batch)), feats, tokens, [3] * per_batch, 0, seed=7)
        return s

    merged = state(range(0, 10)).merge(state(range(10, 30)))
    ctx = merged.sample["ctx"].numpy()  # [features, slots]
    assert (ctx < n_ctx).all() and all(len(set(row)) == slots for row in ctx)
    counts = np.bincount(ctx.ravel(), minlength=n_ctx)  # each ~ Binomial(400, 1/15): mean 26.7
    from_second = (ctx >= 100).mean()  # expected 2/3, standard error 0.0049
    assert abs(from_second - 2 / 3) < 0.02
    assert abs(counts[:100].mean() - counts[100:].mean()) < 2.5  # standard error of the difference 0.6
    expected = n_feat * slots / n_ctx
    chi2 = ((counts - expected) ** 2 / (expected * (1 - slots / n_ctx))).sum()  # ~ 299 +- 24 for a uniform sample
    assert 200 < chi2 < 420
    # and it is the very sample one pass draws
    np.testing.assert_array_equal(merged.sample["ctx"].numpy(), state(range(30)).sample["ctx"].numpy())


def test_ray_workers_equal_one_process_and_a_dead_worker_reruns_only_its_shard(
    ray_local, tiny_model, tiny_sae, corpus, tmp_path
):
    one = dashboard_data(tiny_model, tiny_sae, corpus, **ARGS)
    log, kill = tmp_path / "encoded.log", tmp_path / "kill-once"
    clean = dashboard_data(tiny_model, logged_source(tiny_sae, log), corpus, workers=2, shards=4, **ARGS)
    assert_same(one, clean)
    plan = batches_encoded(log)
    assert len(plan) == len(set(plan)) > 4  # every batch of the plan encoded once
    log.unlink()
    kill.touch()
    survived = dashboard_data(tiny_model, logged_source(tiny_sae, log, kill), corpus, workers=2, shards=4, **ARGS)
    assert not kill.exists()  # a worker died
    assert_same(one, survived)
    lines = log.read_text().splitlines()
    (pid,) = [line.split()[1] for line in lines if line.startswith("died")]
    (died,) = [line.rsplit(" ", 1)[0] for line in lines if line.endswith(" " + pid) and not line.startswith("died")]
    # the batch its worker died on ran again in another process; every other batch ran exactly once, so no
    # other shard was recomputed
    assert sorted(batches_encoded(log)) == sorted(plan + [died])


def test_checkpoints_let_a_rerun_compute_only_missing_shards(ray_local, tiny_model, tiny_sae, corpus, tmp_path):
    log, ckpt = tmp_path / "encoded.log", tmp_path / "ckpt"
    first = dashboard_data(
        tiny_model, logged_source(tiny_sae, log), corpus, workers=2, shards=4, checkpoint_dir=ckpt, **ARGS
    )
    files = sorted(ckpt.glob("shard-*.safetensors"))
    assert len(files) == 4
    all_batches = batches_encoded(log)
    lost = DashboardState.load(files[2])
    files[2].unlink()  # as if its worker never finished
    log.unlink()
    again = dashboard_data(
        tiny_model, logged_source(tiny_sae, log), corpus, workers=2, shards=4, checkpoint_dir=ckpt, **ARGS
    )
    assert_same(first, again)
    redone = batches_encoded(log)
    assert 0 < len(redone) < len(all_batches) and set(redone) <= set(all_batches)
    assert DashboardState.load(files[2]).n_tokens == lost.n_tokens
    # another seed is another pass: no checkpoint is reused
    log.unlink()
    dashboard_data(
        tiny_model,
        logged_source(tiny_sae, log),
        corpus,
        workers=2,
        shards=4,
        checkpoint_dir=ckpt,
        **{**ARGS, "seed": 1},
    )
    assert sorted(batches_encoded(log)) == sorted(all_batches)


def test_without_ray_workers_says_what_to_install(tiny_model, tiny_sae, corpus, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'featureviz\[distributed\]'"):
        dashboard_data(tiny_model, tiny_sae, corpus, workers=2, **ARGS)


def test_bad_cluster_and_activations_are_refused(tiny_model, tiny_sae, corpus):
    with pytest.raises(ValueError, match="ray://host:port"):
        dashboard_data(tiny_model, tiny_sae, corpus, cluster="localhost:6379", **ARGS)
    acts = fv.activations(tiny_model, tiny_sae, corpus[:4])
    with pytest.raises(ValueError, match="activations= run no model"):
        dashboard_data(tiny_model, tiny_sae, activations=acts, workers=2, progress=False)
