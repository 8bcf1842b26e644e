"""What every featureviz widget shares: its view bundle, a title, one `selected_feature` contract, feature labels
kept as {int: str}, and what an offline export replays for it; and the checkpoint index of the two scrubbers."""

from __future__ import annotations

import anywidget
import traitlets as t

from .bundles import bundle as load_bundle
from .linking import labels_dict


class FeatureWidget(anywidget.AnyWidget):
    """Base of the featureviz widgets: ``class Heatmap(FeatureWidget, bundle="heatmap")`` loads js/src/heatmap.ts's
    bundle as the view.

    ``selected_feature``, where a widget has it, is -1 (none) or a feature the widget accepts
    (`_refuse_selection`); anything else raises a TraitError and the old value stays.
    """

    title = t.Unicode("").tag(sync=True)

    def __init_subclass__(cls, bundle: str | None = None, **kwargs) -> None:
        if bundle is not None:
            cls._esm = load_bundle(bundle)  # before anywidget's hook, which turns a bundle file into watched contents
        super().__init_subclass__(**kwargs)

    def _refuse_selection(self, feature: int) -> str | None:
        """Why ``selected_feature`` may not be `feature` (None: it may). Any feature index by default; a widget
        that knows its features narrows this."""
        return None if feature >= 0 else "not a feature index: use -1 (none) or a feature index >= 0"

    @t.validate("selected_feature")
    def _check_selected_feature(self, proposal):
        value = proposal["value"]
        reason = None if value == -1 else self._refuse_selection(value)
        if reason:
            raise t.TraitError(f"selected_feature={value} is {reason}")
        return value

    @t.validate("feature_labels")
    def _check_labels(self, proposal):
        """``feature_labels``, where a widget has it, is {feature id: label} (what fv.link shares)."""
        return labels_dict(proposal["value"])

    def _export_responses(self, selectable, budget_bytes: float) -> tuple[dict, dict, int, list[int]]:
        """What `export_html` stores for this widget to answer, kernel-free, what it would ask Python:
        (responses {trait: {value: answer}}, state overrides, JSON bytes used, `selectable` features left out).
        Most widgets ask nothing."""
        return {}, {}, 0, []


class CheckpointPlayer(FeatureWidget):
    """A widget that plays over checkpoints: ``index`` (two-way) picks one of ``labels``."""

    labels = t.List(t.Unicode()).tag(sync=True)  # [C]
    index = t.Int(0).tag(sync=True)  # two-way: the checkpoint shown

    @t.validate("index")
    def _check_index(self, proposal):
        if not 0 <= proposal["value"] < len(self.labels or [0]):
            raise t.TraitError(f"index={proposal['value']} is out of range: 0..{len(self.labels) - 1}")
        return proposal["value"]
