"""Feature circuits: which upstream nodes feed one target feature, and what the target drives downstream.

A node is an SAE latent, an SAE's reconstruction error (so that the nodes of an SAE add up to its whole hook
activation), an MLP neuron or an attention head. The effect of an upstream node on the target is the change in
the target's activation, summed over every token of the prompts (BOS excluded) and divided by the number of
tokens where the target fires, when the node goes from its activation to its baseline (zero, or its mean over
the prompts' tokens). So effects read in units of "the target's activation where it fires". Three methods:

- "direct": the node's write to the residual stream ((activation - baseline) x its decoder direction; for a
  head (z_h - baseline) @ W_O[h], per token) dotted with the gradient of the target at its own hook, on the
  same token. This is the direct path only: everything that goes through attention or MLPs between the two
  hooks, or through another token, is ignored, as is any change of the target's active set (ReLU / TopK).
  Exact for the direct path wherever the target's encoder is linear in its input (a firing ReLU/TopK latent).
- "attribution": attribution patching. One forward and one backward per batch of prompts give
  gradient x (activation - baseline) for every upstream node at once, all paths included, to first order.
- "patching": exact activation patching of the `candidates` nodes with the largest attribution: each is set
  to its baseline on every token, all candidates as rows of one batch, rerun from the node's block up to the
  target. The ground truth that checks the other two.

Downstream edges (target -> later features or logits) perturb one node only, so "attribution" and "patching"
both compute them exactly with one ablated forward; "direct" uses the target's residual write through each
downstream encoder (its Jacobian-vector product) or through the unembedding with the final norm's scale frozen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..devices import device_of, model_lock, to_numpy
from ..sources import FeatureSource, HeadSource, SAESource, as_source, split_hook
from ..validation import positive_int
from ._forward import normalise_prompts, tokenize

if TYPE_CHECKING:
    from collections.abc import Sequence

    from transformer_lens import HookedTransformer

    from .._types import SourceLike

METHODS = ("direct", "attribution", "patching")
BASELINES = ("zero", "mean")
ERROR = -1  # the feature index of an SAE's reconstruction-error node
LOGITS = "logits"
_RESIDUAL = ("hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out", "hook_mlp_out")
# The order in which hooks run inside a block (hooks not listed run with the sublayer they belong to).
_STAGES = [
    ("hook_resid_pre", 0),
    ("ln1.", 1),
    ("hook_attn_in", 1),
    ("hook_q_input", 1),
    ("hook_k_input", 1),
    ("hook_v_input", 1),
    ("attn.", 2),
    ("hook_attn_out", 3),
    ("hook_resid_mid", 4),
    ("ln2.", 5),
    ("hook_mlp_in", 5),
    ("mlp.", 6),
    ("hook_mlp_out", 7),
    ("hook_resid_post", 8),
]


@dataclass
class Circuit:
    """The result of `feature_circuit`: tidy DataFrames (see each field) for one target feature.

    nodes: node, role (upstream / target / downstream), source (hook name, or "logits"), kind (sae, error,
        neurons, heads, logits), layer, feature (-1 for an error node, the token id for a logit), label,
        activation (mean over the tokens where the target fires; for heads the norm of their output, for error
        nodes the norm of the error), effect (the edge weight to or from the target; NaN for the target) and,
        for method="patching", attribution (the estimate that chose the candidates).
    edges: from, to, weight, method.
    contributions: prompt, position, token, node, contribution: per token of the shown upstream nodes. For
        "direct" and "attribution" the position is the upstream node's token (its effect on the target summed
        over the prompt); for "patching" it is the target's token (its change there when the node is patched
        on every token). Contributions divided by n_firing sum to the node's effect.
    target_acts: prompt, position, token, activation of the target feature.
    scores: every upstream node's effect, largest magnitude first; for "patching" also its attribution, and
        the effect only for the patched candidates (NaN for the rest).
    """

    target: str
    method: str
    baseline: str
    prompts: list[str]
    str_tokens: list[list[str]]
    nodes: pd.DataFrame
    edges: pd.DataFrame
    contributions: pd.DataFrame
    target_acts: pd.DataFrame
    scores: pd.DataFrame
    n_firing: int

    def upstream(self) -> pd.DataFrame:
        """The shown upstream nodes, largest |effect| first."""
        return _by_magnitude(self.nodes[self.nodes.role == "upstream"])

    def downstream(self) -> pd.DataFrame:
        """The shown downstream nodes (features and logits), largest |effect| first."""
        return _by_magnitude(self.nodes[self.nodes.role == "downstream"])

    def __repr__(self) -> str:
        up = self.upstream().head(5)
        top = ", ".join(f"{r.label} {r.effect:+.3g}" for r in up.itertuples())
        return (
            f"Circuit({self.target}, method={self.method!r}, {len(self.prompts)} prompts, fires on "
            f"{self.n_firing} tokens; top upstream: {top})"
        )


def feature_circuit(
    model: HookedTransformer,
    target: tuple[SourceLike, int],
    upstream: SourceLike | Sequence[SourceLike],
    prompts: str | Sequence[str],
    *,
    downstream: str | SourceLike | Sequence[str | SourceLike] | None = None,
    method: str = "attribution",
    top_k: int = 20,
    baseline: str = "zero",
    candidates: int = 50,
    batch_tokens: int = 2048,
    progress: bool | None = None,
) -> Circuit:
    """The upstream nodes that feed `target` and (optionally) the downstream features or logits it drives.

    Parameters
    ----------
    model : transformer_lens.HookedTransformer
        The model.
    target : (FeatureSource, int)
        The feature whose circuit to find, e.g. ``(sae_source, 1387)``.
    upstream : FeatureSource or list of FeatureSource
        Sources at earlier hooks (SAESource, NeuronSource, HeadSource).
    prompts : str or list of str
        The prompts the effects are measured on.
    downstream : None, "logits", FeatureSource, or list, optional
        What the target drives: nothing, the logits, later sources, or a list of them.
    method : {"direct", "attribution", "patching"}, default "attribution"
        Direct path only; all nodes in one backward pass; or exact patching of the best `candidates` (see
        the module docstring for what each computes).
    top_k : int, default 20
        Upstream nodes kept in the graph (every SAE error node is kept too), and downstream nodes per
        downstream source.
    baseline : {"zero", "mean"}, default "zero"
        What a removed node is replaced with.
    candidates : int, default 50
        Nodes exactly patched when method="patching".
    batch_tokens : int, default 2048
        Tokens per batch.
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    Circuit
        Tidy DataFrames of nodes and edges; draw it with `CircuitView`.
    """
    with model_lock(model):  # every pass below hooks the shared model: one call at a time
        return _feature_circuit(
            model, target, upstream, prompts, downstream, method, top_k, baseline, candidates, batch_tokens, progress
        )


def _feature_circuit(
    model, target, upstream, prompts, downstream, method, top_k, baseline, candidates, batch_tokens, progress
) -> Circuit:
    target_source, feature = _check_target(model, target)
    ups = [_Part(s, model) for s in _sources(model, upstream, "upstream")]
    downs = _downstream(model, downstream)
    _check_options(method, baseline, top_k, candidates, batch_tokens)
    _check_order(model, target_source, ups, downs, method)
    prompts, _ = normalise_prompts(prompts)
    ids = tokenize(model, prompts)
    batches = list(_batches(model, ids, batch_tokens))
    show = progress if progress is not None else len(batches) > 2 or method == "patching"

    tgt = _Part(target_source, model)
    base = _mean_baselines(model, batches, [*ups, tgt], show) if baseline == "mean" else {}
    clean = _clean_pass(model, batches, tgt, feature, ups, base, method == "direct", show)
    n_firing = int((clean.target > 0).sum())
    if n_firing == 0:
        raise ValueError(
            f"{_label(target_source, feature)} at {target_source.hook_name} never fires on these "
            f"{len(prompts)} prompt(s) ({len(clean.target)} tokens): choose prompts where it is active"
        )

    scores = _scores(ups, clean, n_firing)
    per_token = clean.contributions
    if method == "patching":
        scores = scores.rename(columns={"effect": "attribution"})
        chosen = scores.head(candidates)
        exact, per_token = _patch_candidates(model, batches, tgt, feature, ups, chosen, base, clean, batch_tokens, show)
        scores["effect"] = np.nan
        scores.loc[chosen.index, "effect"] = exact / n_firing
        scores = _by_magnitude(scores).reset_index(drop=True)  # candidates first; the rest have no effect (NaN)
    shown = _shown(scores, top_k)

    down_nodes = _downstream_effects(model, batches, tgt, feature, downs, base, clean, method, n_firing, top_k)
    str_tokens = [list(model.to_str_tokens(t[1:])) for t in ids]
    target_id = _node_id(target_source.hook_name, feature)
    nodes = _nodes_frame(tgt, feature, clean, n_firing, shown, down_nodes, method)
    edges = pd.DataFrame(
        {
            "from": [*shown.node, *([target_id] * len(down_nodes))],
            "to": [*([target_id] * len(shown)), *down_nodes.node],
            "weight": [*shown.effect, *down_nodes.effect],
            "method": [method] * len(shown) + [_down_method(method)] * len(down_nodes),
        }
    )
    return Circuit(
        target=target_id,
        method=method,
        baseline=baseline,
        prompts=prompts,
        str_tokens=str_tokens,
        nodes=nodes,
        edges=edges,
        contributions=_contributions_frame(per_token, shown, clean, str_tokens),
        target_acts=_token_frame(to_numpy(clean.target), clean, str_tokens, "activation"),
        scores=scores,
        n_firing=n_firing,
    )


# --- the parts a hook's activations split into ----------------------------------------------------------------


class _Part:
    """How one source's hook activations split into nodes: per-feature values (and, for an SAE, its
    reconstruction error) that rebuild the hook activations exactly."""

    def __init__(self, source: FeatureSource, model):
        self.source, self.hook, self.layer = source, source.hook_name, source.layer
        self.is_sae, self.is_heads = isinstance(source, SAESource), isinstance(source, HeadSource)
        self.model = model

    def split(self, acts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.is_sae:
            values = self.source.encode(acts).to(acts.dtype)
            return values, acts - self.source.sae.decode(values.to(self.source.sae.dtype)).to(acts.dtype)
        return acts, None

    def rebuild(self, values: torch.Tensor, error: torch.Tensor | None) -> torch.Tensor:
        if self.is_sae:
            return self.source.sae.decode(values.to(self.source.sae.dtype)).to(error.dtype) + error
        return values

    def probed(self, acts: torch.Tensor) -> tuple[torch.Tensor, tuple, tuple]:
        """The hook's output with zero-valued probes added to each node, (values, error) and the probes.

        The gradient with respect to a probe is the node's own gradient; the output still equals acts, with a
        gradient of exactly one back to acts, so earlier upstream nodes see every path through this hook."""
        with torch.no_grad():
            values, error = self.split(acts)
        probes = tuple(None if t is None else torch.zeros_like(t, requires_grad=True) for t in (values, error))
        if not self.is_sae:
            return acts + probes[0], (values, error), probes
        with torch.no_grad():
            recon = self.rebuild(values, torch.zeros_like(acts))
        output = self.rebuild(values + probes[0], acts - recon + probes[1])
        return output, (values, error), probes

    def per_feature(self, x: torch.Tensor) -> torch.Tensor:
        """[..., n(, d_head)] -> [..., n]: a head is one node over its d_head values."""
        return x.sum(-1) if self.is_heads else x

    def display(self, values: torch.Tensor) -> torch.Tensor:
        return self.source.encode(values).detach() if self.is_heads else values.detach()

    def writer(self) -> str:
        """How this hook's activations reach the residual stream: "residual", "mlp" (W_out) or "heads" (W_O)."""
        leaf = self.hook.split(".")[-1]
        if leaf in _RESIDUAL:
            return "residual"
        if leaf == "hook_post" and ".mlp." in self.hook:
            return "mlp"
        if leaf == "hook_z":
            return "heads"
        raise ValueError(
            f"method='direct' needs sources that write to the residual stream (residual hooks, "
            f"mlp.hook_post, attn.hook_z), not {self.hook}"
        )

    def to_residual(self, delta: torch.Tensor) -> torch.Tensor:
        """A change of this hook's activations -> the change it writes to the residual stream (same token)."""
        writer = self.writer()
        if writer == "mlp":
            return delta @ self.model.blocks[self.layer].mlp.W_out.detach()
        if writer == "heads":
            return torch.einsum("...hd,hdm->...m", delta, self.model.blocks[self.layer].attn.W_O.detach())
        return delta

    def from_residual(self, grad: torch.Tensor) -> torch.Tensor:
        """The transpose of to_residual: a residual-stream gradient -> a gradient in this hook's space."""
        writer = self.writer()
        if writer == "mlp":
            return grad @ self.model.blocks[self.layer].mlp.W_out.detach().T
        if writer == "heads":
            return torch.einsum("...m,hdm->...hd", grad, self.model.blocks[self.layer].attn.W_O.detach())
        return grad

    def at_baseline(self, values, error, features, valid, base):
        """Set, in each row r, feature features[r] (ERROR: the error; anything below: nothing) to its baseline
        on the row's valid tokens."""
        n = values.shape[-2] if self.is_heads else values.shape[-1]
        features = features.to(values.device)
        onehot = features[:, None] == torch.arange(n, device=values.device)[None, :]  # [R, n]
        mask = valid[:, :, None] & onehot[:, None, :]  # [R, S, n]
        if self.is_heads:
            mask = mask[..., None]
        base_values = base[self.hook][0] if self.hook in base else torch.zeros((), device=values.device)
        values = torch.where(mask, base_values.to(values.dtype), values)
        if error is not None:
            emask = (valid & (features == ERROR)[:, None])[..., None]
            base_error = base[self.hook][1] if self.hook in base else torch.zeros((), device=error.device)
            error = torch.where(emask, base_error.to(error.dtype), error)
        return values, error


