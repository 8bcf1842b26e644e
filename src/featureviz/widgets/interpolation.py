"""Interpolation slider: steer one feature over a sweep of values and watch the text and next-token
probabilities change. Every value is computed up front in one batch, so moving the slider is instant;
asking for values past the computed range is the only thing that goes back to the kernel."""

from __future__ import annotations

import logging
import numbers

import anywidget
import numpy as np
import traitlets as t

from ..analysis.steering import MODES, POSITIONS, SteeringResult, steer
from ..validation import positive_int
from .arrays import encode_matrix
from .bundles import bundle

log = logging.getLogger("featureviz")


class Interpolation(anywidget.AnyWidget):
    _esm = bundle("interpolation")

    prompt = t.Unicode("").tag(sync=True)
    feature = t.Int(0).tag(sync=True)
    mode = t.Unicode("add").tag(sync=True)
    positions = t.Unicode("all").tag(sync=True)
    values = t.List(t.Float()).tag(sync=True)                 # [S] ascending
    texts = t.List(t.Unicode()).tag(sync=True)                # continuation per value
    new_tokens = t.List(t.List(t.Unicode())).tag(sync=True)   # its tokens per value
    baseline_text = t.Unicode("").tag(sync=True)
    baseline_tokens = t.List(t.Unicode()).tag(sync=True)
    next_token_strings = t.List(t.Unicode()).tag(sync=True)   # [U] tokens in the probability chart
    next_token_probs = t.Dict().tag(sync=True)                # [S, U] binary matrix
    baseline_probs = t.List(t.Float()).tag(sync=True)         # [U]
    kl = t.List(t.Float()).tag(sync=True)                     # [S]
    index = t.Int(0).tag(sync=True)                           # two-way: the slider position
    extend = t.Unicode("").tag(sync=True)                     # the browser sets "low"/"high" to ask for more
    busy = t.Bool(False).tag(sync=True)
    error = t.Unicode("").tag(sync=True)

    def __init__(self, model, source, prompt: str, feature: int, values=(-10.0, 10.0), steps: int = 21, *,
                 max_new_tokens: int = 24, mode: str = "add", positions: str = "all", **steer_options):
        """values: (start, end) swept in `steps` evenly spaced values, or an explicit sequence of values."""
        steps = positive_int(steps, "steps")
        sweep = np.linspace(values[0], values[1], steps) if _is_range(values) else np.asarray(values, dtype=float)
        self._model, self._source = model, source
        self._options = dict(max_new_tokens=max_new_tokens, mode=mode, positions=positions, **steer_options)
        result = steer(model, source, prompt, feature, np.unique(sweep), **self._options)
        super().__init__(prompt=prompt, feature=result.feature, mode=mode, positions=positions)
        self._show(result, keep_value=0.0)

    def _show(self, result: SteeringResult, keep_value: float) -> None:
        with self.hold_sync():
            self.values = result.values.astype(float).tolist()
            self.texts, self.new_tokens = result.texts, result.new_tokens
            self.baseline_text, self.baseline_tokens = result.baseline_text, result.baseline_tokens
            self.next_token_strings = result.next_token_strings
            self.next_token_probs = encode_matrix(result.next_token_probs)
            self.baseline_probs = result.baseline_probs.astype(float).tolist()
            self.kl = result.kl.astype(float).tolist()
            self.index = int(np.abs(result.values - keep_value).argmin())
        self.result = result

    @t.observe("extend")
    def _extend(self, change):
        direction = change["new"]
        if direction not in ("low", "high"):
            return
        values = np.asarray(self.values)
        current = values[self.index]
        step = np.diff(values).mean() if len(values) > 1 else 1.0
        count = max(len(values) // 2, 1)
        more = (values[0] - step * np.arange(count, 0, -1) if direction == "low"
                else values[-1] + step * np.arange(1, count + 1))
        self.busy, self.error = True, ""
        try:  # a failure shows in the widget and the log; the kernel and the widget keep working
            result = steer(self._model, self._source, self.prompt, self.feature, np.union1d(values, more), **self._options)
            self._show(result, keep_value=more[0] if direction == "high" else more[-1])
        except Exception as error:  # noqa: BLE001 - reported, not swallowed
            log.exception("featureviz.Interpolation: computing more values failed")
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.busy, self.extend = False, ""


def _is_range(values) -> bool:
    return (isinstance(values, tuple) and len(values) == 2
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values))
