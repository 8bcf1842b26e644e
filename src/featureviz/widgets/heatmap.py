"""Token x feature heatmap: rows are tokens grouped by prompt, columns are features; click a column to select it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import traitlets as t

from ..analysis.activations import ALWAYS_ON_FRACTION, ActivationResult
from ..sources import check_feature_index
from ..validation import positive_int
from .arrays import encode_matrix
from .base import FeatureWidget
from .linking import labels_dict

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

SORT_KEYS = ("index", "max", "mean", "count")
COLOR_SCALES = ("global", "column", "log")


class Heatmap(FeatureWidget, bundle="heatmap"):
    """Token x feature heatmap of an `ActivationResult`; click a column to select its feature.

    ``selected_feature`` is two-way (-1: none): set it from Python, or read what was clicked (or moved to with
    the arrow keys); `link` it to a `Dashboard` or `Interpolation`. ``feature_labels`` names features
    (``heatmap.feature_labels = {1387: "joy"}``; assign a new dict, `link` shares it). ``color_scale`` is
    "global" (one range over the shown columns), "column" (each column its own range) or "log".
    """

    matrix = t.Dict().tag(sync=True)
    tokens = t.List(t.Unicode()).tag(sync=True)
    prompt_lengths = t.List(t.Int()).tag(sync=True)
    prompt_groups = t.List(t.Unicode()).tag(sync=True)
    feature_ids = t.List(t.Int()).tag(sync=True)
    feature_labels = t.Dict().tag(sync=True)  # {feature id: label}; JSON sends the keys as strings
    column_stats = t.Dict().tag(sync=True)
    always_on = t.List(t.Bool()).tag(sync=True)
    vmin = t.Float(0.0).tag(sync=True)
    vmax = t.Float(1.0).tag(sync=True)
    # Two-way: the browser sets these, Python may too.
    sort_by = t.Enum(SORT_KEYS, default_value="max").tag(sync=True)
    color_scale = t.Enum(COLOR_SCALES, default_value="column").tag(sync=True)
    height = t.Int(600).tag(sync=True)  # viewport px; the user can drag it taller or shorter
    hide_always_on = t.Bool(True).tag(sync=True)
    transpose = t.Bool(False).tag(sync=True)
    selected_feature = t.Int(-1).tag(sync=True)

    def __init__(
        self,
        acts: ActivationResult,
        top_k: int = 20,
        *,
        features: Sequence[int] | None = None,
        sort_by: str = "max",
        always_on_fraction: float = ALWAYS_ON_FRACTION,
        hide_always_on: bool = True,
        feature_labels: Mapping[int, str] | None = None,
        title: str | None = None,
        **kwargs,
    ):
        """Show the top features (or the given ones) of `acts` over every token.

        Parameters
        ----------
        acts : ActivationResult
            From `activations`.
        top_k : int, default 20
            Columns shown: the top_k features by `sort_by` that are not always-on, plus the always-on ones
            ranked among the top_k overall (shown when `hide_always_on` is off).
        features : sequence of int, optional
            Show exactly these features instead.
        sort_by : {"max", "mean", "count", "index"}, default "max"
            How the columns are ordered (and chosen, unless `features` is given); the view can re-sort.
        always_on_fraction : float, default 0.9
            Features active on at least this fraction of tokens are marked always-on.
        hide_always_on : bool, default True
            Hide always-on features (position and format latents that fire on nearly every token and would
            dominate the colours); the toolbar's toggle shows them.
        feature_labels : dict of int to str, optional
            Names shown beside feature ids, e.g. ``{1387: "joy"}``.
        title : str, optional
            Default: the source kind and hook.
        **kwargs
            Initial trait values, e.g. ``transpose=True``.
        """
        if not isinstance(acts, ActivationResult):
            raise TypeError(f"acts must be the result of featureviz.activations(...), got {type(acts).__name__}")
        if sort_by not in SORT_KEYS:
            raise ValueError(f"sort_by must be one of {SORT_KEYS}, got {sort_by!r}")
        self._n_features = acts.n_features
        stats = acts.feature_stats()
        always_on = stats["frac_active"].to_numpy() >= always_on_fraction
        columns = _choose_columns(acts, always_on, top_k, features, "max" if sort_by == "index" else sort_by)
        values = acts.columns(columns)
        chosen = stats.iloc[columns]
        self.feature_space = acts.feature_space  # plain attribute: fv.link compares it
        super().__init__(
            matrix=encode_matrix(values, quantise=True),  # drawn as colours: 8 bits per cell suffice
            tokens=[tok for prompt in acts.str_tokens for tok in prompt],
            prompt_lengths=np.diff(acts.offsets).astype(int).tolist(),
            prompt_groups=list(acts.groups) or [""] * len(acts.prompts),
            feature_ids=[int(c) for c in columns],
            feature_labels=labels_dict(feature_labels or {}),
            column_stats={
                **{k: chosen[k].astype(float).tolist() for k in ("max", "mean", "count")},
                "min": _column_min(values),
            },
            always_on=[bool(a) for a in always_on[columns]],
            vmin=min(float(values.min()), 0.0) if values.numel() else 0.0,
            vmax=max(float(values.max()), 1e-6) if values.numel() else 1.0,
            title=title if title is not None else f"{acts.source_kind} at {acts.hook_name}",
            sort_by=sort_by,
            hide_always_on=hide_always_on,
            **kwargs,
        )
        self.selection_hook = acts.hook_name  # fv.link passes selections only between widgets of one hook

    def __repr__(self) -> str:
        n_on = sum(self.always_on)
        extra = f" (+{n_on} always-on{', hidden' if self.hide_always_on else ''})" if n_on else ""
        return (
            f"Heatmap({len(self.tokens)} tokens x {len(self.feature_ids) - n_on} features{extra} @ "
            f"{self.selection_hook}, selected={self.selected_feature})"
        )

    @t.validate("height")
    def _check_height(self, proposal):
        value = proposal["value"]
        if not 80 <= value <= 10_000:
            raise t.TraitError(f"height={value} px is out of range: use 80..10000")
        return value

    def _refuse_selection(self, feature: int) -> str | None:
        if not 0 <= feature < self._n_features:
            return f"out of range: use -1 (none) or 0..{self._n_features - 1}"
        return None


def _column_min(values) -> list[float]:
    """Per-column minimum (the view's colour normalisation needs negative ranges too)."""
    if values.numel() == 0:
        return [0.0] * values.shape[1]
    return values.min(dim=0).values.float().tolist()


def _choose_columns(acts, always_on, top_k, features, by) -> np.ndarray:
    """Explicit features, or the top_k content features by `by` plus the always-on features that rank among
    the top_k overall (so hiding them, the default, still leaves top_k columns and the toggle reveals them)."""
    if features is not None:
        columns = np.array([check_feature_index(f, acts.n_features, "features") for f in features], dtype=int)
        if len(columns) == 0:
            raise ValueError("features is empty: give at least one feature index, or None for the top_k")
        return columns
    top_k = positive_int(top_k, "top_k")
    ranked = acts.top_features(acts.n_features, by=by).index.to_numpy()
    on = always_on[ranked]
    content = ~on & (np.cumsum(~on) <= top_k)
    noisy = on & (np.arange(len(ranked)) < top_k)
    return ranked[content | noisy].copy()  # a writable array: torch refuses to index with read-only numpy views
