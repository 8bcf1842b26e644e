"""Feature dashboards from ONE streaming pass over a corpus, for all features at once.

Per feature: the top-k contexts (a token window around each context's max, with per-token activations),
a uniform sample of active contexts (bucketed into activation intervals afterwards, as sae_vis's quantile
groups), exact streaming histograms of positive and of negative activations, density, co-activation counts
(tokens where two features are both > 0: the features that fire together), logit effects of the decoder
direction through the unembedding with their histogram over the vocabulary (computed per feature when its page
is first shown, see `LogitEffects`: the product with the whole vocabulary is no fixed cost of a build), and the
nearest features by decoder cosine. What needs a model per request (a text typed by the user, ablation effects
of the top contexts) is in `dashboard_live`, never in the build.

Memory is bounded by features x k (x window), never by corpus length: every batch is reduced into fixed-size
buffers (top-k merges and a doubling histogram) and then dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import warnings
import weakref
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
from tqdm.auto import tqdm

from ..backends import as_backend
from ..devices import cpu_tokens, to_numpy
from ..sources import FeatureSource, FeatureSpace, as_source, check_feature_index, resolve_drop_first
from ..validation import integer, positive_int, text
from ._forward import hook_activations_batches, length_sorted_batches, tokenize
from .activations import ActivationResult

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from .._types import ModelLike, PathLike, SourceLike

WINDOW_BEFORE, WINDOW_AFTER = 10, 4
LOGIT_BINS = 40  # bins of the logit-effect histogram (the whole vocabulary's effects)
_META_KEY = "featureviz.dashboard"


def _dashboard_file(path) -> Path:
    path = Path(path).expanduser()
    return path if path.suffix == ".safetensors" else path.with_name(path.name + ".safetensors")


@dataclass
class DashboardData:
    """Arrays are [n_selected_features, ...]; row i describes feature `feature_ids[i]`."""

    feature_ids: np.ndarray  # [F]
    n_tokens: int  # tokens counted (BOS and the first drop_first tokens of each context excluded)
    active_count: np.ndarray  # [F] tokens with activation > 0
    max_value: np.ndarray  # [F]
    top_values: np.ndarray  # [F, k] context maxima, descending (-inf = empty slot)
    top_tokens: np.ndarray  # [F, k, W] token ids of the window around the max (-1 = outside the text)
    top_acts: np.ndarray  # [F, k, W] the feature's activation at each window token
    sample_values: np.ndarray  # [F, R] uniform sample of active contexts (max in context; -inf = empty)
    sample_tokens: np.ndarray  # [F, R, W]
    sample_acts: np.ndarray  # [F, R, W]
    hist_counts: np.ndarray  # [F, B] non-zero activations in B equal bins over [0, hist_high]
    hist_high: np.ndarray  # [F]
    nearest_ids: np.ndarray  # [F, N] other features with the most similar decoder direction
    nearest_cosine: np.ndarray
    token_strings: dict  # token id -> string, for every id stored above
    hook_name: str = ""
    source_kind: str = ""
    window_before: int = WINDOW_BEFORE
    feature_space: FeatureSpace | None = None  # of the source (None: saved before spaces were recorded)
    drop_first: int = 0  # tokens after BOS never counted (windows still show them, at activation 0)
    # Crosscoders: [F, n_hooks] decoder norm of each feature at each of its hooks (None for one-hook sources)
    decoder_norms: np.ndarray | None = None
    decoder_norm_hooks: list[str] = field(default_factory=list)
    # Negative values (neurons): bin j holds values in (-(j+1), -j] x hist_neg_high / B (None: saved before them)
    hist_neg_counts: np.ndarray | None = None  # [F, B]
    hist_neg_high: np.ndarray | None = None  # [F]
    # Features that fire on the same tokens: the N best by Jaccard index of their active tokens (-1 = empty),
    # for the rows with coactive_computed (see dashboard_data's coactivation=)
    coactive_ids: np.ndarray | None = None  # [F, N]
    coactive_counts: np.ndarray | None = None  # [F, N] tokens where both are > 0
    coactive_jaccard: np.ndarray | None = None  # [F, N]
    coactive_computed: np.ndarray | None = None  # [F] uint8
    # The tokens each feature promotes / suppresses most (logit_top_ids, ... below): read from a saved file, or
    # computed from the model per feature on first use.
    logits: LogitEffects | None = field(default=None, repr=False, compare=False)

    # [F, L] arrays, every feature's logit effects at once (computed for all features on first access)
    logit_top_ids = property(lambda self: self._logit_arrays()["logit_top_ids"])
    logit_top_values = property(lambda self: self._logit_arrays()["logit_top_values"])
    logit_bottom_ids = property(lambda self: self._logit_arrays()["logit_bottom_ids"])
    logit_bottom_values = property(lambda self: self._logit_arrays()["logit_bottom_values"])

    def _logit_arrays(self, rows=None) -> dict:
        """The logit arrays, with `rows` (default: all) computed if they were not yet, their tokens decoded."""
        if self.logits is None:
            raise ValueError("this DashboardData has no logit effects (built by hand without `logits`)")
        new_ids = self.logits.fill(range(len(self.feature_ids)) if rows is None else rows, self.feature_ids)
        if new_ids is not None:
            unknown = sorted(set(new_ids.tolist()) - self.token_strings.keys())
            self.token_strings.update(_token_strings(self.logits.model, unknown))
        return self.logits.arrays

    @property
    def density(self) -> np.ndarray:
        return self.active_count / max(self.n_tokens, 1)

    def __repr__(self) -> str:
        return (
            f"DashboardData({len(self.feature_ids)} features over {self.n_tokens} tokens @ "
            f"{self.hook_name or '?'}, top {self.top_values.shape[1] if self.top_values.ndim > 1 else 0} "
            f"contexts each)"
        )

    def row(self, feature: int) -> int:
        feature = integer(feature, "feature")  # 1.5 is no feature id (else "not in this data", as if it could be)
        matches = np.flatnonzero(self.feature_ids == feature)
        n_all = self.feature_space.n_features if self.feature_space else None
        if not len(matches) and n_all is not None and not 0 <= feature < n_all:
            raise KeyError(f"feature {feature} is out of range: valid features are 0..{n_all - 1}")
        if not len(matches):
            shown = self.feature_ids[:8].tolist()
            raise KeyError(
                f"feature {feature} is not in this dashboard data (it holds {len(self.feature_ids)} "
                f"features, e.g. {shown}); build it with features=None for all features"
            )
        return int(matches[0])

    def page(self, feature: int, n_intervals: int = 5, per_interval: int = 5) -> dict:
        """Everything the dashboard shows for one feature, as plain JSON-ready Python values."""
        i = self.row(feature)
        return {
            "feature": int(feature),
            "n_tokens": int(self.n_tokens),
            "density": float(self.density[i]),
            "max": float(self.max_value[i]),
            "histogram": self._histogram(i),
            "top": self._examples(self.top_values[i], self.top_tokens[i], self.top_acts[i]),
            "intervals": self._intervals(i, n_intervals, per_interval),
            **self._logit_lists(i),
            "nearest": [
                {"feature": int(f), "cosine": float(c)} for f, c in zip(self.nearest_ids[i], self.nearest_cosine[i])
            ],
            **self._coactive(i),
            "decoder_norms": (
                []
                if self.decoder_norms is None
                else [
                    {"hook": hook, "norm": float(n)} for hook, n in zip(self.decoder_norm_hooks, self.decoder_norms[i])
                ]
            ),
        }

    def _histogram(self, i) -> dict:
        """Counts and increasing edges of the non-zero activations: the negative bins (if any), then the positive."""
        counts = self.hist_counts[i]
        used = int(np.flatnonzero(counts)[-1]) + 1 if counts.any() else 0  # trim empty upper bins
        edges = np.linspace(0, float(self.hist_high[i]), len(counts) + 1)[: used + 1]
        neg = None if self.hist_neg_counts is None else self.hist_neg_counts[i]
        if neg is None or not neg.any():
            return {"counts": counts[:used].tolist(), "edges": edges.tolist()}
        n_neg = int(np.flatnonzero(neg)[-1]) + 1
        neg_edges = -np.linspace(0, float(self.hist_neg_high[i]), len(neg) + 1)[: n_neg + 1]
        if not used:
            edges = np.zeros(1)
        return {
            "counts": neg[:n_neg][::-1].tolist() + counts[:used].tolist(),
            "edges": neg_edges[::-1].tolist() + edges[1:].tolist(),
        }

    def _coactive(self, i) -> dict:
        if self.coactive_computed is None or not self.coactive_computed[i]:
            return {"coactive": None}
        keep = self.coactive_ids[i] >= 0
        return {
            "coactive": [
                {"feature": int(f), "jaccard": float(j), "count": int(c)}
                for f, j, c in zip(
                    self.coactive_ids[i][keep], self.coactive_jaccard[i][keep], self.coactive_counts[i][keep]
                )
            ]
        }

    def _examples(self, values, tokens, acts) -> list[dict]:
        out = []
        for value, ids, per_token in zip(values, tokens, acts):
            if not np.isfinite(value):
                continue
            keep = ids >= 0
            out.append(
                {
                    "value": float(value),
                    "tokens": [self.token_strings[int(t)] for t in ids[keep]],
                    "acts": per_token[keep].astype(float).round(4).tolist(),
                    "center": int(np.count_nonzero(keep[: self.window_before])),
                }
            )
        return out

    def _intervals(self, i, n_intervals, per_interval) -> list[dict]:
        """The sampled contexts bucketed into equal-width activation intervals, highest first."""
        values = self.sample_values[i]
        finite = np.isfinite(values)
        if not finite.any():
            return []
        top = float(self.max_value[i])
        edges = np.linspace(0, top, n_intervals + 1)
        out = []
        for lo, hi in zip(edges[-2::-1], edges[:0:-1]):
            inside = finite & (values > lo) & (values <= hi)
            rows = np.flatnonzero(inside)[:per_interval]
            if len(rows):
                out.append(
                    {
                        "low": float(lo),
                        "high": float(hi),
                        "fraction_of_sample": float(inside.sum() / finite.sum()),
                        "examples": self._examples(
                            values[rows], self.sample_tokens[i][rows], self.sample_acts[i][rows]
                        ),
                    }
                )
        return out

    def _logit_lists(self, i) -> dict:
        if self.logits is None:
            return {"logits_top": [], "logits_bottom": [], "logit_histogram": {"counts": [], "edges": []}}
        arrays = self._logit_arrays([i])
        counts = arrays["logit_hist_counts"][i]
        low, high = (float(v) for v in arrays["logit_hist_range"][i])
        edges = np.linspace(low, high, len(counts) + 1) if counts.any() and high > low else []
        return {
            **{
                f"logits_{side}": [
                    {"token": self.token_strings[int(t)], "value": float(v)}
                    for t, v in zip(arrays[f"logit_{side}_ids"][i], arrays[f"logit_{side}_values"][i])
                ]
                for side in ("top", "bottom")
            },
            "logit_histogram": {"counts": counts.tolist() if len(edges) else [], "edges": list(map(float, edges))},
        }

    def prefetch_logits(self, features) -> None:
        """Compute the logit effects of several features in one batched product (e.g. before showing or
        exporting many pages); page() computes one feature's on first use otherwise."""
        if self.logits is not None:
            self._logit_arrays([self.row(f) for f in features])

    # -- persistence: ONE safetensors file, arrays plus the rest as JSON in its header; built once, reused ----

    def save(self, path: PathLike) -> Path:
        """Write everything to one file (".safetensors" is added if missing) and return its path. The file is
        written beside the target and renamed over it, so a failure leaves any older file intact."""
        path = _dashboard_file(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            f.name: np.ascontiguousarray(getattr(self, f.name))
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        if self.logits is not None:  # a file is read without the model: every feature's logit effects go in it
            arrays.update({name: np.ascontiguousarray(value) for name, value in self._logit_arrays().items()})
        meta = {
            "n_tokens": self.n_tokens,
            "hook_name": self.hook_name,
            "source_kind": self.source_kind,
            "window_before": self.window_before,
            "drop_first": self.drop_first,
            "decoder_norm_hooks": self.decoder_norm_hooks,
            "token_strings": {str(k): v for k, v in self.token_strings.items()},
            "feature_space": asdict(self.feature_space) if self.feature_space else None,
        }
        tmp = path.with_name(path.name + ".partial")
        try:
            save_file(arrays, str(tmp), metadata={_META_KEY: json.dumps(meta)})
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: PathLike) -> DashboardData:
        """Read a file written by save() (or a folder of the older two-file layout, checked for consistency)."""
        path = Path(path)
        if (path / "dashboard.json").exists():
            meta = json.loads((path / "dashboard.json").read_text())
            arrays = load_file(str(path / "dashboard.safetensors"))
        else:
            path = _dashboard_file(path)
            if not path.is_file():
                raise FileNotFoundError(f"{path} holds no saved dashboard data (no such file)")
            with safe_open(str(path), framework="numpy") as file:
                header = (file.metadata() or {}).get(_META_KEY)
                if header is None:
                    raise ValueError(
                        f"{path} is a safetensors file but not saved dashboard data (no {_META_KEY} header)"
                    )
                meta = json.loads(header)
                arrays = {name: file.get_tensor(name) for name in file.keys()}
        meta["token_strings"] = {int(k): v for k, v in meta["token_strings"].items()}
        meta["feature_space"] = FeatureSpace(**meta["feature_space"]) if meta.get("feature_space") else None
        logits = {name: arrays.pop(name) for name in LogitEffects.NAMES + LogitEffects.HISTOGRAM if name in arrays}
        data = cls(**arrays, **meta, logits=LogitEffects.stored(logits) if len(logits) >= 4 else None)
        unknown = data.stored_token_ids() - data.token_strings.keys()
        if unknown:
            raise ValueError(
                f"{path} does not hold one consistent save: its arrays use {len(unknown)} token ids "
                f"its metadata does not know (e.g. {min(unknown)}); rebuild it with dashboard_data(...)"
            )
        return data

    def stored_token_ids(self) -> set[int]:
        """Token ids in the arrays (logit effects only where computed or loaded)."""
        ids = [self.top_tokens.ravel(), self.sample_tokens.ravel()]
        if self.logits is not None:
            done = self.logits.done
            ids += [
                self.logits.arrays["logit_top_ids"][done].ravel(),
                self.logits.arrays["logit_bottom_ids"][done].ravel(),
            ]
        return set(np.unique(np.concatenate(ids)).tolist()) - {-1}


