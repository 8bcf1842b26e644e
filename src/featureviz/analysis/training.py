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
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

_RESID_PRE = re.compile(r"^blocks\.(\d+)\.hook_resid_pre$")
ASSETS = Path(__file__).resolve().parent.parent / "assets"


def hook_layer(hook_name: str) -> int:
    """The layer of a `blocks.L.hook_resid_pre` hook: the model only has to run L blocks to reach it."""
    match = _RESID_PRE.match(hook_name)
    if not match:
        raise NotImplementedError(f"training and evaluation support blocks.L.hook_resid_pre hooks, got {hook_name!r}")
    return int(match.group(1))


@torch.no_grad()
def resid_pre(model, tokens: torch.Tensor, hook_name: str) -> torch.Tensor:
    """[batch, pos, d_model] residual stream entering block L: the first L blocks only (stop_at_layer)."""
    return model(tokens, stop_at_layer=hook_layer(hook_name))


def _save_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)  # a run killed mid-write never leaves a truncated shard


class ActivationCache:
    """Hook activations of fixed token contexts, computed shard by shard on first use and kept on disk.

    tokens: [n_contexts, ctx_len] token ids with BOS at position 0; position 0 is dropped from the cache.
    The model is only needed for shards not yet on disk.
    """

    def __init__(self, directory, tokens: torch.Tensor, hook_name: str, model=None,
                 contexts_per_shard: int = 512, batch_size: int = 16, log: Callable[[str], None] = print):
        self.dir = Path(directory)
        self.tokens = torch.as_tensor(np.asarray(tokens)).long()
        self.hook_name = hook_name
        self.model = model
        self.contexts_per_shard = contexts_per_shard
        self.batch_size = batch_size
        self.log = log
        hook_layer(hook_name)
        self.dir.mkdir(parents=True, exist_ok=True)

    @property
    def n_shards(self) -> int:
        return math.ceil(len(self.tokens) / self.contexts_per_shard)

    def shard_tokens(self, i: int) -> int:
        start = i * self.contexts_per_shard
        n = min(self.contexts_per_shard, len(self.tokens) - start)
        return n * (self.tokens.shape[1] - 1)

    @property
    def n_tokens(self) -> int:
        return len(self.tokens) * (self.tokens.shape[1] - 1)

    def path(self, i: int) -> Path:
        return self.dir / f"acts_{i:05d}.npy"

    def n_cached(self) -> int:
        return sum(self.path(i).exists() for i in range(self.n_shards))

    def load(self, i: int) -> torch.Tensor:
        """Shard i as a float16 [tokens, d_in] tensor, computing and saving it first if needed."""
        path = self.path(i)
        if not path.exists():
            if self.model is None:
                raise FileNotFoundError(f"{path} is not cached and no model was given to compute it")
            start = time.time()
            ctx = self.tokens[i * self.contexts_per_shard:(i + 1) * self.contexts_per_shard]
            parts = []
            for b in range(0, len(ctx), self.batch_size):
                acts = resid_pre(self.model, ctx[b:b + self.batch_size], self.hook_name)[:, 1:]
                parts.append(acts.reshape(-1, acts.shape[-1]).to(torch.float16).numpy())
            _save_atomic(path, np.concatenate(parts))
            dt = time.time() - start
            self.log(f"cached shard {i + 1}/{self.n_shards}: {self.shard_tokens(i):,} tokens in {dt:.0f} s "
                     f"({self.shard_tokens(i) / dt:,.0f} tok/s)")
        return torch.from_numpy(np.load(path))

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
        sizes = [self.shard_tokens(i) for i in range(self.n_shards)]
        ends = np.cumsum(sizes)
        epoch, offset = divmod(start_token, int(ends[-1]))
        shard = int(np.searchsorted(ends, offset, side="right"))
        within = offset - (int(ends[shard - 1]) if shard else 0)
        rest = None
        while True:
            gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch * 10_007 + shard)
            acts = self.load(shard)[torch.randperm(sizes[shard], generator=gen)][within:]
            within = 0
            if rest is not None:
                acts = torch.cat([rest, acts])
            pos = 0
            while pos + batch_size <= len(acts):
                yield acts[pos:pos + batch_size].float()
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
    metadata = SAEMetadata(model_name=cfg.model_name, hook_name=cfg.hook_name, context_size=cfg.context_size,
                           prepend_bos=True, dataset_path=cfg.dataset, exclude_special_tokens=False,
                           **cfg.metadata)
    sae = TopKTrainingSAE(TopKTrainingSAEConfig(
        d_in=cfg.d_in, d_sae=cfg.d_sae, k=cfg.k, aux_loss_coefficient=cfg.aux_loss_coefficient,
        normalize_activations="expected_average_only_in", metadata=metadata))
    trainer_cfg = SAETrainerConfig(
        total_training_samples=cfg.total_tokens, train_batch_size_samples=cfg.batch_size, lr=cfg.lr,
        lr_warm_up_steps=cfg.warmup_steps, lr_decay_steps=int(cfg.decay_fraction * cfg.total_steps),
        lr_end=0.0, dead_feature_window=cfg.dead_feature_window, feature_sampling_window=cfg.dead_feature_window,
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


def train_sae(cache: ActivationCache, cfg: TrainConfig, run_dir, export_dir=None, final_dir=None,
              log_every: int = 20, save_every_s: float = 300, deadline: float | None = None,
              log: Callable[[str], None] = print):
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
        mean_norm = cache.load(0).float().norm(dim=-1).mean().item()
        trainer.activation_scaler.scaling_factor = math.sqrt(cfg.d_in) / mean_norm
        log(f"activation mean norm {mean_norm:.1f}, scaling factor {trainer.activation_scaler.scaling_factor:.4f}")

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
    with open(run_dir / "log.jsonl", "a") as log_file:
        while trainer.n_training_samples < cfg.total_tokens:
            trainer.maybe_reset_sparsity()
            out = trainer.step(next(batches))
            trainer.n_training_steps += 1
            n = trainer.n_training_samples
            if trainer.n_training_steps % log_every == 0:
                with torch.no_grad():
                    x, x_hat = out.sae_in.float(), out.sae_out.float()
                    ev = 1 - (x - x_hat).pow(2).sum() / (x - x.mean(0)).pow(2).sum()
                    row = {"step": trainer.n_training_steps, "tokens": n, "time": time.time(),
                           "mse": out.losses["mse_loss"].item(),
                           "aux": float(out.losses.get("auxiliary_reconstruction_loss", torch.tensor(0.0))),
                           "explained_variance": ev.item(),
                           "l0": (out.feature_acts > 0).float().sum(-1).mean().item(),
                           "dead": int(trainer.dead_neurons.sum()),
                           "lr": trainer.optimizer.param_groups[0]["lr"],
                           "tok_per_s": (n - tokens0) / (time.time() - t0)}
                log_file.write(json.dumps(row) + "\n")
                log_file.flush()
                log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                             for k, v in row.items() if k != "time"))
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
def evaluate_sae(sae, model, tokens: torch.Tensor, *, acts: torch.Tensor | None = None, ce_contexts: int | None = None,
                 batch_size: int = 16) -> dict:
    """Quality of an SAE on held-out contexts, position 0 (BOS) excluded everywhere.

    tokens: [n, ctx_len] with BOS at position 0. acts: optional precomputed [n*(ctx_len-1), d_in] activations
    of the same tokens (e.g. an ActivationCache) for the reconstruction metrics.
    Returns explained_variance (1 - FVU, pooled over tokens), mean_l0, dead_fraction (latents never active on
    these tokens), and on the first `ce_contexts` contexts (all by default) the next-token CE loss of the
    clean model, with the reconstruction spliced in at positions >= 1, and with those positions zero-ablated,
    and ce_recovered = (ce_zero - ce_sae) / (ce_zero - ce_clean).
    """
    hook_name = sae.cfg.metadata.hook_name
    layer = hook_layer(hook_name)
    tokens = torch.as_tensor(np.asarray(tokens)).long()
    sae = sae.float().eval()
    d_sae = sae.cfg.d_sae
    sq_err = 0.0
    sum_x = torch.zeros(sae.cfg.d_in, dtype=torch.float64)
    sum_sq = 0.0
    n = 0
    l0_sum = 0.0
    fired = torch.zeros(d_sae, dtype=torch.bool)
    ce = {"clean": 0.0, "sae": 0.0, "zero": 0.0}
    n_ce = len(tokens) if ce_contexts is None else min(ce_contexts, len(tokens))
    ce_count = 0
    per_ctx = tokens.shape[1] - 1
    for b in range(0, len(tokens), batch_size):
        tok = tokens[b:b + batch_size]
        need_ce = b < n_ce
        if acts is not None and not need_ce:
            x = acts[b * per_ctx:(b + len(tok)) * per_ctx].float()
            resid = None
        else:
            resid = resid_pre(model, tok, hook_name)
            x = resid[:, 1:].reshape(-1, resid.shape[-1])
        feats = sae.encode(x)
        x_hat = sae.decode(feats)
        sq_err += (x - x_hat).double().pow(2).sum().item()
        sum_x += x.double().sum(0)
        sum_sq += x.double().pow(2).sum().item()
        n += len(x)
        l0_sum += (feats > 0).sum().item()
        fired |= (feats > 0).any(0)
        if need_ce:
            keep = min(len(tok), n_ce - b)
            x_hat = x_hat.reshape(len(tok), per_ctx, -1)[:keep]
            tok, resid = tok[:keep], resid[:keep]
            spliced = resid.clone()
            spliced[:, 1:] = x_hat
            zeroed = resid.clone()
            zeroed[:, 1:] = 0
            for name, r in (("clean", resid), ("sae", spliced), ("zero", zeroed)):
                logits = model(r, start_at_layer=layer, tokens=tok)
                # predictions from positions 1.. (position 0 is BOS and is never spliced)
                logp = logits[:, 1:-1].log_softmax(-1)
                ce[name] += -logp.gather(-1, tok[:, 2:, None]).sum().item()
            ce_count += tok[:, 2:].numel()
    total_var = sum_sq - (sum_x.pow(2).sum().item() / n)
    result = {"n_tokens": n, "explained_variance": 1 - sq_err / total_var, "mean_l0": l0_sum / n,
              "dead_fraction": 1 - fired.float().mean().item(), "n_ce_tokens": ce_count}
    if ce_count:
        result.update({f"ce_{k}": v / ce_count for k, v in ce.items()})
        result["ce_recovered"] = (result["ce_zero"] - result["ce_sae"]) / (result["ce_zero"] - result["ce_clean"])
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
