"""Small models and sources built in code, shared by the tests."""

import base64
import sys
from pathlib import Path

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

import featureviz
from featureviz.sources import FeatureSource
from featureviz.widgets.arrays import decode_matrix

# Untrusted text for hardening tests (Python, export and browser): markup payloads, control characters, emoji,
# right-to-left text with a U+202E override, and a 10,000-character word.
NASTY = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(2)</script>",
    '"><svg onload=alert(3)>',
    "tab\there\x00null\x1bescape\r\n",
    "emoji 😀🎉👩‍👩‍👧",
    "مرحبا بالعالم RTL ‮reversed",
    "x" * 10_000,
]


def make_tiny_model(tokenizer, device="cpu", dtype=torch.float32, seed=0, **config):
    """A 2-layer random HookedTransformer with the embedded model's tokenizer, on `device` in `dtype`;
    `config` overrides HookedTransformerConfig fields (n_layers, normalization_type, ...)."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    torch.manual_seed(seed)
    defaults = dict(
        n_layers=2,
        d_model=32,
        n_ctx=64,
        d_head=8,
        n_heads=4,
        d_mlp=64,
        d_vocab=len(tokenizer),
        act_fn="gelu",
        normalization_type="LN",
        model_name="tiny-random",
        default_prepend_bos=True,
        device=str(device),
        dtype=dtype,
    )
    return HookedTransformer(HookedTransformerConfig(**{**defaults, **config}), tokenizer=tokenizer).eval()


def tiny_llama_config(tokenizer, **config):
    """The config of a 2-layer random Llama (transformers) for the embedded model's tokenizer."""
    from transformers import LlamaConfig

    defaults = dict(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return LlamaConfig(**{**defaults, **config})


def make_sae(d_in=32, d_sae=96, hook_name="blocks.1.hook_resid_pre", seed=0):
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    torch.manual_seed(seed)
    sae = StandardSAE(StandardSAEConfig(d_in=d_in, d_sae=d_sae, metadata=SAEMetadata(hook_name=hook_name)))
    with torch.no_grad():
        sae.W_enc.normal_(0, 0.5)
        sae.W_dec.normal_(0, 0.2)
        sae.b_enc.fill_(-0.1)
    return sae


class PlantedSource(FeatureSource):
    """Feature 0 is on at every token (always-on), feature 1 never fires, feature 2 fires on some tokens."""

    kind = "sae"
    hook_name = "blocks.0.hook_resid_pre"
    n_features = 3

    def encode(self, hook_acts):
        out = torch.zeros(*hook_acts.shape[:-1], 3)
        out[..., 0] = 1.0
        out[..., 2] = hook_acts[..., 0].relu()
        return out

    def decoder_directions(self):
        return torch.eye(3, 32)


def synthetic_acts(n_prompts, per_prompt, n_features, density, seed=0):
    """Random activations (a `density` fraction non-zero, values in [0, 5)) with tokens " p{prompt}t{pos}"."""
    import numpy as np

    from featureviz.analysis.activations import ActivationResult

    g = torch.Generator().manual_seed(seed)
    values = torch.rand(n_prompts * per_prompt, n_features, generator=g)
    values = torch.where(torch.rand(values.shape, generator=g) < density, values * 5, torch.zeros(()))
    return ActivationResult(
        prompts=[f"prompt {p}" for p in range(n_prompts)],
        str_tokens=[[f" p{p}t{i}" for i in range(per_prompt)] for p in range(n_prompts)],
        token_ids=[torch.arange(per_prompt) for _ in range(n_prompts)],
        values=values,
        offsets=np.arange(n_prompts + 1) * per_prompt,
        hook_name="synthetic",
        source_kind="sae",
    )


class ProbeSource(FeatureSource):
    """A custom source: linear read-outs W at a residual hook, whose decoder directions are W's rows."""

    kind = "probe"

    def __init__(self, W, hook_name="blocks.1.hook_resid_pre", steering="direction"):
        self.W, self.hook_name, self.n_features, self.steering = W, hook_name, len(W), steering

    def encode(self, hook_acts):
        return hook_acts @ self.W.to(hook_acts.device, hook_acts.dtype).T

    def decoder_directions(self):
        return self.W


# Devices a test can run on: the CPU, and a GPU where there is one.
DEVICES = (
    ["cpu"]
    + (["cuda"] if torch.cuda.is_available() else [])
    + (["mps"] if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else [])
)
SRC = Path(featureviz.__file__).resolve().parent
FACTORIES = {
    "tensor",
    "as_tensor",
    "zeros",
    "ones",
    "full",
    "empty",
    "arange",
    "rand",
    "randn",
    "randint",
    "linspace",
    "randperm",
}


class DeviceAudit(TorchFunctionMode):
    """Records where featureviz makes a tensor without saying its device (it would land on the CPU beside CUDA
    activations) or calls .numpy() itself (which fails on a device tensor) instead of devices.to_numpy.
    On a CPU-only machine this is what checks the device code path."""

    def __init__(self):
        super().__init__()
        self.problems = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        frame = sys._getframe(1)
        where = Path(frame.f_code.co_filename)
        if SRC in where.parents and where.name != "devices.py":
            name = getattr(func, "__name__", "")
            if (
                name in FACTORIES and getattr(func, "__module__", None) == "torch" and "device" not in kwargs
            ) or name == "numpy":
                self.problems.add(f"{where.relative_to(SRC)}:{frame.f_lineno} {name}")
        return func(*args, **kwargs)


def offline_page(browser_context):
    """A new page that blocks every request but file:, blob: and data: URLs and records what it blocked,
    dialogs (alert() from injected markup) and page errors: (page, requests, dialogs, errors)."""
    page = browser_context.new_page()
    requests, dialogs, errors = [], [], []
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(("file:", "blob:", "data:"))
            else (requests.append(route.request.url), route.abort())
        ),
    )
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, requests, dialogs, errors


