"""Where tensors live: every computation runs on the model's device and dtype; results come back as CPU numpy.

TransformerLens puts models on CUDA by default on a GPU runtime (Colab), so any tensor made without
`device=` would sit on the CPU beside CUDA activations. Make tensors with `device=device_of(model)` and
convert results with `to_numpy`, never `.numpy()` on a tensor that may live elsewhere. Forward passes hold
`model_lock(model)`, so threads sharing a model never see each other's hooks.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
import torch


def device_of(model) -> torch.device:
    """The device of a model's (first) parameters, which cfg.device may not track after `.to(...)`."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device(model.cfg.device)


def dtype_of(model) -> torch.dtype:
    """The dtype the model computes in (its first floating-point parameter's)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A CPU numpy array of a tensor on any device (bfloat16, which numpy lacks, becomes float32)."""
    tensor = tensor.detach()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.cpu().numpy()


def cpu_tokens(ids) -> torch.Tensor:
    """Token ids as a CPU long tensor: token lists are kept on the CPU and batched onto the device."""
    return torch.as_tensor(ids, dtype=torch.long, device="cpu")


_LOCKS: weakref.WeakKeyDictionary[torch.nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model) -> threading.RLock:
    """The lock around every forward pass featureviz runs on `model`.

    TransformerLens hooks live on the model object itself, so two threads running hooked passes on one model
    would see each other's hooks (and its context counter would leave some behind). One pass at a time per
    model keeps each call's hooks its own; re-entrant, so a call inside a call does not deadlock.
    """
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.RLock()
        return lock
