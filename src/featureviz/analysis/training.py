"""Train a TopK SAE with sae-lens on cached hook activations, save checkpoints the scrubber can read, evaluate.

The same code trains the shipped default SAE (scripts/train_demo_sae.py, hours on 2 CPU cores) and a tiny SAE
in a notebook (minutes). Everything is resumable: activation shards and training state live on disk, and a
killed run restarted with the same arguments continues where it stopped.

Layout of a run directory:
    shards/acts_00000.npy ...   float16 [tokens, d_in] hook activations, position 0 (BOS) dropped
    state/                      sae-lens training checkpoint (weights, optimizer, scheduler, step) + data position
    log.jsonl                   one line of training metrics every `log_every` steps
Exported checkpoints (sae-lens format, fp16 weights) go to `export_dir/<tokens:012d>/`, each written once.
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..devices import cpu_tokens, device_of, model_lock, to_numpy
from ..paths import ASSETS
from ..sources import split_hook, within_norm
from ._forward import run_to_hook


def hook_layer(hook_name: str) -> int:
    """The layer of a `blocks.L.hook_resid_pre` hook: the model only has to run L blocks to reach it."""
    layer, rest = split_hook(hook_name)
    if layer is None or rest != "hook_resid_pre":
        raise NotImplementedError(f"training and evaluation support blocks.L.hook_resid_pre hooks, got {hook_name!r}")
    return layer


@torch.no_grad()
def resid_pre(model, tokens: torch.Tensor, hook_name: str) -> torch.Tensor:
    """[batch, pos, d_model] residual stream entering block L: the first L blocks only (run_to_hook)."""
    hook_layer(hook_name)  # refuses other hooks
    return run_to_hook(model, tokens.to(device_of(model)), hook_name)


def _save_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)  # a run killed mid-write never leaves a truncated shard


class ActivationCache:
    """Hook activations of fixed token contexts, computed shard by shard on first use and kept on disk.

    tokens: [n_contexts, ctx_len] token ids with BOS at position 0; position 0 is dropped from the cache.
    drop_first: also drop this many positions after BOS (position artifacts that analysis leaves out too).
    max_norm: also drop tokens whose activation norm exceeds this (attention-sink tokens with massive
    activations, like BOS; in SmolLM2 e.g. <|endoftext|>), so shards hold a varying number of rows.
    The model is only needed for shards not yet on disk.
    """

    def __init__(
        self,
        directory,
        tokens: torch.Tensor,
        hook_name: str,
        model=None,
        contexts_per_shard: int = 512,
        batch_size: int = 16,
        max_norm: float | None = None,
        log: Callable[[str], None] = print,
        drop_first: int = 0,
    ):
        self.dir = Path(directory)
        self.tokens = cpu_tokens(np.asarray(tokens))
        self.hook_name = hook_name
        self.model = model
        self.contexts_per_shard = contexts_per_shard
        self.batch_size = batch_size
        self.max_norm = max_norm
        self.log = log
        self.first = 1 + drop_first  # the first position cached
        hook_layer(hook_name)
        self.dir.mkdir(parents=True, exist_ok=True)

    @property
    def n_shards(self) -> int:
        return math.ceil(len(self.tokens) / self.contexts_per_shard)

    def shard_tokens(self, i: int) -> int:
        """Rows of shard i (computing it first if needed)."""
        self._ensure(i)
        return np.load(self.path(i), mmap_mode="r").shape[0]

    @property
    def n_tokens(self) -> int:
        """Tokens before norm filtering: n_contexts x (ctx_len - 1 - drop_first)."""
        return len(self.tokens) * (self.tokens.shape[1] - self.first)

    def path(self, i: int) -> Path:
        return self.dir / f"acts_{i:05d}.npy"

    def n_cached(self) -> int:
        return sum(self.path(i).exists() for i in range(self.n_shards))

    def load(self, i: int) -> torch.Tensor:
        """Shard i as a float16 [tokens, d_in] tensor, computing and saving it first if needed."""
        self._ensure(i)
        return torch.from_numpy(np.load(self.path(i)))

    def _ensure(self, i: int) -> None:
        path = self.path(i)
        if path.exists():
            return
        if self.model is None:
            raise FileNotFoundError(f"{path} is not cached and no model was given to compute it")
        start = time.time()
        ctx = self.tokens[i * self.contexts_per_shard : (i + 1) * self.contexts_per_shard]
        parts = []
        for b in range(0, len(ctx), self.batch_size):
            acts = resid_pre(self.model, ctx[b : b + self.batch_size], self.hook_name)[:, self.first :]
            acts = acts.reshape(-1, acts.shape[-1])
            parts.append(to_numpy(acts[within_norm(acts, self.max_norm)].to(torch.float16)))
        rows = np.concatenate(parts)
        _save_atomic(path, rows)
        n, dt = ctx.shape[0] * (ctx.shape[1] - self.first), time.time() - start
        self.log(
            f"cached shard {i + 1}/{self.n_shards}: {n:,} tokens in {dt:.0f} s ({n / dt:,.0f} tok/s), "
            f"{n - len(rows)} over max_norm dropped"
        )

    def cache_all(self) -> None:
        for i in range(self.n_shards):
            if not self.path(i).exists():
                self.load(i)

    def all_acts(self) -> torch.Tensor:
        return torch.cat([self.load(i) for i in range(self.n_shards)])

    def batches(self, batch_size: int, start_token: int = 0, seed: int = 0):
        """Endless stream of [batch_size, d_in] float32 batches, starting `start_token` tokens into the stream.

        The stream visits the shards in order, each shuffled by a permutation seeded by (seed, epoch, shard), so
        the batch at a given token offset is always the same and a resumed run sees exactly the data it would
        have seen. Contexts are assumed to be shuffled across shards already.
        """
        epoch, shard, within = 0, 0, start_token
        while within >= (size := self.shard_tokens(shard)):  # shards before the start are cached already
            within -= size
            shard += 1
            if shard == self.n_shards:
                shard, epoch = 0, epoch + 1
        rest = None
        while True:
            gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch * 10_007 + shard)
            acts = self.load(shard)
            acts = acts[torch.randperm(len(acts), generator=gen, device="cpu")][within:]
            within = 0
            if rest is not None:
                acts = torch.cat([rest, acts])
            pos = 0
            while pos + batch_size <= len(acts):
                yield acts[pos : pos + batch_size].float()
                pos += batch_size
            rest = acts[pos:]
            shard += 1
            if shard == self.n_shards:
                shard, epoch = 0, epoch + 1


@dataclass
class TrainConfig:
    """Hyperparameters of a TopK SAE trained with sae-lens's SAETrainer. Token counts exclude position 0."""

    hook_name: str
    d_in: int
    d_sae: int = 2560
    k: int = 48
    total_tokens: int = 5_000_000
    batch_size: int = 2048
    lr: float = 5e-4
    warmup_steps: int = 100
    decay_fraction: float = 0.2  # linear decay to 0 over the last 20% of steps
    aux_loss_coefficient: float = 1 / 32  # the AuxK coefficient of Gao et al. (2024)
    dead_feature_window: int = 100  # steps without firing before AuxK treats a latent as dead
    seed: int = 0
    export_at: Sequence[int] = ()  # token counts at which to export an fp16 checkpoint (plus the final one)
    model_name: str = "model"
    context_size: int = 128
    dataset: str = ""
    metadata: dict = field(default_factory=dict)
    device: str = "cpu"  # where the SAE trains (batches move there from the CPU activation cache)

    @property
    def total_steps(self) -> int:
        return self.total_tokens // self.batch_size


