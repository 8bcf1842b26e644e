"""Dashboards over Ray workers: the one-process batch plan is cut into shards of whole batches, each shard is
reduced into a `DashboardState` by a Ray task (written to a checkpoint file when asked), the driver merges.

Shards hold whole batches of the same plan, so every forward pass is the one the single process runs (same
rows, same padding) and the merged state equals its state (see `DashboardState`). Ray retries a task whose
worker died; with a checkpoint directory a task first looks for its shard's file, so a re-run (or Ray's
lineage reconstruction) recomputes only shards that never finished.
"""

from __future__ import annotations

import hashlib
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..sources import FeatureSource
from ..validation import positive_int
from .dashboard import DashboardState, PassSpec, reduce_batches

INSTALL = "pip install 'featureviz[distributed]'"
LOCAL_SHARDS = 8  # shards of a checkpointed pass without workers


def require_ray():
    """The ray module, or an ImportError saying in one sentence what to install."""
    try:
        import ray
    except ImportError:
        raise ImportError(
            f"workers= and cluster= run on Ray, which is not installed: {INSTALL} (or pip install ray)"
        ) from None
    return ray


@dataclass
class Shard:
    """Whole batches first_batch, first_batch + 1, ... of a pass's plan, with the token contexts they use."""

    index: int
    first_batch: int
    batches: list[list[int]]
    contexts: dict[int, torch.Tensor] = field(repr=False)

    @property
    def n_tokens(self) -> int:
        return sum(len(self.contexts[i]) for batch in self.batches for i in batch)

    def key(self, spec: PassSpec, source: FeatureSource) -> str:
        """Everything a shard's state depends on, hashed: its batches' tokens and place in the plan, the spec,
        the source. A checkpoint with another key belongs to another pass and is recomputed."""
        digest = hashlib.sha256(f"{self.first_batch};{spec.key()};{source.feature_space}".encode())
        for batch in self.batches:
            for i in batch:
                digest.update(f"|{i}:".encode())
                digest.update(self.contexts[i].numpy().tobytes())
        return digest.hexdigest()


@dataclass
class ShardResult:
    state: DashboardState
    index: int
    computed: bool  # False: loaded from its checkpoint
    seconds: float
    cpu_seconds: float  # of the process that ran it, during this shard (all its threads)
    peak_rss_mb: float  # of the process that ran it (a Ray worker's whole life so far)
    pid: int


def plan_shards(contexts, plan: list[list[int]], n_shards: int) -> list[Shard]:
    """Cut the plan into at most n_shards runs of whole batches with about equal padded tokens."""
    cost = [len(batch) * max(len(contexts[i]) for i in batch) for batch in plan]
    total, shards, start, done = sum(cost), [], 0, 0
    for b, c in enumerate(cost):
        done += c
        last = b == len(plan) - 1
        if last or done >= total * (len(shards) + 1) / n_shards:
            batches = plan[start : b + 1]
            shards.append(Shard(len(shards), start, batches, {i: contexts[i] for batch in batches for i in batch}))
            start = b + 1
    return shards


def run_shard(model, source: FeatureSource, shard: Shard, spec: PassSpec, checkpoint: str | None = None) -> ShardResult:
    """Reduce one shard (or load its checkpoint, written by an earlier run of the same pass)."""
    started, cpu = time.perf_counter(), time.process_time()
    key = shard.key(spec, source) if checkpoint else ""
    state = DashboardState.load(checkpoint, key) if checkpoint else None
    computed = state is None
    if computed:
        state = reduce_batches(model, source, shard.contexts, shard.batches, spec, first_batch=shard.first_batch)
        state = state.to("cpu")
        if checkpoint:
            state.save(checkpoint, key)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return ShardResult(
        state, shard.index, computed, time.perf_counter() - started, time.process_time() - cpu, rss, os.getpid()
    )


def _ray_shard(model, source, shard, spec, checkpoint):
    """The Ray task: the model and source arrive from the object store (a CUDA model on this task's GPU)."""
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    return run_shard(model, source, shard, spec, checkpoint)