def assert_within_half_step(payload, values):
    """decode_matrix(payload) equals values exactly, or within scale / 2 per column for dense_u8."""
    decoded = decode_matrix(payload)
    if payload["format"] != "dense_u8":
        np.testing.assert_array_equal(decoded, values)
        return
    scale = np.frombuffer(payload["scale"], dtype="<f4").astype(np.float64)
    err = np.abs(decoded.astype(np.float64) - values)
    # scale / 2, plus the float32 rounding of the decoded value itself (~1e-5 of a step here).
    assert (err <= scale / 2 + np.abs(values) * 2.0**-24).all(), (err / np.where(scale > 0, scale, 1)).max()
    assert (decoded[values == 0] == 0).all(), "zeros must stay exactly zero"


def make_topk_sae(d_in=32, d_sae=96, k=4, hook_name="blocks.1.hook_resid_pre", seed=0):
    """A TopK SAE (sae-lens): k of d_sae latents per token, so its activations are stored sparse."""
    from sae_lens import TopKSAE, TopKSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    torch.manual_seed(seed)
    sae = TopKSAE(TopKSAEConfig(d_in=d_in, d_sae=d_sae, k=k, metadata=SAEMetadata(hook_name=hook_name)))
    with torch.no_grad():
        sae.W_enc.normal_(0, 0.5)
        sae.W_dec.normal_(0, 0.2)
    return sae


def wire_state(widget) -> tuple[dict, list[bytes]]:
    """A widget's state as it crosses the wire: the JSON part and the binary buffers split out of it (through
    ipywidgets' public embed helper, as export_html reads it)."""
    from ipywidgets.embed import dependency_state

    embedded = dependency_state([widget], drop_defaults=False)[widget.model_id]
    return embedded["state"], [base64.b64decode(b["data"]) for b in embedded.get("buffers", [])]
