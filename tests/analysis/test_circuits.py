"""Feature circuits on tiny random models: planted edges, finite differences, exactness of the direct path."""

import numpy as np
import pandas as pd
import pytest
import torch
import traitlets as t

import featureviz as fv
from factories import DEVICES, DeviceAudit, make_sae, make_tiny_model
from featureviz.analysis.circuits import hook_order
from featureviz.sources import HeadSource, NeuronSource, SAESource

PROMPTS = ["The weather today is nice and warm", "I am so happy to see you again", "Go away now", "A cat sat"]
PLANTED = 7  # the neuron wired to the target


@pytest.fixture(scope="module")
def model(tokenizer):
    return make_tiny_model(tokenizer, seed=3, model_name="tiny-circuits")


def linear_target(hook_name: str, direction: torch.Tensor | None = None, latent: int = 3, seed: int = 5):
    """A test SAE whose latent `latent` reads `direction` (random if None) and is on at every token."""
    sae = make_sae(hook_name=hook_name, seed=seed)
    with torch.no_grad():
        sae.b_dec.zero_()
        if direction is not None:
            sae.W_enc[:, latent] = direction
        sae.b_enc[latent] = 50.0  # far inside the ReLU's linear region
    return SAESource(sae)


@pytest.fixture
def planted(model):
    """Neuron PLANTED of layer 0 writes 3u and fires strongly on some tokens; the target latent reads u.
    Layer 0's heads write 5x less than at random init, so they move the neuron's input less."""
    g = torch.Generator().manual_seed(1)
    u = torch.nn.functional.normalize(torch.randn(32, generator=g), dim=0)
    mlp = model.blocks[0].mlp
    saved = [w.clone() for w in (mlp.W_in[:, PLANTED], mlp.W_out[PLANTED], mlp.b_in[PLANTED])]
    with torch.no_grad():
        model.blocks[0].attn.W_O /= 5
        mlp.W_in[:, PLANTED] = 3 * torch.nn.functional.normalize(torch.randn(32, generator=g), dim=0)
        mlp.W_out[PLANTED] = 3 * u
        mlp.b_in[PLANTED] = 1.0
    sae = make_sae(hook_name="blocks.1.hook_resid_pre", seed=4)
    with torch.no_grad():
        sae.b_dec.zero_()
        sae.W_enc[:, 3] = u
        sae.b_enc[3] = -6.0  # fires only where the neuron is high
    yield SAESource(sae), 3
    with torch.no_grad():
        mlp.W_in[:, PLANTED], mlp.W_out[PLANTED], mlp.b_in[PLANTED] = saved
        model.blocks[0].attn.W_O *= 5


@pytest.mark.parametrize("baseline", ["zero", "mean"])
@pytest.mark.parametrize("method", ["direct", "attribution", "patching"])
def test_the_planted_edge_ranks_first(model, planted, method, baseline):
    source, latent = planted
    upstream = [HeadSource(model, 0), NeuronSource(model, 0)]
    circuit = fv.feature_circuit(
        model, planted, upstream, PROMPTS, method=method, baseline=baseline, top_k=5, progress=False
    )
    top = circuit.upstream().iloc[0]
    assert (top.source, top.feature, top.label) == ("blocks.0.mlp.hook_post", PLANTED, f"N0.{PLANTED}")
    second = circuit.upstream().iloc[1]
    assert abs(top.effect) > 1.5 * abs(second.effect)
    if method == "direct" and baseline == "zero":  # it writes 3u: 3 x its mean activation where the target fires
        assert top.effect == pytest.approx(3 * top.activation, rel=1e-4)
    edge = circuit.edges[circuit.edges["from"] == top.node].iloc[0]
    assert edge["to"] == circuit.target == f"blocks.1.hook_resid_pre:{latent}" and edge["weight"] == top.effect


