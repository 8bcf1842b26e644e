"""Contrast view: the features that best separate groups, with each group's mean side by side and
significance marks; click a feature to select it (as in the heatmap)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import traitlets as t

from ..validation import positive_int
from .arrays import encode_matrix
from .base import FeatureWidget
from .linking import labels_dict

TABLE_COLUMNS = ("group", "feature", "mean", "rank_biserial", "q_value")


class ContrastView(FeatureWidget, bundle="contrast"):
    """The features that separate groups (`contrast`'s table): effects, means and q-values per group.

    ``selected_feature`` is two-way (-1: none) and ``sort_group`` picks whose effect orders the rows.
    """

    groups = t.List(t.Unicode()).tag(sync=True)
    feature_ids = t.List(t.Int()).tag(sync=True)
    feature_labels = t.Dict().tag(sync=True)  # {feature id: label}, shared by fv.link
    means = t.Dict().tag(sync=True)  # [n_rows, n_groups] token mean of each feature in each group
    # [n_rows, n_groups] mean over the group's prompts of each prompt's aggregate (max or mean): what the test
    # compares, so the bars show it (empty for tables without the column)
    prompt_means = t.Dict().tag(sync=True)
    effects = t.Dict().tag(sync=True)  # [n_rows, n_groups] rank-biserial of the group against the rest
    q_values = t.Dict().tag(sync=True)  # [n_rows, n_groups] BH-corrected p-values
    alpha = t.Float(0.05).tag(sync=True)
    test = t.Unicode("mannwhitney").tag(sync=True)  # named in the legend
    aggregate = t.Unicode("max").tag(sync=True)
    sort_group = t.Unicode("").tag(sync=True)  # two-way: whose effect orders the rows ("" = as given)
    selected_feature = t.Int(-1).tag(sync=True)  # two-way, -1 = none

    def __init__(
        self,
        table: pd.DataFrame,
        top_n: int = 10,
        *,
        alpha: float | None = None,
        title: str = "",
        feature_labels=None,
        **kwargs,
    ):
        """Show the strongest features of each group of a `contrast` table.

        Parameters
        ----------
        table : pandas.DataFrame
            The DataFrame from `contrast`.
        top_n : int, default 10
            Features shown per group, by effect.
        alpha : float, optional
            The q-value threshold marked significant; default: the table's own.
        title : str, default ""
            Default (empty): the table's description of its test, ``table.attrs["comparison"]``.
        feature_labels : dict of int to str, optional
            Names shown beside feature ids, e.g. ``{1387: "joy"}``; `link` shares them.
        **kwargs
            Initial trait values.
        """
        if not isinstance(table, pd.DataFrame):
            raise TypeError(
                f"table must be the DataFrame returned by featureviz.contrast(...), got {type(table).__name__}"
            )
        missing = [c for c in TABLE_COLUMNS if c not in table]
        if missing:
            raise TypeError(
                f"table lacks the column(s) {missing}: pass the DataFrame returned by featureviz.contrast(...)"
            )
        top_n = positive_int(top_n, "top_n")
        if table.empty:
            raise ValueError("the contrast table is empty: no feature was tested (all inactive or always-on)")
        groups = list(dict.fromkeys(table["group"]))
        chosen = list(
            dict.fromkeys(
                f for g in groups for f in table[table["group"] == g].nlargest(top_n, "rank_biserial")["feature"]
            )
        )
        wide = table.pivot(index="feature", columns="group").loc[chosen]
        columns = [("means", "mean"), ("effects", "rank_biserial"), ("q_values", "q_value")]
        if "prompt_mean" in table:
            columns.append(("prompt_means", "prompt_mean"))
        matrix = {name: encode_matrix(wide[column][groups].to_numpy(np.float32)) for name, column in columns}
        self.feature_space = table.attrs.get("feature_space")  # plain attribute: fv.link compares it
        super().__init__(
            groups=groups,
            feature_ids=[int(f) for f in chosen],
            feature_labels=labels_dict(feature_labels or {}),
            alpha=alpha if alpha is not None else table.attrs.get("alpha", 0.05),
            title=title or table.attrs.get("comparison", ""),  # says which test the table holds
            test=table.attrs.get("test", "mannwhitney"),
            aggregate=table.attrs.get("aggregate", "max"),
            sort_group=groups[0],
            **matrix,
            **kwargs,
        )

    def __repr__(self) -> str:
        return (
            f"ContrastView({len(self.feature_ids)} features x {len(self.groups)} groups, {self.test} on "
            f"{self.aggregate}, alpha={self.alpha:g}, selected={self.selected_feature})"
        )

    @t.validate("sort_group")
    def _check_sort_group(self, proposal):
        if proposal["value"] not in ("", *self.groups):
            raise t.TraitError(f"sort_group must be one of {self.groups} or '', got {proposal['value']!r}")
        return proposal["value"]

    @t.validate("alpha")
    def _check_alpha(self, proposal):
        # the view marks q < alpha: an alpha outside (0, 1] would mark nothing or everything
        if not 0 < proposal["value"] <= 1:
            raise t.TraitError(f"alpha must be in (0, 1], got {proposal['value']}")
        return proposal["value"]