class LogitEffects:
    """Per dashboard row: the `n` tokens a feature's residual direction promotes and suppresses most through the
    unembedding (direction @ W_U, as sae_vis), as the four [F, n] arrays logit_{top,bottom}_{ids,values}.

    Loaded from a file, all rows are there. Built with a model, a row is computed the first time it is asked
    for (a page shown, an export, a save): the product with the whole vocabulary (49k tokens on SmolLM2) is not
    a fixed cost of every build. Computed rows are shared by every dashboard of the same model and source
    weights (`_unembedding`), so a rebuild over another corpus computes nothing again.
    """

    NAMES = ("logit_top_ids", "logit_top_values", "logit_bottom_ids", "logit_bottom_values")
    # The distribution of all vocabulary logit effects: LOGIT_BINS counts over [low, high] (older files lack it)
    HISTOGRAM = ("logit_hist_counts", "logit_hist_range")

    def __init__(self, arrays: dict, done: np.ndarray, model=None, unembedding: _Unembedding | None = None):
        self.arrays, self.done, self.model, self.unembedding = arrays, done, model, unembedding

    @classmethod
    def stored(cls, arrays: dict) -> LogitEffects:
        n_rows = len(arrays["logit_top_ids"])
        arrays.setdefault("logit_hist_counts", np.zeros((n_rows, 0), dtype=np.int64))
        arrays.setdefault("logit_hist_range", np.zeros((n_rows, 2), dtype=np.float32))
        return cls(arrays, np.ones(n_rows, dtype=bool))

    @classmethod
    def lazy(cls, model, source: FeatureSource, n_rows: int, n: int) -> LogitEffects:
        unembedding = _unembedding(model, source, n)
        width = 0 if unembedding.directions is None else min(n, unembedding.unembed.shape[1])
        ids, values = np.zeros((n_rows, width), dtype=np.int64), np.zeros((n_rows, width), dtype=np.float32)
        arrays = {
            "logit_top_ids": ids,
            "logit_top_values": values,
            "logit_bottom_ids": ids.copy(),
            "logit_bottom_values": values.copy(),
            "logit_hist_counts": np.zeros((n_rows, LOGIT_BINS if width else 0), dtype=np.int64),
            "logit_hist_range": np.zeros((n_rows, 2), dtype=np.float32),
        }
        return cls(arrays, np.zeros(n_rows, dtype=bool), model, unembedding)

    def fill(self, rows, feature_ids: np.ndarray) -> np.ndarray | None:
        """Compute the rows not done yet; returns the token ids they added (None if nothing was computed)."""
        rows = np.asarray([r for r in dict.fromkeys(rows) if not self.done[r]], dtype=int)
        if not len(rows):
            return None
        if self.unembedding is None:
            raise ValueError("these logit effects were loaded without some rows; rebuild with dashboard_data(...)")
        computed = self.unembedding.rows(feature_ids[rows])
        for name, value in computed.items():
            self.arrays[name][rows] = value
        self.done[rows] = True
        return np.concatenate([computed["logit_top_ids"].ravel(), computed["logit_bottom_ids"].ravel()])


