"""One-feature dashboard: histogram, top and interval contexts, logit effects, density, nearest features.

The widget is thin: a DashboardData (built once by one streaming pass) answers every page; moving to another
feature (from the browser, from Python, or from a linked heatmap) sends that feature's page.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import traitlets as t

from ..analysis.dashboard import DashboardData, dashboard_data
from ..analysis.dashboard_live import ablation_effects, feature_on_text
from .base import FeatureWidget
from .linking import labels_dict

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from .._types import ModelLike, PathLike, SourceLike

MAX_SEARCH_RESULTS = 50


class Dashboard(FeatureWidget, bundle="dashboard"):
    """One feature's dashboard: density, activation histogram, top contexts and interval samples, logit effects and
    nearest features. ``feature`` is two-way; ``search`` finds a token in the top contexts of every feature.
    ``feature_labels`` ({feature id: label}) names the shown feature in the header; `link` shares it with a
    heatmap's (``heatmap.feature_labels = {1387: "joy"}`` shows "joy" here while feature 1387 is shown).
    """

    feature = t.Int(0).tag(sync=True)  # two-way: the feature shown
    page = t.Dict().tag(sync=True)  # DashboardData.page(feature): plain JSON
    feature_ids = t.List(t.Int()).tag(sync=True)  # the features this dashboard can show, in order
    # {feature id: label}: the shown feature's label is in the header; fv.link shares it.
    feature_labels = t.Dict().tag(sync=True)
    search = t.Unicode("").tag(sync=True)  # two-way: a token to look for in top contexts
    search_results = t.List(t.Dict()).tag(sync=True)  # [{feature, value, token}] best first
    # A feature the view asked for and Python refused (out of range, not built): said in the view, not raised.
    feature_error = t.Unicode("").tag(sync=True)
    # Computed on request only, with a model (live): the text box and the ablation effects of the top contexts.
    live = t.Bool(False).tag(sync=True)
    probe_text = t.Unicode("").tag(sync=True)  # two-way: the user's text
    probe = t.Dict().tag(sync=True)  # {feature, text, tokens, acts} or {feature, text, error}
    ablation_for = t.Int(-1).tag(sync=True)  # two-way: the feature whose top contexts to ablate (-1: none)
    ablation = t.Dict().tag(sync=True)  # {feature, top: [{effects, acts}]} or {feature, error}

    def __init__(
        self,
        model_or_data: ModelLike | DashboardData,
        source: SourceLike | None = None,
        corpus: Sequence[str] | PathLike | None = None,
        feature: int | None = None,
        *,
        features: Iterable[int] | None = None,
        title: str | None = None,
        feature_labels: dict[int, str] | None = None,
        model=None,
        **build_options,
    ):
        """Build the dashboard data in one pass over `corpus`, or reuse a `DashboardData`.

        ``Dashboard(model, source, corpus, feature=...)`` or ``Dashboard(data, feature=...)`` (e.g. with
        ``DashboardData.load(path)``).

        Parameters
        ----------
        model_or_data : transformer_lens.HookedTransformer or DashboardData
            The model (then `source` and `corpus` are needed), or ready dashboard data.
        source : FeatureSource or sae_lens SAE, optional
            The feature source, with a model.
        corpus : list of str or path, optional
            The texts, with a model (as in `dashboard_data`).
        feature : int, optional
            The feature shown first; default: the first of the data's features.
        features : sequence of int, optional
            With a model: the features to build (default: all).
        title : str, optional
            Default: the source kind and hook.
        feature_labels : dict of int to str, optional
            Names of features ({feature id: label}); the shown feature's label is in the header.
        model : optional
            With a DashboardData (and `source`): the model, for what is computed on request (the text box,
            ablation effects). Built from a model, the dashboard has both already.
        **build_options
            With a model: passed to `dashboard_data` (k, n_samples, drop_first, ``activations=`` an
            `ActivationResult` instead of a corpus: no forward pass, ...).
        """
        if isinstance(model_or_data, DashboardData):
            data = model_or_data
            self._model, self._source = (model, source) if model is not None and source is not None else (None, None)
        else:
            self._model, self._source = model_or_data, source
            if source is None or (corpus is None and build_options.get("activations") is None):
                raise TypeError(
                    "Dashboard(model, source, corpus, feature=...) needs a source and a corpus (or "
                    "activations=fv.activations(...)), or pass a DashboardData as the first argument"
                )
            data = dashboard_data(model_or_data, source, corpus, features=features, **build_options)
        self.data = data
        self.feature_space = data.feature_space  # plain attribute: fv.link compares it
        first = int(data.feature_ids[0]) if feature is None else feature
        data.row(first)  # a clear KeyError now rather than a blank widget
        kind = {
            "sae": "SAE latent",
            "neurons": "neuron",
            "crosscoder": "crosscoder latent",
            "transcoder": "transcoder latent",
        }.get(data.source_kind, "feature")
        self._ablations: dict[int, list] = {}
        super().__init__(
            feature_ids=data.feature_ids.astype(int).tolist(),
            feature=first,
            page=data.page(first),
            title=title if title is not None else f"{kind} at {data.hook_name}",
            feature_labels=labels_dict(feature_labels or {}),
            live=self._model is not None,
        )

    def __repr__(self) -> str:
        return f"Dashboard(feature {self.feature} of {len(self.feature_ids)} @ {self.selection_hook or '?'})"

    @property
    def selection_hook(self) -> str:
        """The hook of this dashboard's features (fv.link passes selections only between widgets of one hook)."""
        return self.data.hook_name

    def _export_responses(self, selectable, budget_bytes: float) -> tuple[dict, dict, int, list[int]]:
        """The pages of the features a click can reach, within the budget (see `_export_pages`); the file's
        feature_ids are those pages only, so the view's ‹ › and number box stay within them."""
        pages, used, missing = self._export_pages(selectable, budget_bytes)
        responses = {"feature": {str(f): {"page": page} for f, page in pages.items()}}
        return responses, {"feature_ids": [f for f in self.feature_ids if f in pages]}, used, missing

    def _export_pages(self, wanted=(), budget_bytes: float = float("inf"), max_nearby: int = 60):
        """Pages for an offline export, most needed first, while their JSON fits budget_bytes: the current
        feature, then `wanted` (what linked widgets can select), its nearest, then up to max_nearby features
        around it (for the ‹ › buttons). Returns ({feature: page}, JSON bytes used, wanted features left out)."""
        ids = self.feature_ids
        at = ids.index(self.feature)
        known = set(ids)
        nearest = [n["feature"] for n in self.page.get("nearest", []) if n["feature"] in known]
        around = [ids[i] for i in sorted(range(len(ids)), key=lambda i: abs(i - at))][:max_nearby]
        wanted = [f for f in wanted if f in known]
        pages, used = {}, 0
        candidates = list(dict.fromkeys([self.feature, *wanted, *nearest, *around]))
        self.data.prefetch_logits(candidates)  # their logit effects in one batched product, not one per page
        for feature in candidates:
            page = self.data.page(feature)
            size = len(json.dumps(page, separators=(",", ":")))
            if pages and used + size > budget_bytes:
                continue  # a smaller page further down may still fit
            pages[feature], used = page, used + size
        return pages, used, [f for f in wanted if f not in pages]

    @t.validate("feature")
    def _check_feature(self, proposal):
        try:
            self.data.row(proposal["value"])
        except KeyError as error:
            raise t.TraitError(error.args[0]) from None
        return proposal["value"]

    @t.observe("feature")
    def _show(self, change):
        self.page = self.data.page(change["new"])
        self.feature_error = ""
        self.ablation_for = -1  # a later request for this feature is a change again
        if self.probe_text:
            self._probe()

    def set_state(self, sync_data):
        """A feature the view asks for that cannot be shown is refused as always (the old one stays), but said in
        `feature_error` for the view and sent back, instead of an exception in the kernel's log."""
        try:
            super().set_state(sync_data)
        except t.TraitError as error:
            if "feature" not in sync_data:
                raise
            self.feature_error = str(error)
            self.send_state("feature")

    @t.observe("probe_text")
    def _probe_changed(self, change):
        self._probe()

    def _probe(self):
        """The shown feature on the user's text (a sentence instead when it cannot be computed)."""
        text, feature = self.probe_text, int(self.feature)
        if not text.strip():
            self.probe = {}
            return
        if self._model is None:
            self.probe = {
                "feature": feature,
                "text": text,
                "error": "this dashboard has no model: pass model= and source= to Dashboard(data, ...) to test a text",
            }
            return
        try:
            result = feature_on_text(self._model, self._source, feature, text)
        except Exception as error:  # noqa: BLE001 - shown in the view, the kernel keeps running
            result = {"error": f"{type(error).__name__}: {error}"}
        self.probe = {"feature": feature, "text": text, **result}

    @t.observe("ablation_for")
    def _ablate(self, change):
        feature = change["new"]
        if feature < 0:
            return
        if feature != self.feature:
            self.ablation = {"feature": feature, "error": f"feature {feature} is not the one shown"}
            return
        if self._model is None:
            self.ablation = {
                "feature": feature,
                "error": "this dashboard has no model: pass model= and source= to "
                "Dashboard(data, ...) to compute ablation effects",
            }
            return
        try:
            if feature not in self._ablations:
                self._ablations[feature] = ablation_effects(self._model, self._source, self.data, feature)
            self.ablation = {"feature": feature, "top": self._ablations[feature]}
        except Exception as error:  # noqa: BLE001 - shown in the view (e.g. a source that cannot be steered)
            self.ablation = {"feature": feature, "error": f"{type(error).__name__}: {error}"}

    @t.observe("search")
    def _search(self, change):
        self.search_results = search_top_contexts(self.data, change["new"])


def search_top_contexts(data: DashboardData, query: str, limit: int = MAX_SEARCH_RESULTS) -> list[dict]:
    """Features whose top contexts contain a token matching `query` (case-insensitive, ignoring surrounding
    whitespace), ranked by that token's activation."""
    query = query.strip().lower()
    if not query:
        return []
    matching = np.array([query in s.strip().lower() for s in data.token_strings.values()], dtype=bool)
    ids = np.array(list(data.token_strings.keys()))[matching]
    if not len(ids):
        return []
    hits = np.isin(data.top_tokens, ids) & (data.top_acts > 0)  # [F, k, W]
    best = np.where(hits, data.top_acts, -np.inf).reshape(len(data.feature_ids), -1)
    flat = best.argmax(1)
    value = best[np.arange(len(best)), flat]
    rows = [r for r in np.argsort(-value, kind="stable")[:limit] if np.isfinite(value[r])]
    tokens = data.top_tokens.reshape(len(data.feature_ids), -1)
    return [
        {
            "feature": int(data.feature_ids[r]),
            "value": float(value[r]),
            "token": data.token_strings[int(tokens[r, flat[r]])],
        }
        for r in rows
    ]
