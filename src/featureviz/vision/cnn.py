"""The embedded vision model: a small CNN trained on data.make_images (scripts/train_vision_cnn.py).

Its checkpoints ship in featureviz/assets/vision_cnn/ as fp16 safetensors, so everything in featureviz.vision
works offline. Layers are torch module paths: "block1" .. "block4" (after ReLU), "block2.0" (the conv).
"""

from __future__ import annotations

import json

import torch
from safetensors.torch import load_file
from torch import nn

from ..paths import ASSETS
from .data import FACTORS

CNN_DIR = ASSETS / "vision_cnn"
HEAD_SIZES = {name: len(values) for name, values in FACTORS.items()}


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.BatchNorm2d(c_out), nn.ReLU())


class VisionCNN(nn.Module):
    """Four conv blocks (16, 32, 64, 64 channels), global average pooling, one linear head per factor."""

    def __init__(self):
        super().__init__()
        self.block1 = _block(3, 16, 1)
        self.block2 = _block(16, 32, 2)
        self.block3 = _block(32, 64, 2)
        self.block4 = _block(64, 64, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(64, sum(HEAD_SIZES.values()))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.block4(self.block3(self.block2(self.block1(images))))
        return self.head(self.pool(x).flatten(1))

    def factor_logits(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(HEAD_SIZES, self(images).split(list(HEAD_SIZES.values()), dim=1)))


def checkpoint_steps() -> list[int]:
    """Training steps of the shipped checkpoints, in order.

    Returns
    -------
    list of int
        The steps `load_checkpoint` accepts.
    """
    return [entry["step"] for entry in _manifest()["checkpoints"]]


def load_checkpoint(step: int | None = None) -> VisionCNN:
    """The embedded CNN at a training step, in eval mode (offline: the weights ship with featureviz).

    Parameters
    ----------
    step : int, optional
        One of `checkpoint_steps()`; default: the last.

    Returns
    -------
    VisionCNN
        The model.
    """
    steps = checkpoint_steps()
    step = steps[-1] if step is None else step
    if step not in steps:
        raise ValueError(f"no checkpoint at step {step}; the shipped steps are {steps}")
    model = VisionCNN()
    state = load_file(CNN_DIR / f"step_{step:06d}.safetensors")  # safetensors: never unpickles
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.eval()


def load_checkpoints() -> dict[str, VisionCNN]:
    """Every shipped checkpoint of the embedded CNN, in training order.

    Returns
    -------
    dict of str to VisionCNN
        ``{"step 0": model, ...}``.
    """
    return {f"step {s}": load_checkpoint(s) for s in checkpoint_steps()}


def training_metrics() -> list[dict]:
    """The training record of the shipped checkpoints.

    Returns
    -------
    list of dict
        Per checkpoint: step, loss and per-factor held-out accuracy, as recorded by the training script.
    """
    return _manifest()["checkpoints"]


def _manifest() -> dict:
    path = CNN_DIR / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run scripts/train_vision_cnn.py")
    return json.loads(path.read_text())
