"""One small model interface (issue 20): what featureviz's analyses need from a language model, for two kinds.

- TransformerLens (`HookedTransformer`, and anything shaped like it: `hook_dict`, `to_tokens`, `run_with_cache`,
  e.g. TransformerBridge, tested for activations; its generation is refused): hook names are TransformerLens's
  own (`blocks.8.hook_resid_pre`).
- Plain Hugging Face transformers models, read through torch forward hooks on named modules. Wrap the model and
  its tokenizer: ``HFModel(model, tokenizer)`` (or pass the ``(model, tokenizer)`` pair itself). A hook name is
  a module path from ``model.named_modules()``: ``model.layers.8`` is that module's output (the first tensor of
  a tuple output), ``model.layers.8:input`` its input (the first tensor argument). The residual stream entering
  decoder layer L is ``model.layers.L:input``; MLP neurons of a Llama are ``model.layers.L.mlp.down_proj:input``.

`as_backend(model)` gives the interface for either; `hooks(model, layer=8, kind="attn_out")` lists hook names.
"""

from __future__ import annotations

import difflib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from .devices import cpu_tokens, device_of, model_lock
from .validation import layer as check_layer

if TYPE_CHECKING:
    from ._types import ModelLike

# A hook function takes the activations at a hook and returns them (edited or not).
HookFn = Callable[[torch.Tensor], torch.Tensor]

INPUT = ":input"  # suffix of an HF hook name that reads a module's input (module names never contain ":")

# kind -> TransformerLens hook name inside block L ("{L}" is the layer)
TL_KINDS = {
    "resid_pre": "blocks.{L}.hook_resid_pre",
    "resid_mid": "blocks.{L}.hook_resid_mid",
    "resid_post": "blocks.{L}.hook_resid_post",
    "attn_out": "blocks.{L}.hook_attn_out",
    "mlp_out": "blocks.{L}.hook_mlp_out",
    "mlp_in": "blocks.{L}.hook_mlp_in",
    "neurons": "blocks.{L}.mlp.hook_post",
    "mlp_pre": "blocks.{L}.mlp.hook_pre",
    "q": "blocks.{L}.attn.hook_q",
    "k": "blocks.{L}.attn.hook_k",
    "v": "blocks.{L}.attn.hook_v",
    "z": "blocks.{L}.attn.hook_z",
    "pattern": "blocks.{L}.attn.hook_pattern",
}
# kind -> candidate module paths inside decoder layer L (Llama/Mistral/Qwen/Gemma, GPT-2, GPT-NeoX names)
HF_KINDS = {
    "resid_pre": ["{layer}" + INPUT],
    "resid_post": ["{layer}"],
    "attn_out": ["{layer}.self_attn", "{layer}.attn", "{layer}.attention"],
    "mlp_out": ["{layer}.mlp"],
    "mlp_in": ["{layer}.mlp" + INPUT],
    "neurons": ["{layer}.mlp.down_proj" + INPUT, "{layer}.mlp.c_proj" + INPUT, "{layer}.mlp.dense_4h_to_h" + INPUT],
    "q": ["{layer}.self_attn.q_proj", "{layer}.attention.q_proj"],
    "k": ["{layer}.self_attn.k_proj", "{layer}.attention.k_proj"],
    "v": ["{layer}.self_attn.v_proj", "{layer}.attention.v_proj"],
    "z": ["{layer}.self_attn.o_proj" + INPUT, "{layer}.attn.c_proj" + INPUT, "{layer}.attention.dense" + INPUT],
}
KINDS = tuple(TL_KINDS)


def close_names(name: str, names, n: int = 3) -> str:
    """' (close: a, b, c)' for the names most like `name`, or '' when none is close."""
    close = difflib.get_close_matches(name, list(names), n=n, cutoff=0.6)
    return f" (close: {', '.join(close)})" if close else ""


