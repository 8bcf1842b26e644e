"""Checkpoint series: how features form over training, frame by frame, for SAE or model checkpoints.

A series is a list of (label, model, source). For SAE checkpoints the model is shared and its hook
activations are computed once; for model checkpoints (TransformerLens `checkpoint_index`) each model runs.
Latents have no fixed identity across SAE checkpoints, so each displayed feature of the reference (last)
checkpoint is matched to one latent per checkpoint by decoder cosine (Hungarian assignment), and the match
quality travels with the frames. Neurons keep their index across model checkpoints.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from scipy.optimize import linear_sum_assignment
from tqdm.auto import tqdm

from ..backends import as_backend
from ..devices import to_numpy
from ..sources import FeatureSource, FeatureSpace, NeuronSource, SAESource, as_source, check_feature_index
from ._forward import hook_activations_batches, normalise_prompts, tokenize
from .activations import ALWAYS_ON_FRACTION

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    from sae_lens import SAE

    from .._types import ModelLike, PathLike, SourceLike


@dataclass
class CheckpointFrames:
    labels: list[str]  # one per checkpoint, e.g. "1.2M tokens"
    x_values: np.ndarray  # [C] training tokens (SAE series) or checkpoint value (model series)
    x_label: str
    prompts: list[str]
    str_tokens: list[list[str]]  # per prompt, BOS excluded
    feature_ids: np.ndarray  # [F] features of the reference (last) checkpoint
    frames: np.ndarray  # [C, T, F] activation of the matched latent at every token
    match_index: np.ndarray  # [C, F] which latent of checkpoint c stands for reference feature f
    match_cosine: np.ndarray  # [C, F] decoder cosine of that match (1 for the reference itself)
    metrics: pd.DataFrame  # one row per checkpoint
    feature_space: FeatureSpace | None = None  # the reference checkpoint's: what feature_ids mean

    def frame(self, checkpoint: int) -> np.ndarray:
        return self.frames[checkpoint]

    def __repr__(self) -> str:
        span = f", {self.labels[0]} .. {self.labels[-1]}" if self.labels else ""
        return (
            f"CheckpointFrames({len(self.labels)} checkpoints{span}, {len(self.prompts)} prompts, "
            f"{self.frames.shape[1]} tokens x {len(self.feature_ids)} features)"
        )

    def trajectory(self, feature: int) -> pd.DataFrame:
        """The longitudinal view of one feature: its max activation and match quality per checkpoint."""
        column = int(np.flatnonzero(self.feature_ids == feature)[0]) if feature in self.feature_ids else None
        if column is None:
            raise KeyError(f"feature {feature} is not among the {len(self.feature_ids)} features of these frames")
        return pd.DataFrame(
            {
                "checkpoint": self.labels,
                "x": self.x_values,
                "max": self.frames[:, :, column].max(1),
                "mean": self.frames[:, :, column].mean(1),
                "latent": self.match_index[:, column],
                "match_cosine": self.match_cosine[:, column],
            }
        )


def sae_checkpoints(
    paths: str | PathLike | Sequence[PathLike] = "default", like: SAE | None = None
) -> list[tuple[int, object]]:
    """(training tokens, SAE) for each checkpoint, in training order.

    Parameters
    ----------
    paths : "default", path, or list of paths
        "default" (the shipped series of the embedded SAE), a folder of sae-lens checkpoint folders, or a list
        of sae-lens folders and/or state-dict files (.safetensors, or torch files loaded with
        weights_only=True).
    like : sae_lens SAE, optional
        An SAE whose config the state-dict files share (needed for them only).

    Returns
    -------
    list of (int, sae_lens SAE)
        Ready for ``checkpoint_frames([(x, model, sae) for x, sae in ...], prompts)``.
    """
    from sae_lens import SAE

    from .training import default_sae_checkpoints, load_checkpoint_series

    if isinstance(paths, str) and paths == "default":
        series = default_sae_checkpoints()
        if not series:
            raise FileNotFoundError("this version of featureviz ships no SAE checkpoint series")
    elif isinstance(paths, (str, os.PathLike)):
        series = load_checkpoint_series(paths)
        if not series:
            raise FileNotFoundError(f"{paths} holds no sae-lens checkpoint folders (with cfg.json)")
    else:
        series = [(i, Path(p)) for i, p in enumerate(paths)]
    out = []
    for label, path in series:
        path = Path(path)
        if path.is_dir():
            sae = SAE.load_from_disk(str(path))
            tokens = json.loads((path / "cfg.json").read_text()).get("metadata", {}).get("n_training_tokens")
            out.append((int(tokens) if tokens else label, sae))
        else:
            out.append((label, sae_from_state_dict(path, like)))
    return out


def sae_from_state_dict(path, like):
    """An SAE with `like`'s config and the weights in `path` (safetensors, or torch with weights_only=True)."""
    import copy

    if like is None:
        raise ValueError(f"{path} is a bare state dict: pass like=<an SAE with the same config>")
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        try:  # weights_only refuses pickles that would run code
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - re-raised with the reason in one sentence
            raise ValueError(
                f"refused to load {path}: not a plain tensor file ({type(error).__name__}); "
                "only safetensors or weights-only torch files are accepted"
            ) from None
    sae = copy.deepcopy(like)
    missing, unexpected = sae.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path} does not fit the SAE: missing {missing[:4]}, unexpected {unexpected[:4]}")
    return sae


