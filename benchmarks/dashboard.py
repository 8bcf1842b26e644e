"""Dashboard build benchmark: `dashboard_data` for ALL features of the default source over an N-token corpus,
as a ratio to ONE plain forward pass to the hook layer over the same contexts with the same batching; and
peak RSS of a fresh child process per corpus size (memory must not grow with corpus length).

    .venv/bin/python benchmarks/dashboard.py [--tokens 20000] [--repeats 1] [--rss-sizes 10000 40000]
                                             [--source sae|neurons | --sae PATH] [--features N] [--threads N]
                                             [--profile] [--skip-rss] [--skip-ratio] [--save-corpus PATH]
    .venv/bin/python benchmarks/dashboard.py --rss-sizes 100000 1000000 --skip-ratio   # the issue's sizes
    .venv/bin/python benchmarks/dashboard.py --compare-saedashboard                    # how-to, see README
    /tmp/saedash/bin/python benchmarks/dashboard.py --saedashboard-run CORPUS.pt --sae PATH   # in ITS venv

Targets (DESIGN.md): build time <= 1.3x the reference forward pass; peak RSS flat (RSS at the large corpus /
RSS at the small one ~ 1).

Reference = `hook_activations_batches` (`run_to_hook`: the forward stopped exactly at the hook, e.g.
model(tokens, stop_at_layer=L) for blocks.L.hook_resid_pre; length-sorted batches of `batch_tokens`), i.e.
exactly the forward pass dashboard_data itself runs, with nothing done to the activations. Reference and build
are interleaved in one process on the same contexts (ABBA); the ratio is taken of the minima, in CPU seconds
(`time.process_time`, with --threads 1 the work done, not the wait for a core on a shared machine) and in wall
seconds.

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
SAEDashboard comparison (never installed here: sae-dashboard 0.8.0 pins transformer-lens<3, transformers<4.57,
datasets<4, safetensors<0.5, which clash with this venv). This script has a mode that runs INSIDE its venv:

    python -m venv /tmp/saedash
    /tmp/saedash/bin/pip install torch==2.13.0 sae-dashboard==0.8.0 "pyarrow<21"
    /tmp/saedash/bin/pip uninstall -y torchvision torchaudio    # pulled in, then fail to import beside torch
    # 1. the corpus, saved by this venv (same tokens for both tools):
    .venv/bin/python benchmarks/dashboard.py --sae SAE_DIR --tokens 20000 --skip-rss --save-corpus /tmp/corpus.pt
    # 2. SAEDashboard on it, timed against one forward pass to the hook layer in ITS process:
    nice -n 5 /tmp/saedash/bin/python benchmarks/dashboard.py --saedashboard-run /tmp/corpus.pt --sae SAE_DIR \\
        --threads 1 --repeats 2 [--features N] [--minibatch-features 256] [--cache-dir DIR]

The mode writes a transformers-4-readable copy of the embedded model folder (v4 tokenizer_config, explicit
rope_theta; weights symlinked) next to it, builds the HookedTransformer with TransformerLens 2's own local
conversion (fold_ln, center_writing_weights, center_unembed, as featureviz does with TL 3) with rotary_base set
from rope_theta (TL 2 ignores it for Llama; then its hook activations equal ours bit for bit), reloads the SAE
before every repeat (SaeVisRunner.run() folds the decoder norm into it in place) and prints seconds and the
ratio to the forward. Compare its seconds with this venv's dashboard_data on the same corpus and machine.
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
    for folder, pattern, label in (
        (Path("/usr/share/common-licenses"), "*", "common licenses"),
        (Path("/usr/share/doc"), "*/copyright", "doc copyright files"),
    ):
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


def reference_pass(model, source, contexts, batch_tokens) -> int:
    from featureviz.analysis._forward import hook_activations_batches

    n = 0
    for _, acts, lengths in hook_activations_batches(model, contexts, source.hook_name, batch_tokens, progress=False):
        n += sum(lengths)
        del acts
    return n


def load(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    import featureviz as fv

    if args.sae:  # a local sae-lens folder for the embedded model (e.g. a shipped training checkpoint)
        model, _ = fv.load_default(source="neurons")
        from featureviz.loading import load_sae

        source = load_sae(args.sae, model)
    else:
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
    t0, c0 = time.perf_counter(), time.process_time()
    data = fv.dashboard_data(model, source, tokens, progress=False)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _status_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        "RSS_RESULT="
        + json.dumps(
            {
                "tokens": int(data.n_tokens),
                "base_kb": base,
                "peak_kb": peak,
                "load_peak_kb": load_peak,
                "hwm_reset": reset,
                "seconds": elapsed,
                "cpu_seconds": cpu,
                "corpus": desc,
            }
        ),
        flush=True,
    )
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
    print(
        f"\n== peak RSS, fresh child process per corpus size ({' vs '.join(f'{n:,}' for n in args.rss_sizes)} "
        "tokens) ==",
        flush=True,
    )
    results = []
    if min(args.rss_sizes) < 8192:
        print(
            "  note: below one batch (batch_tokens, 8192 tokens for the default source) the per-batch working set "
            "itself grows with the corpus; compare sizes of several batches each",
            flush=True,
        )
    for n in args.rss_sizes:
        cmd = [
            sys.executable,
            __file__,
            "--rss-child",
            str(n),
            "--source",
            args.source,
            "--context-size",
            str(args.context_size),
        ] + (["--threads", str(args.threads)] if args.threads else [])
        cmd += ["--sae", args.sae] if args.sae else []
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        line = next((s for s in out.stdout.splitlines() if s.startswith("RSS_RESULT=")), None)
        if line is None:
            print(f"  {n:,} tokens: child failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
            continue
        r = json.loads(line.split("=", 1)[1])
        results.append(r)
        what = "peak RSS during the build" if r["hwm_reset"] else "peak RSS of the process (load included)"
        print(
            f"  {r['tokens']:>9,} tokens: {what} {r['peak_kb'] / 1024:6.0f} MiB = RSS before it "
            f"{r['base_kb'] / 1024:.0f} MiB + {(r['peak_kb'] - r['base_kb']) / 1024:.0f} MiB "
            f"(model load peaked at {r['load_peak_kb'] / 1024:.0f} MiB; build {r['seconds']:.0f} s wall, "
            f"{r['cpu_seconds']:.0f} s CPU, {r['tokens'] / r['cpu_seconds']:.0f} tok per CPU-s)",
            flush=True,
        )
    if len(results) >= 2:
        lo, hi = results[0], results[-1]
        ratio = hi["peak_kb"] / lo["peak_kb"]
        growth = (hi["peak_kb"] - hi["base_kb"]) - (lo["peak_kb"] - lo["base_kb"])
        print(
            f"peak RSS ratio {hi['tokens']:,} / {lo['tokens']:,} tokens: {ratio:.3f}  "
            f"(x{hi['tokens'] / lo['tokens']:.0f} corpus; build's own peak grew by {growth / 1024:+.0f} MiB)  "
            f"target ~1 (flat): {'PASS' if ratio < 1.1 else 'FAIL'}"
        )
        print(f"  corpus: {hi['corpus']}")


def measure_ratio(args, fv, model, source) -> None:
    tokens, desc = build_corpus(model, args.tokens, args.context_size)
    contexts = list(tokens)
    features = list(range(args.features)) if args.features else None
    from featureviz.analysis.dashboard import default_batch_tokens  # the batching dashboard_data uses

    batch_tokens = default_batch_tokens(source.n_features)
    print(
        f"\n== build time vs one forward pass: {tokens.shape[0]} contexts x {tokens.shape[1]} = "
        f"{tokens.shape[0] * (tokens.shape[1] - 1):,} tokens (BOS excluded), batch_tokens {batch_tokens} =="
    )
    print(f"corpus: {desc}", flush=True)
    reference_pass(model, source, contexts[:4], batch_tokens)  # warm-up
    t_ref, t_dash, c_ref, c_dash = [], [], [], []
    for r in range(args.repeats):
        # Alternate which side goes first (ABBA...), so neither always runs right after the other's frees.
        for side in ("ref", "dash") if r % 2 == 0 else ("dash", "ref"):
            t0, c0 = time.perf_counter(), time.process_time()
            if side == "ref":
                reference_pass(model, source, contexts, batch_tokens)
                t_ref.append(time.perf_counter() - t0)
                c_ref.append(time.process_time() - c0)
            else:
                data = fv.dashboard_data(model, source, tokens, features=features, progress=False)
                t_dash.append(time.perf_counter() - t0)
                c_dash.append(time.process_time() - c0)
        print(
            f"  repeat {r + 1}: forward {t_ref[-1]:.1f} s wall / {c_ref[-1]:.1f} s CPU, dashboard_data "
            f"{t_dash[-1]:.1f} s wall / {c_dash[-1]:.1f} s CPU ({t_dash[-1] / t_ref[-1]:.2f}x wall, "
            f"{c_dash[-1] / c_ref[-1]:.2f}x CPU)",
            flush=True,
        )
    mr, md = statistics.median(t_ref), statistics.median(t_dash)
    ratio, ratio_min = md / mr, min(t_dash) / min(t_ref)
    ratio_cpu = min(c_dash) / min(c_ref)
    what = f"{len(features)} features" if features else f"all {source.n_features} features"
    print(
        f"forward to {source.hook_name} (run_to_hook): wall median {mr:.1f} s "
        f"(min {min(t_ref):.1f} s), CPU min {min(c_ref):.1f} s ({data.n_tokens / min(c_ref):.0f} tok per CPU-s)"
    )
    print(
        f"dashboard_data, {what}: wall median {md:.1f} s (min {min(t_dash):.1f} s), CPU min {min(c_dash):.1f} s "
        f"({data.n_tokens / min(c_dash):.0f} tok per CPU-s)"
    )
    # Contention only ever adds time, so the ratio of the minima is the least noisy wall-clock estimate. On a
    # shared machine the process's CPU time (one torch thread) is steadier still: waiting for a core is not in it.
    print(
        f"ratio dashboard/forward: {ratio_cpu:.2f}x CPU time (minima); wall {ratio_min:.2f}x (minima), "
        f"{ratio:.2f}x (medians)  target <= 1.3x: {'PASS' if max(ratio_cpu, ratio_min) <= 1.3 else 'FAIL'}"
    )

    # The parts after the streaming loop, timed on their own (they do not depend on corpus length).
    from featureviz.analysis import dashboard as d

    cols = torch.arange(len(features) if features else source.n_features)
    t0, c0 = time.perf_counter(), time.process_time()
    d._nearest(source.decoder_directions().float(), cols, 5)
    t_near, c_near = time.perf_counter() - t0, time.process_time() - c0
    # Logit effects are no part of the build (issue 24 item 2): one page computes its feature's on first use, a
    # save or export computes the rest. Timed here: the first page, then every other row (what save() adds).
    d._UNEMBEDDINGS.clear()
    t0, c0 = time.perf_counter(), time.process_time()
    data.page(int(data.feature_ids[0]))
    t_page, c_page = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    data.logit_top_ids  # noqa: B018 - computes every remaining row
    t_logit, c_logit = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"fixed cost inside it: _nearest {t_near:.2f} s wall / {c_near:.2f} s CPU (= {c_near / min(c_ref):.3f}x "
        f"of the forward's CPU time at this corpus size); outside it, on demand: the first page's logit effects "
        f"{t_page * 1000:.0f} ms wall / {c_page * 1000:.0f} ms CPU, all other rows (save/export) {t_logit:.2f} s "
        f"wall / {c_logit:.2f} s CPU",
        flush=True,
    )

    if args.profile:
        print("\n== cProfile (CPU time) of one dashboard_data call (top 25 by own time) ==", flush=True)
        prof = cProfile.Profile(time.process_time)  # CPU time: waiting for a core is not the code's cost
        prof.enable()
        fv.dashboard_data(model, source, tokens, features=features, progress=False)
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(25)
        print(s.getvalue())
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats("featureviz", 20)
        print(s.getvalue())


def limit_prompts(model, tokens: torch.Tensor) -> tuple[list[str], list[torch.Tensor]]:
    """The corpus as text prompts whose tokenization is exactly the context (BOS first), so that every side -
    the forward, dashboard_data over the texts, fv.activations, its reference - runs on the same token ids and
    therefore the same batches. A context whose decoded text tokenizes differently (a cut inside a multi-byte
    character) is left out."""
    from featureviz.analysis._forward import tokenize

    prompts = [model.tokenizer.decode(ctx[1:].tolist()) for ctx in tokens]
    ids = tokenize(model, prompts)
    keep = [i for i, (a, b) in enumerate(zip(ids, tokens)) if torch.equal(a, b.cpu())]
    return [prompts[i] for i in keep], [ids[i] for i in keep]


def measure_limits(args, fv, model, source) -> None:
    """Issue 24 item 6: each build against the true minimum, one forward stopped at the hook (run_to_hook) over
    the same token ids in the same batches, interleaved in one process, CPU seconds: dashboards for all
    features (goal <= 1.1x), fv.activations (<= 1.05x), dashboards from those activations (<= 0.1x)."""
    from featureviz.analysis import dashboard as d
    from featureviz.analysis._forward import length_sorted_batches

    tokens, desc = build_corpus(model, args.tokens, args.context_size)
    prompts, ids = limit_prompts(model, tokens)
    batch_tokens = d.default_batch_tokens(source.n_features)
    assert batch_tokens == 8192, "fv.activations' default batch_tokens: both must run the same batches"
    assert [torch.equal(a, b) for a, b in zip(d.corpus_token_lists(model, prompts, args.context_size), ids)] == [
        True
    ] * len(ids)
    n_tokens = sum(len(t) - 1 for t in ids)
    print(
        f"\n== limits (issue 24 item 6): {len(ids)} of {len(tokens)} contexts round-trip through text, "
        f"{n_tokens:,} tokens (BOS excluded), {len(length_sorted_batches([len(t) for t in ids], batch_tokens))} "
        f"batches of <= {batch_tokens} tokens ==\ncorpus: {desc}",
        flush=True,
    )
    reference_pass(model, source, ids[:4], batch_tokens)  # warm-up
    acts = fv.activations(model, source, prompts[:4], progress=False)
    sides = {
        "forward": lambda: reference_pass(model, source, ids, batch_tokens),
        "dashboard_data": lambda: fv.dashboard_data(model, source, prompts, progress=False),
        "activations": lambda: fv.activations(model, source, prompts, progress=False),
        "dashboard_data(activations=)": lambda: fv.dashboard_data(model, source, activations=acts, progress=False),
    }
    wall = {name: [] for name in sides}
    cpu = {name: [] for name in sides}
    order = list(sides)
    acts = sides["activations"]()  # the cached side's input (and a warm-up of the activations side)
    for r in range(args.repeats):
        for name in order if r % 2 == 0 else order[::-1]:  # ABBA: no side always runs right after another
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            out = sides[name]()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
            if name == "activations":
                acts = out
            elif name == "dashboard_data":
                data = out
            del out
        print(
            f"  repeat {r + 1}: " + ", ".join(f"{n} {wall[n][-1]:.1f} s wall / {cpu[n][-1]:.1f} s CPU" for n in order),
            flush=True,
        )
    goals = {"dashboard_data": 1.1, "activations": 1.05, "dashboard_data(activations=)": 0.1}
    base_cpu, base_wall = min(cpu["forward"]), min(wall["forward"])
    print(
        f"forward to {source.hook_name} (run_to_hook): CPU min {base_cpu:.1f} s ({n_tokens / base_cpu:.0f} tok per "
        f"CPU-s), wall min {base_wall:.1f} s"
    )
    for name, goal in goals.items():
        ratio, ratio_wall = min(cpu[name]) / base_cpu, min(wall[name]) / base_wall
        print(
            f"{name}: CPU min {min(cpu[name]):.1f} s = {ratio:.3f}x the forward (wall minima {ratio_wall:.3f}x; "
            f"every repeat CPU {', '.join(f'{c / f:.3f}x' for c, f in zip(cpu[name], cpu['forward']))})  "
            f"goal <= {goal}x: {'PASS' if ratio <= goal else 'FAIL'}",
            flush=True,
        )
    d._UNEMBEDDINGS.clear()
    c0 = time.process_time()
    data.page(int(data.feature_ids[0]))
    c_page = time.process_time() - c0
    c0 = time.process_time()
    data.logit_top_ids  # noqa: B018 - every other row, as save() and a full export need
    c_all = time.process_time() - c0
    print(
        f"logit effects, no part of any build above: first page {c_page * 1000:.0f} ms CPU, all "
        f"{source.n_features} rows {c_all:.2f} s CPU (= {c_all / base_cpu:.3f}x the forward)",
        flush=True,
    )


# -- SAEDashboard, run in ITS venv (imports neither featureviz nor anything our venv pins) --------------------


def v4_model_dir(src: Path, dst: Path) -> Path:
    """A copy of a transformers-5 model folder that transformers 4.56 reads: v4 tokenizer_config (the tokenizer
    itself is the same tokenizer.json), rope_theta spelled out in config.json; weights symlinked."""
    dst.mkdir(parents=True, exist_ok=True)
    cfg = json.loads((src / "config.json").read_text())
    cfg.setdefault("rope_theta", (cfg.get("rope_parameters") or {}).get("rope_theta", 10000.0))
    (dst / "config.json").write_text(json.dumps(cfg, indent=1))
    tok = json.loads((src / "tokenizer_config.json").read_text())
    tok = {k: v for k, v in tok.items() if k not in ("backend", "is_local", "local_files_only")}
    tok["tokenizer_class"] = "PreTrainedTokenizerFast"
    (dst / "tokenizer_config.json").write_text(json.dumps(tok, indent=1))
    for name in ("tokenizer.json", "generation_config.json"):
        if (src / name).exists():
            (dst / name).write_bytes((src / name).read_bytes())
    for f in src.glob("*.safetensors"):
        if not (dst / f.name).exists():
            (dst / f.name).symlink_to(f.resolve())
    return dst


def saedashboard_run(args) -> int:
    import os

    from sae_dashboard.sae_vis_data import SaeVisConfig
    from sae_dashboard.sae_vis_runner import SaeVisRunner
    from sae_dashboard.transformer_lens_wrapper import ActivationConfig, TransformerLensWrapper
    from sae_lens import SAE
    from transformer_lens import HookedTransformer
    from transformer_lens import loading_from_pretrained as tl_loading
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.sae:
        raise SystemExit("--saedashboard-run needs --sae PATH (a local sae-lens folder)")
    cache = Path(
        os.environ.get("FEATUREVIZ_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "featureviz"
    )
    src = Path(args.model_dir) if args.model_dir else cache / "smollm2-135m-instruct"
    folder = v4_model_dir(src, Path(args.saedash_model_dir))
    hf_model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    cfg = tl_loading.get_pretrained_model_config(str(folder), fold_ln=True, device="cpu")
    # TransformerLens 2's Llama config ignores rope_theta (always 10,000): SmolLM2 uses 100,000. With it set,
    # the hook activations match featureviz's TransformerLens 3 model.
    cfg.rotary_base = float(hf_model.config.rope_theta)
    model = HookedTransformer(cfg, tokenizer=tokenizer, move_to_device=False)
    model.load_and_process_state_dict(
        tl_loading.get_pretrained_state_dict(str(folder), cfg, hf_model),
        fold_ln=True,
        center_writing_weights=True,
        center_unembed=True,
    )
    model.eval()
    del hf_model
    tokens = torch.load(args.saedashboard_run).long()
    sae = SAE.load_from_disk(args.sae, device="cpu")
    hook, n_features = sae.cfg.metadata.hook_name, sae.cfg.d_sae
    features = list(range(args.features or n_features))
    from importlib.metadata import version

    print(
        f"sae-dashboard {version('sae-dashboard')}, sae-lens {version('sae-lens')}, transformer-lens "
        f"{version('transformer-lens')}, transformers {version('transformers')}, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}"
    )
    print(
        f"model folder {folder}; SAE {args.sae} ({n_features} latents at {hook}); corpus {tuple(tokens.shape)} = "
        f"{tokens.shape[0] * (tokens.shape[1] - 1):,} tokens after BOS; {len(features)} features, "
        f"minibatch_size_features {args.minibatch_features}, minibatch_size_tokens 64 sequences, "
        f"cache_dir {args.cache_dir}",
        flush=True,
    )

    wrapper = TransformerLensWrapper(model, ActivationConfig(primary_hook_point=hook, auxiliary_hook_points=[]))

    def forward():  # exactly SAEDashboard's own forward (stop_at_layer = hook layer + 1), nothing done after it
        with torch.inference_mode():
            for batch in tokens.split(64):
                wrapper.forward(batch, return_logits=False)

    with torch.inference_mode():
        wrapper.forward(tokens[:4], return_logits=False)  # warm-up
    t_ref, t_run, c_ref, c_run = [], [], [], []
    for r in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        forward()
        t_ref.append(time.perf_counter() - t0)
        c_ref.append(time.process_time() - c0)
        sae = SAE.load_from_disk(args.sae, device="cpu")  # run() folds W_dec norms into it in place
        if args.cache_dir:
            import shutil

            shutil.rmtree(args.cache_dir, ignore_errors=True)
        cfg = SaeVisConfig(
            hook_point=hook,
            features=features,
            minibatch_size_features=args.minibatch_features,
            minibatch_size_tokens=64,
            ignore_positions=[0],
            verbose=False,
            cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        )
        t0, c0 = time.perf_counter(), time.process_time()
        data = SaeVisRunner(cfg).run(encoder=sae, model=model, tokens=tokens)
        t_run.append(time.perf_counter() - t0)
        c_run.append(time.process_time() - c0)
        print(
            f"  repeat {r + 1}: forward {t_ref[-1]:.1f} s wall / {c_ref[-1]:.1f} s CPU, SaeVisRunner.run "
            f"{t_run[-1]:.1f} s wall / {c_run[-1]:.1f} s CPU ({t_run[-1] / t_ref[-1]:.2f}x wall, "
            f"{c_run[-1] / c_ref[-1]:.2f}x CPU); {len(data.feature_data_dict)} features",
            flush=True,
        )
        del data
    print(f"forward to {hook} (SAEDashboard's stop_at_layer): wall min {min(t_ref):.1f} s, CPU min {min(c_ref):.1f} s")
    print(f"SaeVisRunner.run, {len(features)} features: wall min {min(t_run):.1f} s, CPU min {min(c_run):.1f} s")
    print(
        f"ratio SAEDashboard/forward: {min(c_run) / min(c_ref):.2f}x CPU time, {min(t_run) / min(t_ref):.2f}x wall "
        "(minima); compare its CPU seconds with dashboard_data's on the same corpus"
    )
    print(
        "SAEDASH_RESULT="
        + json.dumps(
            {
                "forward_s": t_ref,
                "run_s": t_run,
                "forward_cpu_s": c_ref,
                "run_cpu_s": c_run,
                "features": len(features),
                "tokens": int(tokens.shape[0] * (tokens.shape[1] - 1)),
            }
        ),
        flush=True,
    )
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=20000, help="corpus size for the time ratio (default 20000)")
    ap.add_argument("--repeats", type=int, default=1, help="interleaved repeats of forward / build (default 1)")
    ap.add_argument(
        "--rss-sizes",
        type=int,
        nargs="+",
        default=[10000, 40000],
        help="corpus sizes for the peak-RSS children, small first (default 10000 40000); keep the "
        "smallest above one batch (batch_tokens, 8192 for <= 8192 features) or it measures "
        "the batch growing, not the corpus",
    )
    ap.add_argument("--context-size", type=int, default=128)
    ap.add_argument(
        "--source",
        choices=["sae", "neurons"],
        default="sae",
        help="load_default(source=...): the shipped SAE if present, else MLP neurons",
    )
    ap.add_argument(
        "--sae",
        metavar="PATH",
        default=None,
        help="a local sae-lens folder (cfg.json + sae_weights.safetensors) for the embedded model, "
        "instead of --source; e.g. src/featureviz/assets/default_sae_checkpoints/<step>",
    )
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    ap.add_argument("--profile", action="store_true", help="also cProfile one dashboard_data call")
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--skip-ratio", action="store_true")
    ap.add_argument(
        "--limits",
        action="store_true",
        help="issue 24 item 6: dashboard_data, fv.activations and dashboard_data(activations=) against "
        "one forward stopped at the hook, same token ids and batches, interleaved (--tokens, "
        "--repeats); replaces the plain time ratio",
    )
    ap.add_argument("--save-corpus", metavar="PATH", help="save the --tokens corpus tensor (for other tools)")
    ap.add_argument(
        "--compare-saedashboard",
        action="store_true",
        help="print how to run SAEDashboard on the same corpus in its own venv, and exit",
    )
    ap.add_argument(
        "--saedashboard-run",
        metavar="CORPUS",
        default=None,
        help="run INSIDE the SAEDashboard venv (see --compare-saedashboard): time SaeVisRunner on the "
        "token tensor saved by --save-corpus, with --sae, against its own forward pass",
    )
    ap.add_argument(
        "--features",
        type=int,
        default=None,
        help="--saedashboard-run: the first N features only (default: all); dashboard_data: same",
    )
    ap.add_argument("--minibatch-features", type=int, default=256, help="--saedashboard-run: its feature minibatch")
    ap.add_argument(
        "--cache-dir",
        default=None,
        help="--saedashboard-run: SaeVisConfig.cache_dir (activations cached on disk, one forward "
        "pass shared by all feature minibatches); default none (one forward per minibatch)",
    )
    ap.add_argument(
        "--model-dir",
        default=None,
        help="--saedashboard-run: the featureviz model folder to convert "
        "(default: $FEATUREVIZ_CACHE or ~/.cache/featureviz/smollm2-135m-instruct)",
    )
    ap.add_argument(
        "--saedash-model-dir",
        default="/tmp/saedash/smollm2-v4",
        help="--saedashboard-run: where the transformers-4 copy of the model folder goes",
    )
    ap.add_argument("--rss-child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.compare_saedashboard:
        print(SAEDASHBOARD_HOWTO)
        return 0
    if args.rss_child is not None:
        return rss_child(args)
    if args.saedashboard_run:
        return saedashboard_run(args)

    fv, model, source = load(args)
    print(f"model {model.cfg.model_name}, source {source!r}, torch threads {torch.get_num_threads()}")
    if args.save_corpus:
        tokens, desc = build_corpus(model, args.tokens, args.context_size)
        torch.save(tokens, args.save_corpus)
        print(f"saved {tuple(tokens.shape)} tokens to {args.save_corpus} ({desc})")
    if args.limits:
        measure_limits(args, fv, model, source)
    elif not args.skip_ratio:
        measure_ratio(args, fv, model, source)
    if not args.skip_rss:
        del model
        measure_rss(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