@dataclass
class ShardedRun:
    """What a sharded pass did, for benchmarks: per shard results (without states) and the merge time."""

    results: list[ShardResult]
    merge_seconds: float
    total_seconds: float


last_run: ShardedRun | None = None  # of the latest sharded_state call in this process


def sharded_state(
    model,
    source: FeatureSource,
    contexts,
    plan,
    spec: PassSpec,
    *,
    workers=None,
    cluster=None,
    shards=None,
    checkpoint_dir=None,
    progress=True,
) -> DashboardState:
    """The merged DashboardState of the plan, its shards run as Ray tasks (or here, one after another, when
    neither workers nor cluster is given). What it did is left in `last_run` (benchmarks/scale.py reads it)."""
    started = time.perf_counter()
    use_ray = workers is not None or cluster is not None
    if workers is not None:
        workers = positive_int(workers, "workers")
    if use_ray:
        ray = _connect(cluster, workers)
        if workers is None:
            resources = ray.cluster_resources()
            workers = max(1, int(resources.get("GPU", 0) or resources.get("CPU", 1)))
    n_shards = positive_int(shards, "shards") if shards is not None else (2 * workers if use_ray else LOCAL_SHARDS)
    parts = plan_shards(contexts, plan, min(n_shards, len(plan)))
    directory = Path(checkpoint_dir).expanduser() if checkpoint_dir is not None else None
    paths = [
        str(directory / f"shard-{s.index:05d}-of-{len(parts):05d}.safetensors") if directory else None for s in parts
    ]
    bar = tqdm(total=sum(s.n_tokens for s in parts), desc="dashboard", unit="tok", disable=not progress)
    merged, merge_seconds, results = None, 0.0, []

    def fold(result: ShardResult):
        nonlocal merged, merge_seconds
        t = time.perf_counter()
        merged = result.state if merged is None else merged.merge(result.state)
        merge_seconds += time.perf_counter() - t
        result.state = None  # merged: the driver keeps one state, not one per shard
        results.append(result)
        bar.update(parts[result.index].n_tokens)

    if not use_ray:
        for shard, path in zip(parts, paths):
            fold(run_shard(model, source, shard, spec, path))
    else:
        task = ray.remote(_ray_shard).options(
            num_cpus=1, num_gpus=1 if model.device.type == "cuda" else 0, max_retries=3
        )
        model_ref, source_ref, spec_ref = ray.put(model), ray.put(source), ray.put(spec)
        pending, waiting = list(zip(parts, paths)), []
        while pending or waiting:
            while pending and len(waiting) < workers:  # at most `workers` tasks at once, on any cluster
                shard, path = pending.pop(0)
                waiting.append(task.remote(model_ref, source_ref, shard, spec_ref, path))
            done, waiting = ray.wait(waiting, num_returns=1)
            fold(ray.get(done[0]))
    bar.close()
    global last_run
    last_run = ShardedRun(results, merge_seconds, time.perf_counter() - started)
    return merged


def _connect(cluster, workers):
    ray = require_ray()
    if cluster is not None and cluster != "auto" and not str(cluster).startswith("ray://"):
        raise ValueError(f"cluster must be 'auto' or 'ray://host:port', got {cluster!r}")
    if not ray.is_initialized():
        if cluster is None:  # a local Ray with as many CPUs as workers
            start_local_ray(workers)
        else:
            ray.init(address=cluster, log_to_driver=False)
    return ray


def start_local_ray(num_cpus: int, attempts: int = 3):
    """ray.init of a local Ray with num_cpus CPUs (one torch thread per worker). Ray gives its node 30 s to
    register; on a busy machine that can pass, so a failed start is retried."""
    # Its raylet waits for the agents (Python processes) to come up; slow to start on a loaded machine.
    os.environ.setdefault("RAY_agent_register_timeout_ms", "180000")
    ray = require_ray()
    for attempt in range(attempts):
        try:
            return ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}},
            )
        except Exception:  # Ray raises a bare Exception when its node times out during startup
            ray.shutdown()
            if attempt == attempts - 1:
                raise
