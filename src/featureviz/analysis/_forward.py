"""The forward pass every analysis shares: prompts in, token ids, and hook activations in padded batches.

Prompts are sorted by length and right-padded; under causal attention the real positions never see the padding,
so results equal one-prompt-at-a-time passes and callers simply drop the padded positions.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

import torch
from tqdm.auto import tqdm

from ..backends import as_backend
from ..devices import model_lock
from ..sources import split_hook
from ..validation import text


def normalise_prompts(prompts) -> tuple[list[str], list[str]]:
    """Accept one string, a list of strings, or {group: [strings]}; return (prompts, group per prompt)."""
    if isinstance(prompts, str):
        prompts, groups = [prompts], [""]
    elif isinstance(prompts, Mapping):
        if not prompts:
            raise ValueError("prompts is an empty dict: give at least one group of prompts")
        check_group_names(prompts)
        pairs = []
        for name, items in prompts.items():
            if isinstance(items, str) or not isinstance(items, Iterable):
                raise TypeError(f"prompts[{name!r}] must be a list of strings, got {type(items).__name__}")
            items = list(items)
            if not items:
                raise ValueError(f"prompts[{name!r}] is empty: every group needs at least one prompt")
            pairs += [(p, str(name)) for p in items]
        prompts, groups = [p for p, _ in pairs], [g for _, g in pairs]
    elif isinstance(prompts, Iterable):
        prompts = list(prompts)
        groups = [""] * len(prompts)
    else:
        raise TypeError(f"prompts must be a string, a list of strings or a dict of lists, got {type(prompts).__name__}")
    if not prompts:
        raise ValueError("prompts is empty: give at least one prompt")
    for i, p in enumerate(prompts):
        text(p, f"prompts[{i}]")
    return prompts, groups


def check_group_names(groups: Mapping) -> None:
    """Group names become strings (widget labels, table rows): refuse names that would merge, like 1 and "1"."""
    seen: dict[str, object] = {}
    for name in groups:
        if str(name) in seen:
            raise ValueError(f"group names {seen[str(name)]!r} and {name!r} are ambiguous: both read {str(name)!r}")
        seen[str(name)] = name


def tokenize(model, prompts: list[str], max_length: int | None = None) -> list[torch.Tensor]:
    """Token ids per prompt (CPU), BOS first, truncated to the model's context with a warning."""
    backend = as_backend(model)
    limit = max_length or backend.n_ctx
    ids = [backend.tokenize(p) for p in prompts]
    long = [i for i, t in enumerate(ids) if len(t) > limit]
    if long:
        warnings.warn(
            f"{len(long)} prompt(s) exceed the model's context of {limit} tokens and were truncated "
            f"(first: prompts[{long[0]}] has {len(ids[long[0]])} tokens)",
            stacklevel=3,
        )
        ids = [t[:limit] for t in ids]
    return ids


def cache_stop(model, hook_name: str) -> int | None:
    """stop_at_layer of the shortest run_with_cache pass in which `hook_name` still fires: blocks.L.* -> L + 1;
    hooks before the first block (hook_embed, hook_pos_embed) -> 0; hooks after the blocks (ln_final.*) -> None."""
    layer, _ = split_hook(hook_name)
    if layer is not None:
        return layer + 1
    names = list(model.hook_dict)
    first_block = next((i for i, n in enumerate(names) if n.startswith("blocks.")), len(names))
    return 0 if names.index(hook_name) < first_block else None


def run_to_hook(model, tokens: torch.Tensor, hook_name: str) -> torch.Tensor:
    """[batch, pos, ...] activations at `hook_name` of one forward of `tokens` that stops as early as it can.

    blocks.L.hook_resid_pre is the residual stream entering block L: model(tokens, stop_at_layer=L) returns it
    bit for bit without running block L (and blocks.L.hook_resid_post is what stop_at_layer=L + 1 returns).
    Any other hook is cached by a run_with_cache pass that stops after the block the hook lives in.
    Every featureviz pass that only reads a hook's activations goes through here (no gradients).
    """
    if hook_name not in model.hook_dict:
        raise ValueError(f"the model has no hook {hook_name!r}")
    layer, rest = split_hook(hook_name)
    with torch.no_grad(), model_lock(model):  # the caching hook is this call's alone
        if layer is not None and rest in ("hook_resid_pre", "hook_resid_post"):
            return model(tokens, stop_at_layer=layer + (rest == "hook_resid_post"))
        _, cache = model.run_with_cache(
            tokens, names_filter=hook_name, stop_at_layer=cache_stop(model, hook_name), return_type=None
        )
        return cache[hook_name]


def length_sorted_batches(lengths: list[int], batch_tokens: int) -> list[list[int]]:
    """Prompt indices in batches of similar length, sorted by length, each at most batch_tokens once padded
    (a longer prompt gets a batch of its own)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches, current = [], []
    for i in order:
        if current and lengths[i] * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current = []
        current.append(i)
    batches.append(current)
    return batches


def hook_activations_batches(
    model, token_lists: list[torch.Tensor], hook_name: str, batch_tokens: int = 8192, progress: bool | None = None
):
    """Yield (prompt indices, [batch, seq, d] hook activations, lengths) in length-sorted, right-padded batches.

    Right padding under causal attention leaves the real positions exact, so no attention mask is needed:
    padded positions are simply dropped by the caller. `hook_name` may be a tuple of hooks (a source's `reads`):
    all are read in one forward, stopped after the last, and stacked as [batch, seq, n_hooks, d].
    """
    batches = length_sorted_batches([len(t) for t in token_lists], batch_tokens)
    backend = as_backend(model)
    pad = backend.pad_token_id
    show = progress if progress is not None else len(batches) > 3
    device = backend.device
    for batch in tqdm(batches, desc="forward", unit="batch", disable=not show):
        lengths = [len(token_lists[i]) for i in batch]
        tokens = torch.full((len(batch), max(lengths)), pad, dtype=torch.long, device=device)
        for row, i in enumerate(batch):
            tokens[row, : lengths[row]] = token_lists[i].to(device)
        with torch.inference_mode():
            hook_acts = (
                backend.run_to_hook(tokens, hook_name)
                if isinstance(hook_name, str)
                else torch.stack(backend.run_to_hooks(tokens, hook_name), dim=-2)
            )
        yield batch, hook_acts, lengths