def model_checkpoints(model_name: str, checkpoint_indices, device: str = "cpu"):
    """(checkpoint index, HookedTransformer) for models that publish training checkpoints (pythia,
    stanford-crfm) through TransformerLens's checkpoint_index. Needs the hub."""
    from transformer_lens import HookedTransformer

    from ..loading import hub_errors

    for index in checkpoint_indices:
        with hub_errors(f"checkpoint {index} of {model_name!r}"):
            yield index, HookedTransformer.from_pretrained(model_name, checkpoint_index=index, device=device)


def checkpoint_frames(
    series: Iterable[tuple[Any, ModelLike, SourceLike]],
    prompts: str | Sequence[str],
    features: Iterable[int] | None = None,
    *,
    top_k: int = 32,
    x_label: str = "training tokens",
    progress: bool = True,
) -> CheckpointFrames:
    """Activations over a series of checkpoints, with each checkpoint's latents matched to the last one's.

    The last checkpoint is the reference for feature identity: its features are matched in every earlier
    checkpoint by decoder cosine.

    Parameters
    ----------
    series : list of (x, model, source)
        SAE checkpoints on one model (e.g. from `sae_checkpoints`), or model checkpoints each with its own
        (e.g. neuron) source; x is the training tokens or step.
    prompts : str or list of str
        The prompts every checkpoint runs on.
    features : sequence of int, optional
        Reference features to follow; default: the `top_k` most active on the prompts.
    top_k : int, default 32
        How many features to follow when `features` is None.
    x_label : str, default "training tokens"
        What x means, for labels and the metric chart.
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    CheckpointFrames
        Frames [checkpoints, tokens, features], the matches and their cosine, and per-checkpoint metrics.
    """
    series = list(series)
    if len(series) < 2:
        raise ValueError(f"a checkpoint series needs at least 2 checkpoints, got {len(series)}")
    prompts, _ = normalise_prompts(prompts)
    series = [(x, as_backend(model), source) for x, model, source in series]
    series = [(x, model, as_source(source, model, any_model=True)) for x, model, source in series]
    ref_x, ref_model, reference = series[-1]
    widths = {s.n_features for _, _, s in series}
    if _by_index(reference) and len(widths) > 1:
        raise ValueError("neuron checkpoints must all have the same number of neurons")
    ids = tokenize(ref_model, prompts)
    hook_cache: dict[int, list[torch.Tensor]] = {}

    def hook_acts(model, source):  # SAE checkpoints share one model: its activations are computed once
        key = (id(model.model), source.reads)
        if key not in hook_cache:
            per_prompt = [None] * len(ids)
            for batch, acts, lengths in hook_activations_batches(model, ids, source.reads, progress=False):
                for row, i in enumerate(batch):
                    per_prompt[i] = acts[row, 1 : lengths[row]]
            hook_cache[key] = torch.cat(per_prompt)
        return hook_cache[key]

    encoded = []
    rows = []
    for x, model, source in tqdm(series, desc="checkpoints", disable=not progress):
        x_in = hook_acts(model, source)
        with torch.inference_mode():
            acts = source.encode(x_in).float()
        encoded.append(acts)
        rows.append({"checkpoint": _label(x, x_label), "x": x, **_metrics(source, x_in, acts)})
    reference_acts = encoded[-1]
    if features is None:
        active = (reference_acts > 0).float().mean(0)
        score = reference_acts.max(0).values.masked_fill(active >= ALWAYS_ON_FRACTION, -torch.inf)  # skip always-on
        features = score.topk(min(top_k, len(score))).indices.sort().values.tolist()
    feature_ids = np.array([check_feature_index(f, reference.n_features, "features") for f in features])
    if len(feature_ids) == 0:
        raise ValueError("features is empty")

    match_index, match_cosine = [], []
    for _, _, source in series:
        if _by_index(source):  # neurons keep their index; units without a decoder have no cosine to report
            index, cosine = _match_by_index(reference, source, feature_ids)
        else:
            index, cosine = _match(
                reference.decoder_directions().float()[feature_ids], source.decoder_directions().float()
            )
        match_index.append(index)
        match_cosine.append(cosine)
    match_index = np.stack(match_index)
    frames = np.stack([to_numpy(acts)[:, match_index[c]] for c, acts in enumerate(encoded)])
    str_tokens = [list(ref_model.to_str_tokens(t[1:])) for t in ids]
    return CheckpointFrames(
        labels=[r["checkpoint"] for r in rows],
        x_values=np.array([x for x, _, _ in series]),
        x_label=x_label,
        prompts=prompts,
        str_tokens=str_tokens,
        feature_ids=feature_ids,
        frames=frames.astype(np.float32),
        match_index=match_index,
        match_cosine=np.stack(match_cosine).astype(np.float32),
        metrics=pd.DataFrame(rows).set_index("checkpoint"),
        feature_space=reference.feature_space,
    )