def _label(source: FeatureSource, feature: int) -> str:
    if feature == ERROR:
        return "error"
    if isinstance(source, HeadSource):
        return source.feature_name(feature)
    if source.kind == "neurons":
        return f"N{source.layer}.{feature}"
    return source.feature_name(feature)


def _node_id(hook: str, feature: int) -> str:
    return f"{hook}:{'error' if feature == ERROR else feature}"


# --- input checks ---------------------------------------------------------------------------------------------


def _check_target(model, target) -> tuple[FeatureSource, int]:
    if not isinstance(target, (tuple, list)) or len(target) != 2:
        raise TypeError("target must be a (source, feature) pair, e.g. (source, 1387)")
    source = as_source(target[0], model)
    return source, source.check_feature(target[1], "target feature")


def _sources(model, sources, name: str) -> list[FeatureSource]:
    items = sources if isinstance(sources, (list, tuple)) else [sources]
    if not items:
        raise ValueError(f"{name} is empty: give at least one source")
    checked = [as_source(s, model) for s in items]
    hooks = [s.hook_name for s in checked]
    if len(set(hooks)) != len(hooks):
        raise ValueError(f"two {name} sources read the same hook ({hooks}): give each hook once")
    return checked


def _downstream(model, downstream) -> list:
    if downstream is None:
        return []
    items = downstream if isinstance(downstream, (list, tuple)) else [downstream]
    sources = [s for s in items if not (isinstance(s, str) and s == LOGITS)]
    if any(isinstance(s, str) for s in sources):
        raise ValueError(f"downstream strings must be 'logits', got {[s for s in sources if isinstance(s, str)]}")
    parts = [_Part(s, model) for s in _sources(model, sources, "downstream")] if sources else []
    return parts + ([LOGITS] if len(sources) < len(items) else [])


