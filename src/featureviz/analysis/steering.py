"""Steer, clamp or ablate one feature (SAE latent or MLP neuron) over a sweep of values, all in ONE batch.

Row s of the batch runs with value values[s]: one batched generate costs about one generate, not S of them.
Modes:
- "clamp": set the feature's activation to v. For an SAE latent (any source with steering="direction") the
  hook output is x + (v - a_f) d_f, i.e. decode(acts with a_f = v) + (x - decode(acts)): the SAE's error term
  is kept and every other feature is untouched; for a neuron (steering="coordinate"), hook_post[..., n] = v.
- "add": add v x the feature's decoder direction to the hook (a steering vector); for a neuron, add v to it.
What a source can do is its own `steering` attribute (FeatureSource.steered); a source that does not say
raises NotImplementedError instead of silently editing some coordinate.
- "ablate": clamp to 0 (the sweep collapses to the single value 0).
Positions: "all" (every position but BOS), "prompt" (prompt positions only), "generated" (new tokens only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..backends import as_backend
from ..devices import dtype_of, model_lock, to_numpy
from ..sources import FeatureSource, FeatureSpace, as_source
from ..validation import float32_values, positive_int, text
from .steering_target import feature_scale

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._types import ModelLike, SourceLike

MODES = ("clamp", "add", "ablate")
POSITIONS = ("all", "prompt", "generated")


def short_text(text: str, limit: int = 30) -> str:
    """repr() of `text`, cut to about `limit` characters: for one-line reprs."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def value_range(values) -> str:
    """'-8..8 (9 values)' or '0 (1 value)': a sweep in a repr."""
    values = np.asarray(values, dtype=float)
    if not values.size:
        return "no values"
    span = f"{values[0]:g}" if values.size == 1 else f"{values.min():g}..{values.max():g}"
    return f"{span} ({values.size} value{'s' if values.size != 1 else ''})"


@dataclass
class SteeringResult:
    prompt: str
    feature: int
    mode: str
    positions: str
    values: np.ndarray  # [S]
    texts: list[str]  # the generated continuation per value
    new_tokens: list[list[str]]  # its tokens per value
    baseline_text: str  # the unhooked continuation
    baseline_tokens: list[str]
    next_token_ids: np.ndarray  # [U] tokens shown in the next-token chart (union of each value's top tokens)
    next_token_strings: list[str]
    next_token_probs: np.ndarray  # [S, U] their probabilities at the last prompt position
    baseline_probs: np.ndarray  # [U] the same without the hook
    kl: np.ndarray  # [S] KL(steered || unhooked) of the full next-token distribution
    feature_space: FeatureSpace | None = None
    note: str = ""  # where a default sweep came from (the feature's own scale), else ""

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({"value": self.values, "kl": self.kl, "text": self.texts})

    def __repr__(self) -> str:
        kl = f", max KL {float(np.max(self.kl)):.3g}" if len(self.kl) else ""
        return (
            f"SteeringResult(feature {self.feature}, {self.mode} {value_range(self.values)}, "
            f"prompt={short_text(self.prompt)}{kl})"
        )


class SteeringHook:
    """A TransformerLens hook that applies one value per batch row at the chosen positions.

    With the KV cache the first call sees the whole prompt and later calls one new token each, which is how
    "prompt" and "generated" positions are told apart.
    """

    def __init__(self, source: FeatureSource, feature: int, mode: str, values: torch.Tensor, positions: str):
        self.source, self.feature, self.mode, self.positions = source, feature, mode, positions
        self.values = values
        self.calls = 0

    def __call__(self, acts: torch.Tensor, hook) -> torch.Tensor:
        is_prompt = self.calls == 0
        self.calls += 1
        if (self.positions == "prompt" and not is_prompt) or (self.positions == "generated" and is_prompt):
            return acts
        mask = torch.ones(acts.shape[1], dtype=torch.bool, device=acts.device)
        if is_prompt:
            mask[0] = False  # never touch BOS: its residual is an outlier every model relies on
        # values: [S] (one per row) or [S, P] (per prompt position, for exactness tests)
        value = self.values.to(acts.device, acts.dtype)
        value = value[:, None] if value.ndim == 1 else value[:, : acts.shape[1]]
        steered = self.source.steered(acts, self.feature, "add" if self.mode == "add" else "clamp", value)
        return torch.where(mask.view(1, -1, 1), steered, acts)


