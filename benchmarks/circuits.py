"""Feature circuits benchmark: attribution patching (all upstream nodes of one target in one forward + one
backward per batch) against exact activation patching of each node, on the embedded model and shipped SAE.

    .venv/bin/python benchmarks/circuits.py [--prompts 4] [--targets happy:824 angry:203]
                                            [--neuron-layers 11 12 13 14] [--candidates 50] [--threads 1]

Upstream nodes: every attention head of layers 0-14 (HeadSource) and the MLP neurons of --neuron-layers
(NeuronSource), all feeding the shipped TopK SAE at blocks.15.hook_resid_pre. For each target latent, on the
first --prompts prompts of its emotion group:

- speed: one `feature_circuit(method="attribution")` call against exact patching, timed in the same run. Exact
  patching of all N upstream nodes would take hours on a laptop CPU, so `method="patching"` patches the top
  --candidates nodes (all as rows of batched reruns) and the per-node cost, (t_patching - t_attribution) /
  candidates, is multiplied by N: ratio = N x per-node cost / t_attribution.
- agreement over those candidates: Spearman correlation of attribution and exact effects (signed), and the
  overlap of their top 10 by magnitude.
Not a test: prints numbers.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=4, help="prompts of the target's emotion group (default 4)")
    ap.add_argument("--targets", nargs="+", default=["happy:824", "angry:203"], help="group:latent pairs")
    ap.add_argument("--neuron-layers", nargs="*", type=int, default=[11, 12, 13, 14])
    ap.add_argument("--candidates", type=int, default=50)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from scipy.stats import spearmanr

    import featureviz as fv

    model, sae = fv.load_default()
    upstream = [fv.HeadSource(model, layer) for layer in range(sae.layer)]
    upstream += [fv.NeuronSource(model, layer) for layer in args.neuron_layers]
    n_nodes = sum(s.n_features for s in upstream)
    print(f"model {model.cfg.model_name}, target source {sae!r}, torch threads {torch.get_num_threads()}")
    print(f"upstream: heads of layers 0-{sae.layer - 1} + neurons of layers {args.neuron_layers}: {n_nodes} nodes")
    groups = fv.emotion_prompts()
    results = []
    for spec in args.targets:
        group, latent = spec.split(":")
        prompts = groups[group][: args.prompts]
        target = (sae, int(latent))
        fv.feature_circuit(model, target, upstream[:1], prompts[:1], progress=False)  # warm-up
        t0 = time.perf_counter()
        attribution = fv.feature_circuit(model, target, upstream, prompts, progress=False)
        t_attr = time.perf_counter() - t0
        t0 = time.perf_counter()
        exact = fv.feature_circuit(
            model, target, upstream, prompts, method="patching", candidates=args.candidates, progress=False
        )
        t_patch = time.perf_counter() - t0
        per_node = max(t_patch - t_attr, 1e-9) / args.candidates
        ratio = n_nodes * per_node / t_attr
        chosen = exact.scores[exact.scores.effect.notna()]
        rho = spearmanr(chosen.attribution, chosen.effect).statistic
        top_a = set(chosen.reindex(chosen.attribution.abs().sort_values(ascending=False).index).node[:10])
        top_p = set(chosen.reindex(chosen.effect.abs().sort_values(ascending=False).index).node[:10])
        overlap = len(top_a & top_p)
        results.append((spec, rho, overlap, ratio))
        level = attribution.nodes.set_index("role").activation["target"]
        print(
            f"\n{group} L{latent}: {len(prompts)} prompts, fires on {attribution.n_firing} tokens "
            f"(mean {level:.2f} where it fires)"
        )
        print(
            f"  attribution, all {n_nodes} nodes: {t_attr:.2f} s; exact patching of {args.candidates}: "
            f"{t_patch - t_attr:.2f} s ({per_node:.3f} s per node)"
        )
        print(
            f"  exact patching of all {n_nodes} nodes, extrapolated: {n_nodes * per_node:.0f} s -> "
            f"attribution is {ratio:.0f}x faster (target >= 100x: {'PASS' if ratio >= 100 else 'FAIL'})"
        )
        print(f"  agreement over the top {len(chosen)}: Spearman {rho:.3f} (aim >= 0.7), top-10 overlap {overlap}/10")
        print("  top 10 by exact patching:")
        for row in chosen.head(10).itertuples():
            print(
                f"    {row.label:>9}  exact {row.effect:+8.3f}  attribution {row.attribution:+8.3f}  "
                f"activation {row.activation:7.3f}"
            )
    print(
        "\nsummary: " + "; ".join(f"{s}: Spearman {r:.2f}, top-10 overlap {o}/10, {x:.0f}x" for s, r, o, x in results)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