def _check_options(method, baseline, top_k, candidates, batch_tokens) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    for name, value in (("top_k", top_k), ("candidates", candidates), ("batch_tokens", batch_tokens)):
        positive_int(value, name)


def hook_order(hook: str, n_layers: int) -> tuple[int, int]:
    """(layer, stage): hooks sort in the order a forward pass runs them."""
    layer, rest = split_hook(hook)
    if layer is None:
        return (-1, 0) if hook.startswith(("hook_embed", "hook_pos_embed")) else (n_layers, 0)
    stage = next((s for prefix, s in _STAGES if rest.startswith(prefix)), 2)
    return layer, stage


def _check_order(model, target: FeatureSource, ups: list[_Part], downs: list, method: str) -> None:
    n = model.cfg.n_layers
    at = hook_order(target.hook_name, n)
    for up in ups:
        if hook_order(up.hook, n) >= at:
            raise ValueError(
                f"upstream source at {up.hook} does not run before the target's hook "
                f"{target.hook_name}: upstream sources must be at earlier hooks"
            )
    for down in downs:
        if down != LOGITS and hook_order(down.hook, n) <= at:
            raise ValueError(
                f"downstream source at {down.hook} runs before the target's hook "
                f"{target.hook_name}: downstream sources must be at later hooks"
            )
    if method == "direct":
        if target.hook_name.split(".")[-1] not in _RESIDUAL:
            raise ValueError(f"method='direct' needs a target read from the residual stream, not {target.hook_name}")
        for up in ups:
            up.writer()  # raises for hooks that do not write to the residual stream
        for down in downs:
            if down != LOGITS and down.hook.split(".")[-1] not in _RESIDUAL:
                raise ValueError(
                    f"method='direct' reads downstream sources at residual hooks or 'logits', not {down.hook}"
                )