class _Unembedding:
    """One (model, source weights, n): residual directions, W_U and the logit effects computed so far, by feature."""

    def __init__(self, directions, unembed, n, stamp, decoder):
        self.directions, self.unembed, self.n, self.stamp = directions, unembed, n, stamp
        self.decoder = decoder  # holds the weights' memory, so no other tensor can reuse the address in the key
        self.computed: dict[int, tuple] = {}

    PARTS = (
        "logit_top_values",
        "logit_top_ids",
        "logit_bottom_values",
        "logit_bottom_ids",
        "logit_hist_counts",
        "logit_hist_range",
    )

    def rows(self, features, chunk: int = 256) -> dict[str, np.ndarray]:
        """{name in PARTS: [len(features), ...]} for these feature ids: top and bottom n values and ids, and the
        histogram of the effects on the whole vocabulary (LOGIT_BINS counts over the range [min, max])."""
        features = [int(f) for f in features]
        missing = [f for f in dict.fromkeys(features) if f not in self.computed]
        width = 0 if self.directions is None else min(self.n, self.unembed.shape[1])
        unembed = self.unembed.float() if missing and self.directions is not None else None
        with torch.inference_mode():
            for start in range(0, len(missing), chunk):
                block = missing[start : start + chunk]
                if self.directions is None:
                    empty = np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
                    self.computed.update({f: (*empty, *empty, empty[1], np.zeros(2, np.float32)) for f in block})
                    continue
                index = torch.as_tensor(block, device=self.directions.device)
                logits = self.directions[index].float() @ unembed  # one row per page: one matrix-vector product
                top, bottom = logits.topk(width, dim=1), logits.topk(width, dim=1, largest=False)
                counts, ranges = _row_histograms(logits, LOGIT_BINS)
                parts = [to_numpy(x) for x in (top.values, top.indices, bottom.values, bottom.indices, counts, ranges)]
                self.computed.update({f: tuple(p[j] for p in parts) for j, f in enumerate(block)})
        return {
            name: np.stack([self.computed[f][part] for f in features]).reshape(len(features), -1)
            for part, name in enumerate(self.PARTS)
        }


def _row_histograms(values: torch.Tensor, n_bins: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of [R, V] values: n_bins counts over equal bins from the row's min to its max (the max in the
    last bin), and [R, 2] (min, max)."""
    low, high = values.amin(1), values.amax(1)
    width = (high - low).clamp(min=torch.finfo(values.dtype).tiny)
    bins = ((values - low[:, None]) / width[:, None] * n_bins).long().clamp(0, n_bins - 1)
    counts = torch.zeros(len(values), n_bins, dtype=torch.long, device=values.device)
    counts.scatter_add_(1, bins, torch.ones_like(bins))
    return counts, torch.stack([low, high], 1)


_UNEMBEDDINGS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # torch model -> {source key: _Unembedding}
_UNEMBEDDINGS_PER_MODEL = 4


def _decoder_or_none(source: FeatureSource) -> torch.Tensor | None:
    """The source's decoder directions, or None for units without one (the units of a HookNeuronSource)."""
    try:
        return source.decoder_directions()
    except NotImplementedError:
        return None


def _version(tensor: torch.Tensor) -> int:
    try:
        return tensor._version
    except RuntimeError:  # an inference tensor has no version counter (and cannot be changed in place)
        return 0


def _unembedding(model, source: FeatureSource, n: int) -> _Unembedding:
    """The shared _Unembedding of this model and source: found by the source's decoder weights (same tensor,
    not changed in place since) and W_U, so rebuilding a dashboard of the same SAE reuses what was computed."""
    backend = as_backend(model)
    decoder = _decoder_or_none(source)
    weights = None if decoder is None else (decoder.data_ptr(), tuple(decoder.shape))
    key = (source.kind, source.hook_name, source.n_features, weights, n)
    W_U = backend.W_U
    stamp = (None if decoder is None else _version(decoder), W_U.data_ptr(), _version(W_U))
    cache = _UNEMBEDDINGS.setdefault(backend.model, {})
    found = cache.get(key)
    if found is None or found.stamp != stamp:
        directions = source.residual_directions(backend)
        unembed = backend.residual_unembed()
        found = _Unembedding(
            None if directions is None else directions.detach().to(unembed.device), unembed, n, stamp, decoder
        )
        cache.pop(key, None)
        while len(cache) >= _UNEMBEDDINGS_PER_MODEL:
            cache.pop(next(iter(cache)))
        cache[key] = found
    return found


# -- the streaming pass ---------------------------------------------------------------------------------------


