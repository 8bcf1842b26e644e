"""Matrices cross the wire as binary buffers inside a dict trait, never as nested JSON lists.

ipywidgets lifts memoryviews out of (nested) trait values into binary buffers; in JS each arrives as a
DataView (js/src/lib/binary.ts decodes it). Sparse activations (SAE latents) go as CSR, dense ones as a
plain row-major float32 block: whichever is smaller.
"""

from __future__ import annotations

import numpy as np
import torch


def encode_matrix(values) -> dict:
    """{"shape", "format": "dense" | "csr", "data", ["indices", "indptr"]} with float32/int32 little-endian buffers."""
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {array.shape}")
    array = np.ascontiguousarray(array, dtype="<f4")
    n_rows, n_cols = array.shape
    rows, cols = np.nonzero(array)
    # CSR costs 8 bytes per non-zero (+4 per row) against 4 bytes per cell dense.
    if 8 * len(rows) + 4 * (n_rows + 1) < 4 * array.size:
        indptr = np.zeros(n_rows + 1, dtype="<i4")
        np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
        return {
            "shape": [n_rows, n_cols],
            "format": "csr",
            "data": _bytes(array[rows, cols].astype("<f4")),
            "indices": _bytes(cols.astype("<i4")),
            "indptr": _bytes(indptr),
        }
    return {"shape": [n_rows, n_cols], "format": "dense", "data": _bytes(array)}


def _bytes(array: np.ndarray) -> memoryview:
    """A flat byte view (no copy): what ipywidgets sends as one binary buffer."""
    return memoryview(np.ascontiguousarray(array)).cast("B")


def decode_matrix(payload: dict) -> np.ndarray:
    """The inverse of encode_matrix (used by tests and by export)."""
    n_rows, n_cols = payload["shape"]
    data = np.frombuffer(payload["data"], dtype="<f4")
    if payload["format"] == "dense":
        return data.reshape(n_rows, n_cols).copy()
    indptr = np.frombuffer(payload["indptr"], dtype="<i4")
    indices = np.frombuffer(payload["indices"], dtype="<i4")
    out = np.zeros((n_rows, n_cols), dtype=np.float32)
    rows = np.repeat(np.arange(n_rows), np.diff(indptr))
    out[rows, indices] = data
    return out


def payload_bytes(payload: dict) -> int:
    """Bytes of binary buffers in an encoded matrix (what crosses the wire besides a few JSON numbers)."""
    return sum(v.nbytes for v in payload.values() if isinstance(v, memoryview))
