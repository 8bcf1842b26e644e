"""Dashboard build benchmark: `dashboard_data` for ALL features of the default source over an N-token corpus,
as a ratio to ONE plain forward pass to the hook layer over the same contexts with the same batching; and
peak RSS of a fresh child process per corpus size (memory must not grow with corpus length).

    .venv/bin/python benchmarks/dashboard.py [--tokens 20000] [--repeats 1] [--rss-sizes 10000 40000]
                                             [--source sae|neurons] [--threads N] [--profile] [--skip-rss]
    .venv/bin/python benchmarks/dashboard.py --rss-sizes 100000 1000000 --skip-ratio   # the issue's sizes
    .venv/bin/python benchmarks/dashboard.py --compare-saedashboard                    # how-to, see README

Targets (DESIGN.md): build time <= 1.3x the reference forward pass; peak RSS flat (RSS at the large corpus /
RSS at the small one ~ 1).

Reference = `hook_activations_batches` (model.run_with_cache(names_filter=hook, stop_at_layer=layer + 1),
length-sorted batches of `batch_tokens`), i.e. exactly the forward pass dashboard_data itself runs, with
nothing done to the activations. Reference and build are interleaved in one process on the same contexts and
the ratio is taken of the medians, so a busy machine shifts both sides alike.

Corpus (offline, no downloads): Debian text on this machine - fortunes (/usr/share/games/fortunes), the
common licenses (/usr/share/common-licenses) and the de-duplicated /usr/share/doc/*/copyright files - cut
into fixed [n, context_size] token contexts (BOS first) and cycled if N exceeds it; if none of it exists,
random dictionary-free word sequences from the tokenizer's vocabulary (said so in the output).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import json
import pstats
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent

SAEDASHBOARD_HOWTO = """\
SAEDashboard comparison (not run here: sae-dashboard 0.8.0 pins transformer-lens<3, transformers<4.57,
datasets<4, safetensors<0.5, which clash with this venv). In a SEPARATE venv:

    python -m venv /tmp/saedash && . /tmp/saedash/bin/activate
    pip install torch==2.13.0 sae-dashboard==0.8.0 "pyarrow<21"
    pip uninstall -y torchvision torchaudio         # pulled in, then fail to import beside our torch
    # transformers 4.56 cannot read the folder transformers 5 saved for the embedded model: give it a
    # v4-style tokenizer folder and set rope_theta=100000 explicitly in its config.json.
    python - <<'EOF'
    # load the same model + SAE, build the same token tensor (this script's corpus, saved with
    #   --save-corpus corpus.pt), then:
    from sae_dashboard.sae_vis_data import SaeVisConfig
    from sae_dashboard.sae_vis_runner import SaeVisRunner
    cfg = SaeVisConfig(hook_point=HOOK, features=list(range(N_FEATURES)), minibatch_size_features=256,
                       minibatch_size_tokens=64)   # counts SEQUENCES, not tokens
    data = SaeVisRunner(cfg).run(encoder=sae, model=model, tokens=tokens)
    EOF