def steer(
    model: ModelLike,
    source: SourceLike,
    prompt: str,
    feature: int,
    values: tuple[float, float] | Sequence[float] | None = None,
    *,
    mode: str = "add",
    positions: str = "all",
    max_new_tokens: int = 32,
    do_sample: bool = False,
    temperature: float = 1.0,
    seed: int = 0,
    top_tokens: int = 5,
    steps: int = 9,
) -> SteeringResult:
    """Generate from `prompt` once per value in `values`, all rows in one batched generate (the prompt runs once:
    the next-token probabilities are the logits of generate's first step).

    Parameters
    ----------
    model : transformer_lens.HookedTransformer, fv.HFModel or (transformers model, tokenizer)
        The model (generation runs through featureviz's model interface, with the KV cache).
    source : FeatureSource or sae_lens SAE
        The feature source (an SAE latent is steered through its decoder direction, a neuron of any hook by
        setting or adding to its coordinate).
    prompt : str
        The prompt to continue.
    feature : int
        The feature to steer.
    values : sequence of float, optional
        The values to sweep, one generated row each. None sweeps `steps` values over -4x ... +4x the feature's
        typical activation (`feature_scale`), and the result's ``note`` says where that range came from.
    mode : {"add", "clamp", "ablate"}, default "add"
        Add value x the decoder direction, set the feature's activation to value, or set it to zero.
    positions : {"all", "prompt", "generated"}, default "all"
        The token positions the hook acts on.
    max_new_tokens : int, default 32
        Tokens generated per value.
    do_sample : bool, default False
        Sample instead of greedy decoding.
    temperature : float, default 1.0
        Sampling temperature (with do_sample).
    seed : int, default 0
        Sampling seed.
    top_tokens : int, default 5
        Most likely next tokens per value shown in the probability chart.
    steps : int, default 9
        Values in the default sweep (values=None).

    Returns
    -------
    SteeringResult
        The continuation per value and unsteered, next-token probabilities and the KL to the unhooked model.
    """
    backend = as_backend(model)
    source = as_source(source, backend, any_model=True)
    feature = source.check_feature(feature)
    source.check_steerable()
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if positions not in POSITIONS:
        raise ValueError(f"positions must be one of {POSITIONS}, got {positions!r}")
    if not isinstance(prompt, str) or not prompt:
        raise ValueError("prompt must be a non-empty string")
    text(prompt, "prompt")
    max_new_tokens = positive_int(max_new_tokens, "max_new_tokens")
    top_tokens = positive_int(top_tokens, "top_tokens")
    note = ""
    if values is None and mode != "ablate":
        # calibration is cached per model object: the TransformerLens model itself, else this interface
        scale = feature_scale(model if backend.kind == "transformer_lens" else backend, source, feature, prompt)
        values, note = scale.sweep(positive_int(steps, "steps")), scale.note
    values = np.zeros(1) if mode == "ablate" else float32_values(values)

    tokens = backend.tokenize(prompt)[None].to(backend.device)  # [1, P], BOS first
    if tokens.shape[1] + max_new_tokens > backend.n_ctx:
        raise ValueError(
            f"prompt ({tokens.shape[1]} tokens) + max_new_tokens ({max_new_tokens}) exceeds the "
            f"model's context of {backend.n_ctx}"
        )
    batch = tokens.expand(len(values) + 1, -1)  # last row: unhooked baseline (value ignored)
    row_values = torch.tensor(np.append(values, np.nan), dtype=torch.float32, device=backend.device)
    steering = SteeringHook(source, feature, mode, row_values[:-1], positions)

    def apply(acts):  # the baseline row passes through untouched
        return torch.cat([steering(acts[:-1], None), acts[-1:]], 0)

    def check_first(logits):  # generate's first step runs the whole prompt: its last position's logits are the
        if not torch.isfinite(logits).all():  # next-token distribution (no second pass over the prompt)
            raise FloatingPointError(
                f"steering with values up to {np.abs(values).max():g} overflowed the "
                f"model's {dtype_of(backend.model)} activations: use smaller values"
            )

    # The hooks live on the shared model only inside this lock: no other call sees them or leaves its own.
    with model_lock(backend.model):
        torch.manual_seed(seed)
        generated, logits = backend.generate(
            batch,
            source.steering_hooks(apply),
            max_new_tokens=max_new_tokens,
            do_sample=do_sample,
            temperature=temperature,
            check_first=check_first,
        )
    new = generated[:, tokens.shape[1] :]
    texts, new_tokens = zip(*[_decode(backend, row) for row in new])

    log_probs = logits.log_softmax(-1)
    probs = log_probs.exp()
    kl = (probs[:-1] * (log_probs[:-1] - log_probs[-1:])).sum(-1).clamp(min=0)
    shown = torch.unique(
        torch.cat([probs[:-1].topk(top_tokens, -1).indices.flatten(), probs[-1].topk(top_tokens).indices]), sorted=False
    )
    shown = shown[probs[:, shown].max(0).values.argsort(descending=True)]
    return SteeringResult(
        prompt=prompt,
        feature=feature,
        mode=mode,
        positions=positions,
        values=values,
        texts=list(texts[:-1]),
        new_tokens=list(new_tokens[:-1]),
        baseline_text=texts[-1],
        baseline_tokens=new_tokens[-1],
        next_token_ids=to_numpy(shown),
        next_token_strings=backend.to_str_tokens(shown),
        next_token_probs=to_numpy(probs[:-1, shown]),
        baseline_probs=to_numpy(probs[-1, shown]),
        kl=to_numpy(kl),
        feature_space=source.feature_space,
        note=note,
    )


def _decode(backend, row: torch.Tensor) -> tuple[str, list[str]]:
    """Text and tokens of one generated row, cut at the first end-of-sequence token."""
    eos = backend.tokenizer.eos_token_id
    ids = row.tolist()
    if eos is not None and eos in ids:
        ids = ids[: ids.index(eos)]
    return backend.tokenizer.decode(ids), backend.to_str_tokens(
        torch.tensor(ids, dtype=torch.long, device="cpu")
    ) if ids else []
