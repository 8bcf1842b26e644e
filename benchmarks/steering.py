"""Steering sweep benchmark: S values x T new tokens in ONE batched `steer(...)` call against S sequential
`steer(..., values=[v])` calls (same prompt, feature, mode, greedy) on the embedded default model.

    .venv/bin/python benchmarks/steering.py [--steps 21] [--tokens 32] [--repeats 3] [--feature 0]
                                            [--mode add] [--source sae|neurons] [--threads N]

Target (DESIGN.md, "interpolation"): the batched sweep costs about one generate, i.e. >= 5x faster than the
sequential loop. Also checks that every value's generated text is identical both ways (greedy decoding).
Timings are interleaved (batched, sequential, batched, ...) in one process and the ratio is taken of the
medians, so a busy machine shifts both sides alike. Not a test: prints numbers; exit status 1 only if the
texts differ.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch

PROMPT = "I went to the market this morning and"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=21, help="number of steering values S (default 21)")
    ap.add_argument("--tokens", type=int, default=32, help="new tokens per value T (default 32)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats of each side (default 3)")
    ap.add_argument("--feature", type=int, default=0)
    ap.add_argument("--mode", choices=["add", "clamp"], default="add")
    ap.add_argument("--max-value", type=float, default=None,
                    help="sweep values in [-v, v] (default: 10 for neurons, 50 for SAE latents)")
    ap.add_argument("--source", choices=["sae", "neurons"], default="sae",
                    help="load_default(source=...): the shipped SAE if present, else MLP neurons")
    ap.add_argument("--prompt", default=PROMPT)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import featureviz as fv

    model, source = fv.load_default(source=args.source)
    vmax = args.max_value if args.max_value is not None else (50.0 if source.kind == "sae" else 10.0)
    values = np.linspace(-vmax, vmax, args.steps)
    print(f"model {model.cfg.model_name}, source {source!r}, feature {args.feature}, mode {args.mode!r}, greedy")
    print(f"S={args.steps} values in [{-vmax:g}, {vmax:g}] x T={args.tokens} new tokens, prompt {args.prompt!r}, "
          f"torch threads {torch.get_num_threads()}")

    def batched():
        return fv.steer(model, source, args.prompt, args.feature, values, mode=args.mode,
                        max_new_tokens=args.tokens).texts

    def sequential():
        return [fv.steer(model, source, args.prompt, args.feature, [v], mode=args.mode,
                         max_new_tokens=args.tokens).texts[0] for v in values]

    fv.steer(model, source, args.prompt, args.feature, [0.0], mode=args.mode, max_new_tokens=2)  # warm-up
    t_batched, t_seq = [], []
    texts_b = texts_s = None
    for r in range(args.repeats):
        t0 = time.perf_counter()
        texts_b = batched()
        t_batched.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        texts_s = sequential()
        t_seq.append(time.perf_counter() - t0)
        print(f"  repeat {r + 1}: batched {t_batched[-1]:.2f} s, sequential {t_seq[-1]:.2f} s "
              f"({t_seq[-1] / t_batched[-1]:.1f}x)", flush=True)

    mb, ms = statistics.median(t_batched), statistics.median(t_seq)
    ratio = ms / mb
    print(f"batched  (1 call, {args.steps} rows): median {mb:.2f} s  (min {min(t_batched):.2f})")
    print(f"sequential ({args.steps} calls):      median {ms:.2f} s  (min {min(t_seq):.2f})")
    print(f"speed-up sequential/batched: {ratio:.1f}x (median), {min(t_seq) / min(t_batched):.1f}x (min)  "
          f"target >= 5x: {'PASS' if ratio >= 5 else 'FAIL'}")

    same = [a == b for a, b in zip(texts_b, texts_s)]
    print(f"texts identical batched vs sequential: {sum(same)}/{len(same)} "
          f"{'OK' if all(same) else 'MISMATCH'}")
    for v, a, b, ok in zip(values, texts_b, texts_s, same):
        if not ok:
            print(f"  value {v:+.2f}:\n    batched    {a!r}\n    sequential {b!r}")
    distinct = len(set(texts_b))
    print(f"distinct continuations across the sweep: {distinct}/{len(texts_b)} "
          f"(1 would mean the steering had no effect)")
    return 0 if all(same) else 1


if __name__ == "__main__":
    sys.exit(main())