def corpus_token_lists(model, corpus, context_size: int = 128, max_texts: int | None = None) -> list[torch.Tensor]:
    """Token contexts (BOS first, at most context_size long, never crossing texts) from a corpus given as
    a list of strings, local text file paths, a [n, ctx] token tensor, or (online) a HF dataset name."""
    backend = as_backend(model)
    if isinstance(corpus, torch.Tensor):
        if corpus.ndim != 2 or corpus.shape[1] < 2:
            raise ValueError(
                f"a token corpus must be [n_contexts, ctx_len >= 2] with BOS first, got {tuple(corpus.shape)}"
            )
        if corpus.shape[1] > backend.n_ctx:  # else the forward pass fails deep inside the model
            raise ValueError(
                f"a token corpus of {corpus.shape[1]} tokens per context exceeds {backend.name}'s context of "
                f"{backend.n_ctx}: cut it to at most {backend.n_ctx} columns"
            )
        return list(cpu_tokens(corpus))
    texts = _corpus_texts(corpus, max_texts)
    bos = backend.bos_token_id
    # Contexts longer than the model reads would fail deep inside its forward pass: cut them at n_ctx instead
    # (e.g. the default 128 on a small model), and say so when a passage is long enough for it to matter.
    size = min(context_size, backend.n_ctx)
    contexts, cut = [], False
    for passage in texts:
        ids = backend.tokenize_text(passage)
        cut = cut or len(ids) > size - 1
        for start in range(0, len(ids), size - 1):
            contexts.append(torch.cat([cpu_tokens([bos]), ids[start : start + size - 1]]))
    if not contexts:
        raise ValueError("the corpus holds no text")
    if cut and size < context_size:
        warnings.warn(
            f"context_size={context_size} exceeds {backend.name}'s context of {backend.n_ctx} tokens: "
            f"the corpus is cut into contexts of {size}",
            stacklevel=3,
        )
    return contexts


def _corpus_texts(corpus, max_texts):
    if isinstance(corpus, (str, os.PathLike)):
        path = Path(corpus).expanduser()
        if path.exists():
            corpus = [path]
        elif isinstance(corpus, str) and _looks_like_dataset_name(corpus):
            return _hf_dataset_texts(corpus, max_texts)
        else:
            raise FileNotFoundError(
                f"corpus={str(corpus)!r} is not an existing file (nor a list of texts or a "
                "hub dataset name like 'owner/name')"
            )
    corpus = list(corpus)
    if not corpus:
        raise ValueError("corpus is empty")
    texts = []
    for item in corpus:
        if isinstance(item, Path):
            texts += [p.strip() for p in item.read_text(errors="replace").split("\n\n") if p.strip()]
        elif isinstance(item, str):
            if item.strip():
                texts.append(text(item, f"corpus text {len(texts)}"))
        else:
            raise TypeError(f"corpus items must be strings or paths, got {type(item).__name__}")
    return texts[:max_texts] if max_texts else texts


_DATASET_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_TEXT_SUFFIXES = {".txt", ".text", ".md", ".json", ".jsonl", ".csv", ".tsv"}


def _looks_like_dataset_name(name: str) -> bool:
    """'owner/name' and not a path: a mistyped local file must not turn into a hub download."""
    path = Path(name).expanduser()
    return bool(_DATASET_NAME.match(name)) and path.suffix.lower() not in _TEXT_SUFFIXES and not path.parent.exists()


def _hf_dataset_texts(name: str, max_texts: int | None):
    from datasets import load_dataset

    from ..loading import hub_errors

    with hub_errors(f"dataset {name!r}"):
        rows = load_dataset(name, split="train", streaming=True)
        texts = []
        for row in rows:
            texts.append(row.get("text") or next(v for v in row.values() if isinstance(v, str)))
            if max_texts and len(texts) >= max_texts:
                break
    return texts


_EMPTY_CTX = torch.iinfo(torch.int64).max  # the context index of an empty slot: sorts after every context


def _ranked(scores: torch.Tensor, ctx: torch.Tensor, take: int) -> torch.Tensor:
    """Per row, the indices of the `take` best entries by (score descending, context index ascending): a total
    order, so what is kept never depends on the order contexts arrive in (shards merge exactly, ties too)."""
    first = ctx.argsort(dim=1, stable=True)
    second = scores.gather(1, first).argsort(dim=1, descending=True, stable=True)[:, :take]
    return first.gather(1, second)


def _merge_top(buffers: dict, new: dict, k: int) -> None:
    """Keep, per feature (row), the k best entries (by `_ranked`) among the buffer and the new entries."""
    both = {name: torch.cat([buffers[name], value], 1) for name, value in new.items()}
    order = _ranked(both["score"], both["ctx"], k)
    for name, value in both.items():
        index = order.view(*order.shape, *([1] * (value.ndim - 2))).expand(-1, -1, *value.shape[2:])
        buffers[name] = value.gather(1, index)


