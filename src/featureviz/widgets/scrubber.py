"""Checkpoint scrubber: play through checkpoints and watch features form. All frames travel once, as binary,
so switching checkpoints happens in the browser without a kernel round trip."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import traitlets as t

from ..analysis.checkpoints import CheckpointFrames, checkpoint_frames
from .arrays import encode_matrix
from .base import CheckpointPlayer

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    from .._types import ModelLike, SourceLike


class CheckpointScrubber(CheckpointPlayer, bundle="scrubber"):
    """Play through checkpoints and watch features form: each checkpoint's heatmap, match quality and metrics.

    ``index`` (the checkpoint shown) and ``selected_feature`` (its trajectory is plotted) are two-way.
    """

    x_values = t.List(t.Float()).tag(sync=True)  # [C]
    x_label = t.Unicode("").tag(sync=True)
    tokens = t.List(t.Unicode()).tag(sync=True)  # [T] all prompts' tokens, one after another
    prompt_lengths = t.List(t.Int()).tag(sync=True)
    feature_ids = t.List(t.Int()).tag(sync=True)  # [F] reference features (columns)
    frames = t.Dict().tag(sync=True)  # matrix [C * T, F]: frame c is rows c*T:(c+1)*T
    match_cosine = t.Dict().tag(sync=True)  # matrix [C, F]
    metrics = t.Dict().tag(sync=True)  # {name: [C values]}
    vmin = t.Float(0.0).tag(sync=True)
    vmax = t.Float(1.0).tag(sync=True)
    selected_feature = t.Int(-1).tag(sync=True)  # two-way: its trajectory is plotted

    def __init__(
        self,
        frames_or_series: CheckpointFrames | Iterable[tuple[Any, ModelLike, SourceLike]],
        prompts: str | Sequence[str] | None = None,
        *,
        features: Iterable[int] | None = None,
        top_k: int = 32,
        title: str = "",
        **kwargs,
    ):
        """``CheckpointScrubber(frames)`` from `checkpoint_frames`, or ``CheckpointScrubber(series, prompts)``.

        Parameters
        ----------
        frames_or_series : CheckpointFrames or list of (x, model, source)
            Frames, or a series to compute them from (as in `checkpoint_frames`).
        prompts : str or list of str, optional
            With a series: the prompts.
        features : sequence of int, optional
            With a series: reference features to follow.
        top_k : int, default 32
            With a series and no `features`: how many to follow.
        title : str, default ""
            The title shown.
        **kwargs
            Initial trait values.
        """
        frames = (
            frames_or_series
            if isinstance(frames_or_series, CheckpointFrames)
            else checkpoint_frames(frames_or_series, prompts, features, top_k=top_k)
        )
        self.data = frames
        self.feature_space = frames.feature_space  # plain attribute: fv.link compares it
        n_checkpoints, n_tokens, n_features = frames.frames.shape
        numeric = frames.metrics.select_dtypes("number").drop(columns=["x"], errors="ignore")
        super().__init__(
            labels=list(frames.labels),
            x_values=frames.x_values.astype(float).tolist(),
            x_label=frames.x_label,
            tokens=[tok for prompt in frames.str_tokens for tok in prompt],
            prompt_lengths=[len(p) for p in frames.str_tokens],
            feature_ids=frames.feature_ids.astype(int).tolist(),
            frames=encode_matrix(frames.frames.reshape(n_checkpoints * n_tokens, n_features)),
            match_cosine=encode_matrix(frames.match_cosine),
            # NaN is not JSON: a metric missing at a checkpoint travels as null (a gap in the curve)
            metrics={name: [None if np.isnan(v) else v for v in numeric[name].astype(float)] for name in numeric},
            vmin=min(float(frames.frames.min()), 0.0),
            vmax=max(float(frames.frames.max()), 1e-6),
            title=title,
            index=n_checkpoints - 1,
            selected_feature=int(frames.feature_ids[0]),
            **kwargs,
        )

    def __repr__(self) -> str:
        return (
            f"CheckpointScrubber({len(self.labels)} checkpoints x {len(self.feature_ids)} features, "
            f"{len(self.tokens)} tokens, index={self.index}, selected={self.selected_feature})"
        )

    def _refuse_selection(self, feature: int) -> str | None:
        if self.feature_ids and feature not in self.feature_ids:
            return "not one of this scrubber's features"
        return None
