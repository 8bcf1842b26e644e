"""Does subtracting each position's mean before encoding keep distance-from-start latents out of an SAE's most
frequent ones, and what does it cost? (The model card's "Position 1 and start-of-text latents".)

    python scripts/position_centering.py [--contexts 2048] [--train-tokens 1500000] [--out results.json]

Two TopK SAEs with the tutorials' SAE settings (blocks.15, 2,560 latents, k=48, the same norm limit and first
positions left out) train on the same activations of the first `--contexts` shuffled corpus-v2 training
contexts for the same number of tokens: "raw" as shipped, and "centered" on x - offset[p], where offset[p] is
the mean activation at position p minus the mean over all positions (measured on those training contexts).
The centered SAE's reconstruction is decoder output + offset[p]. Both are evaluated on the shipped held-out
contexts: 1-FVU, L0, and for the 20 most frequent latents whether they are position latents (mean activation at
positions 2-6 over that from position 10 on above 3 or below 1/3; the decoder's cosine with the main position
direction is reported beside it). The shipped SAE is evaluated the same way, as a calibration. Activations and
runs are kept under the cache dir, so a killed run resumes.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

import featureviz as fv
from featureviz.analysis import training as tr
from featureviz.loading import cache_dir, load_sae
from featureviz.paths import ASSETS
from featureviz.sources import within_norm

sys.path.insert(0, str(Path(__file__).parent))
import train_demo_sae as demo  # noqa: E402  (the corpus recipe: v2_docs, is_heldout, pack; after featureviz)

EARLY, LATE = range(2, 7), 10  # the positions compared by the position-latent test


def corpus_contexts(tokenizer, n: int, seed: int = 0) -> np.ndarray:
    """The first n of the shuffled corpus-v2 training contexts (held-out documents excluded), BOS first."""
    docs = [d for texts in demo.v2_docs("train").values() for d in texts if not demo.is_heldout(d)]
    random.Random(seed).shuffle(docs)
    contexts = demo.pack(tokenizer, docs)
    return contexts[np.random.default_rng(seed).permutation(len(contexts))[:n]]


def hook_acts(model, tokens: np.ndarray, hook: str) -> torch.Tensor:
    """[n, ctx, d] float32 activations, 16 contexts per forward pass."""
    t = torch.from_numpy(tokens.astype(np.int64))
    return torch.cat([tr.resid_pre(model, t[b : b + 16], hook) for b in range(0, len(t), 16)])


def position_latent_report(latents: torch.Tensor, kept: torch.Tensor, decoder, direction, first: int) -> dict:
    """The 20 most frequent latents (density over kept tokens from `first` on) and which are position latents."""
    k = kept[:, first:]
    density = (latents[:, first:] > 0).float().sum((0, 1)) / k.sum()
    top = density.topk(20).indices
    per_pos = latents[:, :, top].sum(0) / kept.sum(0)[:, None].clamp(min=1)  # [pos, 20] mean activation
    early = per_pos[list(EARLY)].mean(0)
    late = (latents[:, LATE:, top].sum((0, 1))) / kept[:, LATE:].sum()
    ratio = (early + 0.05) / (late + 0.05)
    cos = torch.nn.functional.cosine_similarity(decoder[top], direction[None], dim=1)
    rows = [
        {
            "latent": int(f),
            "density": round(float(density[f]), 3),
            "early": round(float(early[i]), 2),
            "late": round(float(late[i]), 2),
            "cos_position": round(float(cos[i]), 2),
            "position_latent": bool(ratio[i] > 3 or ratio[i] < 1 / 3),
        }
        for i, f in enumerate(top.tolist())
    ]
    return {"top20": rows, "position_latents": sum(r["position_latent"] for r in rows)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--contexts", type=int, default=2048, help="training contexts (128 tokens each)")
    p.add_argument("--train-tokens", type=int, default=1_500_000)
    p.add_argument("--heldout-contexts", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/position_centering.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    model, _ = fv.load_default(source="neurons")
    shipped = load_sae(ASSETS / "default_sae", model)  # its hook, norm limit and first positions left out
    hook, limit, first = shipped.hook_name, shipped.max_input_norm, 1 + shipped.drop_first
    root = cache_dir() / "position_centering"
    root.mkdir(parents=True, exist_ok=True)

    acts_path = root / f"acts_{args.contexts}.pt"
    if not acts_path.exists():
        start = time.time()
        acts = hook_acts(model, corpus_contexts(model.tokenizer, args.contexts), hook)
        torch.save(acts.to(torch.float16), acts_path)
        print(f"cached {acts.shape[0] * acts.shape[1]:,} tokens in {time.time() - start:.0f} s", flush=True)
    acts = torch.load(acts_path, weights_only=True).float()
    kept = within_norm(acts, limit)
    kept[:, :first] = False
    mean = acts[kept].mean(0)
    offset = torch.stack([acts[:, q][kept[:, q]].mean(0) for q in range(acts.shape[1])]) - mean
    offset[:first] = 0  # never encoded
    direction = torch.linalg.svd(offset[first:] - offset[first:].mean(0), full_matrices=False).Vh[0]

    heldout = np.load(ASSETS / "heldout_tokens.npy")[: args.heldout_contexts]
    h_acts = hook_acts(model, heldout, hook)
    h_kept = within_norm(h_acts, limit)
    h_kept[:, :first] = False
    variance = (h_acts[h_kept] - h_acts[h_kept].mean(0)).pow(2).sum()

    def evaluate(sae, shift) -> dict:
        with torch.no_grad():
            x = h_acts - shift  # what this SAE encodes
            latents = sae.encode(x) * h_kept[..., None]
            error = (sae.decode(latents) - x)[h_kept].pow(2).sum()  # the shift is added back to both sides
        return {
            "explained_variance": round(1 - float(error / variance), 4),
            "mean_l0": round(float((latents[h_kept] > 0).float().sum(-1).mean()), 1),
            **position_latent_report(latents, h_kept, sae.W_dec.detach(), direction, first),
        }

    results = {"contexts": args.contexts, "train_tokens": args.train_tokens, "heldout_contexts": len(heldout)}
    # the shipped SAE (7.7M tokens on all 908k training tokens) calibrates the position-latent test
    results["shipped"] = evaluate(shipped.sae.float().eval(), torch.zeros_like(offset))
    for variant, shift in (("raw", torch.zeros_like(offset)), ("centered", offset)):
        run = root / f"{variant}_{args.contexts}_{args.train_tokens}"
        # the cache reads only the shard count from its tokens: the shards are written here, from acts
        cache = tr.ActivationCache(run / "shards", np.zeros(acts.shape[:2], np.int64), hook, contexts_per_shard=512)
        for i in range(cache.n_shards):
            if not cache.path(i).exists():
                part = slice(i * 512, (i + 1) * 512)
                tr._save_atomic(cache.path(i), (acts[part] - shift)[kept[part]].to(torch.float16).numpy())
        cfg = tr.TrainConfig(hook_name=hook, d_in=acts.shape[-1], total_tokens=args.train_tokens, seed=0)
        final = run / "final"
        if not (final / "cfg.json").exists():
            tr.train_sae(cache, cfg, run, final_dir=final, log_every=100)
        results[variant] = evaluate(load_sae(final, model).sae.float().eval(), shift)
    for variant in ("shipped", "raw", "centered"):
        r = results[variant]
        print(
            f"{variant}: 1-FVU {r['explained_variance']:.4f}, L0 {r['mean_l0']}, position latents among the 20 "
            f"most frequent: {r['position_latents']}"
        )
        for row in r["top20"]:
            print("   ", row)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