# --- passes over the prompts ----------------------------------------------------------------------------------


@dataclass
class _Batch:
    prompts: list[int]
    tokens: torch.Tensor  # [b, S] right-padded
    valid: torch.Tensor  # [b, S] bool: real tokens after BOS (on the model's device)

    @property
    def rows(self) -> torch.Tensor:
        """valid, on the CPU: indexes the CPU token axis."""
        return self.valid.cpu()


def _batches(model, ids: list[torch.Tensor], batch_tokens: int):
    """Length-sorted, right-padded batches (causal attention keeps real positions exact, as in activations)."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    pad = (
        model.tokenizer.pad_token_id if model.tokenizer is not None and model.tokenizer.pad_token_id is not None else 0
    )
    current: list[int] = []
    for i in [*order, None]:
        if current and (i is None or len(ids[i]) * (len(current) + 1) > batch_tokens):
            lengths = torch.tensor([len(ids[j]) for j in current], device="cpu")
            tokens = torch.full((len(current), int(lengths.max())), pad, dtype=torch.long, device="cpu")
            for row, j in enumerate(current):
                tokens[row, : len(ids[j])] = ids[j]
            positions = torch.arange(tokens.shape[1], device="cpu")[None, :]
            valid = (positions >= 1) & (positions < lengths[:, None])
            yield _Batch(current, tokens.to(device_of(model)), valid.to(device_of(model)))
            current = []
        if i is not None:
            current.append(i)


def _mean_baselines(model, batches, parts: list[_Part], show: bool) -> dict:
    """{hook: (mean values, mean error)} over every valid token of the prompts."""
    sums: dict = {}
    count = 0
    for batch in tqdm(batches, desc="means", unit="batch", disable=not show):
        hooks = []
        for part in parts:

            def take(acts, hook, part=part, valid=batch.valid):
                values, error = part.split(acts)
                total = [values[valid].sum(0), None if error is None else error[valid].sum(0)]
                old = sums.get(part.hook)
                sums[part.hook] = (
                    total if old is None else [o + t if o is not None else None for o, t in zip(old, total)]
                )

            hooks.append((part.hook, take))
        with torch.inference_mode(), model.hooks(fwd_hooks=hooks):
            model(batch.tokens, stop_at_layer=_stop(parts), return_type=None)
        count += int(batch.valid.sum())
    return {
        hook: tuple(None if s is None else (s / max(count, 1)).float() for s in pair) for hook, pair in sums.items()
    }


def _stop(parts: list[_Part]) -> int | None:
    layers = [p.source.stop_at_layer for p in parts]
    return None if any(s is None for s in layers) else max(layers)


@dataclass
class _Clean:
    target: torch.Tensor  # [n_tokens] target activation (valid tokens, prompt order)
    contributions: dict  # hook -> [n_tokens, n (+1 for SAE error, last)]
    display: dict  # hook -> [n (+1)] summed over tokens where the target fires
    resid: dict  # (batch index, layer) -> [b, S, d] residual entering that block
    token_index: list  # per batch: [b, S] index into the token axis (-1 for invalid)
    offsets: np.ndarray  # prompt p owns tokens offsets[p]:offsets[p+1]


def _thaw_inference_buffers(model) -> None:
    """Buffers rebuilt under torch.inference_mode (TransformerLens recomputes its rotary sin/cos when a longer
    context comes by) are inference tensors, which autograd refuses to save: give the model normal copies."""
    for module in model.modules():
        for name, buffer in module._buffers.items():
            if buffer is not None and buffer.is_inference():
                module._buffers[name] = buffer.clone()


def _clean_pass(
    model, batches, tgt: _Part, feature: int, ups: list[_Part], base: dict, direct: bool, show: bool
) -> _Clean:
    """One forward + one backward per batch: every upstream node's contribution to the target, per token."""
    lengths = {i: int(v.sum()) for b in batches for i, v in zip(b.prompts, b.rows)}
    offsets = np.concatenate([[0], np.cumsum([lengths[i] for i in range(len(lengths))])]).astype(int)
    n_tokens = int(offsets[-1])
    target = torch.zeros(n_tokens, device="cpu")
    contributions = {u.hook: None for u in ups}
    display = {u.hook: None for u in ups}
    resid, token_index = {}, []
    layers = sorted({p.layer for p in [*ups, tgt] if p.layer is not None})
    _thaw_inference_buffers(model)
    for b, batch in enumerate(tqdm(batches, desc="attribution", unit="batch", disable=not show)):
        leaves, captured = {}, {}
        index = torch.full(batch.valid.shape, -1, dtype=torch.long, device="cpu")
        for row, i in enumerate(batch.prompts):
            index[row, batch.rows[row]] = torch.arange(offsets[i], offsets[i + 1], device="cpu")
        token_index.append(index)

        def keep(acts, hook, b=b):
            resid[(b, int(hook.name.split(".")[1]))] = acts.detach()

        def split(acts, hook):
            part = next(u for u in ups if u.hook == hook.name)
            output, nodes, probes = part.probed(acts)
            leaves[part.hook] = (output, nodes, probes)
            return output

        def read_target(acts, hook):
            captured["x"] = acts.detach().requires_grad_(True) if direct else acts
            return captured["x"]

        hooks = [(f"blocks.{layer}.hook_resid_pre", keep) for layer in layers]
        hooks += [(u.hook, split) for u in ups] + [(tgt.hook, read_target)]
        with torch.enable_grad(), model.hooks(fwd_hooks=hooks):
            model(batch.tokens, stop_at_layer=tgt.source.stop_at_layer, return_type=None)
            acts = tgt.source.encode(captured["x"])[..., feature].float() * batch.valid
            grads = _gradients(acts.sum(), captured["x"], ups, leaves, direct)
        with torch.no_grad():
            firing = (acts > 0).detach()
            target[index[batch.rows]] = acts.detach()[batch.valid].cpu()
            for up in ups:
                _, (values, error), _ = leaves[up.hook]
                grad_values, grad_error = grads[up.hook]
                base_values, base_error = base.get(up.hook, (torch.zeros((), device=values.device),) * 2)
                columns = [up.per_feature(grad_values * (values - base_values.to(values.dtype)))]
                shown = [up.display(values)]
                if error is not None:
                    columns.append((grad_error * (error - base_error.to(error.dtype))).sum(-1, keepdim=True))
                    shown.append(error.norm(dim=-1, keepdim=True))
                per_token = torch.cat(columns, -1).float()
                if contributions[up.hook] is None:
                    contributions[up.hook] = torch.zeros(n_tokens, per_token.shape[-1], device="cpu")
                    display[up.hook] = torch.zeros(per_token.shape[-1], device="cpu")
                contributions[up.hook][index[batch.rows]] = per_token[batch.valid].cpu()
                display[up.hook] += (torch.cat(shown, -1).float() * firing[..., None]).sum((0, 1)).cpu()
    return _Clean(target, contributions, display, resid, token_index, offsets)


