"""Peak memory of `fv.activations` (and of `feature_stats()` on its result) as a multiple of the result's size
(issue 24 item 3: goal <= ~1.2x; before it was ~3.8x with per-prompt views of padded batches + torch.cat).

    .venv/bin/python benchmarks/activations_memory.py [--prompts 500 2000] [--tokens 64] [--threads 1]
                                                      [--src PATH] [--forward] [--model default|tiny]
    # the same script on a checkout of main before a change (its src/ first on the child's sys.path):
    git worktree add /tmp/fv-before main~1
    .venv/bin/python benchmarks/activations_memory.py --src /tmp/fv-before/src

Each size runs in a fresh child process: load the embedded default (`fv.load_default()`), build N prompts of
about --tokens tokens each (Debian text, as benchmarks/dashboard.py's corpus), warm up on two prompts, then
reset the kernel's RSS high-water mark (`/proc/self/clear_refs` = 5; loading the model peaks far above steady
state), run `fv.activations` and read `VmHWM`. Reported: peak RSS growth over the RSS before the call, the
result's size (values: n_tokens x n_features float32), their ratio; then the same for `feature_stats()` on
the result. `--forward` adds one child per size that only runs the forward passes (`hook_activations_batches`
with the same batches, nothing kept): the fixed working set of a batch, the part of the growth that does not
scale with the number of prompts.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux >= 4.0: VmHWM := VmRSS


def prompts_of(model, n: int, n_tokens: int) -> list[str]:
    """n texts of about n_tokens tokens (BOS included) cut from the Debian text corpus, cycled if needed."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from dashboard import build_corpus

    tokens, _ = build_corpus(model, n * (n_tokens - 1), n_tokens)
    return [model.tokenizer.decode(row[1:]) for row in tokens[:n]]


def tiny_model_and_sae():
    """tests/factories.py's random 2-layer model (d_model 32, the embedded tokenizer) and a random TopK SAE of the
    shipped SAE's width and L0 (2,560 latents, k = 48): results as big as the real ones, forward passes nearly
    free."""
    from transformers import AutoTokenizer

    from featureviz.loading import embedded_model_dir
    from featureviz.sources import SAESource

    sys.path.insert(0, str(ROOT / "tests"))
    from factories import make_tiny_model, make_topk_sae

    model = make_tiny_model(AutoTokenizer.from_pretrained(embedded_model_dir()))
    return model, SAESource(make_topk_sae(d_in=32, d_sae=2560, k=48))


def child(args) -> int:
    if args.src:
        sys.path.insert(0, args.src)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    import featureviz as fv

    model, source = fv.load_default() if args.model == "default" else tiny_model_and_sae()
    prompts = prompts_of(model, args.child, args.tokens)
    fv.activations(model, source, prompts[:2])  # warm-up: lazy allocations, thread pools
    gc.collect()
    _reset_peak()
    base = _status_kb("VmRSS")
    t0 = time.perf_counter()
    if args.mode == "forward":
        from featureviz.analysis._forward import hook_activations_batches, tokenize

        ids = tokenize(model, prompts)
        n_tokens = 0
        for _, acts, lengths in hook_activations_batches(model, ids, source.hook_name, progress=False):
            n_tokens += sum(lengths) - len(lengths)
            del acts
        result = {"n_tokens": n_tokens, "result_bytes": 0}
    else:
        acts = fv.activations(model, source, prompts, progress=False)
        dense_bytes = acts.n_tokens * acts.n_features * 4
        stored = getattr(acts, "nbytes", dense_bytes)  # checkouts before sparse storage: always dense float32
        result = {
            "n_tokens": acts.n_tokens,
            "result_bytes": stored,
            "dense_bytes": dense_bytes,
            "storage": "csr" if getattr(acts, "sparse", None) is not None else "dense",
        }
    result |= {
        "seconds": time.perf_counter() - t0,
        "base_kb": base,
        "peak_kb": _status_kb("VmHWM"),
        "featureviz": str(Path(fv.__file__).resolve().parent),
        "n_features": source.n_features,
    }
    if args.mode != "forward":
        gc.collect()
        _reset_peak()
        stats_base = _status_kb("VmRSS")
        acts.feature_stats()
        result |= {"stats_base_kb": stats_base, "stats_peak_kb": _status_kb("VmHWM")}
    print("RESULT=" + json.dumps(result), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--tokens", type=int, default=64, help="tokens per prompt, BOS included (about)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--src", help="a featureviz src/ folder to import instead of the installed one")
    parser.add_argument("--forward", action="store_true", help="also measure the forward passes alone")
    parser.add_argument(
        "--model",
        choices=["default", "tiny"],
        default="default",
        help="default: the embedded model and shipped SAE; tiny: a random 2-layer model with a random "
        "TopK SAE of the same width and L0 (2,560 latents, k = 48): the same result sizes in "
        "minutes on a busy CPU",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="activations", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if args.src:
        args.src = str(Path(args.src).resolve())
    print(
        f"fv.activations peak RSS growth / result size, fresh child per run ({args.model} model, "
        f"{args.tokens}-token prompts, "
        f"{args.threads} thread(s){', featureviz from ' + args.src if args.src else ''})",
        flush=True,
    )
    for n in args.prompts:
        for mode in (["forward"] if args.forward else []) + ["activations"]:
            cmd = [
                sys.executable,
                __file__,
                "--child",
                str(n),
                "--mode",
                mode,
                "--tokens",
                str(args.tokens),
                "--threads",
                str(args.threads),
                "--model",
                args.model,
            ] + (["--src", args.src] if args.src else [])
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
            line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT=")), None)
            if line is None:
                print(f"  {n} prompts ({mode}): child failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
                continue
            r = json.loads(line.split("=", 1)[1])
            grown = (r["peak_kb"] - r["base_kb"]) * 1024
            if mode == "forward":
                print(
                    f"  {n:>6} prompts, {r['n_tokens']:,} tokens, forward passes only: peak RSS "
                    f"+{grown / 2**20:,.0f} MiB ({r['seconds']:.0f} s)",
                    flush=True,
                )
                continue
            size = r["result_bytes"]
            stats = (r["stats_peak_kb"] - r["stats_base_kb"]) * 1024
            print(
                f"  {n:>6} prompts, {r['n_tokens']:,} tokens x {r['n_features']} features: result "
                f"{size / 2**20:,.0f} MiB {r.get('storage', 'dense')} (dense: {r['dense_bytes'] / 2**20:,.0f} MiB), "
                f"peak RSS +{grown / 2**20:,.0f} MiB = {grown / size:.2f}x the result "
                f"({r['seconds']:.0f} s); feature_stats() +{stats / 2**20:,.0f} MiB = {stats / size:.2f}x  "
                f"[{r['featureviz']}]",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