def _batch_generator(seed: int, batch_index: int) -> torch.Generator:
    """The reservoir keys of one batch of the pass's plan come from (seed, batch index) alone, so a shard of
    the plan draws the keys the whole pass would (on the CPU: the same sample whatever the device)."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, batch_index]).generate_state(1)[0]))


# Co-activation counts are [rows, features] int32: by default every feature gets a row while that is at most
# this many entries (64 MB: 4,096 features; 2,560 latents take 26 MB), beyond it none unless asked for.
COACTIVATION_MAX_ENTRIES = 2**24


def _coactivation_rows(n_features: int, coactivation) -> np.ndarray:
    """Columns of the pass that get a co-activation row: None = all if they fit COACTIVATION_MAX_ENTRIES, else
    none; False = none; otherwise the given column indices."""
    if coactivation is None:
        coactivation = n_features * n_features <= COACTIVATION_MAX_ENTRIES
    if coactivation is True:
        return np.arange(n_features)
    if coactivation is False:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(coactivation, dtype=np.int64).reshape(-1)


def _coactive_counts(active: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """[R, F] int32: for each column in `rows`, the rows of `active` ([N, F] bool) where it and each column are
    both set. One float32 product, exact while N < 2**24 (a batch). (torch's private int8 product was ~5x faster
    for this step but miscounts for one row on CPU in torch 2.13, and the build ratio did not move: 1.21x vs 1.20x.)"""
    flat = active.float()
    return (flat[:, rows].T @ flat).round().int()


class DashboardState:
    """The mergeable reduction of a dashboard pass over some contexts of a corpus: per feature the top-k
    contexts, the reservoir (random keys, smallest kept), the doubling histogram, active counts and tokens.

    States over disjoint batches of one pass's plan merge (`merge`) into exactly the state of one pass over
    their union: top-k and reservoir ties break by context index, reservoir keys depend only on (seed, batch
    index), and a histogram's range is always the smallest power of two its maximum fits, whose bins merge in
    pairs exactly (`_fit_range`). `save` / `load` checkpoint a state (one safetensors file).
    """

    BUFFERS = ("score", "value", "ctx", "tokens", "acts")

    def __init__(
        self,
        n_features: int,
        k: int,
        n_samples: int,
        n_bins: int,
        device="cpu",
        width: int = WINDOW_BEFORE + WINDOW_AFTER + 1,
        coactivation=None,
    ):
        self.n_tokens = 0
        self.active = torch.zeros(n_features, dtype=torch.long, device=device)
        self.hist = torch.zeros(n_features, n_bins, dtype=torch.long, device=device)
        self.high = torch.zeros(n_features, device=device)
        # Negative values (neurons) in their own doubling histogram over [-high_neg, 0], mirrored.
        self.hist_neg = torch.zeros(n_features, n_bins, dtype=torch.long, device=device)
        self.high_neg = torch.zeros(n_features, device=device)
        self.top, self.sample = (self._empty(n_features, slots, width, device) for slots in (k, n_samples))
        # Co-activation: for the columns `coact_rows`, tokens where both it and each other column are > 0.
        rows = _coactivation_rows(n_features, coactivation)
        self.coact_rows = torch.as_tensor(rows, dtype=torch.long, device=device)
        self.coact = torch.zeros(len(rows), n_features, dtype=torch.int32, device=device)

    @staticmethod
    def _empty(n_features, slots, width, device) -> dict:
        return {
            "score": torch.full((n_features, slots), -torch.inf, device=device),
            "value": torch.full((n_features, slots), -torch.inf, device=device),
            "ctx": torch.full((n_features, slots), _EMPTY_CTX, dtype=torch.long, device=device),
            "tokens": torch.full((n_features, slots, width), -1, dtype=torch.int32, device=device),
            "acts": torch.zeros(n_features, slots, width, device=device),
        }

    def add_batch(self, batch_index: int, ctx_ids, feats, tokens, lengths, drop_first: int, seed: int) -> None:
        """Reduce one batch: feats [B, S, F] of contexts `ctx_ids` (indices in the corpus), tokens [B, S]."""
        device = feats.device
        lengths = torch.as_tensor(lengths, device=device)
        ctx_ids = torch.as_tensor(ctx_ids, dtype=torch.long, device=device)
        valid = torch.arange(feats.shape[1], device=device)[None, :] < lengths[:, None]
        valid[:, : 1 + drop_first] = False  # BOS (an outlier) and position artifacts: never counted
        feats = feats.masked_fill(~valid[..., None], 0.0)
        self.n_tokens += int(valid.sum())
        positive = feats > 0
        self.active += positive.sum((0, 1))
        # Top-k contexts: each context competes with its own max, so one text cannot fill all k slots.
        ctx_max, ctx_pos = feats.masked_fill(~valid[..., None], -torch.inf).max(1)  # [B, F]
        _merge_candidates(
            self.top, ctx_max.T, ctx_max.T, ctx_pos.T, ctx_ids, feats, tokens, lengths, self.top["score"].shape[1]
        )
        # Uniform sample of active contexts: random keys, keep the smallest (a vectorised reservoir).
        keys = torch.rand(ctx_max.shape, generator=_batch_generator(seed, batch_index), device="cpu").to(device)
        keys = keys.masked_fill(ctx_max <= 0, torch.inf)
        _merge_candidates(
            self.sample, -keys.T, ctx_max.T, ctx_pos.T, ctx_ids, feats, tokens, lengths, self.sample["score"].shape[1]
        )
        _update_histogram(self.hist, self.high, feats, positive)
        if (feats.amin((0, 1)) < 0).any():  # one reduction: SAE latents (never negative) pay nothing more
            neg = (-feats).clamp(min=0)
            _update_histogram(self.hist_neg, self.high_neg, neg, neg > 0)
        if len(self.coact_rows):
            self.coact += _coactive_counts(positive.reshape(-1, positive.shape[-1]), self.coact_rows)

    def merge(self, other: DashboardState) -> DashboardState:
        """Fold `other` (a state over other contexts of the same pass) into this one; returns self."""
        if (
            self.hist.shape != other.hist.shape
            or self.top["tokens"].shape != other.top["tokens"].shape
            or self.sample["tokens"].shape != other.sample["tokens"].shape
        ):
            raise ValueError("these dashboard states come from passes with other features, k, n_samples or n_bins")
        if not torch.equal(self.coact_rows.cpu(), other.coact_rows.cpu()):
            raise ValueError("these dashboard states count co-activation for other features")
        other = other.to(self.hist.device)
        self.n_tokens += other.n_tokens
        self.active += other.active
        self.coact += other.coact
        for mine, theirs in ((self.top, other.top), (self.sample, other.sample)):
            _merge_top(mine, theirs, mine["score"].shape[1])
        for hist, high in (("hist", "high"), ("hist_neg", "high_neg")):
            mine, theirs = getattr(self, high), getattr(other, high)
            both = torch.maximum(mine, theirs)
            setattr(
                self, hist, _fit_range(getattr(self, hist), mine, both) + _fit_range(getattr(other, hist), theirs, both)
            )
            setattr(self, high, both)
        return self

    def to(self, device) -> DashboardState:
        out = DashboardState.__new__(DashboardState)
        out.n_tokens = self.n_tokens
        for name in self.TENSORS:
            setattr(out, name, getattr(self, name).to(device))
        out.top, out.sample = ({n: t.to(device) for n, t in b.items()} for b in (self.top, self.sample))
        return out

    TENSORS = ("active", "hist", "high", "hist_neg", "high_neg", "coact_rows", "coact")

    def arrays(self) -> dict[str, np.ndarray]:
        out = {name: getattr(self, name) for name in self.TENSORS}
        out.update(
            {
                f"{part}.{name}": value
                for part, buffers in (("top", self.top), ("sample", self.sample))
                for name, value in buffers.items()
            }
        )
        return {name: np.ascontiguousarray(to_numpy(value)) for name, value in out.items()}

    @classmethod
    def from_arrays(cls, arrays: dict, n_tokens: int) -> DashboardState:
        t = {name: torch.from_numpy(np.array(value)) for name, value in arrays.items()}
        state = cls.__new__(cls)
        state.n_tokens = int(n_tokens)
        for name in cls.TENSORS:
            setattr(state, name, t[name])
        state.top = {name: t[f"top.{name}"] for name in cls.BUFFERS}
        state.sample = {name: t[f"sample.{name}"] for name in cls.BUFFERS}
        return state

    def __reduce__(self):  # Ray and pickle ship plain numpy arrays
        return DashboardState.from_arrays, (self.arrays(), self.n_tokens)

    def save(self, path, key: str = "") -> Path:
        """Write the state to one safetensors file (beside the target, then renamed), tagged with `key`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        try:
            save_file(self.arrays(), str(tmp), metadata={"n_tokens": str(self.n_tokens), "key": key})
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path, key: str | None = None) -> DashboardState | None:
        """The state saved at `path`, or None if there is none or it was saved with another `key`."""
        path = Path(path)
        if not path.is_file():
            return None
        with safe_open(str(path), framework="numpy") as file:
            meta = file.metadata() or {}
            if key is not None and meta.get("key") != key:
                return None
            arrays = {name: file.get_tensor(name) for name in file.keys()}
        return cls.from_arrays(arrays, int(meta["n_tokens"]))


def _windows(feats, tokens, lengths, rows, positions, feature_cols, before, after):
    """Token ids and activations of the window around (context row, position) for each (feature, slot)."""
    offsets = torch.arange(-before, after + 1, device=positions.device)
    pos = positions[..., None] + offsets  # [F, k, W]
    valid = (pos >= 1) & (pos < lengths[rows][..., None])
    pos_c = pos.clamp(0, feats.shape[1] - 1)
    ids = tokens[rows[..., None], pos_c].masked_fill(~valid, -1).int()
    acts = feats[rows[..., None], pos_c, feature_cols[:, None, None]].masked_fill(~valid, 0.0)
    return ids, acts