def _by_index(source: FeatureSource) -> bool:
    """Neurons (of a TransformerLens MLP or of any hook) are the same unit at the same index in every checkpoint."""
    return isinstance(source, NeuronSource) or source.kind == "neurons"


def _match_by_index(reference: FeatureSource, source: FeatureSource, feature_ids):
    """(index, cosine of the unit's decoder direction with the reference's, NaN for units without one)."""
    index = np.asarray(feature_ids)
    try:
        ref_unit = torch.nn.functional.normalize(reference.decoder_directions().float().cpu()[index], dim=1)
        unit = torch.nn.functional.normalize(source.decoder_directions().float().cpu()[index], dim=1)
    except NotImplementedError:
        return index, np.full(len(index), np.nan, dtype=np.float32)
    return index, to_numpy((ref_unit * unit).sum(1))


def _match(ref_dirs, dirs):
    """Latents of one checkpoint matched one-to-one to the reference features by decoder cosine."""
    ref_unit = torch.nn.functional.normalize(ref_dirs.cpu(), dim=1)  # checkpoints may sit on different devices
    unit = torch.nn.functional.normalize(dirs.cpu(), dim=1)
    cosine = to_numpy(ref_unit @ unit.T)  # [F, d_sae]
    rows, cols = linear_sum_assignment(-cosine)  # F <= d_sae: every feature gets a distinct latent
    index = np.empty(len(ref_dirs), dtype=int)
    index[rows] = cols
    return index, cosine[np.arange(len(ref_dirs)), index]


def _metrics(source: FeatureSource, x: torch.Tensor, acts: torch.Tensor) -> dict:
    """Per-checkpoint numbers on the prompt set: L0, explained variance (SAEs), latents never active."""
    out = {
        "l0": float((acts > 0).sum(1).float().mean()),
        "inactive_fraction": float(((acts > 0).sum(0) == 0).float().mean()),
    }
    if isinstance(source, SAESource):
        x = x[source.kept_tokens(x)]  # tokens the SAE does not encode would swamp the variance
        with torch.inference_mode():
            sae = source.sae
            x_hat = sae.decode(source.encode(x).to(sae.device, sae.dtype)).to(x.device).float()
        x = x.float()
        out["explained_variance"] = float(1 - (x - x_hat).pow(2).sum() / (x - x.mean(0)).pow(2).sum())
    return out


def _label(x, x_label: str) -> str:
    if x_label == "training tokens" and isinstance(x, (int, np.integer)) and x >= 1000:
        return f"{compact_number(x)} tokens"
    return f"{x_label} {x}"


def compact_number(x: float) -> str:
    """123k / 3.0M / 1.23M: 3 significant digits with a k / M / B / T suffix, at least one decimal under 10 (the
    scrubber's axes use the same rule, js/src/lib/format.ts formatCompact). Below 1,000: the number itself."""
    a = abs(float(x))
    if a < 999.5:
        return f"{x:g}"
    units = [(1e3, "k"), (1e6, "M"), (1e9, "B"), (1e12, "T")]
    for k, (unit, suffix) in enumerate(units):
        s = a / unit
        if s >= 999.5 and k < len(units) - 1:
            continue
        text = f"{s:.0f}" if s >= 99.95 else (f"{s:.1f}".rstrip("0").rstrip(".") if s >= 9.995 else f"{s:.2f}")
        if s < 9.995 and text.endswith("0"):
            text = text[:-1]
        return ("-" if x < 0 else "") + text + suffix
    raise AssertionError("unreachable")
