"""Small text sets that ship with featureviz, so tutorials and tests run offline."""

from __future__ import annotations

import json
from pathlib import Path

from .validation import positive_int

_DATA = Path(__file__).parent / "data"


def emotion_prompts(per_group: int | None = None) -> dict[str, list[str]]:
    """The shipped hand-written prompts: ``{"happy": [...], "angry": [...], "baseline": [...]}``, 33 each.

    Parameters
    ----------
    per_group : int, optional
        Keep the first `per_group` of each group (7 gives the small set); default: all.

    Returns
    -------
    dict of str to list of str
        Prompts by group, ready for ``activations(model, source, prompts)``.
    """
    groups = {
        k: v for k, v in json.loads((_DATA / "emotion_prompts.json").read_text()).items() if not k.startswith("_")
    }
    if per_group is not None:
        per_group = positive_int(per_group, "per_group")
        groups = {k: v[:per_group] for k, v in groups.items()}
    return groups
