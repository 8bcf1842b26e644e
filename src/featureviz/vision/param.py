"""Image parameterisations and transformation robustness for activation maximisation, in plain torch.

The maths follows Lucid (github.com/tensorflow/lucid, optvis/param and optvis/transform) and its PyTorch
port lucent (github.com/greentfrapp/lucent): an image is optimised as a Fourier spectrum scaled by 1 / frequency
(so low frequencies dominate), in a decorrelated colour space, squashed into [0, 1] by a sigmoid; at each step
it is randomly padded, shifted, scaled and rotated before the model sees it, so the optimiser cannot exploit
one pixel grid. torchvision is not used (its wheels do not match our pinned torch).

Every image of a batch draws its start and its random transforms from its own torch.Generator, so an image
does not depend on the others optimised beside it (batched equals one at a time).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# Lucid's square root of the colour correlation of ImageNet (optvis/param/color.py), normalised so its
# largest column has norm 1: a step in the decorrelated space moves all channels the way natural images do.
_COLOUR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOUR_CORRELATION = _COLOUR_SQRT / _COLOUR_SQRT.norm(dim=0).max()

PARAMS = ("fft", "pixel")


class ImageParam(torch.nn.Module):
    """A batch of images [B, 3, H, W] in [0, 1] drawn from learnable tensors (Fourier or pixel space)."""

    def __init__(
        self,
        generators: list[torch.Generator],
        size: tuple[int, int],
        param: str = "fft",
        decorrelate: bool = True,
        sd: float = 0.01,
        decay_power: float = 1.0,
    ):
        super().__init__()
        if param not in PARAMS:
            raise ValueError(f"param={param!r} is not one of {PARAMS}")
        self.size, self.param, self.decorrelate = size, param, decorrelate
        h, w = size
        shape = (3, h, w // 2 + 1, 2) if param == "fft" else (3, h, w)
        self.raw = torch.nn.Parameter(torch.stack([torch.randn(shape, generator=g) * sd for g in generators]))
        if param == "fft":
            fy = torch.fft.fftfreq(h)[:, None]
            fx = torch.fft.rfftfreq(w)[None, :]
            # 1 / f amplitude: every frequency gets the same energy per octave (Lucid's "decay_power" = 1)
            self.register_buffer("scale", 1.0 / torch.sqrt(fx**2 + fy**2).clamp(min=1.0 / max(h, w)) ** decay_power)

    def forward(self) -> torch.Tensor:
        if self.param == "fft":
            spectrum = torch.view_as_complex(self.raw) * self.scale
            image = torch.fft.irfft2(spectrum, s=self.size, norm="ortho") / 4.0  # Lucid's "magic" 4
        else:
            image = self.raw
        if self.decorrelate:
            image = torch.einsum("bchw,dc->bdhw", image, COLOUR_CORRELATION.to(image))
        return torch.sigmoid(image)


class Transforms:
    """Lucid's standard transformation robustness, one random draw per image and step.

    pad by `pad` of the size with grey, then one affine resampling that shifts by up to `jitter`, scales by
    `scales` and rotates by up to `degrees` (Lucid: pad 12, jitter 8, scale 0.9 .. 1.1, rotate +-10 degrees,
    jitter 4, for ~200 px images; here in fractions of the image so small images get small shifts).
    """

    def __init__(
        self,
        pad: float = 1 / 16,
        jitter: float = 1 / 12,
        scales: tuple[float, float] = (0.9, 1.1),
        degrees: float = 10.0,
    ):
        self.pad, self.jitter, self.scales, self.degrees = pad, jitter, scales, degrees

    def __repr__(self) -> str:
        return (
            f"Transforms(pad={self.pad:.3g}, jitter={self.jitter:.3g}, scales={tuple(self.scales)}, "
            f"degrees={self.degrees:g})"
        )

    def draws(self, generator: torch.Generator, steps: int) -> torch.Tensor:
        """The random numbers one image uses over `steps` steps, [steps, 4] in [0, 1)."""
        return torch.rand(steps, 4, generator=generator)

    def __call__(self, images: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
        """images [B, 3, H, W], draws [B, 4] -> transformed images [B, 3, H + 2p, W + 2p]."""
        pad = round(self.pad * max(images.shape[-2:]))
        if pad:
            images = F.pad(images, (pad,) * 4, value=0.5)
        shift = (draws[:, :2] * 2 - 1) * self.jitter * 2  # grid coordinates span 2 per image side
        lo, hi = self.scales
        zoom = lo + (hi - lo) * draws[:, 2]
        angle = (draws[:, 3] * 2 - 1) * self.degrees * math.pi / 180
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
        grid = F.affine_grid(theta.to(images), list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def make_transforms(transforms) -> Transforms | None:
    """transforms="standard" (Lucid's), None / "none" (no robustness), or a Transforms."""
    if transforms in (None, "none"):
        return None
    if transforms == "standard":
        return Transforms()
    if isinstance(transforms, Transforms):
        return transforms
    raise ValueError(f"transforms={transforms!r}: pass 'standard', None, or a featureviz.vision.Transforms")


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels, per image [B] (L1 total variation)."""
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean((1, 2, 3))
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean((1, 2, 3))
    return dx + dy
