"""Run every public function end to end on a GPU (CUDA, else Apple MPS), and print how fast each one went.

    python scripts/gpu_smoke.py                 # the embedded default model and SAE, on cuda if there is one
    python scripts/gpu_smoke.py --device cpu --contexts 16

Without a GPU it says so and runs on the CPU (that is how CI tests this script). Every result must come back
as CPU numpy / CPU tensors: the script checks that too, so a tensor left on the device fails here.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

import featureviz as fv

ROOT = Path(__file__).resolve().parent.parent


def default_device() -> tuple[str, str]:
    """(device, note): cuda, else mps, else cpu with a note saying the GPU path was not exercised."""
    if torch.cuda.is_available():
        return "cuda", torch.cuda.get_device_name(0)
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps", "Apple GPU"
    return "cpu", "no GPU here: running on the CPU (the device code path still runs, on device='cpu')"


def exercise(
    model,
    source,
    corpus,
    prompts: dict[str, list[str]],
    sae_series=None,
    *,
    n_features: int = 64,
    steps: int = 9,
    max_new_tokens: int = 16,
) -> tuple[dict, dict]:
    """Call each public function once on `model`'s device. Returns (results by name, (seconds, amount, unit))."""
    results, timings = {}, {}

    def timed(name, amount, unit, call):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        results[name] = call()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        timings[name] = (time.perf_counter() - start, amount, unit)
        return results[name]

    texts = [p for group in prompts.values() for p in group]
    acts = timed("activations", None, "tok", lambda: fv.activations(model, source, prompts, progress=False))
    timings["activations"] = (timings["activations"][0], acts.n_tokens, "tok")
    feature = int(acts.top_features(1, exclude_always_on=True).index[0])
    timed(
        "top_activating",
        len(texts),
        "text",
        lambda: fv.top_activating(model, source, feature, texts, k=5, progress=False),
    )
    baseline = "baseline" if "baseline" in prompts else None
    table = timed("contrast", acts.n_features, "feature", lambda: fv.contrast(acts, baseline=baseline))
    features = np.arange(min(n_features, source.n_features))
    n_tokens = sum(len(c) - 1 for c in corpus) if isinstance(corpus, torch.Tensor) else None
    data = timed(
        "dashboard_data",
        n_tokens,
        "tok",
        lambda: fv.dashboard_data(model, source, corpus, features=features, progress=False),
    )
    timings["dashboard_data"] = (timings["dashboard_data"][0], data.n_tokens, "tok")
    values = np.linspace(-8, 8, steps)
    steered = timed(
        "steer",
        steps * max_new_tokens,
        "tok",
        lambda: fv.steer(model, source, texts[0], feature, values, max_new_tokens=max_new_tokens),
    )
    if sae_series:
        series = [(x, model, sae) for x, sae in sae_series]
        timed(
            "checkpoint_frames",
            len(series),
            "checkpoint",
            lambda: fv.checkpoint_frames(series, texts[:6], top_k=16, progress=False),
        )
    widgets = {
        "Heatmap": lambda: fv.Heatmap(acts, top_k=20),
        "Dashboard": lambda: fv.Dashboard(data, feature=int(features[0])),
        "Interpolation": lambda: fv.Interpolation(
            model, source, texts[0], feature, values=(-8.0, 8.0), steps=steps, max_new_tokens=max_new_tokens
        ),
        "ContrastView": lambda: fv.ContrastView(table, top_n=5),
    }
    if "checkpoint_frames" in results:
        widgets["CheckpointScrubber"] = lambda: fv.CheckpointScrubber(results["checkpoint_frames"])
    for name, build in widgets.items():
        timed(name, None, "", build)
    check_on_cpu(results)
    assert np.isfinite(steered.kl).all(), "steering produced non-finite KL"
    return results, timings


def check_on_cpu(results: dict) -> None:
    """Every array in every result object is CPU numpy (or a CPU tensor): nothing was left on the device."""
    for name, result in results.items():
        for field, value in getattr(result, "__dict__", {}).items():
            if isinstance(value, torch.Tensor):
                assert value.device.type == "cpu", f"{name}.{field} is on {value.device}"
            elif isinstance(value, list) and value and isinstance(value[0], torch.Tensor):
                assert all(v.device.type == "cpu" for v in value), f"{name}.{field} holds device tensors"


def report(timings: dict) -> str:
    lines = [f"{'function':<20} {'seconds':>8}  throughput"]
    for name, (seconds, amount, unit) in timings.items():
        rate = f"{amount / seconds:,.1f} {unit}/s" if amount else ""
        lines.append(f"{name:<20} {seconds:8.3f}  {rate}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the GPU if there is one)")
    parser.add_argument("--contexts", type=int, default=256, help="held-out 128-token contexts for dashboard_data")
    parser.add_argument("--per-group", type=int, default=12, help="emotion prompts per group")
    parser.add_argument("--steps", type=int, default=9, help="steering values in steer and Interpolation")
    parser.add_argument("--new-tokens", type=int, default=16, help="tokens generated per steering value")
    args = parser.parse_args(argv)
    device, note = (args.device, args.device) if args.device else default_device()
    print(f"device: {device} ({note}); torch {torch.__version__}", flush=True)

    start = time.perf_counter()
    model, source = fv.load_default(device=device)
    print(f"load_default: {time.perf_counter() - start:.1f} s, model on {next(model.parameters()).device}", flush=True)
    corpus = torch.from_numpy(np.load(ROOT / "src" / "featureviz" / "assets" / "heldout_tokens.npy")[: args.contexts])
    series = [(x, sae.to(device)) for x, sae in fv.sae_checkpoints("default")[-3:]]
    _, timings = exercise(
        model,
        source,
        corpus.long(),
        fv.emotion_prompts(args.per_group),
        series,
        steps=args.steps,
        max_new_tokens=args.new_tokens,
    )
    print(report(timings))
    print("all results are CPU numpy: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