def default_batch_tokens(n_features: int) -> int:
    """Tokens per forward batch: one batch's activations are [tokens, n_features], kept at ~64M floats."""
    return int(max(256, min(8192, 2**26 // max(n_features, 1))))


def dashboard_data(
    model: ModelLike,
    source: SourceLike,
    corpus: Sequence[str] | PathLike | None = None,
    features: Iterable[int] | None = None,
    *,
    k: int = 10,
    n_samples: int = 40,
    n_bins: int = 40,
    n_logits: int = 10,
    n_nearest: int = 5,
    context_size: int = 128,
    max_texts: int | None = None,
    batch_tokens: int | None = None,
    seed: int = 0,
    drop_first: int | None = None,
    activations: ActivationResult | None = None,
    progress: bool = True,
    workers: int | None = None,
    cluster: str | None = None,
    shards: int | None = None,
    checkpoint_dir: PathLike | None = None,
    coactivation=None,
) -> DashboardData:
    """Dashboard data for `features` (default: all) of `source`, in one streaming pass over `corpus`, or
    over `activations` already computed (then the model never runs). With `workers` or `cluster` the pass is
    split into shards run as Ray tasks whose partial results merge exactly (the same data as one process).

    Parameters
    ----------
    model : transformer_lens.HookedTransformer, fv.HFModel or (transformers model, tokenizer)
        The model (a plain Hugging Face model reads module paths: see `fv.hooks`).
    source : FeatureSource or sae_lens SAE
        The feature source.
    corpus : list of str, path, str, or torch.Tensor, optional
        Texts; a text file (paragraphs split at blank lines); a [n, ctx] token tensor (BOS first); or a hub
        dataset name ("owner/name", online only). Not with `activations`.
    features : sequence of int, optional
        The features to keep; default: all of them.
    k : int, default 10
        Top-activating contexts kept per feature.
    n_samples : int, default 40
        Contexts sampled uniformly from the active ones (the interval samples).
    n_bins : int, default 40
        Histogram bins of the non-zero activations.
    n_logits : int, default 10
        Tokens listed as most promoted and most suppressed by the decoder direction.
    n_nearest : int, default 5
        Nearest features by decoder cosine.
    context_size : int, default 128
        Tokens per context (BOS included), at most the model's n_ctx (a larger one is cut there, with a warning
        when a text is that long); longer texts are split.
    max_texts : int, optional
        Read at most this many texts.
    batch_tokens : int, optional
        Tokens per forward batch; default: sized from the number of features.
    seed : int, default 0
        Seed of the interval sampling.
    drop_first : int, optional
        As in `activations`: the first tokens after BOS of every context are never counted (no top context,
        sample, histogram entry or density from them). Default: the source's ``drop_first`` (with
        `activations`: theirs; it cannot be smaller than theirs, those tokens have no values).
    activations : ActivationResult, optional
        A result of ``fv.activations(model, source, prompts)`` (same source): the dashboards are built from its
        values, one context per prompt, without running the model (the model only tokenizes and decodes). The
        result equals a corpus pass over the same prompts (``corpus=prompts``, when none is longer than
        `context_size`; up to float rounding, bit for bit when both ran the same `batch_tokens`). Hook
        activations cached elsewhere (e.g. SAE training shards, which drop rows and lose positions) go through
        ``fv.activations`` first.
    progress : bool, default True
        Show a progress bar.
    workers : int, optional
        Run the pass as Ray tasks, at most this many at once (Ray: ``pip install 'featureviz[distributed]'``).
        Without `cluster`, a local Ray is started if none is running (``ray.shutdown()`` stops it). Each task
        runs whole batches of the one-process plan and returns its mergeable `DashboardState`; the driver merges
        them: top-k contexts, samples, histograms, densities and maxima equal the one-process result. A task
        whose worker dies is re-run by Ray (its shard only). The model and source go to the workers through
        Ray's object store; on a cluster with GPUs each task takes one (a CUDA model lands on its GPU).
    cluster : str, optional
        ``"auto"`` (the Ray cluster this machine belongs to) or ``"ray://host:port"``; `workers` defaults to
        its CPU count (GPU count when it has GPUs).
    shards : int, optional
        How many shards the plan is cut into (default: 2 per worker; with only `checkpoint_dir`, 8).
    checkpoint_dir : str or path, optional
        Each finished shard's state is written there (one safetensors file per shard, keyed by everything that
        determines it); a re-run with the same arguments loads the shards already done and runs only the rest.
        On a multi-machine cluster it must be a shared file system. Without `workers` the shards run here.
    coactivation : bool or sequence of int, optional
        The features whose co-activation with every other built feature is counted in the same pass (tokens
        where both are > 0; the page lists the `n_nearest` with the highest Jaccard index). Memory is one int32
        per (listed feature, built feature): default all while that is at most 2**24 entries (4,096 features;
        2,560 take 26 MB), none beyond (then pass the features you will look at); False for none. Counts are
        exact (sharded passes sum them) below 2**31 tokens.

    Returns
    -------
    DashboardData
        Arrays for every feature; ``page(feature)`` gives one dashboard, ``save()`` / ``DashboardData.load()``.
    """
    model = as_backend(model)
    source = as_source(source, model, any_model=True)
    if activations is not None:
        if corpus is not None:
            raise ValueError("give a corpus or activations=, not both (the activations already fix the contexts)")
        drop_first = _check_activations(activations, source, drop_first)
    elif corpus is None:
        raise TypeError(
            "dashboard_data needs a corpus (texts, a file, a token tensor) or activations=fv.activations(...)"
        )
    else:
        drop_first = resolve_drop_first(drop_first, source)
    feature_ids = (
        np.arange(source.n_features)
        if features is None
        else np.array([check_feature_index(f, source.n_features, "features") for f in features], dtype=int)
    )
    if len(feature_ids) == 0:
        raise ValueError("features is empty: give at least one feature, or None for all")
    k, n_samples, n_bins, n_logits, n_nearest = (
        positive_int(v, name)
        for v, name in (
            (k, "k"),
            (n_samples, "n_samples"),
            (n_bins, "n_bins"),
            (n_logits, "n_logits"),
            (n_nearest, "n_nearest"),
        )
    )
    context_size = integer(context_size, "context_size", minimum=2)
    if n_bins % 2:
        raise ValueError(f"n_bins must be even (bins merge in pairs as the range doubles), got {n_bins}")
    contexts = (
        corpus_token_lists(model, corpus, context_size, max_texts)
        if activations is None
        else _activation_contexts(model, activations)
    )
    spec = PassSpec(
        None if features is None else feature_ids,
        len(feature_ids),
        k,
        n_samples,
        n_bins,
        drop_first,
        seed,
        _coactivation_columns(coactivation, feature_ids),
    )
    plan = length_sorted_batches([len(c) for c in contexts], batch_tokens or default_batch_tokens(source.n_features))
    if workers is not None or cluster is not None or checkpoint_dir is not None:
        if activations is not None:
            raise ValueError(
                "workers=, cluster= and checkpoint_dir= split a corpus pass; dashboards from activations= "
                "run no model and need none of them"
            )
        from .distributed import sharded_state  # Ray is optional: imported only when asked for

        state = sharded_state(
            model,
            source,
            contexts,
            plan,
            spec,
            workers=workers,
            cluster=cluster,
            shards=shards,
            checkpoint_dir=checkpoint_dir,
            progress=progress,
        )
    else:
        total = sum(max(len(c) - 1 - drop_first, 0) for c in contexts)
        with tqdm(total=total, desc="dashboard", unit="tok", disable=not progress) as bar:
            state = reduce_batches(model, source, contexts, plan, spec, bar=bar, activations=activations)
    return _finish(model, source, state, spec, feature_ids, n_logits, n_nearest)


@dataclass(frozen=True)
class PassSpec:
    """What a dashboard pass computes, beside its contexts: the features (None: all), buffer sizes, drop_first
    and seed. Every shard of a pass gets the same spec."""

    features: np.ndarray | None
    n_features: int
    k: int
    n_samples: int
    n_bins: int
    drop_first: int
    seed: int
    coactivation: np.ndarray | None = None  # columns with co-activation rows (None: the default, see DashboardState)

    def key(self) -> str:
        """A stable description (checkpoint files are reused only for the same spec)."""
        feats = "all" if self.features is None else ",".join(map(str, np.asarray(self.features).tolist()))
        rows = _coactivation_rows(self.n_features, self.coactivation)
        coact = hashlib.sha256(rows.tobytes()).hexdigest()[:16]
        return (
            f"features={feats};k={self.k};n_samples={self.n_samples};n_bins={self.n_bins};"
            f"drop_first={self.drop_first};seed={self.seed};coactivation={len(rows)}:{coact}"
        )


def _coactivation_columns(coactivation, feature_ids: np.ndarray):
    """The `coactivation` argument as columns of the pass (None / True / False pass through)."""
    if coactivation is None or isinstance(coactivation, (bool, np.bool_)):
        return None if coactivation is None else bool(coactivation)
    if isinstance(coactivation, (str, bytes)) or not hasattr(coactivation, "__iter__"):
        raise TypeError(f"coactivation must be True, False or a list of feature ids, got {coactivation!r}")
    column = {int(f): i for i, f in enumerate(feature_ids)}
    wanted = [integer(f, "coactivation feature") for f in coactivation]
    missing = [f for f in wanted if f not in column]
    if missing:
        raise ValueError(f"coactivation features {missing[:5]} are not among the features built (features=...)")
    return np.array(sorted({column[f] for f in wanted}), dtype=np.int64)


def reduce_batches(
    model,
    source: FeatureSource,
    contexts,
    batches,
    spec: PassSpec,
    first_batch: int = 0,
    bar=None,
    activations: ActivationResult | None = None,
    on_batch=None,
) -> DashboardState:
    """The DashboardState of `batches` (lists of indices into `contexts`, a list or dict of token tensors), which
    are the plan's batches first_batch, first_batch + 1, ...; from the model, or read from `activations`."""
    device = model.device  # every buffer lives beside the activations; results come back as CPU numpy
    cols = None if spec.features is None else torch.as_tensor(spec.features, device=device)
    state = DashboardState(spec.n_features, spec.k, spec.n_samples, spec.n_bins, device, coactivation=spec.coactivation)
    for index, batch in enumerate(batches, start=first_batch):
        if activations is None:
            batch, feats, lengths = _encoded_batch(model, source, contexts, batch, cols)
        else:
            feats, lengths = _stored_batch(activations, contexts, batch, None if cols is None else cols.cpu(), device)
        if on_batch is not None:
            on_batch(index)
        tokens = torch.nn.utils.rnn.pad_sequence([contexts[i] for i in batch], batch_first=True, padding_value=0)
        state.add_batch(index, batch, feats, tokens.to(device), lengths, spec.drop_first, spec.seed)
        if bar is not None:
            bar.update(sum(max(n - 1 - spec.drop_first, 0) for n in lengths))
    return state


def _finish(model, source: FeatureSource, state: DashboardState, spec: PassSpec, feature_ids, n_logits, n_nearest):
    device = model.device
    state = state.to(device)
    cols = torch.as_tensor(feature_ids, device=device)
    top, sample = state.top, state.sample
    decoder, n_feat = _decoder_or_none(source), len(feature_ids)
    nearest_ids, nearest_cos = (
        _nearest(decoder.float(), cols, n_nearest)
        if decoder is not None
        else (torch.zeros(n_feat, 0, dtype=torch.long, device=device), torch.zeros(n_feat, 0, device=device))
    )
    used_ids = set(torch.cat([top["tokens"].flatten(), sample["tokens"].flatten()]).unique().tolist()) - {-1}
    n = to_numpy
    return DashboardData(
        feature_ids=feature_ids,
        n_tokens=state.n_tokens,
        active_count=n(state.active),
        max_value=n(top["value"][:, 0].clamp(min=0)),
        top_values=n(top["value"]),
        top_tokens=n(top["tokens"]),
        top_acts=n(top["acts"]),
        sample_values=n(sample["value"]),
        sample_tokens=n(sample["tokens"]),
        sample_acts=n(sample["acts"]),
        hist_counts=n(state.hist),
        hist_high=n(state.high),
        hist_neg_counts=n(state.hist_neg),
        hist_neg_high=n(state.high_neg),
        **_coactive_top(state, feature_ids, n_nearest),
        nearest_ids=n(nearest_ids),
        nearest_cosine=n(nearest_cos),
        token_strings=_token_strings(model, sorted(used_ids)),
        hook_name=source.hook_name,
        source_kind=source.kind,
        feature_space=source.feature_space,
        drop_first=spec.drop_first,
        logits=LogitEffects.lazy(model, source, len(feature_ids), n_logits),
        **_decoder_norms(source, feature_ids),
    )


def _coactive_top(state: DashboardState, feature_ids: np.ndarray, n: int) -> dict:
    """Per feature with a co-activation row: the n others with the highest Jaccard index of active tokens
    (count / (active_f + active_g - count)), ties by count then feature order; only pairs seen together."""
    n_feat = len(feature_ids)
    n = min(n, n_feat - 1)
    ids, counts = np.full((n_feat, n), -1, dtype=np.int64), np.zeros((n_feat, n), dtype=np.int64)
    jaccard, computed = np.zeros((n_feat, n), dtype=np.float32), np.zeros(n_feat, dtype=np.uint8)
    rows = state.coact_rows.cpu()
    if len(rows) and n > 0:
        both = state.coact.cpu().long()  # [R, F]
        active = state.active.cpu()
        union = active[rows][:, None] + active[None, :] - both
        score = torch.where(both > 0, both.double() / union.clamp(min=1).double(), 0.0)
        score[torch.arange(len(rows), device="cpu"), rows] = -1.0  # not itself
        order = _ranked_pairs(score, both, n)
        best, best_count = score.gather(1, order), both.gather(1, order)
        fid = torch.as_tensor(feature_ids, device="cpu")[order]
        r = to_numpy(rows)
        ids[r] = to_numpy(torch.where(best > 0, fid, torch.full_like(fid, -1)))
        counts[r] = to_numpy(torch.where(best > 0, best_count, torch.zeros_like(best_count)))
        jaccard[r] = to_numpy(best.clamp(min=0).float())
        computed[r] = 1
    return {"coactive_ids": ids, "coactive_counts": counts, "coactive_jaccard": jaccard, "coactive_computed": computed}


def _ranked_pairs(score: torch.Tensor, count: torch.Tensor, n: int) -> torch.Tensor:
    """Per row, the columns of the n best by (score desc, count desc, column asc): a total order. A few candidates
    per row by topk, ordered exactly; a row whose n-th best ties beyond them (rare) is sorted whole."""

    def lexsort(s, c, cols):
        by_col = cols.argsort(dim=1, stable=True)
        by_count = by_col.gather(1, (-c.gather(1, by_col)).argsort(dim=1, stable=True))
        return by_count.gather(1, (-s.gather(1, by_count)).argsort(dim=1, stable=True))

    take = min(score.shape[1], 4 * n + 8)
    top = score.topk(take, dim=1)
    cols = top.indices
    order = cols.gather(1, lexsort(top.values, count.gather(1, cols), cols))[:, :n]
    nth, last = top.values[:, n - 1], top.values[:, take - 1]
    tied = ((nth <= last) & (nth > 0)).nonzero().flatten()  # all with the n-th score may not be among the candidates
    if take < score.shape[1] and len(tied):
        every = torch.arange(score.shape[1], device=score.device).expand(len(tied), -1)
        order[tied] = lexsort(score[tied], count[tied], every)[:, :n]
    return order


def _decoder_norms(source: FeatureSource, feature_ids: np.ndarray) -> dict:
    """A crosscoder's decoder norm per hook for the selected features (the dashboard's crosscoder panel)."""
    if not callable(getattr(source, "decoder_norms", None)):
        return {}
    norms = source.decoder_norms().float()
    norms = norms[torch.as_tensor(feature_ids, device=norms.device)]
    return {"decoder_norms": to_numpy(norms), "decoder_norm_hooks": list(source.hook_names)}


def _encoded_batch(model, source, contexts, batch, cols):
    """(the batch's context indices, [B, S, F] feature activations, lengths): one forward of exactly this batch
    (rows in length order, as the plan has them), so every shard computes what the one-process pass does."""
    ((order, hook_acts, lengths),) = hook_activations_batches(
        model, [contexts[i] for i in batch], source.reads, batch_tokens=sys.maxsize, progress=False
    )
    with torch.inference_mode():
        feats = source.encode(hook_acts).float()
    return [batch[j] for j in order], (feats if cols is None else feats[..., cols]), lengths


def _stored_batch(result: ActivationResult, contexts, batch, cols, device):
    """The same batch read from `result`: the positions it left out (BOS, its drop_first tokens) are zeros,
    which the build never counts."""
    start = 1 + result.drop_first
    width = result.n_features if cols is None else len(cols)
    lengths = [len(contexts[i]) for i in batch]
    feats = torch.zeros(len(batch), max(lengths), width, device=device)
    for row, i in enumerate(batch):
        values = result.prompt_values(i)
        feats[row, start : lengths[row]] = (values if cols is None else values[:, cols]).to(device, torch.float32)
    return feats, lengths


def _check_activations(result, source: FeatureSource, drop_first) -> int:
    """Refuse, in one sentence, activations of another source or of inconsistent shape; the drop_first to use."""
    if not isinstance(result, ActivationResult):
        raise TypeError(
            f"activations must be an ActivationResult (from fv.activations(model, source, prompts)), got "
            f"{type(result).__name__}"
        )
    difference = source.feature_space.mismatch(result.feature_space)
    if difference is None and (result.hook_name, result.source_kind) != (source.hook_name, source.kind):
        difference = f"{result.source_kind} at {result.hook_name!r} vs {source.kind} at {source.hook_name!r}"
    if difference:
        raise ValueError(
            f"activations were computed for another source than {source!r} ({difference}); "
            "compute them with this source, or pass the source they came from"
        )
    shape, offsets, n_prompts = result.shape, np.asarray(result.offsets), len(result.token_ids)
    rows = [len(t) for t in result.token_ids]
    if (
        len(shape) != 2
        or shape[1] != source.n_features
        or len(offsets) != n_prompts + 1
        or offsets[0] != 0
        or offsets[-1] != shape[0]
        or np.diff(offsets).tolist() != rows
    ):
        raise ValueError(
            f"activations do not hold one row of {source.n_features} values per token: values "
            f"{tuple(shape)}, {len(offsets)} offsets (ending at {offsets[-1] if len(offsets) else '-'}) "
            f"for {n_prompts} prompts of {sum(rows)} tokens"
        )
    if not n_prompts:
        raise ValueError("activations hold no prompts")
    drop_first = result.drop_first if drop_first is None else integer(drop_first, "drop_first", minimum=0)
    if drop_first < result.drop_first:
        raise ValueError(
            f"drop_first={drop_first} is below the activations' drop_first={result.drop_first}: those "
            "tokens have no values in them; pass drop_first >= theirs or recompute the activations"
        )
    return drop_first


def _activation_contexts(model, result: ActivationResult) -> list[torch.Tensor]:
    """Each prompt's full token ids (BOS first): result.token_ids start after BOS and its drop_first tokens,
    which the windows still show (at activation 0). With drop_first > 0 they come from tokenizing its prompts."""
    bos = as_backend(model).bos_token_id
    if result.drop_first == 0:
        return [torch.cat([cpu_tokens([bos]), cpu_tokens(t)]) for t in result.token_ids]
    ids = tokenize(model, result.prompts)
    for i, (full, kept) in enumerate(zip(ids, result.token_ids)):
        if not torch.equal(full[1 + result.drop_first :], cpu_tokens(kept)):
            raise ValueError(
                f"activations.token_ids[{i}] are not prompt {i} tokenized by this model (without its first "
                f"{1 + result.drop_first} tokens): were they computed with another model or tokenizer?"
            )
    return ids


def _merge_candidates(buffers, scores, values, positions, ctx_ids, feats, tokens, lengths, slots):
    """Take this batch's best `slots` contexts per feature (by score), read their windows, merge into buffers."""
    ctx = ctx_ids[None, :].expand(scores.shape[0], -1)
    rows = _ranked(scores, ctx, min(slots, scores.shape[1]))  # [F, take]
    best_scores, best_values = scores.gather(1, rows), values.gather(1, rows)
    keep = torch.isfinite(best_scores) & (best_values > 0)
    feature_cols = torch.arange(feats.shape[2], device=feats.device)
    ids, acts = _windows(
        feats, tokens, lengths, rows, positions.gather(1, rows), feature_cols, WINDOW_BEFORE, WINDOW_AFTER
    )
    _merge_top(
        buffers,
        {
            "score": best_scores.masked_fill(~keep, -torch.inf),
            "value": best_values.masked_fill(~keep, -torch.inf),
            "ctx": ctx.gather(1, rows).masked_fill(~keep, _EMPTY_CTX),
            "tokens": ids.masked_fill(~keep[..., None], -1),  # an empty slot holds no window
            "acts": acts.masked_fill(~keep[..., None], 0.0),
        },
        slots,
    )


def _fit_range(hist, high, target) -> torch.Tensor:
    """The histograms over [0, high] re-binned over [0, target] (both powers of two, target >= high) by merging
    bin pairs once per doubling; exact, because a value's bin at 2h is its bin at h halved (`_update_histogram`)."""
    hist, high = hist.clone(), high.clone()
    n_bins = hist.shape[1]
    while (grow := (high > 0) & (high < target)).any():
        merged = hist[grow].view(-1, n_bins // 2, 2).sum(-1)
        hist[grow] = torch.cat([merged, torch.zeros_like(merged)], 1)
        high[grow] *= 2
    return hist


def _update_histogram(hist, high, feats, positive) -> None:
    """Exact streaming histogram over [0, high]: when a value exceeds the range, the range doubles and
    neighbouring bins merge in pairs, so no count is ever re-estimated.

    A value v lands in bin floor(v / high * n_bins) (float32; v / high is exact for a power of two), and high is
    the smallest power of two for which the maximum's bin is below n_bins: that depends on the maximum alone,
    not on the order values came in, and halving the product halves it exactly, so a bin pair at h is one bin
    at 2h. Hence states over parts of a corpus merge into exactly the one-pass histogram."""
    n_bins = hist.shape[1]
    batch_max = feats.amax((0, 1))
    fresh = (high == 0) & (batch_max > 0)
    if fresh.any():
        _, exponent = torch.frexp(batch_max[fresh])  # 2**(e - 1) <= max < 2**e
        high[fresh] = torch.ldexp(torch.ones_like(batch_max[fresh]), exponent - 1)
    while (grow := (batch_max > 0) & (batch_max / high * n_bins >= n_bins)).any():
        merged = hist[grow].view(-1, n_bins // 2, 2).sum(-1)
        hist[grow] = torch.cat([merged, torch.zeros_like(merged)], 1)
        high[grow] *= 2
    _, _, f = positive.nonzero(as_tuple=True)
    values = feats[positive]
    bins = (values / high[f] * n_bins).long().clamp(max=n_bins - 1)
    hist.view(-1).index_add_(0, f * n_bins + bins, torch.ones_like(bins))


def _nearest(directions: torch.Tensor, cols, n: int, chunk: int = 512):
    """Features whose decoder directions are closest (cosine) to each selected one, itself excluded."""
    unit = torch.nn.functional.normalize(directions, dim=1)
    n = min(n, len(unit) - 1)
    ids, sims = [], []
    with torch.inference_mode():
        for start in range(0, len(cols), chunk):
            block = cols[start : start + chunk].to(unit.device)
            cos = unit[block] @ unit.T
            cos[torch.arange(len(block), device=unit.device), block] = -torch.inf
            top = cos.topk(n, dim=1)
            ids.append(top.indices)
            sims.append(top.values)
    return torch.cat(ids), torch.cat(sims)


def _token_strings(model, ids: list[int]) -> dict[int, str]:
    return {i: s for i, s in zip(ids, model.to_str_tokens(cpu_tokens(ids)))} if ids else {}
