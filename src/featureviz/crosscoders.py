"""Crosscoders (issue 20): one dictionary over several hooks of a model, read together in one forward pass.

With x_l the activations at hook l (scaled by ``input_scale[l]``, 1 unless set), the latents are
``act(sum_l x_l @ W_enc[l] + b_enc)`` (act: ReLU, or TopK: the k largest pre-activations kept, then ReLU) and
the reconstruction at hook l is ``(latents @ W_dec[:, l] + b_dec[l]) / input_scale[l]``. A latent's decoder
norm per hook says where it writes: a latent with weight at one layer only is local to it, one with weight at
every layer is shared across them. Two layouts load: the W_enc [n_layers, d_in, d_hidden] / W_dec [d_hidden,
n_layers, d_in] state dict, and dictionary_learning's CrossCoder checkpoints (encoder.weight [n_layers, d_in,
d_hidden], encoder.bias, decoder.weight [n_layers, d_hidden, d_in], decoder.bias [n_layers, d_in]). Only
safetensors or ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from .sources import FeatureSource
from .validation import integer, positive_int

_LAYOUTS = {
    "W_enc/W_dec": ("W_enc", "W_dec", "b_enc", "b_dec"),
    "dictionary_learning": ("encoder.weight", "decoder.weight", "encoder.bias", "decoder.bias"),
}


class CrosscoderSource(FeatureSource):
    """The latents of a crosscoder over several hooks of one model (e.g. the residual stream at three layers).

    Parameters
    ----------
    hook_names : sequence of str
        One hook per crosscoder layer, in the crosscoder's order (``fv.hooks(model, kind="resid_pre")`` lists
        them). All are read in one forward pass that stops after the last.
    W_enc : Tensor [n_layers, d_in, d_hidden]
    W_dec : Tensor [d_hidden, n_layers, d_in]
    b_enc : Tensor [d_hidden], optional
    b_dec : Tensor [n_layers, d_in], optional
    k : int, optional
        TopK activation (k latents per token); default ReLU.
    input_scale : Tensor [n_layers], optional
        Each hook's activations are multiplied by it before encoding (training normalises layers whose norms
        differ); default 1.
    drop_first : int, default 0
        Tokens after BOS that analyses leave out by default.
    """

    kind = "crosscoder"
    steering = None

    def __init__(
        self,
        hook_names,
        W_enc,
        W_dec,
        b_enc=None,
        b_dec=None,
        *,
        k: int | None = None,
        input_scale=None,
        drop_first: int = 0,
    ):
        hook_names = [hook_names] if isinstance(hook_names, str) else list(hook_names)
        if not hook_names or not all(isinstance(h, str) for h in hook_names):
            raise TypeError("hook_names must be a list of hook names, one per crosscoder layer")
        if len(set(hook_names)) != len(hook_names):
            raise ValueError(f"hook_names repeats a hook ({hook_names}): give each crosscoder layer its own hook")
        W_enc, W_dec = torch.as_tensor(W_enc).detach(), torch.as_tensor(W_dec).detach()
        if W_enc.ndim != 3:
            raise ValueError(f"W_enc must be [n_layers, d_in, d_hidden], got shape {tuple(W_enc.shape)}")
        n_layers, d_in, d_hidden = W_enc.shape
        if tuple(W_dec.shape) != (d_hidden, n_layers, d_in):
            raise ValueError(
                f"W_dec must be [d_hidden, n_layers, d_in] = {(d_hidden, n_layers, d_in)} to match "
                f"W_enc {tuple(W_enc.shape)}, got {tuple(W_dec.shape)}"
            )
        if len(hook_names) != n_layers:
            raise ValueError(
                f"the crosscoder has {n_layers} layers but {len(hook_names)} hooks were given "
                f"({', '.join(hook_names)}): give one hook per layer"
            )
        device, dtype = W_enc.device, W_enc.dtype
        b_enc = torch.zeros(d_hidden, device=device, dtype=dtype) if b_enc is None else torch.as_tensor(b_enc)
        b_dec = torch.zeros(n_layers, d_in, device=device, dtype=dtype) if b_dec is None else torch.as_tensor(b_dec)
        scale = (
            torch.ones(n_layers, device=device, dtype=dtype) if input_scale is None else torch.as_tensor(input_scale)
        )
        for name, value, shape in (
            ("b_enc", b_enc, (d_hidden,)),
            ("b_dec", b_dec, (n_layers, d_in)),
            ("input_scale", scale, (n_layers,)),
        ):
            if tuple(value.shape) != shape:
                raise ValueError(f"{name} must have shape {shape} for this crosscoder, got {tuple(value.shape)}")
        self.W_enc, self.W_dec = W_enc, W_dec.to(device, dtype)
        self.b_enc, self.b_dec = b_enc.detach().to(device, dtype), b_dec.detach().to(device, dtype)
        self.input_scale = scale.detach().to(device, dtype)
        self.hook_names = tuple(hook_names)
        self.hook_name = "+".join(hook_names)  # one name for titles, feature spaces and linking
        self.n_features = int(d_hidden)
        self.k = None if k is None else positive_int(k, "k")
        if self.k is not None and self.k > d_hidden:
            raise ValueError(f"k={self.k} is more than the crosscoder's {d_hidden} latents")
        self.drop_first = integer(drop_first, "drop_first", minimum=0)

    @property
    def reads(self) -> tuple[str, ...]:
        return self.hook_names

    @property
    def n_layers(self) -> int:
        return len(self.hook_names)

    @property
    def d_in(self) -> int:
        return int(self.W_enc.shape[1])

    @property
    def layer(self) -> int | None:
        return None  # it spans several blocks

    def encode(self, hook_acts: torch.Tensor) -> torch.Tensor:
        """[..., n_layers, d_in] activations of the hooks (stacked in hook order) -> [..., d_hidden] latents."""
        if tuple(hook_acts.shape[-2:]) != (self.n_layers, self.d_in):
            raise ValueError(
                f"a crosscoder over {self.n_layers} hooks of width {self.d_in} encodes [..., "
                f"{self.n_layers}, {self.d_in}] activations, got {tuple(hook_acts.shape)}"
            )
        x = hook_acts.to(self.W_enc.device, self.W_enc.dtype) * self.input_scale[:, None]
        pre = torch.einsum("...ld,ldh->...h", x, self.W_enc) + self.b_enc
        if self.k is not None:
            top = pre.topk(self.k, dim=-1)
            pre = torch.zeros_like(pre).scatter_(-1, top.indices, top.values)
        return torch.relu(pre).to(hook_acts.device)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """[..., d_hidden] latents -> [..., n_layers, d_in] reconstructions of the hooks' activations."""
        x = torch.einsum("...h,hld->...ld", latents.to(self.W_dec.dtype), self.W_dec) + self.b_dec
        return x / self.input_scale[:, None]

    def decoder_directions(self) -> torch.Tensor:
        """[d_hidden, n_layers * d_in]: each latent's decoder over all its hooks (nearest latents compare these)."""
        return self.W_dec.reshape(self.n_features, -1)

    def decoder_norms(self) -> torch.Tensor:
        """[d_hidden, n_layers]: the norm of each latent's decoder direction at each hook."""
        return self.W_dec.norm(dim=-1)

    def residual_directions(self, model) -> torch.Tensor | None:
        """What each latent writes at its last hook, when that hook is the residual stream (its logit effects)."""
        from .backends import as_backend

        to_residual = as_backend(model).residual_map(self.hook_names[-1])
        last = self.W_dec[:, -1] / self.input_scale[-1]
        if to_residual is None:
            return None
        return last if isinstance(to_residual, str) else last @ to_residual.to(last)

    def check_model(self, model) -> None:
        from .backends import as_backend

        backend = as_backend(model)
        for hook in self.hook_names:
            backend.check_hook(hook)
            width = backend.hook_width(hook)
            if width is not None and width != self.d_in:
                raise ValueError(
                    f"this crosscoder expects d_in={self.d_in} at each hook, but {backend.name} has "
                    f"width {width} at {hook}: it was trained for other hooks or another model"
                )

    def check_steerable(self) -> None:
        raise NotImplementedError(
            "steering a crosscoder latent is not supported: it writes to several hooks at "
            "once; steer an SAE latent, a transcoder latent or a neuron instead"
        )

    def feature_name(self, feature: int) -> str:
        return f"X{feature}"

    def top_by_decoder_norm(self, k: int = 20, hook: str | None = None) -> pd.DataFrame:
        """The k latents with the largest decoder norm: in total over the hooks, or at one `hook` by its share of
        the latent's total (the latents local to that layer first). One column per hook, plus total and share."""
        k = positive_int(k, "k")
        norms = self.decoder_norms().float().cpu()
        total = norms.sum(1)
        table = pd.DataFrame(norms.numpy(), columns=list(self.hook_names)).rename_axis("feature")
        table["total"] = total.numpy()
        if hook is None:
            return table.sort_values("total", ascending=False, kind="stable").head(k)
        if hook not in self.hook_names:
            raise ValueError(f"hook {hook!r} is not one of this crosscoder's hooks: {', '.join(self.hook_names)}")
        table["share"] = (norms[:, self.hook_names.index(hook)] / total.clamp(min=1e-12)).numpy()
        return table.sort_values(["share", "total"], ascending=False, kind="stable").head(k)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {
            "W_enc": self.W_enc,
            "W_dec": self.W_dec,
            "b_enc": self.b_enc,
            "b_dec": self.b_dec,
            "input_scale": self.input_scale,
        }

    def save(self, path) -> Path:
        """Write the W_enc/W_dec layout (and input_scale, k, hooks in the header) to one safetensors file."""
        import json

        from safetensors.torch import save_file

        path = Path(path)
        meta = {
            "hook_names": json.dumps(list(self.hook_names)),
            "k": json.dumps(self.k),
            "drop_first": json.dumps(self.drop_first),
        }
        save_file({name: t.contiguous().cpu() for name, t in self.state_dict().items()}, str(path), metadata=meta)
        return path

    @classmethod
    def load(
        cls, path, hook_names=None, *, k: int | None = None, drop_first: int | None = None, device: str = "cpu"
    ) -> CrosscoderSource:
        """A crosscoder from a safetensors or weights-only torch file, in either layout (see the module).

        hook_names: one hook per layer; read from the file's header when it was saved by `save`. k: TopK
        (default: the header's, else ReLU, as dictionary_learning's CrossCoder)."""
        import json

        state, meta = _read_state(Path(path))
        if hook_names is None:
            if "hook_names" not in meta:
                raise ValueError(f"{path} does not name its hooks: pass hook_names=[...] (one per crosscoder layer)")
            hook_names = json.loads(meta["hook_names"])
        if k is None and meta.get("k"):
            k = json.loads(meta["k"])
        if drop_first is None:
            drop_first = json.loads(meta.get("drop_first", "0"))
        state = {key.removeprefix("_orig_mod."): value for key, value in state.items()}  # torch.compile'd saves
        layout = next((name for name, keys in _LAYOUTS.items() if keys[0] in state and keys[1] in state), None)
        if layout is None:
            raise ValueError(
                f"{path} is neither crosscoder layout: expected W_enc/W_dec or dictionary_learning's "
                f"encoder.weight/decoder.weight, found {sorted(state)[:6]}"
            )
        enc, dec, b_enc, b_dec = (state.get(key) for key in _LAYOUTS[layout])
        enc, dec = enc.to(device, torch.float32), dec.to(device, torch.float32)
        if layout == "dictionary_learning":
            if dec.ndim != 3:
                raise ValueError(f"{path}: decoder.weight must be [n_layers, d_hidden, d_in], got {tuple(dec.shape)}")
            dec = dec.transpose(0, 1)  # [n_layers, d_hidden, d_in] -> [d_hidden, n_layers, d_in]
        scale = state.get("input_scale")
        return cls(
            hook_names,
            enc,
            dec,
            None if b_enc is None else b_enc.to(device, torch.float32),
            None if b_dec is None else b_dec.to(device, torch.float32),
            k=k,
            drop_first=drop_first,
            input_scale=None if scale is None else scale.to(device, torch.float32),
        )

    def __repr__(self) -> str:
        act = f"TopK k={self.k}" if self.k else "ReLU"
        return f"CrosscoderSource({self.n_features} latents over {', '.join(self.hook_names)}, {act})"


def _read_state(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, header metadata) of a safetensors file, or of a torch file loaded with weights_only=True."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as file:
            return {key: file.get_tensor(key) for key in file.keys()}, dict(file.metadata() or {})
    try:  # weights_only refuses pickles that would run code
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - re-raised with the reason in one sentence
        raise ValueError(
            f"refused to load {path}: not a plain tensor file ({type(error).__name__}); only "
            "safetensors or weights-only torch files are accepted"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors")
    return state, {}