def _gradients(metric, x, ups: list[_Part], leaves: dict, direct: bool) -> dict:
    """hook -> (grad wrt values, grad wrt error): through the whole model, or for "direct" through the residual
    stream only (the target's gradient at its hook, pulled back through each source's write)."""
    out = {}
    if direct:
        (grad_x,) = torch.autograd.grad(metric, x)
        for up in ups:
            output, _, probes = leaves[up.hook]
            inputs = [p for p in probes if p is not None]
            grads = torch.autograd.grad(output, inputs, grad_outputs=up.from_residual(grad_x.to(output.dtype)))
            out[up.hook] = (grads[0], grads[1] if len(grads) > 1 else None)
        return out
    flat = [p for up in ups for p in leaves[up.hook][2] if p is not None]
    grads = torch.autograd.grad(metric, flat, allow_unused=True)
    grads = iter(torch.zeros_like(p) if g is None else g for p, g in zip(flat, grads))
    for up in ups:
        out[up.hook] = tuple(None if p is None else next(grads) for p in leaves[up.hook][2])
    return out


def _scores(ups: list[_Part], clean: _Clean, n_firing: int) -> pd.DataFrame:
    """Every upstream node's effect (its contributions summed over tokens / n_firing), largest |effect| first."""
    frames = []
    for up in ups:
        total = clean.contributions[up.hook].sum(0) / n_firing
        features = np.arange(len(total))
        if up.is_sae:
            features[-1] = ERROR
        frames.append(
            pd.DataFrame(
                {
                    "node": [_node_id(up.hook, int(f)) for f in features],
                    "source": up.hook,
                    "kind": ["error" if f == ERROR else up.source.kind for f in features],
                    "layer": up.layer,
                    "feature": features,
                    "label": [_label(up.source, int(f)) for f in features],
                    "activation": to_numpy((clean.display[up.hook] / n_firing).double()),
                    "effect": to_numpy(total.double()),
                }
            )
        )
    return _by_magnitude(pd.concat(frames, ignore_index=True)).reset_index(drop=True)