Time it against one forward pass to the hook layer in the same process, as this script does. Reload the SAE
before every repeat: SaeVisRunner.run() folds the decoder norm into the SAE in place. Measured notes
(/work/shared/DESIGN.md): 16 features on 20,480 tokens = 1.08x a forward pass, 64 features 1.14x, RSS flat.
"""


# -- corpus ---------------------------------------------------------------------------------------------------


def debian_texts() -> tuple[list[str], str]:
    """Offline English-ish text shipped by Debian packages, and a description of what was found."""
    texts, parts = [], []
    fortunes = Path("/usr/share/games/fortunes")
    if fortunes.is_dir():
        n = 0
        for f in sorted(fortunes.iterdir()):
            if f.suffix or not f.is_file():  # skip .dat indexes and .u8 duplicates
                continue
            for chunk in f.read_text(errors="replace").split("\n%\n"):
                if chunk.strip():
                    texts.append(chunk.strip())
                    n += 1
        parts.append(f"{n} fortunes")
    seen = set()
    for folder, pattern, label in ((Path("/usr/share/common-licenses"), "*", "common licenses"),
                                   (Path("/usr/share/doc"), "*/copyright", "doc copyright files")):
        n = 0
        for f in sorted(folder.glob(pattern)) if folder.is_dir() else []:
            if not f.is_file():
                continue
            body = f.read_text(errors="replace")
            digest = hashlib.md5(body.encode()).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            texts += [p.strip() for p in body.split("\n\n") if p.strip()]
            n += 1
        if n:
            parts.append(f"{n} {label}")
    return texts, ", ".join(parts)


def build_corpus(model, n_tokens: int, context_size: int, seed: int = 0) -> tuple[torch.Tensor, str]:
    """[n_contexts, context_size] token ids, BOS first, about n_tokens non-BOS tokens in all."""
    per = context_size - 1
    n_contexts = max(1, -(-n_tokens // per))
    texts, found = debian_texts()
    bos = model.tokenizer.bos_token_id if model.tokenizer.bos_token_id is not None else model.tokenizer.eos_token_id
    if texts:
        g = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(texts), generator=g).tolist()  # mix fortunes and licenses
        stream, total = [], 0
        for i in order:
            ids = model.to_tokens(texts[i], prepend_bos=False, truncate=False)[0]
            stream.append(ids)
            total += len(ids)
            if total >= n_contexts * per:
                break
        stream = torch.cat(stream)
        unique = len(stream)
        reps = -(-(n_contexts * per) // unique)
        stream = stream.repeat(reps)[: n_contexts * per]
        desc = f"Debian text ({found}; {unique:,} unique tokens" + (f", cycled {reps}x" if reps > 1 else "") + ")"
    else:
        g = torch.Generator().manual_seed(seed)
        stream = torch.randint(0, model.cfg.d_vocab, (n_contexts * per,), generator=g)
        desc = "random token sequences (no Debian text found)"
    body = stream.view(n_contexts, per)
    tokens = torch.cat([torch.full((n_contexts, 1), bos, dtype=torch.long), body.long()], 1)
    return tokens, desc


# -- measurements ---------------------------------------------------------------------------------------------


def default_batch_tokens(n_features: int) -> int:
    return int(max(256, min(8192, 2**26 // max(n_features, 1))))  # as dashboard_data chooses it


def reference_pass(model, source, contexts, batch_tokens) -> int:
    from featureviz.analysis.activations import hook_activations_batches

    n = 0
    for _, acts, lengths in hook_activations_batches(model, contexts, source.hook_name, source.stop_at_layer,
                                                     batch_tokens, progress=False):
        n += sum(lengths)
        del acts
    return n


def load(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    import featureviz as fv

    model, source = fv.load_default(source=args.source)
    return fv, model, source


def rss_child(args) -> int:
    """Runs in a fresh process: peak RSS before and after dashboard_data on a corpus of args.rss_child tokens."""
    fv, model, source = load(args)
    tokens, desc = build_corpus(model, args.rss_child, args.context_size)
    gc.collect()
    load_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Loading (GGUF/HF -> TransformerLens conversion) peaks far above steady state and would hide the build:
    # reset the kernel's high-water mark (VmHWM) so the peak below is the build's own (Linux >= 4.0).
    reset = _reset_peak_rss()
    base = _status_kb("VmRSS")
    t0 = time.perf_counter()
    data = fv.dashboard_data(model, source, tokens, progress=False)
    elapsed = time.perf_counter() - t0
    peak = _status_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("RSS_RESULT=" + json.dumps({"tokens": int(data.n_tokens), "base_kb": base, "peak_kb": peak,
                                      "load_peak_kb": load_peak, "hwm_reset": reset,
                                      "seconds": elapsed, "corpus": desc}), flush=True)
    return 0


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure_rss(args) -> None:
    print(f"\n== peak RSS, fresh child process per corpus size ({' vs '.join(f'{n:,}' for n in args.rss_sizes)} "
          "tokens) ==", flush=True)
    results = []
    if min(args.rss_sizes) < 8192:
        print("  note: below one batch (batch_tokens, 8192 tokens for the default source) the per-batch working set "
              "itself grows with the corpus; compare sizes of several batches each", flush=True)
    for n in args.rss_sizes:
        cmd = [sys.executable, __file__, "--rss-child", str(n), "--source", args.source,
               "--context-size", str(args.context_size)] + (["--threads", str(args.threads)] if args.threads else [])
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        line = next((l for l in out.stdout.splitlines() if l.startswith("RSS_RESULT=")), None)
        if line is None:
            print(f"  {n:,} tokens: child failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
            continue
        r = json.loads(line.split("=", 1)[1])
        results.append(r)
        what = "peak RSS during the build" if r["hwm_reset"] else "peak RSS of the process (load included)"
        print(f"  {r['tokens']:>9,} tokens: {what} {r['peak_kb'] / 1024:6.0f} MiB = RSS before it "
              f"{r['base_kb'] / 1024:.0f} MiB + {(r['peak_kb'] - r['base_kb']) / 1024:.0f} MiB "
              f"(model load peaked at {r['load_peak_kb'] / 1024:.0f} MiB; build {r['seconds']:.0f} s, "
              f"{r['tokens'] / r['seconds']:.0f} tok/s)", flush=True)
    if len(results) >= 2:
        lo, hi = results[0], results[-1]
        ratio = hi["peak_kb"] / lo["peak_kb"]
        growth = (hi["peak_kb"] - hi["base_kb"]) - (lo["peak_kb"] - lo["base_kb"])
        print(f"peak RSS ratio {hi['tokens']:,} / {lo['tokens']:,} tokens: {ratio:.3f}  "
              f"(x{hi['tokens'] / lo['tokens']:.0f} corpus; build's own peak grew by {growth / 1024:+.0f} MiB)  "
              f"target ~1 (flat): {'PASS' if ratio < 1.1 else 'FAIL'}")
        print(f"  corpus: {hi['corpus']}")


def measure_ratio(args, fv, model, source) -> None:
    tokens, desc = build_corpus(model, args.tokens, args.context_size)
    contexts = list(tokens)
    batch_tokens = default_batch_tokens(source.n_features)
    print(f"\n== build time vs one forward pass: {tokens.shape[0]} contexts x {tokens.shape[1]} = "
          f"{tokens.shape[0] * (tokens.shape[1] - 1):,} tokens (BOS excluded), batch_tokens {batch_tokens} ==")
    print(f"corpus: {desc}", flush=True)
    reference_pass(model, source, contexts[:4], batch_tokens)  # warm-up
    t_ref, t_dash = [], []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        reference_pass(model, source, contexts, batch_tokens)
        t_ref.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        data = fv.dashboard_data(model, source, tokens, progress=False)
        t_dash.append(time.perf_counter() - t0)
        print(f"  repeat {r + 1}: forward {t_ref[-1]:.1f} s, dashboard_data {t_dash[-1]:.1f} s "
              f"({t_dash[-1] / t_ref[-1]:.2f}x)", flush=True)
    mr, md = statistics.median(t_ref), statistics.median(t_dash)
    ratio, ratio_min = md / mr, min(t_dash) / min(t_ref)
    print(f"forward to {source.hook_name} (stop_at_layer={source.stop_at_layer}): median {mr:.1f} s "
          f"(min {min(t_ref):.1f} s, {data.n_tokens / min(t_ref):.0f} tok/s)")
    print(f"dashboard_data, all {source.n_features} features:     median {md:.1f} s "
          f"(min {min(t_dash):.1f} s, {data.n_tokens / min(t_dash):.0f} tok/s)")
    # Contention only ever adds time, so the ratio of the minima is the least noisy estimate.
    print(f"ratio dashboard/forward: {ratio_min:.2f}x (minima), {ratio:.2f}x (medians)  "
          f"target <= 1.3x: {'PASS' if ratio_min <= 1.3 else 'FAIL'}")

    # The parts after the streaming loop, timed on their own (they do not depend on corpus length).
    from featureviz.analysis import dashboard as d

    cols = torch.arange(source.n_features)
    t0 = time.perf_counter()
    d._logit_effects(model, source, cols, 10)
    t_logit = time.perf_counter() - t0
    t0 = time.perf_counter()
    d._nearest(source.decoder_directions().float(), cols, 5)
    t_near = time.perf_counter() - t0
    print(f"fixed costs inside it: _logit_effects {t_logit:.2f} s, _nearest {t_near:.2f} s "
          f"(= {(t_logit + t_near) / mr:.2f}x of the forward at this corpus size)", flush=True)

    if args.profile:
        print("\n== cProfile of one dashboard_data call (top 25 by own time) ==", flush=True)
        prof = cProfile.Profile()
        prof.enable()
        fv.dashboard_data(model, source, tokens, progress=False)
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(25)
        print(s.getvalue())
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats("featureviz", 20)
        print(s.getvalue())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=20000, help="corpus size for the time ratio (default 20000)")
    ap.add_argument("--repeats", type=int, default=1, help="interleaved repeats of forward / build (default 1)")
    ap.add_argument("--rss-sizes", type=int, nargs="+", default=[10000, 40000],
                    help="corpus sizes for the peak-RSS children, small first (default 10000 40000); keep the "
                         "smallest above one batch (batch_tokens, 8192 for <= 8192 features) or it measures "
                         "the batch growing, not the corpus")
    ap.add_argument("--context-size", type=int, default=128)
    ap.add_argument("--source", choices=["sae", "neurons"], default="sae",
                    help="load_default(source=...): the shipped SAE if present, else MLP neurons")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    ap.add_argument("--profile", action="store_true", help="also cProfile one dashboard_data call")
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--skip-ratio", action="store_true")
    ap.add_argument("--save-corpus", metavar="PATH", help="save the --tokens corpus tensor (for other tools)")
    ap.add_argument("--compare-saedashboard", action="store_true",
                    help="print how to run SAEDashboard on the same corpus in its own venv, and exit")
    ap.add_argument("--rss-child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.compare_saedashboard:
        print(SAEDASHBOARD_HOWTO)
        return 0
    if args.rss_child is not None:
        return rss_child(args)

    fv, model, source = load(args)
    print(f"model {model.cfg.model_name}, source {source!r}, torch threads {torch.get_num_threads()}")
    if args.save_corpus:
        tokens, desc = build_corpus(model, args.tokens, args.context_size)
        torch.save(tokens, args.save_corpus)
        print(f"saved {tuple(tokens.shape)} tokens to {args.save_corpus} ({desc})")
    if not args.skip_ratio:
        measure_ratio(args, fv, model, source)
    if not args.skip_rss:
        del model
        measure_rss(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
