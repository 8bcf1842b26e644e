"""Activation maximisation and dataset examples for the channels, neurons and directions of any torch vision model.

Units are named by a torch module path (`"layer2.0.conv1"`, `"block3"`) and indices into that module's output:
a channel's objective is its mean over space, a neuron's is the channel at the centre of the feature map, a
direction's is the mean over space of the activations' dot product with it (e.g. an SAE latent's encoder row).
All units of one call are optimised together as one batch: image b only ever sees its own unit's objective,
and images never interact through the model in eval mode, so the batch is just many optimisations at once.
"""

from __future__ import annotations

import difflib
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .param import ImageParam, make_transforms, total_variation

KINDS = ("channel", "neuron")


class _Stop(Exception):
    """Raised by the capture hook: nothing after the layer needs to run."""


def find_layer(model: nn.Module, layer: str) -> nn.Module:
    """The submodule at a dotted path, or a ValueError naming the closest paths."""
    modules = dict(model.named_modules())
    if layer in modules and layer != "":
        return modules[layer]
    close = difflib.get_close_matches(layer, [name for name in modules if name], n=5, cutoff=0.5)
    hint = f"; close: {', '.join(close)}" if close else f"; its layers include {', '.join(list(modules)[1:6])}"
    raise ValueError(f"layer {layer!r} is not a module of {type(model).__name__}{hint}")


@contextmanager
def eval_mode(model: nn.Module):
    """Run in eval mode (BatchNorm on running statistics, no dropout), restoring training mode after."""
    was_training = model.training
    if was_training:
        warnings.warn(
            f"{type(model).__name__} was in training mode; featureviz.vision switched it to eval() for "
            "this call (BatchNorm and dropout would otherwise mix the images of a batch)",
            stacklevel=3,
        )
        model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


class _RedirectedReLU(torch.autograd.Function):
    """ReLU whose gradient still flows for an image on which the plain ReLU passes none (Lucid's
    redirected_relu_grad): a unit that is off everywhere on a grey start would otherwise never move.
    Only inputs that the step would push further below zero are blocked. Decided per image."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        relu_grad = grad * (x > 0)
        redirected = torch.where((x < 0) & (grad > 0), torch.zeros_like(grad), grad)
        passes = relu_grad.flatten(1).norm(dim=1) > 0 if x.ndim > 1 else relu_grad.norm() > 0
        return torch.where(passes.view(-1, *[1] * (x.ndim - 1)) if x.ndim > 1 else passes, relu_grad, redirected)


@contextmanager
def redirected_relus(model: nn.Module):
    """Swap every nn.ReLU's forward for _RedirectedReLU while optimising (F.relu calls are left as they are)."""
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    for m in relus:
        m.forward = _RedirectedReLU.apply
    try:
        yield
    finally:
        for m in relus:
            del m.forward


class LayerCapture:
    """Runs the model only as far as one layer and returns that layer's output."""

    def __init__(self, model: nn.Module, layer: str, preprocess=None):
        self.model, self.layer, self.preprocess = model, layer, preprocess
        self.module = find_layer(model, layer)
        self.output: torch.Tensor | None = None

    def _hook(self, module, inputs, output):
        self.output = output
        raise _Stop

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        handle = self.module.register_forward_hook(self._hook)
        try:
            self.model(self.preprocess(images) if self.preprocess else images)
        except _Stop:
            pass
        except Exception as error:
            raise ValueError(
                f"{type(self.model).__name__} did not run on an image batch of shape "
                f"{list(images.shape)} (batch, colour, height, width): {error}"
            ) from error
        finally:
            handle.remove()
        output, self.output = self.output, None
        if output is None:
            raise ValueError(f"layer {self.layer!r} did not run in {type(self.model).__name__}'s forward pass")
        if not isinstance(output, torch.Tensor) or output.ndim not in (2, 4):
            shape = list(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
            raise ValueError(
                f"layer {self.layer!r} outputs {shape}; expected [batch, channels, height, width] or [batch, features]"
            )
        return output


def check_images(images) -> torch.Tensor:
    """A float image batch [N, 3, H, W], or one clear sentence about what is wrong with it."""
    if not isinstance(images, torch.Tensor):
        images = torch.as_tensor(np.asarray(images))
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"images must be a tensor [N, 3, H, W] (batch, RGB, height, width); got shape {list(images.shape)}"
        )
    return images.float()


def _size(size) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if h < 8 or w < 8:
        raise ValueError(f"size={size!r} is too small for an image: use at least 8 pixels a side")
    return int(h), int(w)