def test_attribution_equals_finite_differences(model):
    """Gradient x activation vs (target(a) - target((1 - eps) a)) / eps, through attention and MLPs."""
    target = SAESource(make_sae(hook_name="blocks.1.hook_resid_post", seed=6))
    upstream_sae = SAESource(make_sae(hook_name="blocks.0.hook_resid_mid", seed=7))
    acts = fv.activations(model, target, PROMPTS)
    latent = int(acts.top_features(1, by="mean").index[0])
    upstream = [HeadSource(model, 0), upstream_sae, NeuronSource(model, 0), HeadSource(model, 1)]
    circuit = fv.feature_circuit(model, (target, latent), upstream, PROMPTS, top_k=8, progress=False)
    tokens = [model.to_tokens(p) for p in PROMPTS]

    def total(hook_name, edit):
        result = 0.0
        for ids in tokens:
            with torch.no_grad(), model.hooks(fwd_hooks=[(hook_name, edit)] if edit else []):
                _, cache = model.run_with_cache(ids, names_filter=target.hook_name)
                result += float(target.encode(cache[target.hook_name])[0, 1:, latent].sum())
        return result

    eps = 1e-3
    clean = total(target.hook_name, None)
    nodes = pd.concat([circuit.scores.head(4), circuit.scores.groupby("kind").head(2)]).drop_duplicates("node")
    assert set(nodes.kind) == {"heads", "neurons", "sae", "error"}
    for node in nodes.itertuples():

        def scale(acts, hook, node=node):
            acts = acts.clone()
            if node.kind == "error":
                recon = upstream_sae.sae.decode(upstream_sae.encode(acts))
                acts[:, 1:] -= eps * (acts - recon)[:, 1:]
            elif node.kind == "sae":
                acts[:, 1:] -= (
                    eps * upstream_sae.encode(acts)[:, 1:, node.feature, None] * upstream_sae.sae.W_dec[node.feature]
                )
            else:  # heads ([..., head, d_head]) and neurons
                acts[:, 1:, node.feature] *= 1 - eps
            return acts

        finite = (clean - total(node.source, scale)) / eps / circuit.n_firing
        assert finite == pytest.approx(node.effect, rel=0.03, abs=0.02), node.label


@pytest.mark.parametrize(
    "upstream_kind, target_hook", [("neurons", "blocks.1.hook_resid_post"), ("heads", "blocks.1.hook_resid_mid")]
)
def test_direct_equals_exact_patching_when_the_only_path_is_direct(model, upstream_kind, target_hook):
    target = linear_target(target_hook)
    upstream = NeuronSource(model, 1) if upstream_kind == "neurons" else HeadSource(model, 1)
    kwargs = dict(top_k=10, candidates=upstream.n_features, progress=False)
    direct = fv.feature_circuit(model, (target, 3), upstream, PROMPTS, method="direct", **kwargs)
    exact = fv.feature_circuit(model, (target, 3), upstream, PROMPTS, method="patching", **kwargs)
    direct_scores = direct.scores.set_index("node")["effect"]
    exact_scores = exact.scores.set_index("node")["effect"]
    assert exact_scores.notna().all()
    pd.testing.assert_series_equal(direct_scores.sort_index(), exact_scores.sort_index(), atol=1e-4, rtol=1e-4)
    assert direct_scores.abs().max() > 0.05  # not trivially zero


def test_sae_nodes_add_up_to_the_whole_hook(model):
    """Latents + error of an upstream SAE = gradient . (x - b_dec) at its hook (zero baseline)."""
    target = SAESource(make_sae(hook_name="blocks.1.hook_resid_post", seed=6))
    upstream = SAESource(make_sae(hook_name="blocks.0.hook_resid_post", seed=8))
    latent = int(fv.activations(model, target, PROMPTS).top_features(1, by="mean").index[0])
    circuit = fv.feature_circuit(model, (target, latent), upstream, PROMPTS, progress=False)
    expected = 0.0
    for prompt in PROMPTS:
        tokens = model.to_tokens(prompt)
        captured = {}

        def keep(acts, hook):
            captured[hook.name] = acts
            return acts

        with torch.enable_grad():
            model.run_with_hooks(
                tokens,
                fwd_hooks=[(upstream.hook_name, keep), (target.hook_name, keep)],
                return_type=None,
                stop_at_layer=2,
            )
            x = captured[upstream.hook_name]
            metric = target.encode(captured[target.hook_name])[0, 1:, latent].sum()
            (grad,) = torch.autograd.grad(metric, x)
        expected += float((grad * (x - upstream.sae.b_dec)).detach()[0, 1:].sum())
    assert circuit.scores.effect.sum() * circuit.n_firing == pytest.approx(expected, rel=1e-3)
    assert (circuit.nodes.kind == "error").sum() == 1


