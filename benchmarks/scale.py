"""Dashboards over Ray workers (issue 22 item 5): 1 vs 2 workers over one corpus, in one run.

    .venv/bin/python benchmarks/scale.py [--tokens 100000] [--workers 1 2] [--shards 4] [--model default|tiny]
                                         [--features N] [--json PATH] [--worker-nice 5]

Needs Ray (`pip install 'featureviz[distributed]'`). For each worker count N: a fresh local Ray with N CPUs
(each worker one torch thread), one warm-up task per worker (imports torch and featureviz, so process start is
not timed), then `fv.dashboard_data(model, source, corpus, workers=N, shards=S)` on the same token corpus
(Debian text, as benchmarks/dashboard.py; S is the same for every N, so the plan and the merged result are the
same). Reported per N: wall time of the call, speed-up over the first N, each worker's peak RSS (ru_maxrss of
the worker process, read by its shard tasks), the driver's peak RSS, the time the driver spent merging shard
states as a fraction of the call, and whether every N gave identical arrays. The model and the source reach the
workers through Ray's object store (`ray.put` once per call, inside the timed call).

--model default: the embedded SmolLM2-135M and the shipped SAE (2,560 latents at blocks.15.hook_resid_pre).
--model tiny: a random 2-layer model with a random TopK SAE of the same width (seconds; checks the script).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def arrays(data) -> dict:
    """Every array field of a DashboardData (what the merge must reproduce), and the token count."""
    out = {
        f.name: getattr(data, f.name) for f in dataclasses.fields(data) if isinstance(getattr(data, f.name), np.ndarray)
    }
    return out | {"n_tokens": np.asarray(data.n_tokens)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--model", choices=["default", "tiny"], default="default")
    parser.add_argument("--features", type=int, help="only the first N features (default: all)")
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        help="workers lower their own priority by this much: on a busy shared box run the driver "
        "(and so Ray's GCS and raylet, which must answer within Ray's 30 s start-up wait) at "
        "normal priority and only the workers niced",
    )
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"
    import ray
    import torch

    torch.set_num_threads(1)
    from dashboard import build_corpus

    import featureviz as fv
    from featureviz.analysis import distributed

    if args.model == "default":
        model, source = fv.load_default()
    else:
        from activations_memory import tiny_model_and_sae

        model, source = tiny_model_and_sae()
    corpus, desc = build_corpus(model, args.tokens, 128)
    features = None if args.features is None else range(args.features)
    print(
        f"dashboard_data over {corpus.shape[0]} contexts x 128 ({desc}), {args.model} model, "
        f"{args.shards} shards; {os.cpu_count()} CPUs here, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    rows, first, reference = [], None, None
    for n in args.workers:
        distributed.start_local_ray(n)

        @ray.remote(num_cpus=1)
        def warm():
            import featureviz.analysis.distributed  # noqa: F401  (torch, transformer_lens, sae_lens)

            if args.worker_nice:
                os.nice(args.worker_nice)

            time.sleep(2)  # hold the CPU so the next warm-up lands on another worker
            return os.getpid()

        pids = set(ray.get([warm.remote() for _ in range(n)]))
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        data = fv.dashboard_data(model, source, corpus, features, workers=n, shards=args.shards, progress=False)
        seconds = time.perf_counter() - t0
        run = distributed.last_run
        ray.shutdown()
        per_worker = {}
        for r in run.results:
            per_worker[r.pid] = max(per_worker.get(r.pid, 0), r.peak_rss_mb)
        same = True
        if reference is None:
            reference = data
        else:
            same = all(np.array_equal(a, arrays(reference)[name]) for name, a in arrays(data).items())
        first = first or seconds
        row = {
            "workers": n,
            "seconds": seconds,
            "speedup": first / seconds,
            "tokens": data.n_tokens,
            "tokens_per_s": data.n_tokens / seconds,
            "merge_seconds": run.merge_seconds,
            "merge_fraction": run.merge_seconds / seconds,
            "worker_peak_rss_mb": sorted(per_worker.values()),
            "worker_processes": len(per_worker),
            "warm_workers": len(pids),
            "shard_seconds": sorted(r.seconds for r in run.results),
            "worker_cpu_seconds": sum(r.cpu_seconds for r in run.results),
            "driver_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "identical_to_first": same,
            "load_before": load,
        }
        rows.append(row)
        print(
            f"  {n} worker(s): {seconds:,.1f} s ({row['tokens_per_s']:,.0f} tok/s), speed-up {row['speedup']:.2f}x; "
            f"worker peak RSS {', '.join(f'{m:,.0f}' for m in row['worker_peak_rss_mb'])} MiB; driver peak "
            f"{row['driver_peak_rss_mb']:,.0f} MiB; merge {run.merge_seconds:.3f} s = "
            f"{100 * row['merge_fraction']:.2f}% of the build; shards "
            f"{', '.join(f'{s:.0f}' for s in row['shard_seconds'])} s ({row['worker_cpu_seconds']:,.0f} worker CPU s, "
            f"{data.n_tokens / row['worker_cpu_seconds']:,.0f} tok per CPU s); identical to the first run: {same}; "
            f"load average before {load:.1f}",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "corpus": desc, "runs": rows}, indent=1))
    return 0 if all(r["identical_to_first"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
