"""TransformerLens vs a plain Hugging Face model through featureviz's model interface (issue 20).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/any_model.py [--repeats 3] [--threads 1]

The embedded SmolLM2 loaded both ways (fv.load_default() and load_embedded_hf_model(), both offline), the
same 99 shipped emotion prompts: fv.activations at the residual stream entering layer 15 (the shipped SAE
through each), the layer-14 MLP neurons, fv.top_activating of one neuron, one fv.steer sweep, fv.dashboard_data
of 256 SAE latents, and a (random) crosscoder over the residual stream at layers 4, 8, 12 (`--only` picks tasks
by a word of their name). Prints the max abs / relative difference of each result and the seconds of each path
(minimum over interleaved repeats, same process). Not a test.
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    parser.add_argument(
        "--only", action="append", default=[], help="run only tasks whose name contains this (repeatable)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import featureviz as fv
    from featureviz.loading import load_embedded_hf_model

    tl, sae = fv.load_default()
    hf = fv.HFModel(*load_embedded_hf_model())
    sae_hf = type(sae)(sae.sae)
    sae_hf.hook_name = "model.layers.15:input"
    prompts = [p for group in fv.emotion_prompts().values() for p in group]
    neurons = (
        fv.HookNeuronSource(tl, "blocks.14.mlp.hook_post"),
        fv.HookNeuronSource(hf, "model.layers.14.mlp.down_proj:input"),
    )
    tasks = {
        "activations, SAE at layer-15 residual": (
            lambda m, s: fv.activations(m, s, prompts, progress=False).values,
            (sae, sae_hf),
        ),
        "activations, layer-14 MLP neurons": (
            lambda m, s: fv.activations(m, s, prompts, progress=False).values,
            neurons,
        ),
        "top_activating, neuron 100, k=10": (
            lambda m, s: torch.tensor(list(fv.top_activating(m, s, 100, prompts, k=10, progress=False)["activation"])),
            neurons,
        ),
        "steer, SAE latent, 5 values x 16 tokens": (
            lambda m, s: torch.tensor(
                fv.steer(m, s, "I walked into the room and", 824, [-60.0, -30.0, 0.0, 30.0, 60.0], max_new_tokens=16).kl
            ),
            (sae, sae_hf),
        ),
        "dashboard_data, SAE at layer-15 residual, 256 latents": (
            lambda m, s: torch.from_numpy(
                fv.dashboard_data(m, s, prompts, list(range(256)), k=5, progress=False).max_value
            ),
            (sae, sae_hf),
        ),
        "activations, crosscoder over layers 4, 8, 12 (one pass)": (
            lambda m, s: fv.activations(m, s, prompts, progress=False).values,
            _crosscoders(fv),
        ),
    }
    tasks = {name: task for name, task in tasks.items() if not args.only or any(w in name for w in args.only)}
    print(
        f"{len(prompts)} prompts, {sum(len(hf.tokenize(p)) for p in prompts)} tokens; torch threads "
        f"{torch.get_num_threads()}; minimum of {args.repeats} interleaved runs"
    )
    for name, (run, (tl_source, hf_source)) in tasks.items():
        seconds = {"TL": [], "HF": []}
        for _ in range(args.repeats):
            for label, model, source in (("TL", tl, tl_source), ("HF", hf, hf_source)):
                start = time.perf_counter()
                out = run(model, source)
                seconds[label].append(time.perf_counter() - start)
                if label == "TL":
                    theirs = out
                else:
                    ours = out
        diff = (ours - theirs).abs().max().item()
        relative = diff / max(theirs.abs().max().item(), 1e-12)
        tl_s, hf_s = min(seconds["TL"]), min(seconds["HF"])
        print(
            f"{name}: max abs diff {diff:.3g} (relative {relative:.3g}); TL {tl_s:.2f}s, HF {hf_s:.2f}s "
            f"(HF/TL {hf_s / tl_s:.2f})"
        )


def _crosscoders(fv):
    """The same random TopK crosscoder at TransformerLens's and the HF model's residual hooks."""
    g = torch.Generator().manual_seed(0)
    weights = {"W_enc": torch.randn(3, 576, 512, generator=g) / 24, "W_dec": torch.randn(512, 3, 576, generator=g) / 24}
    layers = (4, 8, 12)
    return (
        fv.CrosscoderSource([f"blocks.{L}.hook_resid_pre" for L in layers], **weights, k=16),
        fv.CrosscoderSource([f"model.layers.{L}:input" for L in layers], **weights, k=16),
    )


if __name__ == "__main__":
    main()
