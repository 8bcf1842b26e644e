"""One interface over the things whose activations we visualise: SAE latents, MLP neurons, attention heads.

A FeatureSource names the hook it reads, turns that hook's activations into feature activations, and
knows each feature's decoder direction (what the feature writes back). Every widget takes any source.
Its `steering` says what steer() may do with a feature; its `feature_space` says what a feature index means,
so that widgets and comparisons refuse to mix indices of different sources.
"""

from __future__ import annotations

import hashlib
import operator
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .devices import to_numpy
from .validation import integer
from .validation import layer as check_layer

if TYPE_CHECKING:
    from sae_lens import SAE
    from transformer_lens import HookedTransformer

    from ._types import ModelLike

_BLOCK = re.compile(r"^blocks\.(\d+)\.(.+)$")
# Hooks whose activations live in the residual stream's basis (width d_model).
_RESIDUAL_HOOKS = ("hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out", "hook_mlp_out", "hook_embed")


@dataclass(frozen=True)
class FeatureSpace:
    """What a feature index means. Index 12 of one space is a different feature from index 12 of another."""

    hook_name: str
    kind: str  # "sae", "neurons", or a custom source's kind
    n_features: int
    fingerprint: str = ""  # a hash of a few decoder rows: tells two SAEs of equal width at one hook apart

    def mismatch(self, other: FeatureSpace | None) -> str | None:
        """None if `other` is the same space (or unknown), else what differs, in a few words."""
        if other is None:
            return None
        for name in ("kind", "hook_name", "n_features"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                return f"{name} {mine!r} vs {theirs!r}"
        if self.fingerprint and other.fingerprint and self.fingerprint != other.fingerprint:
            return "different decoder weights (another SAE or checkpoint of the same width)"
        return None


def check_same_space(spaces: dict, what: str) -> None:
    """Refuse, in one sentence, to compare features across different spaces ({label: FeatureSpace or None})."""
    known = [(label, space) for label, space in spaces.items() if space is not None]
    for label, space in known[1:]:
        difference = known[0][1].mismatch(space)
        if difference:
            raise ValueError(
                f"{what}: {known[0][0]} and {label} index different features ({difference}), "
                "so feature i of one is not feature i of the other"
            )


def split_hook(hook_name: str) -> tuple[int | None, str]:
    """(block, the rest) of a TransformerLens hook name: "blocks.3.hook_resid_pre" -> (3, "hook_resid_pre");
    a hook outside the blocks ("hook_embed", "ln_final.hook_normalized", an HF module path) -> (None, the name)."""
    match = _BLOCK.match(hook_name)
    return (int(match.group(1)), match.group(2)) if match else (None, hook_name)


def within_norm(acts: torch.Tensor, max_norm: float | None) -> torch.Tensor:
    """[...] bool of [..., d] activations: norm <= max_norm (all True when max_norm is None).

    Attention sinks (BOS, <|endoftext|>) reach residual norms 100x the rest: SAEs are trained and applied
    without them."""
    if max_norm is None:
        return torch.ones(acts.shape[:-1], dtype=torch.bool, device=acts.device)
    return acts.float().norm(dim=-1) <= max_norm


def fingerprint(directions: torch.Tensor) -> str:
    """A short hash of the first, middle and last decoder rows (rounded to float16, so device does not matter)."""
    rows = directions[[0, len(directions) // 2, len(directions) - 1]] if len(directions) else directions
    data = to_numpy(rows.to(torch.float16)).tobytes()
    return hashlib.sha1(data).hexdigest()[:16]


class FeatureSource(ABC):
    hook_name: str
    n_features: int
    kind: str  # "sae", "neurons" or "heads"
    # What steer() can do with a feature at the hook (see steered()). None: steering is not defined and raises.
    # A custom source whose decoder_directions() live in the hook's space (a probe, an SAE) sets "direction".
    steering: str | None = None
    # Leading tokens after BOS that analyses leave out by default (position artifacts); see resolve_drop_first.
    drop_first: int = 0

    @abstractmethod
    def encode(self, hook_acts: torch.Tensor) -> torch.Tensor:
        """[..., d_hook] hook activations -> [..., n_features] feature activations."""

    @abstractmethod
    def decoder_directions(self) -> torch.Tensor:
        """[n_features, d_out]: the direction each feature writes (into the hook's space for SAEs,
        into the residual stream for neurons)."""

    def residual_directions(self, model) -> torch.Tensor | None:
        """[n_features, d_model]: what each feature adds to the residual stream (None if not expressible)."""
        from .backends import as_backend

        to_residual = as_backend(model).residual_map(self.output_hook)
        if to_residual is None:
            return None
        directions = self.decoder_directions()
        return directions if isinstance(to_residual, str) else directions @ to_residual.to(directions)

    @property
    def output_hook(self) -> str:
        """The hook the decoder directions write to (the hook read, except for transcoders)."""
        return self.hook_name

    @property
    def reads(self) -> str | tuple[str, ...]:
        """What a forward pass collects for encode(): the hook name, or a tuple of hooks read in one pass (then
        encode() takes them stacked, [..., n_hooks, d]: a crosscoder)."""
        return self.hook_name

    @property
    def layer(self) -> int | None:
        """The block the hook lives in (None for hooks outside the blocks)."""
        return split_hook(self.hook_name)[0]

    @property
    def stop_at_layer(self) -> int | None:
        """Run blocks up to and including the hook's block, and no further: the stop of a hooked pass in which
        the hook must fire (circuits). Passes that only read the hook use analysis._forward.run_to_hook, which
        stops one block earlier for blocks.L.hook_resid_pre."""
        return None if self.layer is None else self.layer + 1

    @property
    def feature_space(self) -> FeatureSpace:
        try:
            mark = fingerprint(self.decoder_directions())
        except (NotImplementedError, TypeError, IndexError, RuntimeError):
            mark = ""
        return FeatureSpace(self.hook_name, self.kind, int(self.n_features), mark)

    def steered(self, acts: torch.Tensor, feature: int, mode: str, value: torch.Tensor) -> torch.Tensor:
        """[..., d_hook] hook activations with one feature moved; `value` broadcasts against acts[..., 0].

        mode "add": "direction" adds value x the feature's decoder direction, "coordinate" adds value to unit
        `feature` of the hook. mode "clamp" sets the feature to value: for "direction" the feature's share
        a_f d_f becomes value x d_f (everything else, the SAE's error term included, is kept).
        """
        if self.steering == "coordinate":
            out = acts.clone()
            out[..., feature] = out[..., feature] + value if mode == "add" else value.expand_as(out[..., feature])
            return out
        if self.steering == "direction":
            direction = self.decoder_directions()[feature].to(acts.device, acts.dtype)
            shift = value if mode == "add" else value - self.encode(acts)[..., feature].to(acts.dtype)
            return acts + shift[..., None] * direction
        self.check_steerable()
        return acts

    def steering_hooks(self, apply) -> dict:
        """{hook name: function} for a steered forward: `apply` (which calls steered()) at the hook it edits."""
        return {self.hook_name: apply}

    def check_steerable(self) -> None:
        if self.steering not in ("direction", "coordinate"):
            raise NotImplementedError(
                f"{type(self).__name__} does not say how to steer its features (steering={self.steering!r}): set "
                "steering = 'direction' if decoder_directions() live in the hook's space, or 'coordinate' if "
                "feature i is unit i of the hook"
            )

    def feature_name(self, feature: int) -> str:
        return f"{'L' if self.kind == 'sae' else 'N'}{feature}"

    def check_feature(self, feature, name: str = "feature") -> int:
        """A valid feature index as int, or a clear error naming the valid range."""
        return check_feature_index(feature, self.n_features, name)

    def check_model(self, model) -> None:
        """Fail early, with one sentence, if this source does not fit the model."""
        from .backends import as_backend

        backend = as_backend(model)
        backend.check_hook(self.hook_name)
        expected = self.d_in
        actual = backend.hook_width(self.hook_name)
        if expected is not None and actual is not None and expected != actual:
            raise ValueError(
                f"this {self.kind} source expects d_in={expected} at {self.hook_name}, "
                f"but {backend.name} has width {actual} there: the SAE was trained for another model"
            )

    @property
    def d_in(self) -> int | None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(hook_name={self.hook_name!r}, n_features={self.n_features})"


class SAESource(FeatureSource):
    """The latents of any sae-lens SAE.

    max_input_norm: tokens whose hook activation norm exceeds it get all-zero latents. Attention sinks (BOS,
    `<|endoftext|>`, chat markers) can have residual norms 100x the rest; an SAE trained without them encodes
    them as noise. Defaults to the SAE's `cfg.metadata.max_input_norm` (set on featureviz's shipped SAEs), else off.
    drop_first: how many tokens after BOS activations, rankings, dashboards and top contexts leave out by
    default, for models whose first positions carry artifact latents. Defaults to the SAE's
    `cfg.metadata.drop_first_positions` (1 on featureviz's shipped SAE: see its model card), else 0.
    """

    kind = "sae"
    steering = "direction"

    def __init__(self, sae: SAE, max_input_norm: float | None = None, drop_first: int | None = None):
        self.sae = sae
        self.hook_name = sae.cfg.metadata.hook_name
        self.n_features = int(sae.cfg.d_sae)
        if max_input_norm is None:
            max_input_norm = getattr(sae.cfg.metadata, "max_input_norm", None)
        self.max_input_norm = None if max_input_norm is None else float(max_input_norm)
        if drop_first is None:
            drop_first = getattr(sae.cfg.metadata, "drop_first_positions", None) or 0
        self.drop_first = integer(drop_first, "drop_first", minimum=0)

    @property
    def d_in(self) -> int:
        return int(self.sae.cfg.d_in)

    def encode(self, hook_acts: torch.Tensor) -> torch.Tensor:
        acts = self.sae.encode(hook_acts.to(self.sae.device, self.sae.dtype)).to(hook_acts.device)
        if self.max_input_norm is None:
            return acts
        return acts.masked_fill(~self.kept_tokens(hook_acts).unsqueeze(-1), 0.0)

    def kept_tokens(self, hook_acts: torch.Tensor) -> torch.Tensor:
        """[...] bool: the tokens this SAE encodes (norm within max_input_norm)."""
        return within_norm(hook_acts, self.max_input_norm)

    def decoder_directions(self) -> torch.Tensor:
        return self.sae.W_dec.detach()


class TranscoderSource(SAESource):
    """The latents of an sae-lens ``Transcoder`` (or SkipTranscoder, JumpReLUTranscoder): read from its input
    hook (``cfg.metadata.hook_name``, e.g. the MLP's input), written to its output hook
    (``cfg.metadata.hook_name_out``, e.g. the MLP's output). Decoder directions live in the output space, so
    steering acts on the output hook: "add" adds value x W_dec[f] there; "clamp" adds (value - a_f) x W_dec[f],
    with a_f the latent read from the input hook in the same forward pass (the model's own output, the
    transcoder's error included, is kept, as for SAEs).

    Parameters
    ----------
    transcoder : sae_lens Transcoder
        The transcoder.
    hook_name_out : str, optional
        The output hook, if its cfg has none (e.g. ``model.layers.8.mlp`` for an HF model).
    max_input_norm, drop_first
        As for `SAESource`.
    """

    kind = "transcoder"

    def __init__(
        self,
        transcoder,
        hook_name_out: str | None = None,
        max_input_norm: float | None = None,
        drop_first: int | None = None,
    ):
        super().__init__(transcoder, max_input_norm=max_input_norm, drop_first=drop_first)
        self.hook_name_out = hook_name_out or transcoder.cfg.metadata.hook_name_out
        if not isinstance(self.hook_name_out, str) or not self.hook_name_out:
            raise ValueError(
                "this transcoder's cfg names no output hook (cfg.metadata.hook_name_out): pass "
                "TranscoderSource(transcoder, hook_name_out=...)"
            )
        self._input: torch.Tensor | None = None  # the input hook's activations of the current steered step

    @property
    def d_out(self) -> int:
        return int(self.sae.cfg.d_out)

    def check_model(self, model) -> None:
        from .backends import as_backend

        super().check_model(model)
        backend = as_backend(model)
        backend.check_hook(self.hook_name_out)
        width = backend.hook_width(self.hook_name_out)
        if width is not None and width != self.d_out:
            raise ValueError(
                f"this transcoder writes d_out={self.d_out} at {self.hook_name_out}, but {backend.name} "
                f"has width {width} there: it was trained for another model"
            )

    @property
    def output_hook(self) -> str:
        return self.hook_name_out

    def steering_hooks(self, apply) -> dict:
        def record(acts):  # runs before the output hook in every forward step: clamp reads the latent from it
            self._input = acts
            return acts

        return {self.hook_name: record, self.hook_name_out: apply}

    def steered(self, acts: torch.Tensor, feature: int, mode: str, value: torch.Tensor) -> torch.Tensor:
        direction = self.decoder_directions()[feature].to(acts.device, acts.dtype)
        if mode == "add":
            return acts + value[..., None] * direction
        if self._input is None or self._input.shape[1] != acts.shape[1]:
            raise RuntimeError(
                f"clamping a transcoder latent needs {self.hook_name} to run before "
                f"{self.hook_name_out} in the same forward pass"
            )
        # the steered rows come first in the batch (steer's unhooked baseline row is last)
        latent = self.encode(self._input[: acts.shape[0]])[..., feature].to(acts.dtype)
        return acts + (value - latent)[..., None] * direction

    def __repr__(self) -> str:
        return (
            f"TranscoderSource(hook_name={self.hook_name!r}, hook_name_out={self.hook_name_out!r}, "
            f"n_features={self.n_features})"
        )


class NeuronSource(FeatureSource):
    """The post-activation neurons of one MLP layer (`blocks.L.mlp.hook_post`)."""

    kind = "neurons"
    steering = "coordinate"  # the hook is blocks.L.mlp.hook_post itself: neuron i is unit i

    def __init__(self, model: HookedTransformer, layer: int):
        layer = check_layer(layer, model.cfg.n_layers, model.cfg.model_name)
        if model.cfg.d_mlp is None:
            raise ValueError(f"{model.cfg.model_name} has no MLP layers (attention-only model)")
        self.hook_name = f"blocks.{layer}.mlp.hook_post"
        self.n_features = int(model.cfg.d_mlp)
        self._W_out = model.blocks[layer].mlp.W_out

    def encode(self, hook_acts: torch.Tensor) -> torch.Tensor:
        return hook_acts

    def decoder_directions(self) -> torch.Tensor:
        return self._W_out.detach()

    def residual_directions(self, model) -> torch.Tensor:
        return self._W_out.detach()


class HookNeuronSource(FeatureSource):
    """The units of any hook as features: feature i is coordinate i of the hook's last dimension (issue 20).

    Works on any model featureviz takes (TransformerLens hooks, Hugging Face module paths such as
    ``model.layers.1.self_attn.q_proj``: see `fv.hooks`). A hook with more than one trailing dimension
    (TransformerLens's per-head ``hook_q`` [pos, head, d_head]) is flattened: feature ``head * d_head + i``.
    Steering sets or adds to that coordinate (one trailing dimension only); there is no decoder direction.

    Parameters
    ----------
    model : HookedTransformer, fv.HFModel or (transformers model, tokenizer)
        The model; one short forward pass finds the hook's width.
    hook_name : str
        The hook (``fv.hooks(model, layer=..., kind=...)`` lists them).
    """

    kind = "neurons"

    def __init__(self, model: ModelLike, hook_name: str):
        from .backends import as_backend

        backend = as_backend(model)
        backend.check_hook(hook_name)
        probe = backend.run_to_hook(backend.tokenize("a")[None].to(backend.device), hook_name)
        if probe.ndim < 3:
            raise ValueError(
                f"hook {hook_name!r} gives activations of shape {tuple(probe.shape)}: a neuron source "
                "needs [batch, pos, ...units]"
            )
        self.hook_name = hook_name
        self.unit_shape = tuple(probe.shape[2:])
        self.n_features = int(torch.Size(self.unit_shape).numel())
        self.steering = "coordinate" if len(self.unit_shape) == 1 else None

    def encode(self, hook_acts: torch.Tensor) -> torch.Tensor:
        trailing = len(self.unit_shape)
        return hook_acts if trailing == 1 else hook_acts.flatten(-trailing)

    def decoder_directions(self) -> torch.Tensor:
        raise NotImplementedError(f"the units of {self.hook_name} have no decoder directions")

    def residual_directions(self, model) -> torch.Tensor | None:
        """Unit i of a residual hook is basis direction i; unit i of a linear map's input writes its column i."""
        from .backends import as_backend

        backend = as_backend(model)
        to_residual = backend.residual_map(self.hook_name) if len(self.unit_shape) == 1 else None
        if isinstance(to_residual, str):
            return torch.eye(self.n_features, device=backend.device)
        return to_residual


class HeadSource(FeatureSource):
    """The attention heads of one layer, one feature per head (`blocks.L.attn.hook_z` through W_O).

    A head's activation at a token is the norm of what it writes to the residual stream there,
    ||z_h @ W_O[h]||. A head writes a different direction at every token, so it has no fixed residual
    direction: logit effects and steering do not apply; activations, heatmaps, dashboards and circuits do.
    """

    kind = "heads"

    def __init__(self, model: HookedTransformer, layer: int):
        layer = check_layer(layer, model.cfg.n_layers, model.cfg.model_name)
        self.hook_name = f"blocks.{layer}.attn.hook_z"
        self.n_features = int(model.cfg.n_heads)
        self._W_O = model.blocks[layer].attn.W_O  # [n_heads, d_head, d_model]

    def head_outputs(self, z: torch.Tensor) -> torch.Tensor:
        """[..., n_heads, d_head] hook_z -> [..., n_heads, d_model]: what each head writes to the residual."""
        return torch.einsum("...hd,hdm->...hm", z, self._W_O.to(z.device, z.dtype))

    def encode(self, hook_acts: torch.Tensor) -> torch.Tensor:
        return self.head_outputs(hook_acts).norm(dim=-1)

    def decoder_directions(self) -> torch.Tensor:
        """[n_heads, d_head * d_model]: each head's output weights W_O[h], flattened. They compare heads
        (nearest heads, checkpoint matching); what a head writes at a token is z_h @ W_O[h]."""
        return self._W_O.detach().reshape(self.n_features, -1)

    def residual_directions(self, model) -> None:
        return None

    def feature_name(self, feature: int) -> str:
        return f"H{self.layer}.{feature}"


def resolve_drop_first(drop_first, source: FeatureSource) -> int:
    """How many tokens after BOS to leave out: `drop_first` if given, else the source's default.

    BOS (position 0) is always left out. On the embedded SmolLM2 the token right after it also carries
    artifact latents (fired at 2-8x their maximum anywhere else in the text), so its shipped SAE sets 1.
    """
    return source.drop_first if drop_first is None else integer(drop_first, "drop_first", minimum=0)


def check_feature_index(feature, n_features: int, name: str = "feature") -> int:
    """`feature` as an int in 0..n_features-1, or a TypeError / IndexError that names the valid range."""
    try:
        index = operator.index(feature)
    except TypeError:
        index = None
    if index is None or isinstance(feature, bool):
        raise TypeError(f"{name} must be an integer feature index, got {type(feature).__name__}")
    if not 0 <= index < n_features:
        raise IndexError(f"{name}={index} is out of range: valid features are 0..{n_features - 1}")
    return index


def wrap_source(obj) -> FeatureSource | None:
    """`obj` as a FeatureSource if it is one or a bare sae-lens SAE (a Transcoder in TranscoderSource, any other in
    SAESource), else None.

    The one type dispatch shared by `as_source` (analyses) and `loading.load_sae` (which adds hub ids and paths).
    """
    if isinstance(obj, FeatureSource):
        return obj
    from sae_lens import SAE  # only when needed: sae-lens is slow to import
    from sae_lens.saes.transcoder import Transcoder

    if isinstance(obj, Transcoder):
        return TranscoderSource(obj)
    return SAESource(obj) if isinstance(obj, SAE) else None


def as_source(source, model, any_model: bool = False) -> FeatureSource:
    """A FeatureSource from a FeatureSource or a bare sae-lens SAE, checked against the model.

    any_model: the caller runs through the model interface (featureviz.backends), so a Hugging Face model is
    fine; otherwise (feature circuits) the model must be a TransformerLens one."""
    from .backends import as_backend

    backend = as_backend(model)
    if backend.kind != "transformer_lens" and not any_model:
        raise TypeError(
            "feature circuits take TransformerLens models only (they differentiate through its "
            "per-head attention weights and folded norms; every other analysis also takes Hugging Face "
            f"models), got {backend!r}"
        )
    wrapped = wrap_source(source)
    if wrapped is None:
        raise TypeError(f"source must be a FeatureSource or an sae_lens.SAE, got {type(source).__name__}")
    wrapped.check_model(backend)
    return wrapped


def _hook_width(model, hook_name: str) -> int | None:
    """The last dimension of a hook's activations, from the config (no forward pass)."""
    cfg = model.cfg
    leaf = hook_name.split(".")[-1]
    if (
        hook_name.startswith("blocks.")
        and ".mlp." in hook_name
        and leaf in ("hook_post", "hook_pre", "hook_pre_linear")
    ):
        return cfg.d_mlp
    if leaf in _RESIDUAL_HOOKS:
        return cfg.d_model
    return None
