"""Does adding a happy / angry latent visibly move the mood of neutral text? (issue 16, item 5)

    .venv/bin/python benchmarks/steering_mood.py --happy 2328 --angry 2539 [--sae src/featureviz/assets/default_sae]

For each neutral prompt (written for this check, not used anywhere else) and each strength, the latent's
decoder direction is added at every position with a strength that is a multiple of the latent's own scale
(its max activation over held-out calibration contexts), and the model continues greedily. The mood of each
continuation is judged by an independent lexicon (VADER, `vaderSentiment`, offline), its fluency by the mean
next-token loss of the continuation under the *unsteered* model. The target: the mean compound score rises by
>= 0.3 (happy) / falls by >= 0.3 (angry) at a strength where the loss stays <= baseline + 1.5 nats.
Not a test: prints a table and writes JSON (--out).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

NEUTRAL_PROMPTS = [
    "This morning I took the bus to",
    "The meeting this afternoon was about",
    "My neighbour told me that the new shop",
    "After lunch we walked down to the",
    "I opened the letter from the council and",
    "The package arrived on Tuesday, and",
    "Last weekend my brother and I",
    "The train was on time today, so I",
    "I spent the evening reading about",
    "When I got home, the kitchen",
    "The weather report for tomorrow says",
    "At work today my manager asked me to",
]
MULTIPLES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)


def max_activation(model, source, feature: int, tokens: np.ndarray) -> float:
    """Max activation of `feature` over held-out contexts: BOS, the SAE's first-position artifacts (its
    drop_first_positions) and unencoded sink tokens excluded, as everywhere in featureviz."""
    from featureviz.analysis._forward import run_to_hook
    from featureviz.sources import resolve_drop_first

    first = 1 + resolve_drop_first(None, source)
    best = 0.0
    with torch.no_grad():
        for b in range(0, len(tokens), 16):
            batch = torch.from_numpy(tokens[b : b + 16].astype(np.int64))
            resid = run_to_hook(model, batch, source.hook_name)
            acts = source.encode(resid)[:, first:, feature]
            best = max(best, float(acts.max()))
    return best


def continuation_loss(model, prompt: str, text: str) -> float:
    """Mean next-token loss (nats) of `text` after `prompt` under the unsteered model."""
    prompt_tokens = model.to_tokens(prompt)
    full = model.to_tokens(prompt + text)
    n = full.shape[1] - prompt_tokens.shape[1]
    if n <= 0:
        return float("nan")
    with torch.no_grad():
        logp = model(full).log_softmax(-1)[0, -n - 1 : -1]
    return float(-logp.gather(-1, full[0, -n:, None]).mean())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sae", default="", help="an sae-lens SAE folder (default: the shipped default SAE)")
    ap.add_argument("--heldout", default="", help="held-out token contexts .npy (default: the shipped ones)")
    ap.add_argument("--happy", type=int, required=True)
    ap.add_argument("--angry", type=int, required=True)
    ap.add_argument("--tokens", type=int, default=40, help="new tokens per continuation")
    ap.add_argument("--calibration", type=int, default=200, help="held-out contexts for the latent's scale")
    ap.add_argument("--mode", choices=["add", "clamp"], default="add")
    ap.add_argument("--positions", choices=["all", "prompt", "generated"], default="all")
    ap.add_argument("--out", default="", help="write the results as JSON here")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    import featureviz as fv
    from featureviz.analysis.training import ASSETS

    model, source = fv.load_default()
    if args.sae:
        from sae_lens import SAE

        source = fv.SAESource(SAE.load_from_disk(args.sae))
    heldout = np.load(args.heldout or ASSETS / "heldout_tokens.npy")[: args.calibration]
    vader = SentimentIntensityAnalyzer()
    results = {
        "sae": args.sae or "default",
        "mode": args.mode,
        "positions": args.positions,
        "prompts": NEUTRAL_PROMPTS,
        "multiples": list(MULTIPLES),
        "latents": {},
    }
    for mood, feature in (("happy", args.happy), ("angry", args.angry)):
        scale = max_activation(model, source, feature, heldout)
        values = np.array(MULTIPLES) * scale
        sentiment = np.zeros((len(NEUTRAL_PROMPTS), len(values)))
        loss = np.zeros_like(sentiment)
        examples = []
        for i, prompt in enumerate(NEUTRAL_PROMPTS):
            res = fv.steer(
                model,
                source,
                prompt,
                feature,
                values,
                mode=args.mode,
                positions=args.positions,
                max_new_tokens=args.tokens,
            )
            for j, text in enumerate(res.texts):
                sentiment[i, j] = vader.polarity_scores(text)["compound"]
                loss[i, j] = continuation_loss(model, prompt, text)
            if i < 3:
                examples.append({"prompt": prompt, "texts": dict(zip(map(str, MULTIPLES), res.texts))})
            print(f"{mood} L{feature}: prompt {i + 1}/{len(NEUTRAL_PROMPTS)}", file=sys.stderr, flush=True)
        results["latents"][mood] = {
            "feature": feature,
            "scale": scale,
            "values": values.tolist(),
            "mean_compound": sentiment.mean(0).tolist(),
            "mean_loss": np.nanmean(loss, 0).tolist(),
            "compound": sentiment.tolist(),
            "loss": loss.tolist(),
            "examples": examples,
        }
    print("| latent | strength (x max act) | value | mean VADER compound | change | mean loss (nats) | change |")
    print("|---|---|---|---|---|---|---|")
    for mood, r in results["latents"].items():
        for m, v, c, loss_ in zip(MULTIPLES, r["values"], r["mean_compound"], r["mean_loss"]):
            print(
                f"| {mood} L{r['feature']} | {m:g} | {v:.1f} | {c:+.3f} | {c - r['mean_compound'][0]:+.3f} "
                f"| {loss_:.2f} | {loss_ - r['mean_loss'][0]:+.2f} |"
            )
    for mood, sign in (("happy", 1), ("angry", -1)):
        r = results["latents"][mood]
        change = sign * (np.array(r["mean_compound"]) - r["mean_compound"][0])
        fluent = np.array(r["mean_loss"]) <= r["mean_loss"][0] + 1.5
        best = int(np.argmax(np.where(fluent, change, -np.inf)))
        r["best"] = {
            "multiple": MULTIPLES[best],
            "change": float(sign * change[best]),
            "fluent": bool(fluent[best]),
            "meets_target": bool(change[best] >= 0.3 and fluent[best]),
        }
        print(
            f"{mood} L{r['feature']}: best fluent strength {MULTIPLES[best]:g}x, compound change "
            f"{sign * change[best]:+.3f} ({'meets' if r['best']['meets_target'] else 'misses'} the 0.3 target)"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
