"""Print the most frequent latents of an SAE on the embedded model, with their top held-out contexts.

    python scripts/describe_latents.py [--sae src/featureviz/assets/default_sae] [--top 20] [--contexts 400]
    python scripts/describe_latents.py --features 2539 2328 --drop-first 1     # given latents, as featureviz reads them

For reading latents by eye (the model card's "most frequent latents" table): one dashboard_data pass over the
shipped held-out tokens, then per latent its density, its top contexts (the max token in [[ ]]) and the tokens
its decoder direction promotes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

import featureviz as fv
from featureviz.loading import load_sae
from featureviz.paths import ASSETS


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sae", default=str(ASSETS / "default_sae"))
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--features", type=int, nargs="*", default=[], help="describe these latents instead of the top")
    p.add_argument("--contexts", type=int, default=400, help="held-out contexts (128 tokens each) to scan")
    p.add_argument("--examples", type=int, default=6)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--drop-first",
        type=int,
        default=0,
        help="leading tokens after BOS left out (0: position artifacts count, as the card's check wants)",
    )
    p.add_argument("--heldout", default=str(ASSETS / "heldout_tokens.npy"), help="held-out token contexts (.npy)")
    p.add_argument("--json", default="", help="also write the result here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    model, _ = fv.load_default(source="neurons")
    source = load_sae(args.sae, model)
    tokens = torch.from_numpy(np.load(args.heldout)[: args.contexts].astype(np.int64))
    data = fv.dashboard_data(
        model, source, tokens, features=args.features or None, k=args.examples, drop_first=args.drop_first
    )
    order = range(len(args.features)) if args.features else np.argsort(-data.density)[: args.top]
    out = []
    for rank, row in enumerate(order, 1):
        page = data.page(int(data.feature_ids[row]))
        contexts = [
            "".join(t if j != ex["center"] else f"[[{t}]]" for j, t in enumerate(ex["tokens"])) for ex in page["top"]
        ]
        out.append(
            {
                "feature": page["feature"],
                "density": page["density"],
                "max": page["max"],
                "contexts": contexts,
                "promotes": [t["token"] for t in page["logits_top"][:8]],
            }
        )
        print(
            f"\n#{rank} L{page['feature']}  density {page['density']:.3f}  max {page['max']:.1f}  "
            f"promotes {out[-1]['promotes']}"
        )
        for c in contexts:
            print("   ", repr(c))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
