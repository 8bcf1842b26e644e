"""Link widgets so that selecting a feature in one shows it in the others (heatmap -> dashboard, ...).

Only widgets of one feature space link: each widget's plain `feature_space` attribute (not a synced trait)
says what its feature indices mean, so SAE latent 12 never selects neuron 12, nor latent 12 of another SAE.
"""

from __future__ import annotations

import logging

import traitlets as t

from ..sources import check_same_space
from ..validation import integer

log = logging.getLogger("featureviz")

LABELS_TRAIT = "feature_labels"  # {feature id: label}, shared by every linked widget that has it

# The trait that holds "the feature the user is looking at" in each widget. A widget's `selection_hook` (if
# any) names the hook of its features, so a selection passes only to widgets of the same hook.
SELECTION_TRAITS = ("selected_feature", "feature")


class Link:
    """Keeps the selected feature (and the feature labels) of several widgets in sync; `unlink()` stops it."""

    def __init__(self, widgets):
        self.widgets = list(widgets)
        self._busy = False
        # Every check comes before the first observer, so a refused link leaves no handler behind.
        names = [_selection_trait(widget) for widget in self.widgets]
        check_same_space(
            {
                f"{type(w).__name__} (widget {i + 1})": getattr(w, "feature_space", None)
                for i, w in enumerate(self.widgets)
            },
            "fv.link",
        )
        self._handlers = [(widget, self._make_handler(widget), name) for widget, name in zip(self.widgets, names)]
        labelled = [w for w in self.widgets if _has_labels(w)]
        if len(labelled) > 1:
            # Labels from every widget (later widgets win), then any widget's new labels go to all.
            merged = {}
            for widget in labelled:
                merged.update(getattr(widget, LABELS_TRAIT))
            for widget in labelled:
                setattr(widget, LABELS_TRAIT, dict(merged))
            self._handlers += [(w, self._make_label_handler(w, labelled), LABELS_TRAIT) for w in labelled]
        for widget, handler, name in self._handlers:
            widget.observe(handler, names=name)

    def _make_handler(self, source):
        def propagate(change):
            if self._busy or change["new"] is None or change["new"] < 0:
                return
            self._busy = True  # the guard stops A -> B -> A cycles
            hook = getattr(source, "selection_hook", None)
            try:
                for widget in self.widgets:
                    other = getattr(widget, "selection_hook", None)
                    if widget is source:
                        continue
                    if hasattr(widget, "select_feature"):  # a circuit: several hooks, it picks the node
                        if hook:
                            widget.select_feature(hook, change["new"])
                        continue
                    if hook and other and hook != other:
                        continue  # feature i of another hook is another feature
                    try:
                        setattr(widget, _selection_trait(widget), change["new"])
                    except t.TraitError as error:  # e.g. a dashboard built for other features
                        log.warning("featureviz.link: %s", error)
                        if widget.has_trait("feature_error"):  # the dashboard says it, inline
                            widget.feature_error = f"selected in a linked widget: {error}"
            finally:
                self._busy = False

        return propagate

    def _make_label_handler(self, source, labelled):
        def propagate(change):
            if self._busy:
                return
            self._busy = True
            try:
                for widget in labelled:
                    if widget is not source:
                        setattr(widget, LABELS_TRAIT, dict(change["new"]))
            finally:
                self._busy = False

        return propagate

    def unlink(self) -> None:
        for widget, handler, name in self._handlers:
            widget.unobserve(handler, names=name)
        self._handlers = []

    def __repr__(self) -> str:
        names = ", ".join(type(w).__name__ for w in self.widgets)
        return f"Link({names}{'' if self._handlers else '; unlinked'})"


def link(*widgets) -> Link:
    """Link the feature selection of widgets: selecting a feature in any of them selects it in all.

    Widgets with ``feature_labels`` share them: the labels of all are merged when linking, then labels set
    on any one (``heatmap.feature_labels = {1387: "joy"}``) show in all.

    Selections pass only between widgets of the same hook (feature 12 of another SAE is another feature); a
    `CircuitView` selects the matching node.

    Parameters
    ----------
    *widgets : Heatmap, ContrastView, Dashboard, Interpolation, CheckpointScrubber or CircuitView
        Two or more widgets.

    Returns
    -------
    Link
        ``unlink()`` stops it.
    """
    if len(widgets) < 2:
        raise ValueError("link needs at least two widgets")
    return Link(widgets)


def labels_dict(value) -> dict[int, str]:
    """{feature id: label} with int keys (JSON brings them back as strings) and str labels; "" drops one."""
    if not isinstance(value, dict):
        raise t.TraitError(f"feature_labels must be a dict {{feature id: label}}, got {type(value).__name__}")
    out = {}
    for key, label in value.items():
        # JSON brings "3"; a float or a negative key is no feature id (int(1.5) would label feature 1)
        feature = int(key) if isinstance(key, str) and key.isdigit() else key
        try:
            feature = integer(feature, "feature_labels key", minimum=0)
        except (TypeError, ValueError):
            raise t.TraitError(f"feature_labels keys must be feature ids (integers >= 0), got {key!r}") from None
        if not isinstance(label, str):
            raise t.TraitError(f"feature_labels[{feature}] must be a str, got {type(label).__name__}")
        if label:
            out[feature] = label
    return out


def _has_labels(widget) -> bool:
    return widget.has_trait(LABELS_TRAIT) and isinstance(widget.traits()[LABELS_TRAIT], t.Dict)


def _selection_trait(widget) -> str:
    for name in SELECTION_TRAITS:
        if widget.has_trait(name):
            return name
    raise TypeError(
        f"{type(widget).__name__} has no feature selection to link (no {' or '.join(SELECTION_TRAITS)} trait)"
    )
