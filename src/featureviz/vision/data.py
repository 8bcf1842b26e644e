"""Procedural images with known factors: the embedded vision model's training set and every probe set.

Each 32 x 32 image is a grey background (smooth, or with pixel noise: the `texture` factor) with one shape
(disk, square or triangle) filled in one of six hues and striped at one of four orientations and two
frequencies. Everything is drawn from one seeded torch.Generator, so make_images(n, seed) is the same
tensor on every machine: tests regenerate probe sets instead of storing them.
"""

from __future__ import annotations

import math

import torch

HUES = ("red", "yellow", "green", "cyan", "blue", "magenta")
SHAPES = ("disk", "square", "triangle")
ORIENTATIONS = (0, 45, 90, 135)  # degrees
FREQUENCIES = ("low", "high")
TEXTURES = ("smooth", "noisy")
FACTORS = {"hue": HUES, "shape": SHAPES, "orientation": ORIENTATIONS, "frequency": FREQUENCIES, "texture": TEXTURES}
_CYCLES = (2.0, 4.5)  # stripe cycles across the shape, per frequency class


def hue_rgb(hue: torch.Tensor) -> torch.Tensor:
    """Fully saturated RGB of hues in [0, 1) (HSV with s = v = 1): [..., 3]."""
    h6 = hue[..., None] * 6 - torch.tensor([3.0, 2.0, 4.0])
    sign = torch.tensor([1.0, -1.0, -1.0])
    offset = torch.tensor([-1.0, 2.0, 2.0])
    return (sign * h6.abs() + offset).clamp(0, 1)


def class_colours() -> torch.Tensor:
    """The RGB of each hue class's centre.

    Returns
    -------
    torch.Tensor
        [6, 3]: red, yellow, green, cyan, blue, magenta.
    """
    return hue_rgb(torch.arange(len(HUES)) / len(HUES))


def make_images(n: int, seed: int = 0, size: int = 32) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Procedural images (hue, shape, stripes, background texture), seeded and regenerated, never downloaded.

    Parameters
    ----------
    n : int
        How many images.
    seed : int, default 0
        The same seed gives the same images.
    size : int, default 32
        Image side in pixels.

    Returns
    -------
    (torch.Tensor, dict of str to torch.Tensor)
        Images [n, 3, size, size] in [0, 1], and their factors ``{name: LongTensor [n]}`` (class indices).
    """
    g = torch.Generator().manual_seed(seed)
    rand = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    factors = {name: torch.randint(len(values), (n,), generator=g) for name, values in FACTORS.items()}

    coords = (torch.arange(size) + 0.5) / size  # pixel centres in (0, 1)
    y, x = coords[None, :, None], coords[None, None, :]
    radius = (0.22 + 0.12 * rand(n))[:, None, None]
    cx = (0.5 + (rand(n) - 0.5) * 0.3)[:, None, None]
    cy = (0.5 + (rand(n) - 0.5) * 0.3)[:, None, None]
    dx, dy = x - cx, y - cy
    shape = factors["shape"][:, None, None]
    disk = dx**2 + dy**2 < radius**2
    square = torch.maximum(dx.abs(), dy.abs()) < radius * 0.85
    triangle = (dy < radius * 0.8) & (dx.abs() < (dy + radius) * 0.6)
    mask = torch.where(shape == 0, disk, torch.where(shape == 1, square, triangle)).float()

    angle = torch.tensor(ORIENTATIONS, dtype=torch.float32)[factors["orientation"]] * math.pi / 180
    cycles = torch.tensor(_CYCLES)[factors["frequency"]] / (2 * radius[:, 0, 0])
    along = dx * torch.cos(angle)[:, None, None] + dy * torch.sin(angle)[:, None, None]
    phase = (rand(n) * 2 * math.pi)[:, None, None]
    stripes = 0.5 + 0.5 * torch.cos(2 * math.pi * cycles[:, None, None] * along + phase)

    hue = (factors["hue"] + (rand(n) - 0.5) * 0.4) / len(HUES) % 1.0  # +-12 degrees around the class centre
    colour = hue_rgb(hue)[:, :, None, None]
    foreground = colour * (0.3 + 0.7 * stripes[:, None])

    grey = (0.3 + 0.4 * rand(n))[:, None, None, None]
    noise = torch.randn(n, 1, size, size, generator=g) * 0.12 * factors["texture"][:, None, None, None]
    background = (grey + noise).expand(n, 3, size, size)
    images = mask[:, None] * foreground + (1 - mask[:, None]) * background
    return images.clamp(0, 1), factors