class ModelBackend(ABC):
    """What featureviz needs from a model. Tokens are 1-D CPU long tensors, BOS first."""

    model: torch.nn.Module
    kind: str  # "transformer_lens" or "hf"

    @property
    @abstractmethod
    def name(self) -> str:
        """The model's name, for messages."""

    @property
    @abstractmethod
    def n_ctx(self) -> int:
        """The context length."""

    @property
    @abstractmethod
    def pad_token_id(self) -> int:
        """The id right-padded batches are filled with."""

    @abstractmethod
    def tokenize(self, prompt: str) -> torch.Tensor:
        """Token ids of one prompt with BOS first (CPU, not truncated)."""

    @abstractmethod
    def tokenize_text(self, text: str) -> torch.Tensor:
        """Token ids of a passage without BOS (CPU, not truncated): contexts cut from a corpus."""

    @property
    def bos_token_id(self) -> int | None:
        """The id put first in every context (BOS, else EOS)."""
        tokenizer = self.tokenizer
        return next((t for t in (tokenizer.bos_token_id, tokenizer.eos_token_id) if t is not None), None)

    @abstractmethod
    def to_str_tokens(self, ids: torch.Tensor) -> list[str]:
        """One string per token id."""

    @abstractmethod
    def hook_names(self) -> list[str]:
        """Every hook name there is."""

    @abstractmethod
    def run_to_hook(self, tokens: torch.Tensor, hook_name: str) -> torch.Tensor:
        """[batch, pos, ...] activations at the hook of one forward of [batch, pos] tokens, stopped at the hook."""

    @abstractmethod
    def run_to_hooks(self, tokens: torch.Tensor, hook_names) -> list[torch.Tensor]:
        """The activations at several hooks of ONE forward of [batch, pos] tokens, stopped after the last of them."""

    @abstractmethod
    def run_with_hooks(self, tokens: torch.Tensor, hooks: dict[str, HookFn]) -> torch.Tensor:
        """[batch, pos, vocab] logits of a forward in which each hook's activations go through its function."""

    @abstractmethod
    def generate(
        self,
        tokens: torch.Tensor,
        hooks: dict[str, HookFn],
        *,
        max_new_tokens: int,
        do_sample: bool = False,
        temperature: float = 1.0,
        check_first: Callable[[torch.Tensor], None] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(sequences [batch, pos + new], the first step's logits [batch, vocab]) of a KV-cached generate of the
        [batch, pos] tokens with the hooks applied on every step (the first call sees the whole prompt, each
        later call one new token). Stops at end of sequence. check_first sees the first step's logits before
        anything is sampled from them (to raise a clear error)."""

    @property
    @abstractmethod
    def W_U(self) -> torch.Tensor:
        """[d_model, d_vocab] unembedding matrix."""

    def hook_width(self, hook_name: str) -> int | None:
        """The last dimension of a hook's activations when known without a forward pass, else None."""
        return None

    @abstractmethod
    def residual_unembed(self) -> torch.Tensor:
        """[d_model, d_vocab]: the logits a residual-stream direction adds, as TransformerLens's processed W_U
        (the final norm's weights folded in, centered over the vocabulary: softmax does not see the mean)."""

    @abstractmethod
    def residual_map(self, hook_name: str) -> torch.Tensor | str | None:
        """How a hook's units reach the residual stream: "identity" (the hook is the residual stream or writes
        it directly), a [d_hook, d_model] matrix (the input of the linear map that writes it), else None."""

    @abstractmethod
    def hooks(self, layer: int | None = None, kind: str | None = None) -> list[str]:
        """Hook names, optionally only those of one layer and/or one kind (see KINDS)."""

    def check_hook(self, hook_name: str) -> None:
        """Raise one sentence, naming close hooks, when the hook does not exist."""
        if not isinstance(hook_name, str):
            raise TypeError(f"a hook name must be a string, got {type(hook_name).__name__}")
        names = self.hook_names()
        if hook_name not in names:
            raise ValueError(f"hook {hook_name!r} does not exist in {self.name}{close_names(hook_name, names)}")

    @property
    def device(self) -> torch.device:
        return device_of(self.model)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


def _check_kind(kind):
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")


class TransformerLensModel(ModelBackend):
    """A HookedTransformer (or a model with its interface, such as TransformerBridge), exactly as before."""

    kind = "transformer_lens"

    def __init__(self, model):
        self.model = model

    @property
    def name(self) -> str:
        return str(getattr(self.model.cfg, "model_name", type(self.model).__name__))

    @property
    def n_ctx(self) -> int:
        return int(self.model.cfg.n_ctx)

    @property
    def tokenizer(self):
        return self.model.tokenizer

    @property
    def pad_token_id(self) -> int:
        tokenizer = self.model.tokenizer
        return tokenizer.pad_token_id if tokenizer is not None and tokenizer.pad_token_id is not None else 0

    def tokenize(self, prompt: str) -> torch.Tensor:
        return cpu_tokens(self.model.to_tokens(prompt, prepend_bos=True, truncate=False)[0])

    def tokenize_text(self, text: str) -> torch.Tensor:
        return cpu_tokens(self.model.to_tokens(text, prepend_bos=False, truncate=False)[0])

    def to_str_tokens(self, ids: torch.Tensor) -> list[str]:
        return list(self.model.to_str_tokens(ids))

    def hook_names(self) -> list[str]:
        return list(self.model.hook_dict)

    def run_to_hook(self, tokens: torch.Tensor, hook_name: str) -> torch.Tensor:
        from .analysis._forward import run_to_hook

        return run_to_hook(self.model, tokens, hook_name)

    def run_to_hooks(self, tokens: torch.Tensor, hook_names) -> list[torch.Tensor]:
        from .analysis._forward import cache_stop

        names = list(dict.fromkeys(hook_names))
        for name in names:
            self.check_hook(name)
        stops = [cache_stop(self.model, name) for name in names]
        with torch.no_grad(), model_lock(self.model):
            _, cache = self.model.run_with_cache(
                tokens, names_filter=names, return_type=None, stop_at_layer=None if None in stops else max(stops)
            )
        return [cache[name] for name in hook_names]

    def run_with_hooks(self, tokens: torch.Tensor, hooks: dict[str, HookFn]) -> torch.Tensor:
        for name in hooks:
            self.check_hook(name)
        with torch.no_grad(), model_lock(self.model):
            return self.model.run_with_hooks(tokens, fwd_hooks=[(n, _tl_hook(f)) for n, f in hooks.items()])

    def generate(self, tokens, hooks, *, max_new_tokens, do_sample=False, temperature=1.0, check_first=None):
        from transformer_lens.utilities.activation_functions import apply_softcap

        if type(self.model).__name__ == "TransformerBridge":
            # Measured (tests/test_backends.py): its KV-cached greedy generate of a plain Llama departs from the
            # model's own tokens from the second new token on, without any hook; uncached, the hooks would see
            # the whole sequence at every step. Steered texts would be wrong, so refuse.
            raise NotImplementedError(
                "steering a TransformerBridge is not supported: its KV-cached generate departs from the model's "
                "own greedy tokens; pass fv.HFModel(hf_model, tokenizer) of a fresh (unbooted) copy instead"
            )
        for name in hooks:
            self.check_hook(name)
        first = {}

        def first_logits(acts, hook=None):  # generate's first step runs the whole prompt
            if not first:
                first["logits"] = apply_softcap(acts[:, -1], self.model.cfg.output_logits_soft_cap).float()
                if check_first is not None:
                    check_first(first["logits"])
            return acts

        fwd_hooks = [(n, _tl_hook(f)) for n, f in hooks.items()] + [("unembed.hook_out", first_logits)]
        with torch.inference_mode(), model_lock(self.model), self.model.hooks(fwd_hooks=fwd_hooks):
            out = self.model.generate(
                tokens.to(self.device),
                max_new_tokens=max_new_tokens,
                do_sample=do_sample,
                temperature=temperature,
                stop_at_eos=True,
                verbose=False,
                use_past_kv_cache=True,
            )
        return out, first["logits"]

    @property
    def W_U(self) -> torch.Tensor:
        return self.model.W_U

    def hook_width(self, hook_name: str) -> int | None:
        from .sources import _hook_width

        return _hook_width(self.model, hook_name)

    def residual_unembed(self) -> torch.Tensor:
        return self.model.W_U.detach()

    def residual_map(self, hook_name: str) -> torch.Tensor | str | None:
        from .sources import _RESIDUAL_HOOKS, split_hook

        layer, rest = split_hook(hook_name)
        if rest.split(".")[-1] in _RESIDUAL_HOOKS:
            return "identity"
        return self.model.blocks[layer].mlp.W_out.detach() if layer is not None and rest == "mlp.hook_post" else None

    def hooks(self, layer=None, kind=None) -> list[str]:
        _check_kind(kind)
        names = self.hook_names()
        if layer is not None:  # else a layer past the last one lists no hooks, as if the model had none
            layer = check_layer(layer, int(self.model.cfg.n_layers), self.name)
        if kind is not None:
            pattern = TL_KINDS[kind].format(L=r"\d+" if layer is None else layer)
            return [n for n in names if re.fullmatch(pattern.replace(".", r"\."), n)]
        if layer is not None:
            return [n for n in names if n.startswith(f"blocks.{layer}.")]
        return names


def _tl_hook(fn: HookFn):
    def hook(acts, hook=None):
        return fn(acts)

    return hook


class _Stop(Exception):
    """Raised by a reading hook once it has what it needs: the rest of the forward pass never runs."""


def _first_tensor(value):
    """(the first tensor in a module's output or inputs, a function putting a replacement back)."""
    if isinstance(value, torch.Tensor):
        return value, lambda new: new
    if isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            if isinstance(item, torch.Tensor):
                return item, lambda new, i=i: type(value)([*value[:i], new, *value[i + 1 :]])
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, torch.Tensor):
                return item, lambda new, key=key: value.__class__({**value, key: new})
    return None, None


class HFModel(ModelBackend):
    """A plain Hugging Face causal LM and its tokenizer, read and edited through forward hooks on named modules.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        An in-memory causal LM (e.g. ``AutoModelForCausalLM.from_pretrained(...)``).
    tokenizer : transformers.PreTrainedTokenizerBase
        Its tokenizer (a transformers model carries none).
    """

    kind = "hf"

    def __init__(self, model, tokenizer):
        if not isinstance(model, torch.nn.Module) or not hasattr(model, "config"):
            raise TypeError(
                f"HFModel takes a transformers model (an nn.Module with a config), got {type(model).__name__}"
            )
        if tokenizer is None or not callable(getattr(tokenizer, "convert_ids_to_tokens", None)):
            raise ValueError(
                f"the Hugging Face model {type(model).__name__} needs its tokenizer: "
                f"pass HFModel(model, AutoTokenizer.from_pretrained(...)), got {type(tokenizer).__name__}"
            )
        self.model, self.tokenizer = model, tokenizer
        self.modules = dict(model.named_modules())
        del self.modules[""]
        self.layers_path = self._find_layers()

    @classmethod
    def from_pretrained(cls, path, **kwargs) -> HFModel:
        """Model and tokenizer from a local directory (or hub name), in eval mode."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        return cls(AutoModelForCausalLM.from_pretrained(path, **kwargs).eval(), AutoTokenizer.from_pretrained(path))

    def _find_layers(self) -> str | None:
        n_layers = getattr(self.model.config, "num_hidden_layers", None) or getattr(self.model.config, "n_layer", None)
        lists = [(name, len(m)) for name, m in self.modules.items() if isinstance(m, torch.nn.ModuleList)]
        if not lists:
            return None
        matching = [name for name, size in lists if size == n_layers]
        return matching[0] if matching else max(lists, key=lambda item: item[1])[0]

    @property
    def name(self) -> str:
        path = str(getattr(self.model.config, "name_or_path", "") or "")
        return path.rstrip("/").rsplit("/", 1)[-1] or type(self.model).__name__

    @property
    def n_ctx(self) -> int:
        config = self.model.config
        for key in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            if getattr(config, key, None):
                return int(getattr(config, key))
        return int(self.tokenizer.model_max_length)

    @property
    def pad_token_id(self) -> int:
        for token in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id):
            if token is not None:
                return int(token)
        return 0

    def tokenize(self, prompt: str) -> torch.Tensor:
        ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        bos = self.bos_token_id
        return cpu_tokens(([bos] if bos is not None else []) + list(ids))

    def tokenize_text(self, text: str) -> torch.Tensor:
        return cpu_tokens(list(self.tokenizer(text, add_special_tokens=False)["input_ids"]))

    def to_str_tokens(self, ids: torch.Tensor) -> list[str]:
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        return list(self.tokenizer.batch_decode([[i] for i in ids], clean_up_tokenization_spaces=False))

    def hook_names(self) -> list[str]:
        return [n for name in self.modules for n in (name, name + INPUT)]

    def module(self, hook_name: str) -> tuple[torch.nn.Module, bool]:
        """(the module a hook name reads, whether it reads the input), or one sentence naming close paths."""
        if not isinstance(hook_name, str):
            raise TypeError(f"a hook name must be a string, got {type(hook_name).__name__}")
        path, is_input = (hook_name[: -len(INPUT)], True) if hook_name.endswith(INPUT) else (hook_name, False)
        if path not in self.modules:
            raise ValueError(f"module path {path!r} matches no module of {self.name}{close_names(path, self.modules)}")
        return self.modules[path], is_input

    def check_hook(self, hook_name: str) -> None:
        self.module(hook_name)

    def _register(self, hook_name: str, fn: HookFn):
        """Register `fn` on the module: it sees the first tensor of the output (or input) and returns it."""
        module, is_input = self.module(hook_name)
        if is_input:

            def pre_hook(mod, args, kwargs):
                tensor, put = _first_tensor(args)
                if tensor is not None:
                    return put(fn(tensor)), kwargs
                tensor, put = _first_tensor(kwargs)
                if tensor is None:
                    return None
                return args, put(fn(tensor))

            return module.register_forward_pre_hook(pre_hook, with_kwargs=True)

        def hook(mod, args, output):
            tensor, put = _first_tensor(output)
            return None if tensor is None else put(fn(tensor))

        return module.register_forward_hook(hook)

    def _forward(self, tokens, **kwargs):
        return self.model(input_ids=tokens.to(self.device), use_cache=False, **kwargs)

    def run_to_hook(self, tokens: torch.Tensor, hook_name: str) -> torch.Tensor:
        seen = []

        def read(acts):
            seen.append(acts)
            raise _Stop

        with torch.no_grad(), model_lock(self.model):
            handle = self._register(hook_name, read)
            try:
                self._forward(tokens)
            except _Stop:
                pass
            finally:
                handle.remove()
        if not seen:
            raise ValueError(f"{hook_name!r} did not run in a forward pass of {self.name} (or has no tensor)")
        return seen[0]

    def run_to_hooks(self, tokens: torch.Tensor, hook_names) -> list[torch.Tensor]:
        names = list(dict.fromkeys(hook_names))
        seen: dict[str, torch.Tensor] = {}

        def reader(name):
            def read(acts):
                seen.setdefault(name, acts)  # a module called twice in one forward: its first call
                if len(seen) == len(names):
                    raise _Stop  # the last of the hooks has run: nothing after it is needed
                return acts

            return read

        with torch.no_grad(), model_lock(self.model):
            handles = [self._register(name, reader(name)) for name in names]
            try:
                self._forward(tokens)
            except _Stop:
                pass
            finally:
                for handle in handles:
                    handle.remove()
        missing = [name for name in names if name not in seen]
        if missing:
            raise ValueError(f"{missing[0]!r} did not run in a forward pass of {self.name} (or has no tensor)")
        return [seen[name] for name in hook_names]

    def run_with_hooks(self, tokens: torch.Tensor, hooks: dict[str, HookFn]) -> torch.Tensor:
        with torch.no_grad(), model_lock(self.model):
            handles = [self._register(n, f) for n, f in hooks.items()]
            try:
                return self._forward(tokens).logits
            finally:
                for handle in handles:
                    handle.remove()

    def generate(self, tokens, hooks, *, max_new_tokens, do_sample=False, temperature=1.0, check_first=None):
        tokens = tokens.to(self.device)
        # plain temperature sampling, as TransformerLens's generate (no top-k / top-p from a generation config)
        options = (
            {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
            if do_sample
            else {"do_sample": False}
        )
        calls = []

        def first_logits(mod, args, output):  # the output embedding's first call sees the whole prompt
            if not calls and check_first is not None:
                check_first(output[:, -1].float())
            calls.append(1)

        with torch.inference_mode(), model_lock(self.model):
            handles = [self._register(n, f) for n, f in hooks.items()]
            handles.append(self.model.get_output_embeddings().register_forward_hook(first_logits))
            try:
                out = self.model.generate(
                    input_ids=tokens,
                    attention_mask=torch.ones_like(tokens),
                    max_new_tokens=max_new_tokens,
                    use_cache=True,
                    return_dict_in_generate=True,
                    output_logits=True,
                    pad_token_id=self.pad_token_id,
                    eos_token_id=self.tokenizer.eos_token_id,
                    **options,
                )
            finally:
                for handle in handles:
                    handle.remove()
        return out.sequences, out.logits[0].float()

    @property
    def W_U(self) -> torch.Tensor:
        return self.model.get_output_embeddings().weight.T

    def hook_width(self, hook_name: str) -> int | None:
        module, is_input = self.module(hook_name)
        if isinstance(module, torch.nn.Linear):
            return module.in_features if is_input else module.out_features
        if isinstance(module, torch.nn.Embedding) and not is_input:
            return module.embedding_dim
        if isinstance(self.residual_map(hook_name), str):  # the residual stream, or a module adding to it
            return getattr(self.model.config, "hidden_size", None)
        return None

    def final_norm(self) -> torch.nn.Module | None:
        """The norm before the unembedding: the last norm module outside the decoder layers (model.norm)."""
        inside = (self.layers_path + ".") if self.layers_path else None
        norms = [
            m
            for name, m in self.modules.items()
            if "norm" in type(m).__name__.lower() and not (inside and name.startswith(inside))
        ]
        return norms[-1] if norms else None

    def residual_unembed(self) -> torch.Tensor:
        W_U = self.W_U.detach().float()
        norm = self.final_norm()
        weight = getattr(norm, "weight", None)
        if isinstance(weight, torch.Tensor) and weight.shape == (W_U.shape[0],):
            W_U = weight.detach().float()[:, None] * W_U  # TransformerLens's fold_ln
            if isinstance(norm, torch.nn.LayerNorm):  # LayerNorm centers its input: only the centered part counts
                W_U = W_U - W_U.mean(0, keepdim=True)
        return W_U - W_U.mean(1, keepdim=True)

    def residual_map(self, hook_name: str) -> torch.Tensor | str | None:
        module, is_input = self.module(hook_name)
        path = hook_name.removesuffix(INPUT)
        match = re.fullmatch(re.escape(self.layers_path) + r"\.(\d+)(\..+)?", path) if self.layers_path else None
        if match is None:
            embedding = module is self.model.get_input_embeddings() and not is_input
            return "identity" if embedding or (module is self.final_norm() and is_input) else None
        layer = f"{self.layers_path}.{match.group(1)}"
        writers = [c.format(layer=layer) for kind in ("attn_out", "mlp_out") for c in HF_KINDS[kind]]
        linears = [c.format(layer=layer).removesuffix(INPUT) for kind in ("neurons", "z") for c in HF_KINDS[kind]]
        if match.group(2) is None or (not is_input and path in writers + linears):
            return "identity"  # the decoder layer's input or output, or a module whose output is added to it
        if is_input and path in linears and isinstance(module, torch.nn.Linear):
            return module.weight.detach().T  # unit i of the input writes column i of the weight
        return None

    def hooks(self, layer=None, kind=None) -> list[str]:
        _check_kind(kind)
        if layer is None and kind is None:
            return self.hook_names()
        if self.layers_path is None:
            raise ValueError(f"{self.name} has no list of decoder layers to pick layer {layer} from")
        n_layers = len(self.modules[self.layers_path])
        layers = range(n_layers) if layer is None else [check_layer(layer, n_layers, self.name)]
        names = []
        for L in layers:
            prefix = f"{self.layers_path}.{L}"
            if kind is None:
                names += [
                    n for n in self.hook_names() if n == prefix or n.startswith(prefix + ".") or n == prefix + INPUT
                ]
                continue
            known = set(self.hook_names())
            names += [c.format(layer=prefix) for c in HF_KINDS.get(kind, []) if c.format(layer=prefix) in known][:1]
        return names


def is_transformer_lens(model) -> bool:
    return all(hasattr(model, attr) for attr in ("hook_dict", "to_tokens", "run_with_cache", "cfg"))


def as_backend(model: ModelLike) -> ModelBackend:
    """The model interface of a HookedTransformer (or TransformerBridge), an HFModel, or an (HF model, tokenizer)."""
    if isinstance(model, ModelBackend):
        return model
    if isinstance(model, tuple) and len(model) == 2 and isinstance(model[0], torch.nn.Module):
        return HFModel(*model)
    if is_transformer_lens(model):
        return TransformerLensModel(model)
    if isinstance(model, torch.nn.Module) and hasattr(model, "config"):
        raise ValueError(
            f"a Hugging Face {type(model).__name__} carries no tokenizer: pass "
            "fv.HFModel(model, tokenizer) (or the pair (model, tokenizer)) instead of the model alone"
        )
    raise TypeError(
        f"model must be a TransformerLens HookedTransformer, fv.HFModel(model, tokenizer) or a "
        f"(transformers model, tokenizer) pair, got {type(model).__name__}"
    )


def hooks(model: ModelLike, layer: int | None = None, kind: str | None = None) -> list[str]:
    """The hook names of a model (TransformerLens or Hugging Face), optionally of one layer and one kind.

    Parameters
    ----------
    model : HookedTransformer, HFModel or (transformers model, tokenizer)
        The model.
    layer : int, optional
        Only hooks of this block / decoder layer.
    kind : str, optional
        One of ``resid_pre``, ``resid_mid``, ``resid_post``, ``attn_out``, ``mlp_out``, ``mlp_in``, ``neurons``,
        ``mlp_pre``, ``q``, ``k``, ``v``, ``z``, ``pattern`` (a Hugging Face model has those its modules make).

    Returns
    -------
    list of str
        Hook names, usable as a source's ``hook_name``.
    """
    return as_backend(model).hooks(layer, kind)
