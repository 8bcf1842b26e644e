"""What a dashboard computes only when the user asks (never in the build): one feature's activations on a text
the user typed, and the per-token ablation effect of a feature on the next-token loss in its shown top contexts.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from ..backends import as_backend
from ..devices import cpu_tokens
from ..sources import as_source
from ._forward import hook_activations_batches
from .activations import activations

MAX_TEXT_CHARS = 4000
ABLATION_ROWS = 32  # rows per ablated forward: [rows, window, vocab] logits stay ~100 MB on a 49k vocabulary


def feature_on_text(model, source, feature: int, text: str) -> dict:
    """{"tokens": [...], "acts": [...]} of `feature` on each token of `text` (after BOS and the source's
    drop_first tokens, as every activation in featureviz), or {"error": sentence} for a text it cannot take."""
    backend = as_backend(model)
    source = as_source(source, backend, any_model=True)
    feature = source.check_feature(feature)
    if not isinstance(text, str) or not text.strip():
        return {"error": "type a text to see the feature's activation on each of its tokens"}
    if len(text) > MAX_TEXT_CHARS:
        return {"error": f"the text has {len(text):,} characters; at most {MAX_TEXT_CHARS:,} are taken"}
    n_tokens = len(backend.tokenize(text))
    if n_tokens > backend.n_ctx:
        return {"error": f"the text has {n_tokens:,} tokens, more than the model's context of {backend.n_ctx:,}"}
    try:
        result = activations(backend, source, [text], progress=False)
    except ValueError as error:  # too short for drop_first: one sentence from activations()
        return {"error": str(error)}
    return {
        "tokens": list(result.str_tokens[0]),
        "acts": result.prompt_values(0)[:, feature].double().numpy().round(4).tolist(),
    }


def ablation_effects(model, source, data, feature: int, drop_first: int | None = None) -> list[dict]:
    """Per shown top context of `feature` in `data` (a DashboardData), per window token t: the change of the
    next-token loss at t (predicting token t + 1 of the window) when the feature is set to 0 at t alone, all
    else equal (an SAE's error term kept: `source.steered(..., "clamp", 0)`), in one forward per ablated token.

    Each window is rerun on its own, after BOS (the stored windows keep 10 tokens before the max, not the whole
    context), so the feature's activation there (`acts`, returned too) can differ from the stored one. A token
    whose recomputed activation is 0 has effect 0; the last token of a window (no next token in it) and the
    first drop_first tokens after BOS (position artifacts) have None.

    Returns [{"effects": [float | None per window token], "acts": [float per window token]}] in page order.
    """
    backend = as_backend(model)
    source = as_source(source, backend, any_model=True)
    source.check_steerable()
    drop = source.drop_first if drop_first is None else drop_first
    row = data.row(feature)
    windows = [ids[ids >= 0] for value, ids in zip(data.top_values[row], data.top_tokens[row]) if np.isfinite(value)]
    if not windows:
        return []
    bos = backend.bos_token_id
    contexts = [torch.cat([cpu_tokens([bos]), cpu_tokens(w)]) for w in windows]
    lengths = [len(c) for c in contexts]
    # The feature's activation on each window, from the same hook read as the build.
    acts = torch.zeros(len(contexts), max(lengths), dtype=torch.float64, device="cpu")
    for batch, hook_acts, batch_lengths in hook_activations_batches(
        backend, contexts, source.reads, batch_tokens=sys.maxsize, progress=False
    ):
        with torch.inference_mode():
            feats = source.encode(hook_acts)[..., feature].double().cpu()
        for j, i in enumerate(batch):
            acts[i, : batch_lengths[j]] = feats[j, : batch_lengths[j]]
    # One row per (context, position) with a non-zero activation and a next token in the window.
    rows = [(c, t) for c, n in enumerate(lengths) for t in range(1 + drop, n - 1) if acts[c, t] != 0]
    width = max(lengths)
    tokens = torch.full((len(contexts), width), backend.pad_token_id, dtype=torch.long, device="cpu")
    for c, ctx in enumerate(contexts):
        tokens[c, : len(ctx)] = ctx
    tokens = tokens.to(backend.device)
    clean = _next_token_loss(backend, tokens, {})  # [contexts, width - 1]
    effects = torch.zeros(len(contexts), width, dtype=torch.float64, device="cpu")
    for start in range(0, len(rows), ABLATION_ROWS):
        chunk = rows[start : start + ABLATION_ROWS]
        ctx_index = torch.as_tensor([c for c, _ in chunk], device=backend.device)
        position = torch.as_tensor([t for _, t in chunk], device=backend.device)
        mask = torch.zeros(len(chunk), width, dtype=torch.bool, device=backend.device)
        mask[torch.arange(len(chunk), device=backend.device), position] = True

        def ablate(hook_acts, mask=mask):
            zero = source.steered(
                hook_acts,
                feature,
                "clamp",
                torch.zeros(hook_acts.shape[:-1], device=hook_acts.device, dtype=hook_acts.dtype),
            )
            return torch.where(mask[..., None], zero, hook_acts)

        picked = _next_token_loss(backend, tokens[ctx_index], source.steering_hooks(ablate), position)
        for (c, t), value in zip(chunk, (picked - clean[ctx_index, position]).cpu().tolist()):
            effects[c, t] = value
    out = []
    for c, n in enumerate(lengths):
        per_token = [None if t < 1 + drop or t == n - 1 else round(float(effects[c, t]), 6) for t in range(1, n)]
        out.append({"effects": per_token, "acts": acts[c, 1:n].numpy().round(4).tolist()})
    return out


def _next_token_loss(backend, tokens: torch.Tensor, hooks: dict, positions=None) -> torch.Tensor:
    """Cross-entropy (float64) of the next token at every position but the last, [batch, pos - 1], or at one
    position per row, [batch]. Right padding never reaches the real positions (causal attention)."""
    logits = backend.run_with_hooks(tokens, hooks)
    if positions is None:
        logprobs = torch.log_softmax(logits[:, :-1].double(), dim=-1)
        return -logprobs.gather(2, tokens[:, 1:, None]).squeeze(2)
    rows = torch.arange(len(tokens), device=tokens.device)
    logprobs = torch.log_softmax(logits[rows, positions].double(), dim=-1)
    return -logprobs.gather(1, tokens[rows, positions + 1][:, None]).squeeze(1)
