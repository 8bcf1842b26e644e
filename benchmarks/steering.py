"""Steering sweep benchmark: S values x T new tokens in ONE batched `steer(...)` call against S sequential
`steer(..., values=[v])` calls (same prompt, feature, mode, greedy) on the embedded default model, and against
ONE plain `model.generate` of the same prompt and T tokens (batch 1, no hooks): the least a sweep can cost.

    .venv/bin/python benchmarks/steering.py [--steps 21] [--tokens 32] [--repeats 3] [--feature 0]
                                            [--mode add] [--source sae|neurons] [--threads N]
                                            [--sequential-repeats N]

Target (DESIGN.md, "interpolation"): the batched sweep costs about one generate, i.e. >= 5x faster than the
sequential loop; issue 24: batched sweep <= 1.15x one plain generate (steer runs the prompt once: generate's
first step gives the next-token probabilities). --sequential-repeats 0 times only batched vs plain. Also
checks that every value's generated text is identical both ways (greedy decoding). Timings are interleaved
(plain, batched, sequential, plain, ...) in one process; ratios are taken of the medians (wall) and of the
minima (CPU seconds, `time.process_time`: with --threads 1 the work done, not the wait for a core on a shared
machine), so a busy machine shifts both sides alike. Not a test: prints numbers; exit status 1 only if the
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
    ap.add_argument(
        "--sequential-repeats",
        type=int,
        default=None,
        help="repeats of the sequential side (default: --repeats; 0 skips it)",
    )
    ap.add_argument("--feature", type=int, default=0)
    ap.add_argument("--mode", choices=["add", "clamp"], default="add")
    ap.add_argument(
        "--max-value",
        type=float,
        default=None,
        help="sweep values in [-v, v] (default: 10 for neurons, 50 for SAE latents)",
    )
    ap.add_argument(
        "--source",
        choices=["sae", "neurons"],
        default="sae",
        help="load_default(source=...): the shipped SAE if present, else MLP neurons",
    )
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
    print(
        f"S={args.steps} values in [{-vmax:g}, {vmax:g}] x T={args.tokens} new tokens, prompt {args.prompt!r}, "
        f"torch threads {torch.get_num_threads()}"
    )

    def batched():
        return fv.steer(
            model, source, args.prompt, args.feature, values, mode=args.mode, max_new_tokens=args.tokens
        ).texts

    def sequential():
        return [
            fv.steer(model, source, args.prompt, args.feature, [v], mode=args.mode, max_new_tokens=args.tokens).texts[0]
            for v in values
        ]

    tokens = model.to_tokens(args.prompt)

    def plain():  # the reference: one generate of the prompt, batch 1, no hooks, all T tokens
        with torch.inference_mode():
            model.generate(
                tokens,
                max_new_tokens=args.tokens,
                do_sample=False,
                stop_at_eos=False,
                verbose=False,
                use_past_kv_cache=True,
            )

    def timed(fn, wall, cpu):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        return out

    fv.steer(model, source, args.prompt, args.feature, [0.0], mode=args.mode, max_new_tokens=2)  # warm-up
    plain()
    seq_repeats = args.repeats if args.sequential_repeats is None else args.sequential_repeats
    t_plain, c_plain, t_batched, c_batched, t_seq, c_seq = [], [], [], [], [], []
    texts_b = texts_s = None
    for r in range(args.repeats):
        timed(plain, t_plain, c_plain)
        texts_b = timed(batched, t_batched, c_batched)
        line = (
            f"  repeat {r + 1}: plain generate {t_plain[-1]:.2f} s ({c_plain[-1]:.2f} CPU), batched "
            f"{t_batched[-1]:.2f} s ({c_batched[-1]:.2f} CPU)"
        )
        if r < seq_repeats:
            texts_s = timed(sequential, t_seq, c_seq)
            line += f", sequential {t_seq[-1]:.2f} s ({c_seq[-1]:.2f} CPU, {t_seq[-1] / t_batched[-1]:.1f}x)"
        print(line, flush=True)

    mp, mb = statistics.median(t_plain), statistics.median(t_batched)
    print(f"plain generate (1 row, no hooks): median {mp:.2f} s  (min {min(t_plain):.2f}, CPU min {min(c_plain):.2f})")
    print(
        f"batched  (1 call, {args.steps} rows): median {mb:.2f} s  (min {min(t_batched):.2f}, CPU min "
        f"{min(c_batched):.2f})"
    )
    over = min(c_batched) / min(c_plain)
    print(
        f"batched sweep / plain generate: {over:.2f}x CPU (minima), {mb / mp:.2f}x wall (medians)  "
        f"target <= 1.15x: {'PASS' if over <= 1.15 else 'FAIL'}"
    )
    if not t_seq:
        return 0
    ms = statistics.median(t_seq)
    ratio = ms / mb
    print(f"sequential ({args.steps} calls):      median {ms:.2f} s  (min {min(t_seq):.2f}, CPU min {min(c_seq):.2f})")
    print(
        f"speed-up sequential/batched: {ratio:.1f}x (median), {min(t_seq) / min(t_batched):.1f}x (min), "
        f"{min(c_seq) / min(c_batched):.1f}x CPU (min)  target >= 5x: {'PASS' if ratio >= 5 else 'FAIL'}"
    )

    same = [a == b for a, b in zip(texts_b, texts_s)]
    print(f"texts identical batched vs sequential: {sum(same)}/{len(same)} {'OK' if all(same) else 'MISMATCH'}")
    for v, a, b, ok in zip(values, texts_b, texts_s, same):
        if not ok:
            print(f"  value {v:+.2f}:\n    batched    {a!r}\n    sequential {b!r}")
    distinct = len(set(texts_b))
    print(
        f"distinct continuations across the sweep: {distinct}/{len(texts_b)} (1 would mean the steering had no effect)"
    )
    return 0 if all(same) else 1


if __name__ == "__main__":
    sys.exit(main())
