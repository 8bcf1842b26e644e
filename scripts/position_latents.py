"""How much of an SAE's most frequent latents is distance from the start of the context (the model card's
"Position 1 and start-of-text latents").

    python scripts/position_latents.py [--sae src/featureviz/assets/default_sae] [--contexts 96] [--features 1542 2202]

The residual stream carries a smooth distance-from-start signal: the mean activation at position p drifts away
from the mean of later positions, most at the first positions. This prints how much held-out variance the
per-position means hold (and their main direction), then for each latent (default: the 20 most frequent) its
mean activation at the first positions, the part of it that the per-position mean alone puts into its
pre-activation (offset . W_enc), how its decoder aligns with the main position direction, and its mean
activation once each position's offset is removed from the input. A latent whose activation is the offset's
contribution, and drops to an ordinary level without it, is a position latent.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import featureviz as fv
from featureviz.analysis.training import resid_pre
from featureviz.loading import load_sae
from featureviz.paths import ASSETS

LATE = 10  # positions from here on are "late": their mean is the reference the early offsets are measured from
SHOWN = 11  # positions 1..SHOWN are printed


def position_offsets(acts: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    """[pos, d]: the mean activation at each position (kept tokens only) minus the mean over positions >= LATE."""
    late = acts[:, LATE:][kept[:, LATE:]].mean(0)
    return torch.stack([acts[:, p][kept[:, p]].mean(0) for p in range(acts.shape[1])]) - late


@torch.no_grad()
def position_diagnosis(model, source, tokens: torch.Tensor, features=None, top: int = 20) -> dict:
    """The distance-from-start signal at the source's hook on `tokens` ([n, ctx], BOS first) and how the given
    latents (default: the `top` most frequent) carry it. Tokens over the source's norm limit are left out, and
    positions before the first one featureviz reads are left out of the variance and density."""
    acts = torch.cat([resid_pre(model, tokens[b : b + 16], source.hook_name) for b in range(0, len(tokens), 16)])
    kept = source.kept_tokens(acts)
    kept[:, 0] = False  # BOS
    offsets = position_offsets(acts, kept)
    first = 1 + source.drop_first

    rows = acts[:, first:][kept[:, first:]]
    positions = torch.arange(acts.shape[1]).expand(len(acts), -1)[:, first:][kept[:, first:]]
    centered = rows - rows.mean(0)
    total = centered.pow(2).sum(1).mean()
    by_position = (offsets[positions] - offsets[positions].mean(0)).pow(2).sum(1).mean()
    direction = torch.linalg.svd(offsets[first:] - offsets[first:].mean(0), full_matrices=False).Vh[0]

    latents = source.encode(acts) * kept[..., None]
    removed = source.encode(acts - offsets) * kept[..., None]
    density = (latents[:, first:] > 0).float().sum((0, 1)) / kept[:, first:].sum()
    features = list(features) if features else density.topk(top).indices.tolist()
    w_enc, w_dec = source.sae.W_enc.detach(), source.decoder_directions()
    per_position = kept.sum(0).clamp(min=1)
    return {
        "tokens": int(kept.sum()),
        "first": first,
        "variance_share": float(by_position / total),
        "direction_share": float((centered @ direction).pow(2).mean() / total),
        "offset_norm": offsets.norm(dim=-1).tolist(),
        "latents": {
            f: {
                "density": float(density[f]),
                "cos_position": float(torch.cosine_similarity(w_dec[f], direction, dim=0)),
                "mean_activation": (latents[:, :, f].sum(0) / per_position).tolist(),
                "offset_contribution": (offsets @ w_enc[:, f]).tolist(),
                "offset_removed": (removed[:, :, f].sum(0) / per_position).tolist(),
            }
            for f in features
        },
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sae", default=str(ASSETS / "default_sae"))
    p.add_argument("--contexts", type=int, default=96, help="held-out contexts (128 tokens each)")
    p.add_argument("--features", type=int, nargs="*", default=[], help="these latents instead of the most frequent")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--heldout", default=str(ASSETS / "heldout_tokens.npy"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    model, _ = fv.load_default(source="neurons")
    source = load_sae(args.sae, model)
    tokens = torch.from_numpy(np.load(args.heldout)[: args.contexts].astype(np.int64))
    d = position_diagnosis(model, source, tokens, args.features, args.top)
    print(
        f"{d['tokens']} tokens of {len(tokens)} contexts at {source.hook_name}, positions >= {d['first']}: the "
        f"per-position means hold {d['variance_share']:.2%} of the variance (all tokens' variance along their "
        f"main direction: {d['direction_share']:.2%})"
    )
    print(f"offset norm at positions 1-{SHOWN}: {[round(v, 1) for v in d['offset_norm'][1 : SHOWN + 1]]}")
    for rank, (f, row) in enumerate(d["latents"].items(), 1):
        print(f"\n#{rank} L{f}  density {row['density']:.3f}  decoder . position direction {row['cos_position']:+.2f}")
        for name, key in (
            ("mean activation", "mean_activation"),
            ("offset . W_enc", "offset_contribution"),
            ("offset removed", "offset_removed"),
        ):
            print(f"    {name:16s} pos 1-{SHOWN}: {[round(v, 1) for v in row[key][1 : SHOWN + 1]]}")


if __name__ == "__main__":
    main()