class Objective:
    """Per-image activation of its unit: units [B] of a kind, or directions [B, C]."""

    def __init__(self, kind: str, units: torch.Tensor | None = None, directions: torch.Tensor | None = None):
        self.kind, self.units, self.directions = kind, units, directions

    def __call__(self, acts: torch.Tensor) -> torch.Tensor:
        if self.directions is not None:
            d = self.directions.to(acts)
            return (acts * d[..., None, None]).sum(1).flatten(1).mean(1) if acts.ndim == 4 else (acts * d).sum(1)
        rows = torch.arange(len(acts))
        picked = acts[rows, self.units]  # [B, H, W] or [B]
        if acts.ndim == 2:
            return picked
        if self.kind == "neuron":
            return picked[:, acts.shape[2] // 2, acts.shape[3] // 2]
        return picked.flatten(1).mean(1)


def resolve_units(
    capture: LayerCapture, units, kind: str, probe: torch.Tensor
) -> tuple[list | None, torch.Tensor | None]:
    """(unit indices, None) or (None, directions [U, C]) after checking them against the layer's width."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not one of {KINDS}")
    with torch.no_grad():
        acts = capture(probe)
    width = acts.shape[1]
    if isinstance(units, torch.Tensor) and units.is_floating_point():
        directions = units[None] if units.ndim == 1 else units
        if directions.ndim != 2 or directions.shape[1] != width:
            raise ValueError(
                f"directions must have shape [n, {width}] for layer {capture.layer!r} "
                f"({width} channels); got {list(units.shape)}"
            )
        return None, directions.detach().float()
    indices = [int(units)] if isinstance(units, (int, np.integer)) else [int(u) for u in np.asarray(units).reshape(-1)]
    if not indices:
        raise ValueError("units is empty: pass at least one unit index")
    bad = [u for u in indices if not 0 <= u < width]
    if bad:
        raise ValueError(
            f"unit {bad[0]} is out of range: layer {capture.layer!r} has {width} "
            f"{'channels' if acts.ndim == 4 else 'features'} (0..{width - 1})"
        )
    return indices, None


@dataclass
class Visualization:
    """Optimised images [U, N, H, W, 3] in [0, 1] and the activation of each on its unit, before and after."""

    layer: str
    units: list | None  # unit indices, or None for directions
    kind: str  # "channel", "neuron" or "direction"
    images: np.ndarray  # [U, N, H, W, 3] float32
    activations: np.ndarray  # [U, N]: the finished image, untransformed
    start_activations: np.ndarray  # [U, N]: its random starting image
    settings: dict = field(default_factory=dict)

    @property
    def unit_labels(self) -> list[str]:
        return (
            [f"{self.kind} {u}" for u in self.units]
            if self.units is not None
            else [f"direction {i}" for i in range(len(self.images))]
        )

    def __repr__(self) -> str:
        u, n, h, w = self.images.shape[:4]
        return f"Visualization({u} {self.kind}s x {n} images of {h}x{w} @ {self.layer})"

    def uint8(self) -> np.ndarray:
        return (self.images * 255).round().astype(np.uint8)

    def show(self, **kwargs):
        from .widgets import Gallery

        return Gallery(self, **kwargs)


def image_generators(seed: int, unit_keys: list[int], n_images: int) -> list[torch.Generator]:
    """One generator per image, seeded by (seed, unit, image) only: an image's randomness ignores its batch."""
    return [
        torch.Generator().manual_seed(hash((int(seed), int(u), j)) & 0x7FFF_FFFF_FFFF)
        for u in unit_keys
        for j in range(n_images)
    ]


def visualize(
    model: nn.Module,
    layer: str,
    units,
    *,
    kind: str = "channel",
    steps: int = 256,
    size=128,
    n_images: int = 1,
    param: str = "fft",
    decorrelate: bool = True,
    transforms="standard",
    l2: float = 0.0,
    tv: float = 0.0,
    diversity: float = 0.0,
    lr: float = 0.05,
    seed: int = 0,
    preprocess=None,
    progress: bool = True,
) -> Visualization:
    """Images that maximise units of `layer`, optimised together as one batch (activation maximisation).

    The model's weights are not changed; a model in training mode runs in eval mode.

    Parameters
    ----------
    model : torch.nn.Module
        The vision model (e.g. `load_checkpoint()`); its weights are not changed.
    layer : str
        The module name whose output holds the units (e.g. "block2").
    units : sequence of int or torch.Tensor
        Channel (or neuron) indices, or a float tensor of directions [n, channels].
    kind : {"channel", "neuron"}, default "channel"
        Maximise the mean over space, or the centre position.
    steps : int, default 256
        Optimisation steps.
    size : int or (int, int), default 128
        Image side (or height, width) in pixels.
    n_images : int, default 1
        Images per unit.
    param : {"fft", "pixel"}, default "fft"
        Fourier parameterisation with decorrelated colour (Lucid's default), or plain pixels.
    decorrelate : bool, default True
        Decorrelate colours (with param="fft").
    transforms : "standard", None, or Transforms, default "standard"
        Transformation robustness: pad, jitter, scale and rotate each step.
    l2 : float, default 0.0
        Weight of the mean squared distance from grey.
    tv : float, default 0.0
        Weight of the total variation.
    diversity : float, default 0.0
        > 0 pushes the `n_images` of a unit apart (Lucid's Gram-matrix diversity).
    lr : float, default 0.05
        Adam's learning rate.
    seed : int, default 0
        Seed of the starting images and the transforms.
    preprocess : callable, optional
        Applied to [0, 1] images before the model (e.g. ImageNet normalisation).
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    Visualization
        Images [units, n_images, H, W, 3] in [0, 1], their activations before and after; ``show()`` draws them.
    """
    size = _size(size)
    if n_images < 1 or steps < 0:
        raise ValueError(f"n_images={n_images} and steps={steps}: need n_images >= 1 and steps >= 0")
    capture = LayerCapture(model, layer, preprocess)
    with eval_mode(model):
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        indices, directions = resolve_units(capture, units, kind, torch.full((1, 3, *size), 0.5, device=device))
        n_units = len(indices) if indices is not None else len(directions)
        keys = indices if indices is not None else list(range(n_units))
        if directions is not None:
            objective = Objective("direction", directions=directions.repeat_interleave(n_images, 0).to(device))
        else:
            objective = Objective(kind, units=torch.tensor(indices, device=device).repeat_interleave(n_images))
        generators = image_generators(seed, keys, n_images)
        image = ImageParam(generators, size, param, decorrelate).to(device)
        robust = make_transforms(transforms)
        draws = torch.stack([robust.draws(g, steps) for g in generators], 1).to(device) if robust else None

        def clean_activation() -> np.ndarray:
            with torch.no_grad():
                return objective(capture(image())).view(n_units, n_images).cpu().numpy()

        start = clean_activation()
        optimiser = torch.optim.Adam(image.parameters(), lr=lr)
        with redirected_relus(model):
            for step in tqdm(
                range(steps), desc=f"visualising {n_units * n_images} images", disable=not progress, leave=False
            ):
                pixels = image()
                acts = capture(robust(pixels, draws[step]) if robust else pixels)
                # A sum, not a mean: each image's gradient is the one it would get alone.
                loss = -objective(acts).sum()
                if l2:
                    loss = loss + l2 * ((pixels - 0.5) ** 2).mean((1, 2, 3)).sum()
                if tv:
                    loss = loss + tv * total_variation(pixels).sum()
                if diversity and n_images > 1:
                    loss = loss + diversity * _diversity(acts, n_units, n_images).sum()
                (grad,) = torch.autograd.grad(loss, [image.raw])  # no gradients into the model's weights
                image.raw.grad = grad
                optimiser.step()
        end = clean_activation()
        with torch.no_grad():
            pixels = image().permute(0, 2, 3, 1).reshape(n_units, n_images, *size, 3).cpu().numpy()
    settings = dict(
        steps=steps,
        size=size,
        n_images=n_images,
        param=param,
        decorrelate=decorrelate,
        transforms=str(transforms),
        l2=l2,
        tv=tv,
        diversity=diversity,
        lr=lr,
        seed=seed,
    )
    return Visualization(
        layer, indices, "direction" if directions is not None else kind, pixels.astype(np.float32), end, start, settings
    )


def _diversity(acts: torch.Tensor, n_units: int, n_images: int) -> torch.Tensor:
    """Lucid's diversity: mean cosine between the Gram matrices of one unit's images, per unit [U]."""
    flat = acts.flatten(2) if acts.ndim == 4 else acts[..., None]
    gram = torch.einsum("bcx,bdx->bcd", flat, flat).flatten(1)
    gram = torch.nn.functional.normalize(gram, dim=1).view(n_units, n_images, -1)
    sims = torch.einsum("uix,ujx->uij", gram, gram)
    off_diagonal = sims.sum((1, 2)) - sims.diagonal(dim1=1, dim2=2).sum(1)
    return off_diagonal / (n_images * (n_images - 1))


@dataclass
class DatasetExamples:
    """The top-k images of a dataset for each unit, their activations and a crop around each peak."""

    layer: str
    units: list
    indices: np.ndarray  # [U, k] into the dataset
    activations: np.ndarray  # [U, k]
    images: np.ndarray  # [U, k, H, W, 3] float32
    crops: np.ndarray  # [U, k, h, w, 3] around the unit's spatial peak (the whole image for 2-D layers)

    @property
    def unit_labels(self) -> list[str]:
        return [f"channel {u}" for u in self.units]

    def __repr__(self) -> str:
        return f"DatasetExamples({len(self.units)} channels x top {self.indices.shape[1]} images @ {self.layer})"

    def uint8(self, crops: bool = False) -> np.ndarray:
        return ((self.crops if crops else self.images) * 255).round().astype(np.uint8)

    def show(self, crops: bool = False, **kwargs):
        from .widgets import Gallery

        return Gallery(self, crops=crops, **kwargs)


@dataclass
class UnitActivations:
    """Per image and unit of one layer: the channel mean and where the channel peaks."""

    units: list
    means: torch.Tensor  # [N, U]
    peaks: torch.Tensor  # [N, U] flat index of the spatial maximum
    grid: tuple  # the layer's (height, width), () for a 2-D layer

    def __repr__(self) -> str:
        grid = "x".join(map(str, self.grid)) or "none"
        return f"UnitActivations({self.means.shape[0]} images x {len(self.units)} units, grid {grid})"


def unit_activations(
    model: nn.Module, layer: str, units, images, *, batch_size: int = 256, preprocess=None
) -> UnitActivations:
    """Each unit's mean over space and peak position on every image, streamed in batches.

    Parameters
    ----------
    model : torch.nn.Module
        The vision model (e.g. `load_checkpoint()`); its weights are not changed.
    layer : str
        The module name whose output holds the units (e.g. "block2").
    units : sequence of int
        Channel indices.
    images : torch.Tensor
        [N, 3, H, W] in [0, 1].
    batch_size : int, default 256
        Images per forward batch.
    preprocess : callable, optional
        Applied to images before the model.

    Returns
    -------
    UnitActivations
        ``means`` and ``peaks`` [N, units], and the layer's spatial ``grid``.
    """
    images = check_images(images)
    capture = LayerCapture(model, layer, preprocess)
    means, peaks = [], []
    with eval_mode(model), torch.no_grad():
        indices, _ = resolve_units(capture, units, "channel", images[:1])
        for start in range(0, len(images), batch_size):
            acts = capture(images[start : start + batch_size])[:, indices]
            flat = acts.flatten(2) if acts.ndim == 4 else acts[..., None]
            means.append(flat.mean(2))
            peaks.append(flat.argmax(2))
    return UnitActivations(indices, torch.cat(means), torch.cat(peaks), tuple(acts.shape[2:]))


def dataset_examples(
    model: nn.Module,
    layer: str,
    units,
    images,
    k: int = 8,
    *,
    crop: float = 0.5,
    batch_size: int = 256,
    preprocess=None,
) -> DatasetExamples:
    """The k images of `images` on which each channel's mean is largest, with a crop around its peak.

    Parameters
    ----------
    model : torch.nn.Module
        The vision model (e.g. `load_checkpoint()`); its weights are not changed.
    layer : str
        The module name whose output holds the units (e.g. "block2").
    units : sequence of int
        Channel indices.
    images : torch.Tensor
        [N, 3, H, W] in [0, 1].
    k : int, default 8
        Images kept per unit.
    crop : float, default 0.5
        Crop side as a fraction of the image side, centred on the channel's peak position.
    batch_size : int, default 256
        Images per forward batch (streamed).
    preprocess : callable, optional
        Applied to images before the model.

    Returns
    -------
    DatasetExamples
        Indices, activations, images and crops per unit; ``show(crops=True)`` draws them.
    """
    images = check_images(images)
    acts = unit_activations(model, layer, units, images, batch_size=batch_size, preprocess=preprocess)
    top = acts.means.topk(min(k, len(images)), dim=0)  # [k, U]
    h, w = images.shape[2:]
    ch, cw = max(1, round(crop * h)), max(1, round(crop * w))
    picked = images[top.indices.T]  # [U, k, 3, H, W]
    crops = torch.empty(*picked.shape[:2], 3, ch, cw)
    for u in range(picked.shape[0]):
        for j in range(picked.shape[1]):
            cy, cx = h / 2, w / 2
            if acts.grid:  # the centre of the peak's cell, in image pixels
                row, col = divmod(int(acts.peaks[top.indices[j, u], u]), acts.grid[1])
                cy, cx = (row + 0.5) * h / acts.grid[0], (col + 0.5) * w / acts.grid[1]
            y0 = int(min(max(round(cy - ch / 2), 0), h - ch))
            x0 = int(min(max(round(cx - cw / 2), 0), w - cw))
            crops[u, j] = picked[u, j, :, y0 : y0 + ch, x0 : x0 + cw]
    return DatasetExamples(
        layer,
        acts.units,
        top.indices.T.numpy(),
        top.values.T.numpy(),
        picked.permute(0, 1, 3, 4, 2).numpy(),
        crops.permute(0, 1, 3, 4, 2).numpy(),
    )
