"""Batched activation maximisation: C channels in one visualize(...) call vs C calls of one channel each.

    .venv/bin/python benchmarks/vision.py [--layer block3] [--channels 64] [--steps 32] [--size 32]
                                          [--repeats 1] [--threads 1]

On the embedded vision CNN (last checkpoint). Sides are interleaved (batched, one-at-a-time, one-at-a-time,
batched, ...) and timed in process CPU time, so other work on a shared machine moves both alike. Prints each
side, the speed-up, and how far the two sides' images and activations are apart: each step agrees to float
rounding (~1e-6), but Adam turns rounding-level gradient differences into steps, so after tens of steps a few
images drift apart (tests/test_vision.py checks equality over 16 steps).

torch-lucent is not compared: its latest release (0.1.8, 2021) imports torchvision at module level (and
pins kornia <= 0.4.1), and PyPI's torchvision does not import beside our pinned torch 2.13.0 CPU
("operator torchvision::nms does not exist"); the matching torch + torchvision build is a 5.5 GB CUDA download.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import featureviz.vision as V


def timed(fn):
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layer", default="block3")
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = V.load_checkpoint()
    units = list(range(args.channels))
    kwargs = dict(steps=args.steps, size=args.size, progress=False)

    def batched():
        vis = V.visualize(model, args.layer, units, **kwargs)
        return vis.images, vis.activations

    def one_at_a_time():
        runs = [V.visualize(model, args.layer, [u], **kwargs) for u in units]
        return np.concatenate([v.images for v in runs]), np.concatenate([v.activations for v in runs])

    times = {"batched": [], "one at a time": []}
    for r in range(args.repeats):
        order = [("batched", batched), ("one at a time", one_at_a_time)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            seconds, images = timed(fn)
            times[name].append(seconds)
            print(
                f"{name:>14}: {seconds:7.2f} s CPU  ({args.channels} channels of {args.layer}, {args.steps} steps, "
                f"{args.size} px)",
                flush=True,
            )
            if name == "batched":
                together = images
            else:
                alone = images
    b, s = np.median(times["batched"]), np.median(times["one at a time"])
    print(f"speed-up of batching: {s / b:.1f}x (one at a time {s:.1f} s / batched {b:.1f} s CPU)")
    pixel = np.abs(together[0] - alone[0]).reshape(args.channels, -1).max(1)
    relative = np.abs(together[1] - alone[1]) / np.abs(alone[1]).clip(min=1e-6)
    print(
        f"|batched - one at a time| per image: max pixel difference median {np.median(pixel):.1e}, "
        f"max {pixel.max():.1e}; activation relative difference median {np.median(relative):.1e}, "
        f"max {relative.max():.1e}"
    )


if __name__ == "__main__":
    main()