def log_spaced(total_tokens: int, n: int = 8, first: int | None = None, last: float = 0.6) -> list[int]:
    """n token counts spaced evenly in log scale from `first` (default total/256) to last*total."""
    first = first or max(total_tokens // 256, 1)
    return sorted({int(round(t)) for t in np.geomspace(first, last * total_tokens, n)})


def make_trainer(cfg: TrainConfig):
    from sae_lens.config import SAETrainerConfig
    from sae_lens.saes.sae import SAEMetadata
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig
    from sae_lens.training.sae_trainer import SAETrainer

    torch.manual_seed(cfg.seed)
    metadata = SAEMetadata(
        model_name=cfg.model_name,
        hook_name=cfg.hook_name,
        context_size=cfg.context_size,
        prepend_bos=True,
        dataset_path=cfg.dataset,
        exclude_special_tokens=False,
        **cfg.metadata,
    )
    sae = TopKTrainingSAE(
        TopKTrainingSAEConfig(
            d_in=cfg.d_in,
            d_sae=cfg.d_sae,
            k=cfg.k,
            aux_loss_coefficient=cfg.aux_loss_coefficient,
            normalize_activations="expected_average_only_in",
            metadata=metadata,
            device=cfg.device,
        )
    )
    trainer_cfg = SAETrainerConfig(
        total_training_samples=cfg.total_tokens,
        train_batch_size_samples=cfg.batch_size,
        lr=cfg.lr,
        lr_warm_up_steps=cfg.warmup_steps,
        lr_decay_steps=int(cfg.decay_fraction * cfg.total_steps),
        lr_end=0.0,
        dead_feature_window=cfg.dead_feature_window,
        feature_sampling_window=cfg.dead_feature_window,
    )
    # We drive the steps ourselves (see train_sae), so the trainer's own data provider is never read.
    return SAETrainer(trainer_cfg, sae, data_provider=iter(()))


def export_inference_sae(training_sae, scaling_factor: float | None, path, n_tokens: int | None = None) -> Path:
    """Save a copy of a training SAE as an sae-lens inference SAE with fp16 weights (config keeps float32,
    so `SAE.load_from_disk` returns float32). The activation scaling factor is folded in, as sae-lens does at
    the end of training. Written to a temporary folder and renamed, so a folder that exists is complete."""
    path = Path(path)
    sae = copy.deepcopy(training_sae)
    if scaling_factor is not None:
        sae.fold_activation_norm_scaling_factor(scaling_factor)
    if n_tokens is not None:
        sae.cfg.metadata.n_training_tokens = int(n_tokens)
    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    weights, _ = sae.save_inference_model(tmp)
    save_file({k: v.to(torch.float16).contiguous() for k, v in load_file(weights).items()}, weights)
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
    return path


def train_sae(
    cache: ActivationCache,
    cfg: TrainConfig,
    run_dir,
    export_dir=None,
    final_dir=None,
    log_every: int = 20,
    save_every_s: float = 300,
    deadline: float | None = None,
    log: Callable[[str], None] = print,
):
    """Train (or resume training) a TopK SAE on `cache`; returns the sae-lens training SAE.

    export_dir: fp16 checkpoints at each of cfg.export_at tokens go to export_dir/<tokens:012d>/ (written once).
    final_dir: the final SAE (fp16) at the end of training.
    deadline: a time.time() after which to save state and return early (resume later with the same call).
    """
    run_dir = Path(run_dir)
    state_dir = run_dir / "state"
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = make_trainer(cfg)
    sae = trainer.sae
    if (state_dir / "sae_weights.safetensors").exists():
        sae.load_weights_from_checkpoint(state_dir)
        trainer.load_trainer_state(state_dir)
        log(f"resumed at step {trainer.n_training_steps} ({trainer.n_training_samples:,} tokens)")
    else:
        # sae-lens's "expected_average_only_in": scale inputs so their mean norm is sqrt(d_in). Estimated
        # here from the first shard instead of by the trainer, which would consume batches from the stream.
        first = cache.load(0).float()
        mean_norm = first.norm(dim=-1).mean().item()
        scale = math.sqrt(cfg.d_in) / mean_norm
        trainer.activation_scaler.scaling_factor = scale
        # b_dec starts at the data mean (Gao et al. use the geometric median; sae-lens 6 leaves it at 0):
        # the residual has a large mean (~half its energy here) that Adam would take most of the run to learn.
        with torch.no_grad():
            sae.b_dec.copy_(first.mean(0) * scale)
        log(
            f"activation mean norm {mean_norm:.1f}, scaling factor {scale:.4f}, "
            f"mean share of energy {(first.mean(0).pow(2).sum() / first.pow(2).sum(-1).mean()).item():.2f}"
        )

    def save_state():
        tmp = run_dir / "state.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        sae.save_model(tmp)
        trainer.save_trainer_state(tmp)
        (tmp / "train_config.json").write_text(json.dumps(asdict(cfg), default=list))
        old = run_dir / "state.old"
        shutil.rmtree(old, ignore_errors=True)
        if state_dir.exists():
            os.replace(state_dir, old)
        os.replace(tmp, state_dir)
        shutil.rmtree(old, ignore_errors=True)

    def export(path, n_tokens):
        export_inference_sae(sae, trainer.activation_scaler.scaling_factor, path, n_tokens)
        log(f"exported {path} at {n_tokens:,} tokens")

    pending = sorted(t for t in cfg.export_at if t > trainer.n_training_samples)
    batches = cache.batches(cfg.batch_size, start_token=trainer.n_training_samples, seed=cfg.seed)
    last_save = t0 = time.time()
    tokens0 = trainer.n_training_samples
    step_time = 0.0  # time in optimiser steps only (the rest is reading or computing activation shards)
    with open(run_dir / "log.jsonl", "a") as log_file:
        while trainer.n_training_samples < cfg.total_tokens:
            trainer.maybe_reset_sparsity()
            batch = next(batches)
            start = time.time()
            out = trainer.step(batch)
            step_time += time.time() - start
            trainer.n_training_steps += 1
            n = trainer.n_training_samples
            if trainer.n_training_steps % log_every == 0:
                with torch.no_grad():
                    x, x_hat = out.sae_in.float(), out.sae_out.float()
                    ev = 1 - (x - x_hat).pow(2).sum() / (x - x.mean(0)).pow(2).sum()
                    row = {
                        "step": trainer.n_training_steps,
                        "tokens": n,
                        "time": time.time(),
                        "mse": out.losses["mse_loss"].item(),
                        "aux": float(out.losses.get("auxiliary_reconstruction_loss", 0.0)),
                        "explained_variance": ev.item(),
                        "l0": (out.feature_acts > 0).float().sum(-1).mean().item(),
                        "dead": int(trainer.dead_neurons.sum()),
                        "lr": trainer.optimizer.param_groups[0]["lr"],
                        "tok_per_s": (n - tokens0) / (time.time() - t0),
                        "train_tok_per_s": (n - tokens0) / step_time,
                    }
                log_file.write(json.dumps(row) + "\n")
                log_file.flush()
                log(
                    " ".join(
                        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items() if k != "time"
                    )
                )
            exported = False
            while pending and n >= pending[0]:
                target = pending.pop(0)
                if export_dir is not None and not (Path(export_dir) / f"{target:012d}").exists():
                    export(Path(export_dir) / f"{target:012d}", n)
                    exported = True
            if exported or time.time() - last_save > save_every_s:
                save_state()
                last_save = time.time()
            if deadline is not None and time.time() > deadline:
                save_state()
                log(f"deadline reached at step {trainer.n_training_steps}; state saved, resume to continue")
                return sae
    save_state()
    trainer.set_final_sae_metadata()
    if final_dir is not None:
        export(Path(final_dir), trainer.n_training_samples)
    return sae


@torch.no_grad()
def evaluate_sae(
    sae,
    model,
    tokens: torch.Tensor,
    *,
    acts: torch.Tensor | None = None,
    ce_contexts: int | None = None,
    max_norm: float | None = None,
    batch_size: int = 16,
) -> dict:
    """Quality of an SAE on held-out contexts. Position 0 (BOS) and tokens whose activation norm exceeds
    `max_norm` (attention sinks) are excluded everywhere; the model is never changed at those positions.

    tokens: [n, ctx_len] with BOS at position 0. acts: optional precomputed activations of the same tokens
    (e.g. an ActivationCache's rows) for the reconstruction metrics; otherwise they are computed from tokens.
    Returns explained_variance (1 - FVU, pooled over tokens), mean_l0, dead_fraction (latents never active on
    these tokens), and on the first `ce_contexts` contexts (all when acts is None and ce_contexts is None) the
    next-token CE loss of the clean model, with the reconstruction spliced in, and with the same positions
    zero-ablated, and ce_recovered = (ce_zero - ce_sae) / (ce_zero - ce_clean).
    """
    hook_name = sae.cfg.metadata.hook_name
    layer = hook_layer(hook_name)
    tokens = cpu_tokens(np.asarray(tokens))
    sae = sae.float().eval()
    if ce_contexts is None:
        ce_contexts = 0 if acts is not None else len(tokens)
    stats = {"sq_err": 0.0, "sum_sq": 0.0, "n": 0, "l0": 0.0}
    sum_x = torch.zeros(sae.cfg.d_in, dtype=torch.float64, device="cpu")
    fired = torch.zeros(sae.cfg.d_sae, dtype=torch.bool, device=sae.device)
    device = device_of(model)

    def reconstruct(x, accumulate=True):
        x = x.to(sae.device)
        feats = sae.encode(x)
        x_hat = sae.decode(feats)
        if not accumulate:
            return x_hat
        stats["sq_err"] += (x - x_hat).double().pow(2).sum().item()
        stats["sum_sq"] += x.double().pow(2).sum().item()
        stats["n"] += len(x)
        stats["l0"] += (feats > 0).sum().item()
        sum_x.add_(x.double().sum(0).cpu())
        fired.logical_or_((feats > 0).any(0))
        return x_hat

    if acts is not None:
        for b in range(0, len(acts), 4096):
            x = acts[b : b + 4096].float()
            reconstruct(x[within_norm(x, max_norm)])
    ce = {"clean": 0.0, "sae": 0.0, "zero": 0.0}
    ce_count = 0
    n_forward = len(tokens) if acts is None else min(ce_contexts, len(tokens))
    for b in range(0, n_forward, batch_size):
        tok = tokens[b : min(b + batch_size, n_forward)].to(device)
        resid = resid_pre(model, tok, hook_name)
        x = resid[:, 1:].reshape(-1, resid.shape[-1])
        keep = within_norm(x, max_norm)
        # with acts given the reconstruction metrics come from acts, and this pass is for CE only
        x_hat = reconstruct(x[keep], accumulate=acts is None).to(resid.device, resid.dtype)
        if b < ce_contexts:
            n_ce = min(len(tok), ce_contexts - b)
            mask = torch.zeros(resid.shape[:2], dtype=torch.bool, device=resid.device)
            mask[:, 1:] = keep.reshape(len(tok), -1)
            spliced, zeroed = resid.clone(), resid.clone()
            spliced[mask] = x_hat
            zeroed[mask] = 0
            for name, r in (("clean", resid), ("sae", spliced), ("zero", zeroed)):
                with model_lock(model):
                    logits = model(r[:n_ce], start_at_layer=layer, tokens=tok[:n_ce])
                # predictions from positions 1.. (position 0 is BOS and is never spliced)
                logp = logits[:, 1:-1].log_softmax(-1)
                ce[name] += -logp.gather(-1, tok[:n_ce, 2:, None]).sum().item()
            ce_count += tok[:n_ce, 2:].numel()
    n = stats["n"] or float("nan")  # no token kept: nan metrics
    total_var = stats["sum_sq"] - sum_x.pow(2).sum().item() / n
    result = {
        "n_tokens": stats["n"],
        "explained_variance": 1 - stats["sq_err"] / total_var,
        "mean_l0": stats["l0"] / n,
        "dead_fraction": 1 - fired.float().mean().item(),
        "n_ce_tokens": ce_count,
        "max_norm": max_norm,
    }
    if ce_count:
        result.update({f"ce_{k}": v / ce_count for k, v in ce.items()})
        denom = result["ce_zero"] - result["ce_clean"]
        result["ce_recovered"] = (result["ce_zero"] - result["ce_sae"]) / denom if denom else float("nan")
    return result


def load_checkpoint_series(directory) -> list[tuple[int, Path]]:
    """(training tokens, folder) of each exported checkpoint under `directory`, in training order."""
    directory = Path(directory)
    out = []
    for path in directory.iterdir() if directory.exists() else ():
        if (path / "cfg.json").exists() and not path.name.endswith(".partial"):
            meta = json.loads((path / "cfg.json").read_text()).get("metadata", {})
            out.append((int(meta.get("n_training_tokens") or int(path.name)), path))
    return sorted(out)


def default_sae_checkpoints() -> list[tuple[int, Path]]:
    """The shipped default SAE's checkpoint series, final SAE last: (training tokens, sae-lens folder)."""
    series = load_checkpoint_series(ASSETS / "default_sae_checkpoints")
    final = ASSETS / "default_sae"
    if (final / "cfg.json").exists():
        meta = json.loads((final / "cfg.json").read_text()).get("metadata", {})
        series.append((int(meta.get("n_training_tokens") or 0), final))
    return series
