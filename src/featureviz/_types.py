"""Type aliases of the public signatures. The package imports this module under TYPE_CHECKING only (type
checkers and the API reference read it), since it imports TransformerLens and sae-lens."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from sae_lens import SAE
from transformer_lens import HookedTransformer

from .backends import ModelBackend
from .sources import FeatureSource

ModelLike = HookedTransformer | ModelBackend | tuple[Any, Any]
"""A TransformerLens model, an `fv.HFModel`, or a (transformers model, tokenizer) pair."""
SourceLike = FeatureSource | SAE
"""A `FeatureSource`, or a bare sae-lens SAE (wrapped in `SAESource`)."""
Prompts = str | Sequence[str] | Mapping[str, Sequence[str]]
"""One prompt, a list of prompts, or ``{group: [prompts]}``."""
PathLike = str | os.PathLike
"""A file or folder path."""