def _by_magnitude(frame: pd.DataFrame, column: str | None = None) -> pd.DataFrame:
    column = column or ("effect" if "effect" in frame and frame["effect"].notna().any() else "attribution")
    return frame.iloc[np.argsort(-frame[column].abs().to_numpy(), kind="stable")]


def _shown(scores: pd.DataFrame, top_k: int) -> pd.DataFrame:
    """The top_k nodes by |effect|, plus every SAE error node (so the graph shows what the SAEs miss)."""
    ranked = scores[scores["effect"].notna()]
    shown = pd.concat([ranked.head(top_k), ranked[ranked.kind == "error"]])
    return shown[~shown.index.duplicated()]


def _patch_candidates(model, batches, tgt, feature, ups, chosen, base, clean, batch_tokens, show):
    """Exact patching: [n candidates] total change of the target, and per-target-token changes per node."""
    effects = np.zeros(len(chosen))
    per_token = {up.hook: torch.zeros_like(clean.contributions[up.hook]) for up in ups}
    chunks = []
    for up in ups:
        rows = np.flatnonzero(chosen.source.to_numpy() == up.hook)
        if len(rows):
            chunks.append((up, rows))
    total = sum(len(batches) * len(rows) for _, rows in chunks)
    bar = tqdm(total=total, desc="patching", unit="run", disable=not show)
    for up, rows in chunks:
        features = torch.tensor(chosen.feature.to_numpy()[rows], device="cpu")
        columns = torch.where(features == ERROR, per_token[up.hook].shape[1] - 1, features)
        for b, batch in enumerate(batches):
            width = batch.tokens.shape[1]
            per_run = max(1, batch_tokens // width // len(batch.prompts) - 1)  # candidates per forward
            for start in range(0, len(rows), per_run):
                part = features[start : start + per_run]
                changes = _patched_runs(model, clean, b, batch, tgt, feature, up, part, base)  # [c, b, S]
                effects[rows[start : start + per_run]] += to_numpy(changes.sum((1, 2)))
                for c, column in enumerate(columns[start : start + per_run]):
                    per_token[up.hook][clean.token_index[b][batch.rows], column] = changes[c][batch.rows]
                bar.update(len(part))
    bar.close()
    return effects, per_token


def _patched_runs(model, clean, b, batch, tgt, feature, up, features, base):
    """The target's clean minus patched activation, [candidates, prompts, S], rerun from the node's block."""
    c, n = len(features), len(batch.prompts)
    row_features = torch.cat([torch.full((n,), -2, device="cpu"), features.repeat_interleave(n)])  # first n rows: clean
    valid = batch.valid.repeat(c + 1, 1)
    captured = {}

    def patch(acts, hook):
        values, error = up.split(acts)
        return up.rebuild(*up.at_baseline(values, error, row_features, valid, base))

    def read_target(acts, hook):
        captured["a"] = tgt.source.encode(acts)[..., feature].float() * valid

    hooks = [(up.hook, patch), (tgt.hook, read_target)]
    with torch.inference_mode(), model.hooks(fwd_hooks=hooks):
        if up.layer is None:
            model(batch.tokens.repeat(c + 1, 1), stop_at_layer=tgt.source.stop_at_layer, return_type=None)
        else:
            resid = clean.resid[(b, up.layer)].repeat(c + 1, 1, 1)
            model(resid, start_at_layer=up.layer, stop_at_layer=tgt.source.stop_at_layer, return_type=None)
    acts = captured["a"].cpu().view(c + 1, n, -1)
    return acts[:1] - acts[1:]


def _down_method(method: str) -> str:
    return "direct" if method == "direct" else "patching"


def _downstream_effects(model, batches, tgt, feature, downs, base, clean, method, n_firing, top_k) -> pd.DataFrame:
    """The target's effect on every downstream feature / logit: [clean - target at baseline] summed over tokens
    / n_firing (exact: one forward of clean and ablated rows per batch), or for "direct" the target's residual
    write through each reader (a Jacobian-vector product of its encoder, or the unembedding)."""
    if not downs:
        return _nodes_columns()
    direct = method == "direct"
    parts = [d for d in downs if d != LOGITS]
    totals, levels = {}, {}
    for b, batch in enumerate(batches):
        n = len(batch.prompts)
        copies = 1 if direct else 2  # direct reads the clean run only
        rows = torch.cat([torch.full((n,), -2, device="cpu"), torch.full((n,), feature, device="cpu")])
        valid = batch.valid.repeat(2, 1)
        captured = {}

        def ablate(acts, hook):
            values, error = tgt.split(acts.repeat(2 // copies, *[1] * (acts.dim() - 1)))
            patched = tgt.rebuild(*tgt.at_baseline(values, error, rows, valid, base))
            captured["delta"] = tgt.to_residual(tgt.rebuild(values, error)[n:] - patched[n:]) if direct else None
            return acts if direct else patched

        def take(acts, hook):
            captured[hook.name] = acts

        hooks = [(tgt.hook, ablate)] + [(d.hook, take) for d in parts]
        if LOGITS in downs and model.cfg.normalization_type is not None:
            hooks.append(("ln_final.hook_scale", take))
        with torch.inference_mode(), model.hooks(fwd_hooks=hooks):
            logits = model(
                clean.resid[(b, tgt.layer)].repeat(copies, 1, 1),
                start_at_layer=tgt.layer,
                stop_at_layer=None if LOGITS in downs else _stop(parts),
                return_type="logits" if LOGITS in downs else None,
            )
        firing = _firing(clean, b, batch)
        for key, down in enumerate(downs):
            if down == LOGITS:
                change = (
                    _direct_logits(model, captured["delta"], captured.get("ln_final.hook_scale"))
                    if direct
                    else (logits[:n] - logits[n:]).float()
                )
            else:
                x = captured[down.hook].clone()  # out of inference mode, for the JVP
                level = down.source.encode(x[:n]).float()
                if direct:
                    change = torch.func.jvp(
                        lambda h: down.source.encode(h).float(), (x[:n],), (captured["delta"].clone().to(x.dtype),)
                    )[1]
                else:
                    change = level - down.source.encode(x[n:]).float()
                levels[key] = levels.get(key, 0) + (level.detach() * firing[..., None]).sum((0, 1)).cpu()
            totals[key] = totals.get(key, 0) + (change.detach() * batch.valid[..., None]).sum((0, 1)).cpu()
    frames = []
    for key, down in enumerate(downs):
        effect = to_numpy((totals[key] / n_firing).double())
        top = np.argsort(-np.abs(effect), kind="stable")[:top_k]
        if down == LOGITS:
            frame = {
                "node": [f"{LOGITS}:{t}" for t in top],
                "source": LOGITS,
                "kind": LOGITS,
                "layer": model.cfg.n_layers,
                "label": [model.to_string(torch.tensor([int(t)], device="cpu")) for t in top],
                "activation": np.nan,
            }
        else:
            frame = {
                "node": [_node_id(down.hook, int(f)) for f in top],
                "source": down.hook,
                "kind": down.source.kind,
                "layer": down.layer,
                "label": [_label(down.source, int(f)) for f in top],
                "activation": to_numpy((levels[key] / n_firing).double())[top],
            }
        frames.append(pd.DataFrame({**frame, "role": "downstream", "feature": top, "effect": effect[top]}))
    return pd.concat(frames, ignore_index=True)


def _firing(clean: _Clean, b: int, batch: _Batch) -> torch.Tensor:
    index = clean.token_index[b]
    return batch.valid & (clean.target[index.clamp(min=0)] > 0).to(batch.valid.device)


def _direct_logits(model, delta: torch.Tensor, scale: torch.Tensor | None) -> torch.Tensor:
    """A residual write's direct effect on the logits, with the final norm's scale frozen from the forward."""
    if model.cfg.normalization_type in ("LN", "LNPre"):
        delta = delta - delta.mean(-1, keepdim=True)
    if scale is not None:
        delta = delta / scale[: len(delta)]
    return (delta @ model.W_U.detach()).float()


# --- result frames --------------------------------------------------------------------------------------------

_NODE_COLUMNS = ["node", "role", "source", "kind", "layer", "feature", "label", "activation", "effect"]


def _nodes_columns() -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in _NODE_COLUMNS})


def _nodes_frame(tgt, feature, clean, n_firing, shown, downs, method) -> pd.DataFrame:
    target = pd.DataFrame(
        [
            {
                "node": _node_id(tgt.hook, feature),
                "role": "target",
                "source": tgt.hook,
                "kind": tgt.source.kind,
                "layer": tgt.layer,
                "feature": feature,
                "label": _label(tgt.source, feature),
                "activation": float(clean.target.sum()) / n_firing,
                "effect": np.nan,
            }
        ]
    )
    up = shown.assign(role="upstream")
    columns = _NODE_COLUMNS + (["attribution"] if method == "patching" else [])
    frames = [f for f in (up, target, downs) if len(f)]
    nodes = pd.concat(frames, ignore_index=True).reindex(columns=columns)
    nodes["feature"] = nodes["feature"].astype(int)
    return nodes


def _token_frame(values: np.ndarray, clean: _Clean, str_tokens, name: str) -> pd.DataFrame:
    prompt = np.repeat(np.arange(len(clean.offsets) - 1), np.diff(clean.offsets))
    position = np.arange(len(prompt)) - clean.offsets[prompt]
    tokens = [t for prompt_tokens in str_tokens for t in prompt_tokens]
    return pd.DataFrame({"prompt": prompt, "position": position, "token": tokens, name: values})


def _contributions_frame(per_token: dict, shown: pd.DataFrame, clean: _Clean, str_tokens) -> pd.DataFrame:
    frames = []
    for node in shown.itertuples():
        column = per_token[node.source]
        index = column.shape[1] - 1 if node.feature == ERROR else int(node.feature)
        frame = _token_frame(to_numpy(column[:, index]), clean, str_tokens, "contribution")
        frames.append(frame.assign(node=node.node)[["prompt", "position", "token", "node", "contribution"]])
    return pd.concat(frames, ignore_index=True)


# --- clustering by connections --------------------------------------------------------------------------------


def cluster_features(
    circuit_or_profiles: Circuit | pd.DataFrame, *, threshold: float = 0.5, method: str = "average"
) -> pd.Series:
    """Group features by the cosine of their connection profiles (scipy hierarchical clustering).

    Parameters
    ----------
    circuit_or_profiles : list of Circuit, Circuit, or pandas.DataFrame
        A list of Circuits (clusters their targets by their edge weights to and from every node any of them
        shows); one Circuit (clusters its upstream nodes by their per-token contributions to the target: nodes
        that feed the target on the same tokens group together); or a DataFrame of profiles, one row per feature.
    threshold : float, default 0.5
        Features whose profiles' cosine distance is below it share a cluster.
    method : str, default "average"
        The scipy linkage method.

    Returns
    -------
    pandas.Series
        Feature (or node id) -> cluster number (1, 2, ...; largest cluster first).
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    profiles = connection_profiles(circuit_or_profiles)
    if len(profiles) < 2:
        return pd.Series(np.ones(len(profiles), dtype=int), index=profiles.index, name="cluster")
    if not 0 < threshold <= 2:
        raise ValueError(f"threshold is a cosine distance in (0, 2], got {threshold!r}")
    matrix = profiles.to_numpy(dtype=float)
    silent = ~np.isfinite(matrix).all(1) | (np.abs(matrix).sum(1) == 0)
    if silent.any():
        raise ValueError(
            f"{int(silent.sum())} profile(s) are all zero or not finite (first: "
            f"{profiles.index[np.argmax(silent)]!r}): they have no direction to compare"
        )
    labels = fcluster(linkage(matrix, method=method, metric="cosine"), t=threshold, criterion="distance")
    sizes = pd.Series(labels).value_counts()
    renumber = {old: new for new, old in enumerate(sorted(sizes.index, key=lambda c: (-sizes[c], c)), start=1)}
    return pd.Series([renumber[c] for c in labels], index=profiles.index, name="cluster")


def connection_profiles(circuit_or_profiles) -> pd.DataFrame:
    """The profiles cluster_features compares (see there), one row per feature."""
    if isinstance(circuit_or_profiles, pd.DataFrame):
        return circuit_or_profiles
    if isinstance(circuit_or_profiles, Circuit):
        table = circuit_or_profiles.contributions
        return table.pivot_table(
            index="node", columns=["prompt", "position"], values="contribution", aggfunc="sum", sort=False
        )
    items = list(circuit_or_profiles) if isinstance(circuit_or_profiles, (list, tuple)) else None
    if not items or not all(isinstance(c, Circuit) for c in items):
        raise TypeError("cluster_features takes a Circuit, a list of Circuits or a DataFrame of profiles")
    rows = {}
    for circuit in items:
        edges = circuit.edges
        other = np.where(edges["from"] == circuit.target, edges["to"], edges["from"])
        rows[circuit.target] = pd.Series(edges["weight"].to_numpy(), index=other).groupby(level=0).sum()
    return pd.DataFrame(rows).T.fillna(0.0)