def test_contributions_sum_to_each_nodes_effect(model, planted):
    for method in ("attribution", "patching"):
        circuit = fv.feature_circuit(
            model, planted, NeuronSource(model, 0), PROMPTS, method=method, top_k=4, progress=False
        )
        sums = circuit.contributions.groupby("node")["contribution"].sum() / circuit.n_firing
        effects = circuit.upstream().set_index("node")["effect"]
        pd.testing.assert_series_equal(
            sums.sort_index(), effects.sort_index(), check_names=False, check_dtype=False, rtol=1e-4, atol=1e-5
        )
        assert set(circuit.contributions.token) <= {t for p in circuit.str_tokens for t in p}
        firing = circuit.target_acts[circuit.target_acts.activation > 0]
        assert len(firing) == circuit.n_firing


def test_downstream_effects_match_a_manual_ablation(model):
    target = SAESource(make_sae(hook_name="blocks.0.hook_resid_post", seed=6))
    later = SAESource(make_sae(hook_name="blocks.1.hook_resid_post", seed=9))
    latent = int(fv.activations(model, target, PROMPTS).top_features(1, by="mean").index[0])
    circuit = fv.feature_circuit(
        model, (target, latent), NeuronSource(model, 0), PROMPTS, downstream=[later, "logits"], top_k=5, progress=False
    )
    down = circuit.downstream()
    assert set(down.source) == {later.hook_name, "logits"} and (down.groupby("source").size() == 5).all()

    def ablate(acts, hook):
        latents = target.encode(acts)
        out = acts.clone()
        out[:, 1:] -= latents[:, 1:, latent, None] * target.sae.W_dec[latent]
        return out

    change = torch.zeros(later.n_features)
    logit_change = torch.zeros(model.cfg.d_vocab)
    for prompt in PROMPTS:
        tokens = model.to_tokens(prompt)
        with torch.no_grad():
            clean_logits, clean = model.run_with_cache(tokens, names_filter=later.hook_name)
            with model.hooks(fwd_hooks=[(target.hook_name, ablate)]):
                patched_logits, patched = model.run_with_cache(tokens, names_filter=later.hook_name)
            change += (later.encode(clean[later.hook_name]) - later.encode(patched[later.hook_name]))[0, 1:].sum(0)
            logit_change += (clean_logits - patched_logits)[0, 1:].sum(0)
    for row in down.itertuples():
        expected = (logit_change if row.source == "logits" else change)[row.feature] / circuit.n_firing
        assert row.effect == pytest.approx(float(expected), rel=1e-3, abs=1e-4)
    assert set(circuit.edges.method) == {"attribution", "patching"}


def test_direct_downstream_equals_patching_on_the_same_residual(model):
    """Target at blocks.0.hook_resid_post, downstream at blocks.1.hook_resid_pre: one tensor, only a direct path."""
    target = SAESource(make_sae(hook_name="blocks.0.hook_resid_post", seed=6))
    later = linear_target("blocks.1.hook_resid_pre", seed=10)
    with torch.no_grad():
        later.sae.b_enc.fill_(50.0)  # every latent linear
    latent = int(fv.activations(model, target, PROMPTS).top_features(1, by="mean").index[0])
    results = [
        fv.feature_circuit(
            model,
            (target, latent),
            NeuronSource(model, 0),
            PROMPTS,
            downstream=later,
            method=m,
            top_k=later.n_features,
            progress=False,
        ).downstream()
        for m in ("direct", "attribution")
    ]
    direct, exact = (r.set_index("node")["effect"].sort_index() for r in results)
    pd.testing.assert_series_equal(direct, exact, rtol=1e-3, atol=1e-4)


