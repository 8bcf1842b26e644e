"""Feature activations of prompts: one batched, padding-aware forward pass that stops at the hook."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..backends import as_backend
from ..devices import to_numpy
from ..sources import FeatureSource, FeatureSpace, as_source, check_feature_index, resolve_drop_first
from ..validation import fraction, positive_int
from ._forward import (
    hook_activations_batches,
    normalise_prompts,
    run_to_hook,  # noqa: F401  (benchmarks/steering_mood.py imports it from here until it is updated)
    tokenize,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from .._types import ModelLike, Prompts, SourceLike

ALWAYS_ON_FRACTION = 0.9  # a feature active on at least this fraction of tokens is "always on"
ENCODE_TOKENS = 1024  # tokens encoded at once by activations(): bounds the [tokens, n_features] temporary
STATS_ROWS = 4096  # rows per chunk of feature_stats(): no temporary the size of the activations


@dataclass
class ActivationResult:
    """Feature activations for a set of prompts (position 0 / BOS excluded: its residual is an outlier).

    values: [n_tokens, n_features] float32, the tokens of all prompts one after another.
    offsets: prompt p owns rows offsets[p]:offsets[p+1].
    drop_first: how many tokens after BOS were left out of every prompt (str_tokens start after them).
    """

    prompts: list[str]
    str_tokens: list[list[str]]
    token_ids: list[torch.Tensor]
    values: torch.Tensor
    offsets: np.ndarray
    hook_name: str
    source_kind: str
    groups: list[str] = field(default_factory=list)  # one group name per prompt, "" when ungrouped
    feature_space: FeatureSpace | None = None  # what the feature indices mean (from the source)
    drop_first: int = 0

    def __post_init__(self):
        if self.feature_space is None:  # built by hand: the space its fields describe, without a fingerprint
            self.feature_space = FeatureSpace(self.hook_name, self.source_kind, self.n_features)

    @property
    def n_features(self) -> int:
        return self.values.shape[1]

    @property
    def n_tokens(self) -> int:
        return self.values.shape[0]

    def prompt_values(self, prompt: int) -> torch.Tensor:
        """[n_tokens_of_prompt, n_features] activations of one prompt."""
        return self.values[self.offsets[prompt] : self.offsets[prompt + 1]]

    def subset(self, prompts: Iterable[int]) -> ActivationResult:
        """The same result restricted to some prompts (by index), e.g. one group."""
        prompts = list(prompts)
        return ActivationResult(
            prompts=[self.prompts[i] for i in prompts],
            str_tokens=[self.str_tokens[i] for i in prompts],
            token_ids=[self.token_ids[i] for i in prompts],
            values=torch.cat([self.prompt_values(i) for i in prompts]) if prompts else self.values[:0],
            offsets=np.concatenate([[0], np.cumsum([self.offsets[i + 1] - self.offsets[i] for i in prompts])]).astype(
                int
            ),
            hook_name=self.hook_name,
            source_kind=self.source_kind,
            groups=[self.groups[i] for i in prompts] if self.groups else [],
            feature_space=self.feature_space,
            drop_first=self.drop_first,
        )

    def histogram(self, feature: int, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
        """(counts, bin edges) of one feature's non-zero activations over all tokens."""
        feature = check_feature_index(feature, self.n_features)
        column = to_numpy(self.values[:, feature])
        return np.histogram(column[column != 0], bins=bins)

    def density_histogram(self, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
        """(counts, edges) of log10(fraction of tokens active) across features; dead features are left out
        (their count is feature_stats()["count"] == 0). The usual SAE health check."""
        frac = self.feature_stats()["frac_active"].to_numpy()
        return np.histogram(np.log10(frac[frac > 0]), bins=bins)

    def feature_stats(self) -> pd.DataFrame:
        """Per feature: max, mean over tokens, number and fraction of tokens where it is active (> 0)."""
        v = self.values
        n_rows, n_features = v.shape
        top = torch.full((n_features,), -torch.inf, dtype=v.dtype, device=v.device)
        total = torch.zeros(n_features, dtype=torch.float64, device="cpu")  # float64: not on every device (MPS)
        active = torch.zeros(n_features, dtype=torch.int64, device=v.device)
        for first in range(0, n_rows, STATS_ROWS):  # in chunks: (v > 0) over all rows would copy the whole set
            chunk = v[first : first + STATS_ROWS]
            top = torch.maximum(top, chunk.amax(0))
            total += chunk.sum(0, dtype=torch.float32).to("cpu", torch.float64)
            active += (chunk > 0).sum(0)
        if not n_rows:
            top = total
        return pd.DataFrame(
            {
                "max": to_numpy(top.float()),
                "mean": to_numpy((total / max(n_rows, 1)).float()),
                "count": to_numpy(active),
                "frac_active": to_numpy(active) / max(n_rows, 1),
            }
        ).rename_axis("feature")

    def always_on(self, fraction: float = ALWAYS_ON_FRACTION) -> np.ndarray:
        """Features active on at least `fraction` of the tokens (position/format features, not content)."""
        return self.feature_stats()["frac_active"].to_numpy() >= fraction

    def group(self, name: str) -> ActivationResult:
        """The prompts of one group, e.g. acts.group("baseline") for a result built from {group: prompts}."""
        if name not in self.groups:
            raise ValueError(f"no group {name!r} here: the groups are {list(dict.fromkeys(self.groups))}")
        return self.subset([i for i, g in enumerate(self.groups) if g == name])

    def top_features(
        self,
        k: int = 20,
        by: str = "max",
        exclude_always_on: bool | float = False,
        baseline: ActivationResult | None = None,
    ) -> pd.DataFrame:
        """The k features with the highest `by` ("max", "mean" or "count"), as a DataFrame indexed by feature.

        exclude_always_on: True drops features active on >= 90% of tokens; a float sets that fraction.
        baseline: neutral prompts to rank against (e.g. acts.group("baseline")). Features are then ranked by
            `difference`: the mean over these prompts of each prompt's `by` ("max" or "mean" over its tokens)
            minus the same over the baseline's prompts. Features that fire alike everywhere (position,
            format) score about 0 and those stronger on the baseline below 0; only features with a positive
            difference are listed, so a list can be shorter than k.
        """
        if by not in ("max", "mean", "count"):
            raise ValueError(f"by must be 'max', 'mean' or 'count', got {by!r}")
        k = positive_int(k, "k")
        if baseline is not None:
            return self._top_against(baseline, k, by)
        stats = self.feature_stats()
        if exclude_always_on is not False:
            limit = (
                ALWAYS_ON_FRACTION if exclude_always_on is True else fraction(exclude_always_on, "exclude_always_on")
            )
            stats = stats[stats["frac_active"] < limit]
        # Ties (e.g. many features at 0) break by the other statistics, then by index, so the order is stable.
        order = {"max": ["max", "mean"], "mean": ["mean", "max"], "count": ["count", "mean"]}[by]
        return stats.sort_values(order, ascending=False, kind="stable").head(k)

    def _top_against(self, baseline: ActivationResult, k: int, by: str) -> pd.DataFrame:
        from .contrast import prompt_aggregates  # contrast builds on this module

        if not isinstance(baseline, ActivationResult):
            raise TypeError(f"baseline must be an activation result, got {type(baseline).__name__}")
        if by == "count":
            raise ValueError("ranking against a baseline compares per-prompt aggregates: by must be 'max' or 'mean'")
        if baseline.n_features != self.n_features or baseline.hook_name != self.hook_name:
            raise ValueError("the baseline must come from the same feature source (its hook or feature count differs)")
        if baseline.drop_first != self.drop_first:
            raise ValueError(
                f"the baseline dropped {baseline.drop_first} leading token(s) and these prompts "
                f"{self.drop_first}: build both with the same drop_first"
            )
        mine, theirs = prompt_aggregates(self, by), prompt_aggregates(baseline, by)
        table = pd.DataFrame(
            {
                by: mine.mean(0),
                f"{by}_baseline": theirs.mean(0),
                "difference": mine.mean(0) - theirs.mean(0),
                "prompts_active": (mine > 0).mean(0),
                "prompts_active_baseline": (theirs > 0).mean(0),
            }
        ).rename_axis("feature")
        table = table[table["difference"] > 0]
        return table.sort_values(["difference", by], ascending=False, kind="stable").head(k)

    def __repr__(self) -> str:
        return (
            f"ActivationResult({len(self.prompts)} prompts, {self.n_tokens} tokens x {self.n_features} features "
            f"at {self.hook_name})"
        )


def activations(
    model: ModelLike,
    source: SourceLike,
    prompts: Prompts,
    *,
    drop_first: int | None = None,
    batch_tokens: int = 8192,
    progress: bool | None = None,
) -> ActivationResult:
    """Feature activations of every token of `prompts`, in one batched forward pass per batch of prompts.

    The model runs only up to the source's hook (run_to_hook); padding is masked, BOS is left out.

    Parameters
    ----------
    model : transformer_lens.HookedTransformer, fv.HFModel or (transformers model, tokenizer)
        The model, e.g. from `fv.load` or `fv.load_default`, or a plain Hugging Face model with its tokenizer
        (hook names are then module paths: see `fv.hooks`).
    source : FeatureSource or sae_lens SAE
        What turns the hook activations into features: an `SAESource`, `NeuronSource`, `HeadSource`, or an SAE.
    prompts : str, list of str, or dict of str to list of str
        One prompt, a list, or ``{group: [prompts]}`` (the result then knows each prompt's group).
    drop_first : int, optional
        Tokens after BOS left out of every prompt (position artifacts; the model still sees them). Default: the
        source's ``drop_first`` (1 for the shipped SAE, else 0).
    batch_tokens : int, default 8192
        Tokens per forward batch.
    progress : bool, optional
        Show a progress bar; default: only when there are more than three batches.

    Returns
    -------
    ActivationResult
        ``values`` [tokens, features], ``str_tokens`` per prompt, groups, and the ranking helpers.
    """
    model = as_backend(model)
    source = as_source(source, model, any_model=True)
    prompts, groups = normalise_prompts(prompts)
    drop_first = resolve_drop_first(drop_first, source)
    ids = tokenize(model, prompts)
    start = 1 + drop_first
    short = [i for i, t in enumerate(ids) if len(t) <= start]
    if short:
        raise ValueError(
            f"prompts[{short[0]}] ({prompts[short[0]]!r}) has {len(ids[short[0]]) - 1} token(s) after BOS "
            f"and drop_first={drop_first} leaves none: pass drop_first=0 or a longer prompt"
        )
    offsets = np.concatenate([[0], np.cumsum([len(t) - start for t in ids])])
    # Written in place batch by batch: peak memory is the result plus one batch, not per-prompt views that keep
    # every padded batch alive and a concatenated copy of them all.
    values = torch.empty(int(offsets[-1]), source.n_features, dtype=torch.float32, device="cpu")
    for batch, hook_acts, lengths in hook_activations_batches(model, ids, source.reads, batch_tokens, progress):
        rows = max(1, ENCODE_TOKENS // hook_acts.shape[1])  # [rows, seq, d] keeps position-aware sources exact
        for first in range(0, len(batch), rows):
            with torch.inference_mode():
                feats = source.encode(hook_acts[first : first + rows])
            for row, i in enumerate(batch[first : first + rows]):
                out = values[offsets[i] : offsets[i + 1]]
                out.copy_(feats[row, start : lengths[first + row]])  # drop BOS and the first drop_first tokens
                _check_finite(out, source)
            del feats
    str_tokens = [model.to_str_tokens(t[start:]) for t in ids]
    return ActivationResult(
        prompts=prompts,
        str_tokens=[list(s) for s in str_tokens],
        token_ids=[t[start:] for t in ids],
        values=values,
        offsets=offsets,
        hook_name=source.hook_name,
        source_kind=source.kind,
        groups=groups,
        feature_space=source.feature_space,
        drop_first=drop_first,
    )


def _check_finite(values: torch.Tensor, source: FeatureSource) -> None:
    if not torch.isfinite(values).all():
        bad = (~torch.isfinite(values)).any(0).nonzero().flatten()[:5].tolist()
        raise FloatingPointError(
            f"{source!r} produced NaN/inf activations (features {bad}...): "
            "check the SAE weights and that it fits this model"
        )


def top_activating(
    model: ModelLike,
    source: SourceLike,
    feature: int,
    corpus: Sequence[str],
    k: int = 10,
    *,
    drop_first: int | None = None,
    batch_tokens: int = 8192,
    progress: bool | None = None,
) -> pd.DataFrame:
    """The k texts of `corpus` on which `feature` fires most (its max over each text's tokens, BOS excluded).

    Parameters
    ----------
    model : transformer_lens.HookedTransformer, fv.HFModel or (transformers model, tokenizer)
        The model (as in `activations`).
    source : FeatureSource or sae_lens SAE
        The feature source the feature index belongs to.
    feature : int
        The feature index.
    corpus : list of str
        The texts to search.
    k : int, default 10
        How many texts to return.
    drop_first : int, optional
        As in `activations`: the left-out tokens are neither scored nor listed, and positions count from the
        first token kept.
    batch_tokens : int, default 8192
        Tokens per forward batch.
    progress : bool, optional
        Show a progress bar (default: only for more than three batches).

    Returns
    -------
    pandas.DataFrame
        Sorted by activation: text, activation, the token and position of the max, and the per-token
        ``str_tokens`` / ``activations`` for highlighting.
    """
    model = as_backend(model)
    source = as_source(source, model, any_model=True)
    feature = source.check_feature(feature)
    texts, _ = normalise_prompts(corpus)
    k = positive_int(k, "k")
    start = 1 + resolve_drop_first(drop_first, source)
    ids = tokenize(model, texts)
    best: list[tuple[float, int, torch.Tensor]] = []  # (max activation, text index, per-token activations)
    show = progress if progress is not None else len(texts) > 32
    bar = tqdm(total=len(texts), desc=f"feature {feature}", unit="text", disable=not show)
    for batch, hook_acts, lengths in hook_activations_batches(model, ids, source.reads, batch_tokens, progress=False):
        with torch.inference_mode():
            feats = source.encode(hook_acts)[..., feature].float().cpu()
        for row, i in enumerate(batch):
            per_token = feats[row, start : lengths[row]]
            if len(per_token):
                best.append((float(per_token.max()), i, per_token))
        # Memory stays bounded by k: keep only the current top k.
        best = sorted(best, key=lambda b: (-b[0], b[1]))[:k]
        bar.update(len(batch))
    bar.close()
    rows = []
    for value, i, per_token in best:
        str_tokens = model.to_str_tokens(ids[i][start:])
        position = int(per_token.argmax())
        rows.append(
            {
                "text": texts[i],
                "activation": value,
                "token": str_tokens[position],
                "position": position,
                "str_tokens": list(str_tokens),
                "activations": per_token.tolist(),
            }
        )
    return pd.DataFrame(rows, columns=["text", "activation", "token", "position", "str_tokens", "activations"])
