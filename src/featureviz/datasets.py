"""Small text sets that ship with featureviz, so tutorials and tests run offline."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .paths import ASSETS
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


def heldout_texts(n: int | None = None) -> list[str]:
    """The shipped held-out contexts of the default SAE, as text: a small offline corpus for dashboards.

    These 520 contexts of 128 tokens (``assets/heldout_tokens.npy``; their sources are in ``assets/corpus.json``)
    were kept out of the SAE's training, so top contexts found in them are evidence the SAE did not fit. Each is
    decoded with the embedded model's tokenizer; the special tokens between documents (``<|endoftext|>``,
    ``<|im_start|>``, ``<|im_end|>``) become line breaks.

    Parameters
    ----------
    n : int, optional
        Keep the first `n` contexts; default: all.

    Returns
    -------
    list of str
        One text per context, about 128 tokens each, ready as the ``corpus`` of ``Dashboard`` or
        ``dashboard_data``.
    """
    import numpy as np
    from transformers import AutoTokenizer

    from .loading import embedded_model_dir

    contexts = np.load(ASSETS / "heldout_tokens.npy")
    if n is not None:
        contexts = contexts[: positive_int(n, "n")]
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    special = re.compile("|".join(map(re.escape, tokenizer.all_special_tokens)))
    # column 0 is the BOS every context starts with: activations() adds its own
    texts = tokenizer.batch_decode(contexts[:, 1:].astype(np.int64).tolist())
    return [special.sub("\n", text) for text in texts]