def test_head_source_splits_the_attention_output(model):
    heads = HeadSource(model, 1)
    tokens = model.to_tokens(PROMPTS[0])
    _, cache = model.run_with_cache(tokens)
    per_head = heads.head_outputs(cache["blocks.1.attn.hook_z"])
    torch.testing.assert_close(
        per_head.sum(-2) + model.blocks[1].attn.b_O, cache["blocks.1.hook_attn_out"], atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(heads.encode(cache["blocks.1.attn.hook_z"]), per_head.norm(dim=-1))
    assert heads.n_features == 4 and heads.feature_name(2) == "H1.2" and heads.kind == "heads"
    acts = fv.activations(model, heads, PROMPTS[:2])
    assert acts.n_features == 4 and (acts.values > 0).all()
    assert heads.decoder_directions().shape == (4, 8 * 32) and heads.residual_directions(model) is None
    dashboard = fv.dashboard_data(model, heads, PROMPTS, progress=False)  # top contexts and nearest heads
    assert list(dashboard.feature_ids) == [0, 1, 2, 3]
    with pytest.raises(NotImplementedError, match="does not say how to steer"):
        fv.steer(model, heads, "Hello", 1, [1.0])
    with pytest.raises(ValueError, match="out of range"):
        HeadSource(model, 2)


def test_hook_order_follows_the_forward_pass():
    hooks = [
        "hook_embed",
        "blocks.0.hook_resid_pre",
        "blocks.0.attn.hook_z",
        "blocks.0.hook_attn_out",
        "blocks.0.hook_resid_mid",
        "blocks.0.mlp.hook_post",
        "blocks.0.hook_mlp_out",
        "blocks.0.hook_resid_post",
        "blocks.1.hook_resid_pre",
        "ln_final.hook_scale",
    ]
    assert sorted(hooks, key=lambda h: hook_order(h, 2)) == hooks


def test_bad_input_gets_one_clear_sentence(model, planted):
    source, latent = planted
    neurons = NeuronSource(model, 0)
    with pytest.raises(ValueError, match="upstream sources must be at earlier hooks"):
        fv.feature_circuit(model, planted, NeuronSource(model, 1), PROMPTS)
    with pytest.raises(IndexError, match="target feature=999 is out of range"):
        fv.feature_circuit(model, (source, 999), neurons, PROMPTS)
    with pytest.raises(TypeError, match="target must be a \\(source, feature\\) pair"):
        fv.feature_circuit(model, source, neurons, PROMPTS)
    with pytest.raises(ValueError, match="downstream sources must be at later hooks"):
        fv.feature_circuit(model, planted, neurons, PROMPTS, downstream=HeadSource(model, 0))
    with pytest.raises(ValueError, match="method must be one of"):
        fv.feature_circuit(model, planted, neurons, PROMPTS, method="magic")
    with pytest.raises(ValueError, match="method='direct' reads downstream sources at residual hooks"):
        fv.feature_circuit(model, planted, neurons, PROMPTS, method="direct", downstream=NeuronSource(model, 1))
    silent = make_sae(hook_name="blocks.1.hook_resid_pre")
    with torch.no_grad():
        silent.b_enc[5] = -1e4
    with pytest.raises(ValueError, match="L5 at blocks.1.hook_resid_pre never fires on these 4 prompt"):
        fv.feature_circuit(model, (silent, 5), neurons, PROMPTS)


def test_cluster_features_groups_targets_fed_by_the_same_nodes(model):
    """Latents 3 and 4 read neuron 7's output, latent 5 neuron 11's: the first two share a cluster."""
    target = linear_target("blocks.1.hook_resid_pre", seed=11)
    with torch.no_grad():
        for latent, neuron in ((3, 7), (4, 7), (5, 11)):
            target.sae.W_enc[:, latent] = 20 * torch.nn.functional.normalize(model.blocks[0].mlp.W_out[neuron], dim=0)
            target.sae.b_enc[latent] = 50.0
    circuits = [
        fv.feature_circuit(model, (target, latent), NeuronSource(model, 0), PROMPTS, top_k=3, progress=False)
        for latent in (3, 4, 5)
    ]
    clusters = fv.cluster_features(circuits)
    assert list(clusters.index) == [c.target for c in circuits]
    assert clusters.iloc[0] == clusters.iloc[1] != clusters.iloc[2]

    profiles = pd.DataFrame([[1, 0, 1], [0.9, 0.1, 1.1], [0, 1, 0]], index=["a", "b", "c"])
    assert fv.cluster_features(profiles).to_dict() == {"a": 1, "b": 1, "c": 2}
    with pytest.raises(TypeError, match="cluster_features takes"):
        fv.cluster_features([1, 2])
    with pytest.raises(ValueError, match="all zero"):
        fv.cluster_features(pd.DataFrame([[0, 0], [1, 0]], index=["z", "y"]))


# --- the widget ---------------------------------------------------------------------------------------------


@pytest.fixture
def small_circuit(model, planted):
    return fv.feature_circuit(
        model,
        planted,
        [HeadSource(model, 0), NeuronSource(model, 0)],
        PROMPTS,
        downstream="logits",
        top_k=6,
        progress=False,
    )


def test_circuit_view_graph_is_layered_json(small_circuit):
    import json

    view = fv.CircuitView(small_circuit)
    graph = view.graph
    json.dumps(graph, allow_nan=False)  # what the browser receives: no NaN
    assert [c["source"] for c in graph["columns"]] == [
        "blocks.0.attn.hook_z",
        "blocks.0.mlp.hook_post",
        "blocks.1.hook_resid_pre",
        "logits",
    ]
    assert [c["role"] for c in graph["columns"]] == ["upstream", "upstream", "target", "downstream"]
    by_id = {n["id"]: n for n in graph["nodes"]}
    assert by_id[small_circuit.target]["role"] == "target" and by_id[small_circuit.target]["effect"] is None
    planted_node = by_id[f"blocks.0.mlp.hook_post:{PLANTED}"]
    assert planted_node["row"] == 0 and planted_node["effect"] > 0 and planted_node["column"] == 1
    for col in {n["column"] for n in graph["nodes"]}:  # rows go by |effect| within a column
        members = sorted((n for n in graph["nodes"] if n["column"] == col), key=lambda n: n["row"])
        assert [n["row"] for n in members] == list(range(len(members)))
        assert [abs(n["effect"] or 0) for n in members] == sorted(
            (abs(n["effect"] or 0) for n in members), reverse=True
        )
    assert len(graph["edges"]) == len(small_circuit.edges) == 6 + 6
    assert view.title.startswith("circuit of L3 at blocks.1.hook_resid_pre")


def test_circuit_view_links_by_hook(model, small_circuit):
    neurons = NeuronSource(model, 0)
    heatmap = fv.Heatmap(fv.activations(model, neurons, PROMPTS), top_k=10)
    view = fv.CircuitView(small_circuit)
    fv.link(view, heatmap)
    view.selected_node = f"blocks.0.mlp.hook_post:{PLANTED}"  # what a click sends
    assert (view.selected_source, view.selected_feature, heatmap.selected_feature) == (
        neurons.hook_name,
        PLANTED,
        PLANTED,
    )
    head = next(n for n in view.graph["nodes"] if n["kind"] == "heads")
    view.selected_node = head["id"]  # a head: not the heatmap's hook
    assert view.selected_source == "blocks.0.attn.hook_z" and heatmap.selected_feature == PLANTED
    heatmap.selected_feature = -1
    heatmap.selected_feature = PLANTED  # heatmap -> circuit selects the neuron's node
    assert view.selected_node == f"blocks.0.mlp.hook_post:{PLANTED}"
    shown = {n["feature"] for n in view.graph["nodes"] if n["kind"] == "neurons"}
    heatmap.selected_feature = next(f for f in range(64) if f not in shown)  # not in the circuit: cleared
    assert view.selected_node == "" and view.selected_feature == -1
    with pytest.raises(t.TraitError, match="is not a node of this circuit"):
        view.selected_node = "blocks.9.mlp.hook_post:1"


def test_circuit_view_same_index_other_source_still_propagates(model, planted):
    """Head 2 and neuron 2 share an index: moving between them must still reach the neurons' heatmap."""
    every_node = fv.feature_circuit(
        model, planted, [HeadSource(model, 0), NeuronSource(model, 0)], PROMPTS, top_k=68, progress=False
    )
    heatmap = fv.Heatmap(fv.activations(model, NeuronSource(model, 0), PROMPTS), top_k=10)
    view = fv.CircuitView(every_node)
    head = "blocks.0.attn.hook_z:2"
    neuron = next(n for n in view.graph["nodes"] if n["id"] == "blocks.0.mlp.hook_post:2")
    view.selected_node = head
    fv.link(view, heatmap)
    view.selected_node = neuron["id"]
    assert heatmap.selected_feature == neuron["feature"]


def test_circuit_view_colours_by_cluster_and_exports(tmp_path, small_circuit):
    clusters = fv.cluster_features(small_circuit)
    view = fv.CircuitView(small_circuit, clusters)
    assert view.color_by == "cluster"
    assert {n["cluster"] for n in view.graph["nodes"] if n["role"] == "upstream"} <= set(clusters.values)
    assert {n["cluster"] for n in view.graph["nodes"] if n["role"] == "upstream"} != {0}
    path = fv.export_html(view, tmp_path / "circuit.html", link=True)
    page = path.read_text()
    assert "fv-circuit" in page and small_circuit.target in page
    with pytest.raises(TypeError, match="result of featureviz.feature_circuit"):
        fv.CircuitView(small_circuit.nodes)


@pytest.mark.parametrize("device", DEVICES)
def test_circuits_run_on_the_models_device(tokenizer, device):
    """Every tensor the circuit code makes says its device; results come back as CPU numpy in DataFrames."""
    model = make_tiny_model(tokenizer, device)
    target = SAESource(make_sae(hook_name="blocks.1.hook_resid_pre", seed=6).to(device))
    upstream = [
        HeadSource(model, 0),
        SAESource(make_sae(hook_name="blocks.0.hook_resid_mid", seed=7).to(device)),
        NeuronSource(model, 0),
    ]
    later = SAESource(make_sae(hook_name="blocks.1.hook_resid_post", seed=9).to(device))
    latent = int(fv.activations(model, target, PROMPTS).top_features(1, by="mean").index[0])
    with DeviceAudit() as audit:
        circuits = [
            fv.feature_circuit(
                model,
                (target, latent),
                upstream,
                PROMPTS,
                method=method,
                baseline=baseline,
                downstream=[later, "logits"],
                candidates=10,
                progress=False,
            )
            for method, baseline in (("direct", "zero"), ("attribution", "mean"), ("patching", "zero"))
        ]
    assert not audit.problems, sorted(audit.problems)
    for circuit in circuits:
        assert np.isfinite(circuit.nodes.effect.dropna()).all() and len(circuit.downstream()) == 40


@pytest.mark.embedded
def test_attribution_survives_buffers_rebuilt_in_inference_mode(embedded):
    """TransformerLens rebuilds its rotary tables when a longer context comes by; inside another analysis's
    torch.inference_mode they become inference tensors, and the next attribution's backward refused them (seen in
    a long notebook session)."""
    model, source = embedded
    original = {i: (b.attn.rotary_cos, b.attn.rotary_sin) for i, b in enumerate(model.blocks)}
    try:
        with torch.inference_mode():
            for block in model.blocks:
                block.attn.rotary_cos = block.attn.rotary_cos.clone()
                block.attn.rotary_sin = block.attn.rotary_sin.clone()
        happy = fv.emotion_prompts(2)["happy"]
        target = int(fv.activations(model, source, happy).values.amax(0).argmax())  # the strongest latent
        circuit = fv.feature_circuit(model, (source, target), [HeadSource(model, 0)], happy, top_k=3, progress=False)
        assert len(circuit.upstream()) > 0
        assert not any(b.is_inference() for b in model.buffers())
    finally:
        for i, block in enumerate(model.blocks):
            block.attn.rotary_cos, block.attn.rotary_sin = original[i]
