"""Thin widgets over vision results: a gallery of optimised images, and a scrubber over training checkpoints.

Pixels travel once as one uint8 buffer (widgets/arrays.encode_images), activations as binary float32
matrices; switching checkpoints happens in the browser. `selected_unit` and `index` are two-way.
"""

from __future__ import annotations

import numpy as np
import traitlets as t

from ..widgets.arrays import encode_images, encode_matrix
from ..widgets.base import CheckpointPlayer, FeatureWidget


def _unit_ids(result) -> list[int]:
    return list(result.units) if result.units is not None else list(range(len(result.unit_labels)))


class _UnitSelection(FeatureWidget):
    units = t.List(t.Int()).tag(sync=True)  # [U] unit ids (channel indices; positions for directions)
    unit_labels = t.List(t.Unicode()).tag(sync=True)
    selected_unit = t.Int(-1).tag(sync=True)  # two-way: a unit id, or -1
    display_size = t.Int(72).tag(sync=True)  # CSS pixels per image

    @t.validate("selected_unit")
    def _check_selected(self, proposal):
        value = proposal["value"]
        if value != -1 and self.units and value not in self.units:
            raise t.TraitError(f"selected_unit={value} is not one of this widget's units {self.units[:8]}")
        return value


class Gallery(_UnitSelection, bundle="vision_gallery"):
    """Units x images: Gallery(fv.vision.visualize(...)) or Gallery(fv.vision.dataset_examples(...), crops=True)."""

    images = t.Dict().tag(sync=True)  # rgb_u8 [U, N, H, W, 3]
    activations = t.Dict().tag(sync=True)  # matrix [U, N]

    def __init__(self, result, *, crops: bool = False, title: str | None = None, **kwargs):
        """Draw a `Visualization` or `DatasetExamples`: ``Gallery(visualize(...))``.

        Parameters
        ----------
        result : Visualization or DatasetExamples
            What to draw.
        crops : bool, default False
            For DatasetExamples: show the crops around each peak instead of whole images.
        title : str, optional
            Default: the layer.
        **kwargs
            Initial trait values (e.g. ``display_size``).
        """
        self.data = result
        pixels = result.uint8(crops=True) if crops else result.uint8()
        layer = f"{result.layer}" + (" (crops)" if crops else "")
        super().__init__(
            images=encode_images(pixels),
            activations=encode_matrix(np.asarray(result.activations, np.float32)),
            units=[int(u) for u in _unit_ids(result)],
            unit_labels=list(result.unit_labels),
            title=layer if title is None else title,
            **kwargs,
        )

    def __repr__(self) -> str:
        n_images = self.images.get("shape", [0, 0])[1]
        return f"Gallery({len(self.units)} units x {n_images} images @ {self.title}, selected={self.selected_unit})"


class VisionScrubber(_UnitSelection, CheckpointPlayer, bundle="vision_scrubber"):
    """Play over checkpoints: the gallery of each checkpoint and the selected unit's activation over training."""

    images = t.Dict().tag(sync=True)  # rgb_u8 [C, U, N, H, W, 3]
    activations = t.Dict().tag(sync=True)  # matrix [C, U * N]
    probe_mean = t.Dict().tag(sync=True)  # matrix [C, U] or {} without a probe set
    probe_max = t.Dict().tag(sync=True)
    weight_cosine = t.Dict().tag(sync=True)  # matrix [C, U] (NaN at the first checkpoint)
    x_values = t.List(t.Float()).tag(sync=True)  # [C]
    x_label = t.Unicode("").tag(sync=True)

    def __init__(self, gallery, *, title: str | None = None, **kwargs):
        """Play over the checkpoints of a `CheckpointGallery` (``gallery.show()`` does this).

        Parameters
        ----------
        gallery : CheckpointGallery
            From `checkpoint_gallery`.
        title : str, optional
            Default: the layer.
        **kwargs
            Initial trait values.
        """
        self.data = gallery
        n_checkpoints, n_units, n_images = gallery.activations.shape
        probe = {}
        if gallery.probe_mean is not None:
            probe = dict(probe_mean=encode_matrix(gallery.probe_mean), probe_max=encode_matrix(gallery.probe_max))
        super().__init__(
            images=encode_images(gallery.uint8()),
            activations=encode_matrix(gallery.activations.reshape(n_checkpoints, n_units * n_images)),
            weight_cosine=encode_matrix(gallery.weight_cosine),
            **probe,
            labels=list(gallery.labels),
            x_values=[float(x) for x in gallery.x_values],
            x_label=gallery.x_label,
            units=[int(u) for u in _unit_ids(gallery)],
            unit_labels=list(gallery.unit_labels),
            title=gallery.layer if title is None else title,
            index=n_checkpoints - 1,
            selected_unit=int(_unit_ids(gallery)[0]),
            **kwargs,
        )

    def __repr__(self) -> str:
        return (
            f"VisionScrubber({len(self.labels)} checkpoints x {len(self.units)} units @ {self.data.layer}, "
            f"index={self.index}, selected={self.selected_unit})"
        )
