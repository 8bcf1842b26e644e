"""Is a feature a sensible thing to steer? Check the evidence before a tutorial (or a user) moves it.

A feature picked by a contrast table can still be a poor steering target: it may never fire on the prompt
(so ablating it changes nothing), its strongest contexts may be punctuation or the first tokens of a text
(a format or position feature, not a concept), and a sweep far below its own scale does nothing visible.
`check_steering_target` reads three things and says, in sentences, what it found:

1. the feature's largest activation on the prompt (must be > 0: there is something to ablate);
2. its top contexts in an evidence corpus (`DashboardData`, e.g. held-out text): the share whose peak token is
   punctuation / whitespace, and the share whose peak sits on one of the first tokens of a context;
3. its typical activation there (the median of its top-context peaks), which sets the sweep: multiples of it.

`feature_scale` is the light version every default sweep uses (`steer` and `Interpolation` without `values`):
a feature's typical activation on a small calibration set (the shipped emotion prompts unless given), so a
sweep is never far below the feature's own scale, and a sentence says where the range came from.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..datasets import emotion_prompts
from ..sources import as_source
from .activations import activations
from .contrast import prompt_aggregates
from .dashboard import DashboardData

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from .._types import ModelLike, SourceLike

DEFAULT_MULTIPLE = 4.0  # default sweeps run -4x ... +4x a feature's typical activation (issue 16)

SWEEP_MULTIPLES = (-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0)  # of the typical activation
EARLY_POSITIONS = 3  # a peak on one of the first 3 tokens after BOS reads as a position feature (model card)


@dataclass
class SteeringTarget:
    feature: int
    accepted: bool
    reasons: list[str]  # one sentence per check, in order; the failing ones start with "REJECT"
    prompt_max: float  # the feature's largest activation on the prompt
    typical: float  # median of its top-context peaks in the evidence corpus
    punctuation_share: float  # share of top contexts peaking on punctuation / whitespace
    position_share: float  # share of top contexts peaking on one of the first EARLY_POSITIONS tokens
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))  # suggested sweep (multiples of typical)

    def __str__(self) -> str:
        verdict = "a sensible steering target" if self.accepted else "not a good steering target"
        return "\n".join([f"feature {self.feature}: {verdict}"] + [f"  - {r}" for r in self.reasons])

    def __repr__(self) -> str:
        return (
            f"SteeringTarget(feature {self.feature}: {'accepted' if self.accepted else 'rejected'}, "
            f"typical {self.typical:.3g}, prompt max {self.prompt_max:.3g})"
        )


def check_steering_target(
    model: ModelLike,
    source: SourceLike,
    feature: int,
    prompt: str,
    evidence: DashboardData,
    *,
    max_punctuation: float = 0.5,
    max_position: float = 0.5,
    multiples: Sequence[float] = SWEEP_MULTIPLES,
) -> SteeringTarget:
    """Check one feature before steering it, against `prompt` (where it will be ablated) and `evidence`.

    Parameters
    ----------
    model : transformer_lens.HookedTransformer
        The model.
    source : FeatureSource or sae_lens SAE
        The feature source.
    feature : int
        The feature to check.
    prompt : str
        The prompt it will be steered on: it should fire there.
    evidence : DashboardData
        Dashboards over held-out text: its top contexts should peak on words, not punctuation or position.
    max_punctuation : float, default 0.5
        Largest share of top contexts peaking on punctuation or whitespace that passes.
    max_position : float, default 0.5
        Largest share of top contexts peaking on one of the first tokens that passes.
    multiples : sequence of float, default (-4, -2, -1, 0, 1, 2, 4)
        The suggested sweep, in multiples of the feature's typical activation.

    Returns
    -------
    SteeringTarget
        Accepted or not, a sentence per check (``print`` it), and the suggested ``values``.
    """
    source = as_source(source, model, any_model=True)
    feature = source.check_feature(feature)
    if not isinstance(evidence, DashboardData):
        raise TypeError(
            f"evidence must be DashboardData (fv.dashboard_data over held-out text), got {type(evidence).__name__}"
        )
    row = evidence.row(feature)
    acts = activations(model, source, prompt, drop_first=evidence.drop_first, progress=False)
    column = acts.columns([feature])[:, 0]
    prompt_max = float(column.max())
    reasons, accepted = [], True

    if prompt_max > 0:
        token = acts.str_tokens[0][int(column.argmax())]
        reasons.append(f"fires on the prompt: up to {prompt_max:.1f} on {token!r}, so ablating it removes something")
    else:
        accepted = False
        reasons.append("REJECT: never fires on the prompt, so ablating it there changes nothing")

    peaks = evidence.top_values[row][np.isfinite(evidence.top_values[row])]
    if not len(peaks):
        return SteeringTarget(
            feature, False, reasons + ["REJECT: never fires in the evidence corpus"], prompt_max, 0.0, 0.0, 0.0
        )
    punctuation, early = _peak_kinds(evidence, row)
    punctuation_share, position_share = float(punctuation.mean()), float(early.mean())
    for share, limit, bad, good in (
        (
            punctuation_share,
            max_punctuation,
            "peak on punctuation or whitespace (a format feature, not a concept)",
            "peak on a word, not punctuation",
        ),
        (
            position_share,
            max_position,
            f"peak on one of the first {EARLY_POSITIONS} tokens of a text (a position feature)",
            f"peak past the first {EARLY_POSITIONS} tokens",
        ),
    ):
        accepted &= share <= limit
        reasons.append(
            f"REJECT: {share:.0%} of its top contexts {bad}"
            if share > limit
            else f"{1 - share:.0%} of its top contexts {good}"
        )

    typical = float(np.median(peaks))
    values = typical * np.asarray(multiples, dtype=float)
    reasons.append(
        f"typical activation {typical:.1f} (median of its {len(peaks)} top-context peaks), so the sweep "
        f"runs {values.min():+.0f} ... {values.max():+.0f} ({min(multiples):g}x to {max(multiples):g}x)"
    )
    return SteeringTarget(feature, accepted, reasons, prompt_max, typical, punctuation_share, position_share, values)


def pick_steering_target(
    model: ModelLike, source: SourceLike, candidates: Iterable[int], prompt: str, evidence: DashboardData, **options
) -> tuple[SteeringTarget, list[SteeringTarget]]:
    """The first of `candidates` that passes every check of `check_steering_target`.

    Parameters
    ----------
    model : transformer_lens.HookedTransformer
        The model.
    source : FeatureSource or sae_lens SAE
        The feature source.
    candidates : sequence of int
        Features, best first (e.g. a contrast table's top features).
    prompt : str
        As in `check_steering_target`.
    evidence : DashboardData
        As in `check_steering_target`.
    **options
        Passed to `check_steering_target` (max_punctuation, max_position, multiples).

    Returns
    -------
    (SteeringTarget, list of SteeringTarget)
        The first candidate that passes, and the checks of every candidate tried (print them to see why the
        others were passed over).

    Raises
    ------
    ValueError
        When no candidate passes; the message holds every check.
    """
    tried = []
    for feature in candidates:
        target = check_steering_target(model, source, int(feature), prompt, evidence, **options)
        tried.append(target)
        if target.accepted:
            return target, tried
    raise ValueError(
        f"none of the {len(tried)} candidates is a sensible steering target on this prompt:\n"
        + "\n".join(str(t) for t in tried)
    )


def _peak_kinds(evidence: DashboardData, row: int) -> tuple[np.ndarray, np.ndarray]:
    """Per top context: does it peak on punctuation / whitespace, and on one of the first tokens of its text?"""
    punctuation, early = [], []
    for ids in evidence.top_tokens[row][np.isfinite(evidence.top_values[row])]:
        kept = ids[ids >= 0]
        center = int(np.count_nonzero(ids[: evidence.window_before] >= 0))  # tokens shown before the peak
        peak = evidence.token_strings[int(kept[center])]
        punctuation.append(not any(ch.isalnum() for ch in peak))
        # The window starts at the first token after BOS, so a short left side means the peak sits early.
        early.append(center < evidence.window_before and center + 1 <= EARLY_POSITIONS)
    return np.array(punctuation), np.array(early)


@dataclass
class FeatureScale:
    """How strongly a feature usually fires, which sets a default steering sweep."""

    feature: int
    typical: float  # median, over the calibration texts where it fires, of its largest activation there
    prompt_max: float  # its largest activation on the prompt
    note: str  # where `typical` came from, and whether the feature fires on the prompt

    def sweep(self, steps: int = 21, multiple: float = DEFAULT_MULTIPLE) -> np.ndarray:
        return np.linspace(-multiple * self.typical, multiple * self.typical, steps)

    def __repr__(self) -> str:
        return f"FeatureScale(feature {self.feature}: typical {self.typical:.3g}, prompt max {self.prompt_max:.3g})"


def feature_scale(
    model: ModelLike, source: SourceLike, feature: int, prompt: str, *, texts: Sequence[str] | None = None
) -> FeatureScale:
    """A feature's typical activation on `texts`, which sets the default steering sweep.

    A feature that never fires there takes the typical activation of the source's features instead, and the
    note says so; the note also says when the feature never fires on `prompt` (ablating it there does nothing).

    Parameters
    ----------
    model : transformer_lens.HookedTransformer, fv.HFModel or (transformers model, tokenizer)
        The model.
    source : FeatureSource or sae_lens SAE
        The feature source.
    feature : int
        The feature.
    prompt : str
        The prompt it will be steered on.
    texts : list of str, optional
        Calibration texts; default: the shipped emotion prompts, all groups.

    Returns
    -------
    FeatureScale
        ``typical``, ``prompt_max``, ``note`` and ``sweep(steps)``.
    """
    source = as_source(source, model, any_model=True)
    feature = source.check_feature(feature)
    maxima = _calibration_maxima(model, source, texts)  # [n_texts, n_features]
    fired = maxima[:, feature][maxima[:, feature] > 0]
    if len(fired):
        typical = float(np.median(fired))
        note = (
            f"feature {feature}'s typical activation is {typical:.3g} (median peak on the {len(fired)} of "
            f"{len(maxima)} calibration texts where it fires)"
        )
    else:
        peaks = maxima.max(0)
        typical = float(np.median(peaks[peaks > 0])) if (peaks > 0).any() else 1.0
        note = (
            f"feature {feature} never fires on the {len(maxima)} calibration texts, so the sweep uses the "
            f"typical activation of this source's features, {typical:.3g}"
        )
    prompt_max = float(activations(model, source, prompt, progress=False).columns([feature]).max())
    if prompt_max <= 0:
        note += "; it never fires on this prompt, so clamping or ablating it there changes nothing"
    else:
        note += f"; on this prompt it reaches {prompt_max:.3g}"
    return FeatureScale(feature, typical, prompt_max, note)


# source -> (model, texts, [n_texts, n_features] per-text maxima): one calibration pass per source and model
_CALIBRATION: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _calibration_maxima(model, source, texts) -> np.ndarray:
    texts = tuple(texts) if texts is not None else tuple(t for group in emotion_prompts().values() for t in group)
    cached = _CALIBRATION.get(source)
    if cached is not None and cached[0]() is model and cached[1] == texts:
        return cached[2]
    acts = activations(model, source, list(texts), progress=False)
    maxima = prompt_aggregates(acts, "max")[np.diff(acts.offsets) > 0]  # texts left with no tokens have no peak
    _CALIBRATION[source] = (weakref.ref(model), texts, maxima)
    return maxima
