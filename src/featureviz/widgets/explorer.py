"""Heatmap and dashboard side by side, linked: a click in the heatmap opens the feature beside it (issue 18).

Built from the existing widgets in an ipywidgets Box rather than one new anywidget: each view keeps its own model,
traits and tests, `fv.link` already syncs them in Python (where the dashboard's pages come from), and a flex
row that wraps stacks them on narrow outputs with no view code of its own. One anywidget would have to merge both
views' traits and re-implement their wiring in JS.
"""

from __future__ import annotations

import ipywidgets as widgets

from ..analysis.activations import ActivationResult
from ..analysis.dashboard import DashboardData
from .dashboard import Dashboard
from .heatmap import Heatmap
from .linking import link

HEATMAP_OPTIONS = ("top_k", "features", "sort_by", "hide_always_on", "feature_labels", "color_scale", "height")


class Explorer(widgets.Box):
    """A `Heatmap` of `acts` and a `Dashboard` linked side by side (stacked when the output is narrow).

    ``Explorer(acts, model, source, corpus)`` builds the dashboard data over `corpus` (one pass);
    ``Explorer(acts, data)`` reuses a `DashboardData` (e.g. ``fv.DashboardData.load(path)``). ``explorer.heatmap``
    and ``explorer.dashboard`` are the two widgets; ``selected_feature`` is the feature both show.
    """

    def __init__(
        self,
        acts,
        model_or_data=None,
        source=None,
        corpus=None,
        *,
        feature: int | None = None,
        heatmap_options: dict | None = None,
        **dashboard_options,
    ):
        """
        Parameters
        ----------
        acts : ActivationResult
            What the heatmap shows (from `activations`).
        model_or_data : model or DashboardData
            The model (then `source` and `corpus`), or ready dashboard data.
        source, corpus : optional
            As in `Dashboard`, with a model.
        feature : int, optional
            Shown first; default: the heatmap's first content column.
        heatmap_options : dict, optional
            Passed to `Heatmap` (top_k, features, sort_by, feature_labels, color_scale, height, ...).
        **dashboard_options
            Passed to `Dashboard` / `dashboard_data` (k, features, ...).
        """
        if not isinstance(acts, ActivationResult):
            raise TypeError(f"acts must be the result of featureviz.activations(...), got {type(acts).__name__}")
        if model_or_data is None:
            raise TypeError(
                "Explorer(acts, model, source, corpus) or Explorer(acts, dashboard_data): "
                "the dashboard needs a model with a source and corpus, or a DashboardData"
            )
        heatmap_options = dict(heatmap_options or {})
        unknown = set(heatmap_options) - set(HEATMAP_OPTIONS)
        if unknown:
            raise TypeError(f"unknown heatmap_options {sorted(unknown)}: use {list(HEATMAP_OPTIONS)}")
        heatmap = Heatmap(acts, **heatmap_options)
        if feature is None:
            content = [f for f, on in zip(heatmap.feature_ids, heatmap.always_on) if not on]
            feature = (content or heatmap.feature_ids)[0]
        if isinstance(model_or_data, DashboardData):
            dashboard = Dashboard(model_or_data, feature=feature, **dashboard_options)
        else:
            dashboard = Dashboard(model_or_data, source, corpus, feature=feature, **dashboard_options)
        heatmap.selected_feature = feature
        # Side by side while both fit, else stacked. The heatmap takes its grid's width (min-content: its toolbar
        # wraps instead of widening it), the dashboard the rest, at least 420 px.
        heatmap.layout = widgets.Layout(flex="0 0 auto", width="min-content", max_width="100%", margin="0 12px 8px 0")
        dashboard.layout = widgets.Layout(
            flex="1 1 420px", min_width="min(420px, 100%)", max_width="100%", margin="0 0 8px 0"
        )
        super().__init__(
            children=[heatmap, dashboard],
            layout=widgets.Layout(display="flex", flex_flow="row wrap", align_items="flex-start", width="100%"),
        )
        self.add_class("fv-explorer")
        self.heatmap = heatmap
        self.dashboard = dashboard
        self.link = link(heatmap, dashboard)

    @property
    def selected_feature(self) -> int:
        """The feature shown in both views (set it to move both)."""
        return self.dashboard.feature

    @selected_feature.setter
    def selected_feature(self, feature: int) -> None:
        self.heatmap.selected_feature = feature

    def __repr__(self) -> str:
        return f"Explorer({self.heatmap!r}, {self.dashboard!r})"
