"""Interpolation slider: steer one feature over a sweep of values and watch the text and next-token
probabilities change. Every value is computed up front in one batch, so moving the slider is instant.
Going back to the kernel: asking for values past the computed range, and changing an input (feature, prompt,
mode, positions, values; e.g. a linked heatmap selecting another feature), which re-steers while the view
says so: the texts shown always belong to `computed_for`, never to a feature they were not steered with."""

from __future__ import annotations

import logging
import numbers
from typing import TYPE_CHECKING

import numpy as np
import traitlets as t

from ..analysis.steering import (
    MODES,
    POSITIONS,
    SteeringResult,
    short_text,
    steer,
    value_range,
)
from ..backends import as_backend
from ..sources import as_source
from ..validation import float32_values, positive_int, text
from .arrays import encode_matrix
from .base import FeatureWidget

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._types import ModelLike, SourceLike

log = logging.getLogger("featureviz")


class Interpolation(FeatureWidget, bundle="interpolation"):
    """Steer one feature over a sweep of values and slide through the continuations and next-token probabilities.

    Every value is generated in one batch, so moving the slider (``index``, two-way) is instant. ``prompt``,
    ``feature``, ``mode``, ``positions`` and ``values`` are two-way inputs: changing any of them re-steers.
    """

    # Inputs (two-way): changing any of them, from Python, the browser or fv.link, re-steers; a value that
    # cannot be steered is refused by validation and the old state stays.
    prompt = t.Unicode("").tag(sync=True)
    feature = t.Int(0).tag(sync=True)
    mode = t.Enum(MODES, default_value="add").tag(sync=True)
    positions = t.Enum(POSITIONS, default_value="all").tag(sync=True)
    values = t.List(t.Float()).tag(sync=True)  # [S] ascending; setting it sweeps those values
    # Outputs: the steering result for `computed_for`.
    computed_for = t.Dict().tag(sync=True)  # {prompt, feature, mode, positions} of the texts
    texts = t.List(t.Unicode()).tag(sync=True)  # continuation per value
    new_tokens = t.List(t.List(t.Unicode())).tag(sync=True)  # its tokens per value
    baseline_text = t.Unicode("").tag(sync=True)
    baseline_tokens = t.List(t.Unicode()).tag(sync=True)
    next_token_strings = t.List(t.Unicode()).tag(sync=True)  # [U] tokens in the probability chart
    next_token_probs = t.Dict().tag(sync=True)  # [S, U] binary matrix
    baseline_probs = t.List(t.Float()).tag(sync=True)  # [U]
    kl = t.List(t.Float()).tag(sync=True)  # [S]
    index = t.Int(0).tag(sync=True)  # two-way: the slider position
    extend = t.Unicode("").tag(sync=True)  # the browser sets "low"/"high" to ask for more
    busy = t.Bool(False).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    note = t.Unicode("").tag(sync=True)  # where a default sweep came from (its own scale)

    def __init__(
        self,
        model: ModelLike,
        source: SourceLike,
        prompt: str,
        feature: int,
        values: tuple[float, float] | Sequence[float] | None = None,
        steps: int = 21,
        *,
        max_new_tokens: int = 24,
        mode: str = "add",
        positions: str = "all",
        **steer_options,
    ):
        """Steer `feature` on `prompt` over a sweep of values.

        Parameters
        ----------
        model : transformer_lens.HookedTransformer, fv.HFModel or (transformers model, tokenizer)
            The model.
        source : FeatureSource or sae_lens SAE
            The feature source (an SAE, or e.g. ``fv.HookNeuronSource(model, "model.layers.1.self_attn.q_proj")``
            to interpolate one unit of any module).
        prompt : str
            The prompt to continue.
        feature : int
            The feature to steer.
        values : (start, end) or sequence of float, optional
            A range swept in `steps` evenly spaced values, or explicit values. None (the default) sweeps -4x ... +4x
            the feature's typical activation (`feature_scale`), again for each new feature or prompt, and ``note``
            says where the range came from.
        steps : int, default 21
            Values in a range or in the default sweep.
        max_new_tokens : int, default 24
            Tokens generated per value.
        mode : {"add", "clamp", "ablate"}, default "add"
            As in `steer`.
        positions : {"all", "prompt", "generated"}, default "all"
            As in `steer`.
        **steer_options
            Passed to `steer` (do_sample, temperature, seed, top_tokens).
        """
        steps = positive_int(steps, "steps")
        self._auto = values is None  # the sweep follows the feature's own scale until values are set
        if not self._auto:
            # checked before linspace: a NaN/inf end or a string is then one sentence, not a numpy error
            checked = float32_values(values)
            values = np.unique(np.linspace(checked[0], checked[1], steps) if _is_range(values) else checked)
        self._backend = as_backend(model)  # TransformerLens or a plain Hugging Face model (fv.HFModel)
        self._model = model if self._backend.kind == "transformer_lens" else self._backend
        self._source = as_source(source, self._backend, any_model=True)
        self.feature_space = self._source.feature_space  # plain attribute: fv.link compares it
        self._options = dict(max_new_tokens=max_new_tokens, steps=steps, **steer_options)
        self._sweep = values  # what "add"/"clamp" sweep ("ablate" has the one value 0); None: from the scale
        self._showing = True  # traits set by the widget itself, not inputs: no recompute
        result = steer(
            model, self._source, prompt, feature, self._sweep, mode=mode, positions=positions, **self._options
        )
        super().__init__()
        self._show(result, keep_value=0.0)

    def __repr__(self) -> str:
        return (
            f"Interpolation(feature {self.feature}, {self.mode} {value_range(self.values)}, index={self.index}, "
            f"prompt={short_text(self.prompt)})"
        )

    def _show(self, result: SteeringResult, keep_value: float) -> None:
        self._showing = True
        try:
            with self.hold_sync():
                self.prompt, self.feature, self.mode, self.positions = (
                    result.prompt,
                    result.feature,
                    result.mode,
                    result.positions,
                )
                self.values = result.values.astype(float).tolist()
                self.texts, self.new_tokens = result.texts, result.new_tokens
                self.baseline_text, self.baseline_tokens = result.baseline_text, result.baseline_tokens
                self.next_token_strings = result.next_token_strings
                self.next_token_probs = encode_matrix(result.next_token_probs)
                self.baseline_probs = result.baseline_probs.astype(float).tolist()
                self.kl = result.kl.astype(float).tolist()
                self.index = int(np.abs(result.values - keep_value).argmin())
                self.computed_for = {
                    "prompt": result.prompt,
                    "feature": result.feature,
                    "mode": result.mode,
                    "positions": result.positions,
                }
                self.note = result.note or (self.note if self._auto else "")
            if result.mode != "ablate":
                self._sweep = result.values
            self.result = result
        finally:
            self._showing = False

    # ---- validation: refuse what cannot be steered, keeping the old state ----------------------------------
    @t.validate("feature")
    def _check_feature(self, proposal):
        try:
            return self._source.check_feature(proposal["value"])
        except (TypeError, IndexError) as error:
            raise t.TraitError(str(error)) from None

    @t.validate("prompt")
    def _check_prompt(self, proposal):
        prompt = proposal["value"]
        try:
            text(prompt, "prompt")
        except (TypeError, ValueError) as error:
            raise t.TraitError(str(error)) from None
        n_tokens = len(self._backend.tokenize(prompt))
        limit = self._backend.n_ctx - self._options["max_new_tokens"]
        if n_tokens > limit:
            raise t.TraitError(
                f"prompt has {n_tokens} tokens: at most {limit} fit before the "
                f"{self._options['max_new_tokens']} new tokens in the model's context"
            )
        return prompt

    @t.validate("values")
    def _check_values(self, proposal):
        try:
            return float32_values(proposal["value"]).tolist()
        except (TypeError, ValueError) as error:
            raise t.TraitError(str(error)) from None

    @t.validate("index")
    def _check_index(self, proposal):
        index, n = proposal["value"], len(self.values)
        if not 0 <= index < max(n, 1):
            raise t.TraitError(f"index={index} is out of range: 0..{n - 1} (one per steering value)")
        return index

    # ---- recomputation --------------------------------------------------------------------------------------
    @t.observe("prompt", "feature", "mode", "positions", "values")
    def _inputs_changed(self, change):
        if self._showing:
            return
        if change["name"] == "values":
            self._sweep, self._auto = np.unique(change["new"]), False
        elif change["name"] in ("feature", "prompt") and self._auto:
            self._sweep = None  # the new feature's (or prompt's) own scale
        keep = self.result.values[min(self.index, len(self.result.values) - 1)]
        self._recompute(self._sweep, keep_value=keep)

    def _recompute(self, sweep: np.ndarray, keep_value: float, what: str = "re-steering") -> None:
        """Steer the current inputs (busy meanwhile, so the view says so). On failure the inputs go back to what
        the texts show, `error` says why, and a TraitError tells the caller (fv.link logs it)."""
        self.busy, self.error = True, ""
        try:
            result = steer(
                self._model,
                self._source,
                self.prompt,
                self.feature,
                sweep,
                mode=self.mode,
                positions=self.positions,
                **self._options,
            )
        except Exception as error:  # noqa: BLE001 - reported in the widget and raised, not swallowed
            log.exception("featureviz.Interpolation: %s failed", what)
            self._show(self.result, keep_value=keep_value)  # inputs back in line with the texts
            self.error = f"{type(error).__name__}: {error}"
            raise t.TraitError(f"steering failed, the widget keeps its previous result: {error}") from error
        else:
            self._show(result, keep_value=keep_value)
        finally:
            self.busy = False

    @t.observe("extend")
    def _extend(self, change):
        direction = change["new"]
        if direction not in ("low", "high"):
            return
        values = np.asarray(self.values)
        step = np.diff(values).mean() if len(values) > 1 else 1.0
        count = max(len(values) // 2, 1)
        more = (
            values[0] - step * np.arange(count, 0, -1)
            if direction == "low"
            else values[-1] + step * np.arange(1, count + 1)
        )
        sweep = np.union1d(values, more)
        try:  # a failure shows in the widget and the log; the kernel and the widget keep working
            self._recompute(
                sweep, keep_value=more[0] if direction == "high" else more[-1], what="computing more values"
            )
        except t.TraitError:
            pass  # already logged and shown in `error`
        finally:
            self.extend = ""


def _is_range(values) -> bool:
    return (
        isinstance(values, tuple)
        and len(values) == 2
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)
    )
