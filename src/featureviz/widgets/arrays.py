"""Matrices cross the wire as binary buffers inside a dict trait, never as nested JSON lists.

ipywidgets lifts memoryviews out of (nested) trait values into binary buffers; in JS each arrives as a
DataView (js/src/lib/binary.ts decodes it). Formats, whichever is smallest:

- "csr": float32 values + int32 column indices + int32 row pointers (sparse SAE latents; exact).
- "dense": row-major float32 (exact).
- "dense_u8" (only with quantise=True, for matrices that are only drawn as colours): one uint8 code per
  cell and, per column, a float32 `scale` and float32 integer `zero`; value = (code - zero) * scale.
  zero is the code of 0.0, so zeros stay exactly zero; the error is at most scale / 2, and scale is at
  most the column's range / 255: finer than the 256-step colour scale over the whole matrix's range.
"""

from __future__ import annotations

import numpy as np
import torch

from ..devices import to_numpy

# Rows are quantised per block, so the float64 temporary stays 8 MiB whatever the matrix size.
_BLOCK_CELLS = 1 << 20


def encode_matrix(values, *, quantise: bool = False) -> dict:
    """{"shape", "format": "dense" | "csr" | "dense_u8", "data", ...} with little-endian buffers.

    quantise=True allows the lossy "dense_u8" format when it is the smallest (it is never chosen for a
    matrix holding NaN or infinities). Leave it off where the values are read as numbers (q-values,
    probabilities): a quantised q of 0.049 could come back as 0.051.
    """
    array = to_numpy(values) if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {array.shape}")
    array = np.ascontiguousarray(array, dtype="<f4")  # no copy when it already is
    n_rows, n_cols = array.shape
    nnz = int(np.count_nonzero(array))
    sizes = {"csr": 8 * nnz + 4 * (n_rows + 1), "dense": 4 * array.size}
    if quantise and array.size:
        col_min, col_max = array.min(0), array.max(0)  # NaN propagates into both
        if np.isfinite(col_min).all() and np.isfinite(col_max).all():
            sizes["dense_u8"] = array.size + 8 * n_cols
    best = min(sizes, key=lambda k: (sizes[k], k != "dense"))  # ties go to exact dense
    if best == "csr":
        return _encode_csr(array)
    if best == "dense_u8":
        return _encode_u8(array, col_min, col_max)
    return {"shape": [n_rows, n_cols], "format": "dense", "data": _bytes(array)}


def _encode_csr(array: np.ndarray) -> dict:
    n_rows, n_cols = array.shape
    flat = np.flatnonzero(array)  # one int64 per non-zero (np.nonzero would make two)
    indptr = np.searchsorted(flat, np.arange(n_rows + 1, dtype=np.int64) * n_cols).astype("<i4")
    return {
        "shape": [n_rows, n_cols],
        "format": "csr",
        "data": _bytes(array.reshape(-1)[flat]),
        "indices": _bytes((flat % max(n_cols, 1)).astype("<i4")),
        "indptr": _bytes(indptr),
    }


def quantisation_grid(col_min: np.ndarray, col_max: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (scale, zero) as float32: 255 steps of `scale` cover [min, max], `zero` is an integer.

    scale is rounded up so the 255 steps really cover the range, and kept >= max|x| / 2**22 so that
    |zero| <= 2**22 stays an exact float32 integer (a nearly constant column gets ~float32 precision).
    """
    lo = col_min.astype(np.float64)
    hi = col_max.astype(np.float64)
    wanted = np.maximum((hi - lo) / 255, np.maximum(np.abs(lo), np.abs(hi)) * 2.0**-22)
    scale = wanted.astype("<f4")
    short = scale.astype(np.float64) < wanted
    scale[short] = np.nextafter(scale[short], np.float32(np.inf))
    s = scale.astype(np.float64)
    zero = np.rint(-lo / np.where(s > 0, s, 1.0)).astype("<f4")
    zero[s == 0] = 0  # an all-zero column
    return scale, zero


def _encode_u8(array: np.ndarray, col_min: np.ndarray, col_max: np.ndarray) -> dict:
    n_rows, n_cols = array.shape
    scale, zero = quantisation_grid(col_min, col_max)
    inv = 1.0 / np.where(scale > 0, scale.astype(np.float64), 1.0)
    z = zero.astype(np.float64)
    codes = np.empty((n_rows, n_cols), dtype=np.uint8)
    step = max(1, _BLOCK_CELLS // max(n_cols, 1))
    buffer = np.empty((min(step, n_rows), n_cols), dtype=np.float64)  # the one float64 temporary
    for start in range(0, n_rows, step):
        rows = array[start : start + step]
        block = buffer[: len(rows)]
        np.multiply(rows, inv, out=block)
        block += z
        np.rint(block, out=block)
        np.clip(block, 0, 255, out=block)
        codes[start : start + step] = block
    return {
        "shape": [n_rows, n_cols],
        "format": "dense_u8",
        "data": _bytes(codes),
        "scale": _bytes(scale),
        "zero": _bytes(zero),
    }


def _bytes(array: np.ndarray) -> memoryview:
    """A flat byte view (no copy): what ipywidgets sends as one binary buffer."""
    return memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))  # cast("B") fails on empty


def decode_matrix(payload: dict) -> np.ndarray:
    """The inverse of encode_matrix (used by tests and by export); dense_u8 comes back within scale / 2."""
    n_rows, n_cols = payload["shape"]
    if payload["format"] == "dense_u8":
        codes = np.frombuffer(payload["data"], dtype=np.uint8).reshape(n_rows, n_cols)
        scale = np.frombuffer(payload["scale"], dtype="<f4").astype(np.float64)
        zero = np.frombuffer(payload["zero"], dtype="<f4").astype(np.float64)
        return ((codes - zero) * scale).astype(np.float32)
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


def encode_images(images) -> dict:
    """{"shape": [..., H, W, 3], "format": "rgb_u8", "data"}: RGB pixels as one uint8 buffer (no PNG, no base64).

    Float images are read as [0, 1]; any leading axes (units, images, checkpoints) are kept in `shape`.
    """
    array = np.asarray(images)
    if array.ndim < 3 or array.shape[-1] != 3:
        raise ValueError(f"expected RGB images [..., height, width, 3], got shape {array.shape}")
    if array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)
    return {"shape": list(array.shape), "format": "rgb_u8", "data": _bytes(array)}


def decode_images(payload: dict) -> np.ndarray:
    """The inverse of encode_images (tests, export): uint8 [..., H, W, 3]."""
    return np.frombuffer(payload["data"], dtype=np.uint8).reshape(payload["shape"]).copy()
