"""Train the embedded vision CNN (featureviz.vision.VisionCNN) on procedural images with known factors.

    nice -n 10 python scripts/train_vision_cnn.py      # a few minutes on one CPU core

Every batch is fresh from featureviz.vision.data.make_images (seed = step), so there is no dataset to store.
The loss is the sum of one cross-entropy per factor (hue, shape, stripe orientation and frequency, background
texture). Checkpoints at log-spaced steps, from the random initialisation on, go to
src/featureviz/assets/vision_cnn/step_XXXXXX.safetensors (fp16) with manifest.json: per checkpoint the step,
the training loss and the held-out accuracy of each factor.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from featureviz.vision.cnn import CNN_DIR, VisionCNN
from featureviz.vision.data import make_images

HELD_OUT_SEED = 10_000_000  # training batches use seeds 0 .. steps-1


def evaluate(model: VisionCNN, images, factors) -> dict[str, float]:
    model.eval()
    with torch.no_grad():
        logits = model.factor_logits(images)
    model.train()
    return {name: round(float((logits[name].argmax(1) == factors[name]).float().mean()), 4) for name in logits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=1, help="one thread is fastest on a shared machine")
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[0, 10, 25, 50, 100, 200, 350, 550, 800])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = VisionCNN().train()
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    held_out = make_images(1024, seed=HELD_OUT_SEED)
    CNN_DIR.mkdir(parents=True, exist_ok=True)
    manifest, loss, start = [], None, time.time()
    for step in range(args.steps + 1):
        if step in args.checkpoints:
            save_file(
                {k: v.half().contiguous() if v.is_floating_point() else v for k, v in model.state_dict().items()},
                CNN_DIR / f"step_{step:06d}.safetensors",
            )
            manifest.append(
                {
                    "step": step,
                    "train_loss": None if loss is None else round(loss, 4),
                    "accuracy": evaluate(model, *held_out),
                }
            )
            print(json.dumps(manifest[-1]), f"{time.time() - start:.0f}s", flush=True)
        if step == args.steps:
            break
        images, factors = make_images(args.batch, seed=step)
        logits = model.factor_logits(images)
        total = sum(F.cross_entropy(logits[name], factors[name]) for name in logits)
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
        loss = float(total.detach())
    (CNN_DIR / "manifest.json").write_text(json.dumps({"checkpoints": manifest, "settings": vars(args)}, indent=1))


if __name__ == "__main__":
    main()
