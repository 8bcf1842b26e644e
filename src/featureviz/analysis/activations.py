"""Feature activations of prompts: one batched, padding-aware forward pass that stops at the hook."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse
import torch
from tqdm.auto import tqdm

from ..backends import as_backend
from ..devices import to_numpy
from ..sources import FeatureSource, FeatureSpace, as_source, check_feature_index, resolve_drop_first
from ..validation import fraction, positive_int
from ._forward import hook_activations_batches, normalise_prompts, tokenize

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from .._types import ModelLike, Prompts, SourceLike

ALWAYS_ON_FRACTION = 0.9  # a feature active on at least this fraction of tokens is "always on"
ENCODE_TOKENS = 1024  # tokens encoded at once by activations(): bounds the [tokens, n_features] temporary
STATS_ROWS = 4096  # rows per chunk of feature_stats(): no temporary the size of the activations
# Stored as CSR (float32 values + int32 column indices: 8 bytes per non-zero, dense is 4 per cell) when at most
# this fraction of the first encoded tokens' values is non-zero: a TopK SAE's latents (48 of 2,560 = 1.9%) then
# take ~1/27 of the dense size; neurons (GELU: nearly all non-zero) stay dense.
SPARSE_MAX_DENSITY = 0.25


@dataclass
class ActivationResult:
    """Feature activations for a set of prompts (position 0 / BOS excluded: its residual is an outlier).

    values: [n_tokens, n_features] float32 CPU tensor, the tokens of all prompts one after another. Sparse
        activations (an SAE's) are stored as CSR (`sparse`, a scipy.sparse.csr_array; `fv.activations` picks
        CSR when at most 25% of the values are non-zero): `values` then returns a new dense tensor on every
        access (writing to it changes nothing), so for big results read `prompt_values(p)`, `columns(fs)`,
        `sparse` or `feature_stats()`, which never densify the whole. Construct with either a dense tensor or
        a scipy sparse matrix as `values`.
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
    def shape(self) -> tuple[int, int]:
        return tuple((self._dense if self._csr is None else self._csr).shape)

    @property
    def n_features(self) -> int:
        return self.shape[1]

    @property
    def n_tokens(self) -> int:
        return self.shape[0]

    @property
    def sparse(self) -> scipy.sparse.csr_array | None:
        """The values as stored in CSR (float32), or None when they are stored dense."""
        return self._csr

    @property
    def nbytes(self) -> int:
        """Bytes the stored values take (CSR: data, indices and row pointers)."""
        if self._csr is None:
            return self._dense.numel() * self._dense.element_size()
        return self._csr.data.nbytes + self._csr.indices.nbytes + self._csr.indptr.nbytes

    def rows(self, start: int, stop: int) -> torch.Tensor:
        """[stop - start, n_features] dense values of these token rows (a view when stored dense)."""
        if self._csr is None:
            return self._dense[start:stop]
        return torch.from_numpy(self._csr[start:stop].toarray())

    def columns(self, features) -> torch.Tensor:
        """[n_tokens, len(features)] dense values of these features only."""
        features = [check_feature_index(f, self.n_features) for f in features]
        if self._csr is None:
            return self._dense[:, features]
        return torch.from_numpy(np.ascontiguousarray(self._csr[:, features].toarray()))

    def prompt_values(self, prompt: int) -> torch.Tensor:
        """[n_tokens_of_prompt, n_features] activations of one prompt."""
        return self.rows(int(self.offsets[prompt]), int(self.offsets[prompt + 1]))

    def prompt_blocks(self, max_rows: int = STATS_ROWS):
        """(first prompt, stop prompt, dense [rows, n_features] values of those prompts) over all prompts, each
        block at most max_rows rows unless one prompt is longer: memory bounded whatever the storage."""
        n, first = len(self.offsets) - 1, 0
        while first < n:
            stop = first + 1
            while stop < n and self.offsets[stop + 1] - self.offsets[first] <= max_rows:
                stop += 1
            yield first, stop, self.rows(int(self.offsets[first]), int(self.offsets[stop]))
            first = stop

    def subset(self, prompts: Iterable[int]) -> ActivationResult:
        """The same result restricted to some prompts (by index), e.g. one group."""
        prompts = list(prompts)
        return ActivationResult(
            prompts=[self.prompts[i] for i in prompts],
            str_tokens=[self.str_tokens[i] for i in prompts],
            token_ids=[self.token_ids[i] for i in prompts],
            values=self._rows_of(prompts),
            offsets=np.concatenate([[0], np.cumsum([self.offsets[i + 1] - self.offsets[i] for i in prompts])]).astype(
                int
            ),
            hook_name=self.hook_name,
            source_kind=self.source_kind,
            groups=[self.groups[i] for i in prompts] if self.groups else [],
            feature_space=self.feature_space,
            drop_first=self.drop_first,
        )

    def _rows_of(self, prompts: list[int]):
        if self._csr is not None:
            index = np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in prompts] or [[]])
            return self._csr[index.astype(np.int64)]
        return torch.cat([self.prompt_values(i) for i in prompts]) if prompts else self._dense[:0]

    def histogram(self, feature: int, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
        """(counts, bin edges) of one feature's non-zero activations over all tokens."""
        feature = check_feature_index(feature, self.n_features)
        column = to_numpy(self.columns([feature])[:, 0])
        return np.histogram(column[column != 0], bins=bins)

    def density_histogram(self, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
        """(counts, edges) of log10(fraction of tokens active) across features; dead features are left out
        (their count is feature_stats()["count"] == 0). The usual SAE health check."""
        frac = self.feature_stats()["frac_active"].to_numpy()
        return np.histogram(np.log10(frac[frac > 0]), bins=bins)

    def feature_stats(self) -> pd.DataFrame:
        """Per feature: max, mean over tokens, number and fraction of tokens where it is active (> 0)."""
        if self._csr is not None:
            return self._sparse_stats()
        v = self._dense
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

    def _sparse_stats(self, chunk: int = 1 << 22) -> pd.DataFrame:
        """feature_stats() straight from CSR, in chunks of non-zeros (a column's implicit zeros count in its max
        and mean)."""
        csr, (n_rows, n_features) = self._csr, self.shape
        top = np.full(n_features, -np.inf, dtype=np.float32)
        total, active, stored = (np.zeros(n_features, dtype=t) for t in (np.float64, np.int64, np.int64))
        for first in range(0, csr.nnz, chunk):
            cols, data = csr.indices[first : first + chunk], csr.data[first : first + chunk]
            np.maximum.at(top, cols, data)
            total += np.bincount(cols, weights=data, minlength=n_features)
            active += np.bincount(cols[data > 0], minlength=n_features)
            stored += np.bincount(cols, minlength=n_features)
        top = np.where(stored < n_rows, np.maximum(top, 0), top) if n_rows else np.zeros(n_features, np.float32)
        return pd.DataFrame(
            {
                "max": top.astype(np.float32),
                "mean": (total / max(n_rows, 1)).astype(np.float32),
                "count": active,
                "frac_active": active / max(n_rows, 1),
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


def _get_values(self) -> torch.Tensor:
    if self._csr is None:
        return self._dense
    return torch.from_numpy(self._csr.toarray())  # a new dense copy: see the class docstring


def _set_values(self, values) -> None:
    if scipy.sparse.issparse(values):
        self._csr, self._dense = scipy.sparse.csr_array(values, dtype=np.float32), None
    else:
        self._csr, self._dense = None, values


# Defined after the dataclass so that its __init__ (values=...) goes through the setter: dense or CSR storage.
ActivationResult.values = property(
    _get_values,
    _set_values,
    doc="[n_tokens, n_features] float32 CPU tensor (dense; a new copy per access when stored sparse, see `sparse`).",
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
        n = len(ids[short[0]]) - 1
        fix = f"and drop_first={drop_first} leaves none: pass drop_first=0 or a longer prompt" if n else "to show"
        raise ValueError(f"prompts[{short[0]}] ({prompts[short[0]]!r}) has {n or 'no'} token(s) after BOS {fix}")
    offsets = np.concatenate([[0], np.cumsum([len(t) - start for t in ids])])
    store = _ValueStore(offsets, source.n_features)
    for batch, hook_acts, lengths in hook_activations_batches(model, ids, source.reads, batch_tokens, progress):
        rows = max(1, ENCODE_TOKENS // hook_acts.shape[1])  # [rows, seq, d] keeps position-aware sources exact
        for first in range(0, len(batch), rows):
            with torch.inference_mode():
                feats = source.encode(hook_acts[first : first + rows])
            pieces = [feats[row, start : lengths[first + row]] for row in range(len(feats))]  # no BOS, drop_first
            for out in pieces:
                _check_finite(out, source)
            store.put(batch[first : first + rows], pieces)
            del feats, pieces
    values = store.result()
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


class _ValueStore:
    """The [n_tokens, n_features] result, filled in batch order. Dense: preallocated and written in place (peak =
    the result plus one batch). Sparse (decided on the first values, see SPARSE_MAX_DENSITY): the non-zeros of
    each encoded chunk appended to two growing arrays (large, so they never pin the heap between the freed
    batch temporaries, as thousands of small per-prompt arrays did: 7.7 GB of RSS for a 229 MiB CSR), then
    put in prompt order once at the end, in blocks of rows (peak ~2x the CSR, still far below dense)."""

    def __init__(self, offsets: np.ndarray, n_features: int):
        self.offsets, self.n_features = offsets, n_features
        self.dense: torch.Tensor | None = None
        self.sparse = False
        self.arrival = np.zeros(len(offsets) - 1, dtype=np.int64)  # each prompt's first row in arrival order
        self.row_nnz = np.zeros(int(offsets[-1]), dtype=np.int64)  # non-zeros per row, arrival order
        self.cols, self.vals, self.rows, self.nnz = np.zeros(0, np.int32), np.zeros(0, np.float32), 0, 0

    def put(self, prompts: list[int], pieces: list[torch.Tensor]) -> None:
        if self.dense is None and not self.sparse:
            nonzero = sum(int(torch.count_nonzero(p)) for p in pieces)
            self.sparse = nonzero <= SPARSE_MAX_DENSITY * max(sum(p.numel() for p in pieces), 1)
            if not self.sparse:
                self.dense = torch.empty(int(self.offsets[-1]), self.n_features, dtype=torch.float32, device="cpu")
        if self.dense is not None:
            for i, values in zip(prompts, pieces):
                self.dense[self.offsets[i] : self.offsets[i + 1]].copy_(values)
            return
        block = torch.cat(pieces)  # [tokens of the chunk, n_features]
        mask = block != 0
        cols, vals = to_numpy(mask.nonzero()[:, 1].int()), to_numpy(block[mask].float())  # row-major: sorted
        for i, values in zip(prompts, pieces):
            self.arrival[i] = self.rows
            self.rows += len(values)
        self.row_nnz[self.rows - len(block) : self.rows] = to_numpy(mask.sum(1))
        if self.nnz + len(cols) > len(self.cols):  # first sized from this chunk's non-zeros per row, then doubled
            expected = int(1.1 * len(cols) / max(len(block), 1) * len(self.row_nnz)) if not self.nnz else 0
            size = max(2 * len(self.cols), self.nnz + len(cols), expected, 1 << 16)
            self.cols, self.vals = (
                np.concatenate([a[: self.nnz], np.zeros(size - self.nnz, a.dtype)]) for a in (self.cols, self.vals)
            )
        self.cols[self.nnz : self.nnz + len(cols)], self.vals[self.nnz : self.nnz + len(cols)] = cols, vals
        self.nnz += len(cols)

    def result(self, block_rows: int = 1 << 16):
        if self.dense is not None:
            return self.dense
        lengths = np.diff(self.offsets)
        # arrival row of each row in prompt order
        order = np.repeat(self.arrival - self.offsets[:-1], lengths) + np.arange(int(self.offsets[-1]))
        counts = self.row_nnz[order]
        indptr = np.concatenate([[0], np.cumsum(counts)])
        arrival_ptr = np.concatenate([[0], np.cumsum(self.row_nnz)])
        index = np.int32 if indptr[-1] < 2**31 else np.int64
        cols, vals = np.empty(int(indptr[-1]), index), np.empty(int(indptr[-1]), np.float32)
        for first in range(0, len(order), block_rows):  # gathered in blocks of rows: no full-size index array
            rows = slice(first, first + block_rows)
            lo, hi = indptr[first], indptr[min(first + block_rows, len(order))]
            take = np.repeat(arrival_ptr[order[rows]] - indptr[:-1][rows], counts[rows]) + np.arange(lo, hi)
            cols[lo:hi], vals[lo:hi] = self.cols[take], self.vals[take]
        self.cols = self.vals = None
        return scipy.sparse.csr_array(
            (vals, cols, indptr.astype(index)), shape=(int(self.offsets[-1]), self.n_features)
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
