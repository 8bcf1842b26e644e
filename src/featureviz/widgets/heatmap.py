"""Token x feature heatmap: rows are tokens grouped by prompt, columns are features; click a column to select it."""

from __future__ import annotations

import anywidget
import numpy as np
import traitlets as t

from ..analysis.activations import ALWAYS_ON_FRACTION, ActivationResult
from ..sources import check_feature_index
from ..validation import positive_int
from .arrays import encode_matrix
from .bundles import bundle

SORT_KEYS = ("index", "max", "mean", "count")


class Heatmap(anywidget.AnyWidget):
    """Token x feature heatmap of an `ActivationResult`; click a column to select its feature.

    ``selected_feature`` is two-way (-1: none): set it from Python, or read what was clicked; `link` it to a
    `Dashboard` or `Interpolation`.
    """
    _esm = bundle("heatmap")

    matrix = t.Dict().tag(sync=True)
    tokens = t.List(t.Unicode()).tag(sync=True)
    prompt_lengths = t.List(t.Int()).tag(sync=True)
    prompt_groups = t.List(t.Unicode()).tag(sync=True)
    feature_ids = t.List(t.Int()).tag(sync=True)
    feature_labels = t.List(t.Unicode()).tag(sync=True)
    column_stats = t.Dict().tag(sync=True)
    always_on = t.List(t.Bool()).tag(sync=True)
    vmin = t.Float(0.0).tag(sync=True)
    vmax = t.Float(1.0).tag(sync=True)
    title = t.Unicode("").tag(sync=True)
    # Two-way: the browser sets these, Python may too.
    sort_by = t.Enum(SORT_KEYS, default_value="max").tag(sync=True)
    hide_always_on = t.Bool(False).tag(sync=True)
    transpose = t.Bool(False).tag(sync=True)
    selected_feature = t.Int(-1).tag(sync=True)

    def __init__(self, acts: ActivationResult, top_k: int = 20, *, features=None, sort_by: str = "max",
                 always_on_fraction: float = ALWAYS_ON_FRACTION, hide_always_on: bool = False,
                 title: str | None = None, **kwargs):
        """Show the top features (or the given ones) of `acts` over every token.

        Parameters
        ----------
        acts : ActivationResult
            From `activations`.
        top_k : int, default 20
            Columns shown: the top_k features by `sort_by`.
        features : sequence of int, optional
            Show exactly these features instead.
        sort_by : {"max", "mean", "count", "index"}, default "max"
            How the columns are ordered (and chosen, unless `features` is given); the view can re-sort.
        always_on_fraction : float, default 0.9
            Features active on at least this fraction of tokens are marked always-on.
        hide_always_on : bool, default False
            Hide always-on features (top_k content features are still shown).
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
        columns = _choose_columns(acts, stats, always_on, top_k, features, "max" if sort_by == "index" else sort_by,
                                  hide_always_on)
        values = acts.values[:, columns]
        chosen = stats.iloc[columns]
        self.feature_space = acts.feature_space  # plain attribute: fv.link compares it
        super().__init__(
            matrix=encode_matrix(values, quantise=True),  # drawn as colours: 8 bits per cell suffice
            tokens=[tok for prompt in acts.str_tokens for tok in prompt],
            prompt_lengths=np.diff(acts.offsets).astype(int).tolist(),
            prompt_groups=list(acts.groups) or [""] * len(acts.prompts),
            feature_ids=[int(c) for c in columns],
            feature_labels=[""] * len(columns),
            column_stats={k: chosen[k].astype(float).tolist() for k in ("max", "mean", "count")},
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
        return (f"Heatmap({len(self.tokens)} tokens x {len(self.feature_ids)} features @ {self.selection_hook}, "
                f"selected={self.selected_feature})")

    @t.validate("selected_feature")
    def _check_selected(self, proposal):
        value = proposal["value"]
        if value != -1 and not 0 <= value < self._n_features:
            raise t.TraitError(f"selected_feature={value} is out of range: use -1 (none) or 0..{self._n_features - 1}")
        return value


def _choose_columns(acts, stats, always_on, top_k, features, by, hide_always_on) -> np.ndarray:
    """Explicit features, or the top_k features by `by` (the top_k content features when always-on ones
    are hidden, so hiding never leaves fewer than top_k columns)."""
    if features is not None:
        columns = np.array([check_feature_index(f, acts.n_features, "features") for f in features], dtype=int)
        if len(columns) == 0:
            raise ValueError("features is empty: give at least one feature index, or None for the top_k")
        return columns
    top_k = positive_int(top_k, "top_k")
    ranked = acts.top_features(acts.n_features, by=by).index.to_numpy()
    if hide_always_on:
        ranked = ranked[~always_on[ranked]]
    return ranked[:top_k].copy()  # a writable array: torch refuses to index with read-only numpy views
