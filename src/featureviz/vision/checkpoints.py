"""The same units visualised at every training checkpoint, and their activation on a fixed probe set."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .visualize import Visualization, find_layer, unit_activations, visualize


@dataclass
class CheckpointGallery:
    """Per checkpoint c and unit u: optimised images, their activations, the unit on the probe set."""

    layer: str
    units: list
    labels: list[str]  # [C]
    x_values: np.ndarray  # [C] e.g. training steps
    x_label: str
    images: np.ndarray  # [C, U, N, H, W, 3] float32 in [0, 1]
    activations: np.ndarray  # [C, U, N]: each optimised image on its unit (at its own checkpoint)
    probe_mean: np.ndarray | None  # [C, U]: mean over the probe images (the longitudinal curve)
    probe_max: np.ndarray | None  # [C, U]
    weight_cosine: np.ndarray  # [C, U]: cosine of the unit's incoming weights with the previous checkpoint
    visualizations: list[Visualization]

    @property
    def unit_labels(self) -> list[str]:
        return [f"{self.visualizations[0].kind} {u}" for u in self.units]

    def __repr__(self) -> str:
        c, u, n = self.activations.shape
        return f"CheckpointGallery({c} checkpoints x {u} units x {n} images @ {self.layer})"

    def uint8(self) -> np.ndarray:
        return (self.images * 255).round().astype(np.uint8)

    def show(self, **kwargs):
        from .widgets import VisionScrubber

        return VisionScrubber(self, **kwargs)


def _numbers(labels: list[str]) -> np.ndarray | None:
    """The last number in each label ("step 350" -> 350) when every label has one and they increase."""
    found = [re.findall(r"-?\d+(?:\.\d+)?", label) for label in labels]
    if not all(found):
        return None
    values = np.array([float(f[-1]) for f in found])
    return values if np.all(np.diff(values) > 0) else None


def incoming_weights(model: nn.Module, layer: str) -> torch.Tensor | None:
    """[units, fan_in]: the weights of the last conv or linear inside `layer` (None if it has none)."""
    found = None
    for _, module in find_layer(model, layer).named_modules():
        weight = getattr(module, "weight", None)
        if isinstance(weight, torch.Tensor) and weight.ndim >= 2:  # BatchNorm's 1-D scale is not one
            found = weight.detach().flatten(1)
    return found


def checkpoint_gallery(
    checkpoints,
    layer: str,
    units,
    *,
    probe=None,
    x_values=None,
    x_label: str = "step",
    progress: bool = True,
    **visualize_kwargs,
) -> CheckpointGallery:
    """`visualize` at every checkpoint, with the same seed and settings, and each unit on a probe set.

    Units are matched across checkpoints by index; ``weight_cosine`` says how far each unit's incoming weights
    moved since the previous checkpoint.

    Parameters
    ----------
    checkpoints : dict of str to torch.nn.Module, or list of torch.nn.Module
        ``{label: model}`` in training order (e.g. `load_checkpoints()`), or a list of models.
    layer : str
        The module name whose output holds the units.
    units : sequence of int
        Channel (or neuron) indices.
    probe : torch.Tensor, optional
        Images [N, 3, H, W] on which each unit's mean activation is recorded per checkpoint (the longitudinal
        curve).
    x_values : sequence of float, optional
        Each checkpoint's x (e.g. its training step); default: read from the labels, else 0, 1, ...
    x_label : str, default "step"
        What x means.
    progress : bool, default True
        Show a progress bar.
    **visualize_kwargs
        Passed to `visualize` (steps, size, n_images, ...).

    Returns
    -------
    CheckpointGallery
        Images [checkpoints, units, n_images, H, W, 3] and the curves; ``show()`` gives a `VisionScrubber`.
    """
    if not isinstance(checkpoints, dict):
        checkpoints = {f"checkpoint {i}": model for i, model in enumerate(checkpoints)}
    if not checkpoints:
        raise ValueError("checkpoints is empty: pass {label: model} for at least one checkpoint")
    labels = list(checkpoints)
    xs = np.asarray(x_values, dtype=float) if x_values is not None else _numbers(labels)
    if xs is None:
        xs, x_label = np.arange(len(labels), dtype=float), "checkpoint"
    if len(xs) != len(labels):
        raise ValueError(f"x_values has {len(xs)} entries for {len(labels)} checkpoints")

    visualizations, probe_mean, probe_max, cosines, previous = [], [], [], [], None
    for label in tqdm(labels, desc="checkpoints", disable=not progress):
        model = checkpoints[label]
        vis = visualize(model, layer, units, progress=False, **visualize_kwargs)
        visualizations.append(vis)
        if probe is not None:
            means = unit_activations(model, layer, vis.units, probe).means
            probe_mean.append(means.mean(0).numpy())
            probe_max.append(means.max(0).values.numpy())
        weights = incoming_weights(model, layer) if vis.units is not None else None
        if weights is not None and previous is not None and max(vis.units) < len(weights):
            cosines.append(torch.cosine_similarity(weights[vis.units], previous[vis.units], dim=1).numpy())
        else:
            cosines.append(np.full(len(vis.activations), np.nan))
        previous = weights
    return CheckpointGallery(
        layer,
        visualizations[0].units,
        labels,
        xs,
        x_label,
        np.stack([v.images for v in visualizations]),
        np.stack([v.activations for v in visualizations]),
        np.stack(probe_mean) if probe is not None else None,
        np.stack(probe_max) if probe is not None else None,
        np.stack(cosines).astype(np.float32),
        visualizations,
    )
