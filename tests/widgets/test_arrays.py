"""The binary matrix codec (widgets/arrays.py): csr, dense and quantised dense_u8 payloads round-trip exactly or
within half a quantisation step, and each format is picked only where it is smaller."""

import numpy as np
import pytest
import torch

from factories import assert_within_half_step
from featureviz.widgets.arrays import decode_matrix, encode_matrix, payload_bytes, quantisation_grid


def test_sparse_matrix_goes_as_csr_and_round_trips():
    rng = np.random.default_rng(0)
    values = rng.random((50, 40)).astype(np.float32) * (rng.random((50, 40)) < 0.05)
    payload = encode_matrix(torch.from_numpy(values))
    assert payload["format"] == "csr"
    np.testing.assert_array_equal(decode_matrix(payload), values)
    assert payload_bytes(payload) < values.nbytes / 4


def test_dense_matrix_goes_dense_and_round_trips():
    values = np.random.default_rng(1).normal(size=(7, 5)).astype(np.float32)
    payload = encode_matrix(values)
    assert payload["format"] == "dense"
    np.testing.assert_array_equal(decode_matrix(payload), values)
    with pytest.raises(ValueError, match="2-D"):
        encode_matrix(np.zeros(3))


def test_quantised_dense_round_trip_is_within_half_a_step():
    rng = np.random.default_rng(2)
    n_rows, n_cols = 400, 6
    values = np.stack(
        [
            rng.random(n_rows) * 7.3 * (rng.random(n_rows) < 0.6),  # SAE-like: non-negative, 60% active
            rng.normal(size=n_rows) * 0.2 - 0.05,  # signed (GELU/SiLU neurons)
            1000 + rng.random(n_rows),  # far from zero
            np.full(n_rows, -2.5),  # constant
            np.zeros(n_rows),  # never fires
            rng.random(n_rows) * 1e-6,  # tiny
        ],
        axis=1,
    ).astype(np.float32)
    payload = encode_matrix(values, quantise=True)
    assert payload["format"] == "dense_u8"
    assert payload_bytes(payload) == n_rows * n_cols + 8 * n_cols
    assert_within_half_step(payload, values)
    scale = np.frombuffer(payload["scale"], dtype="<f4")
    span = values.max(0).astype(np.float64) - values.min(0)
    assert (scale[[0, 1, 5]] <= span[[0, 1, 5]] / 255 * (1 + 1e-6)).all()  # finer than 256 colours per column
    np.testing.assert_array_equal(decode_matrix(payload)[:, 3], -2.5)  # a constant column is exact
    # The bound is tight: some cell errs by almost half a step.
    err = np.abs(decode_matrix(payload)[:, 0].astype(np.float64) - values[:, 0])
    assert err.max() > 0.4 * scale[0]


def test_quantisation_is_opt_in_and_only_when_smaller():
    rng = np.random.default_rng(3)
    dense = rng.random((64, 32)).astype(np.float32)
    assert encode_matrix(dense)["format"] == "dense"  # exact unless asked (q-values, probabilities)
    assert encode_matrix(dense, quantise=True)["format"] == "dense_u8"
    sparse = dense * (rng.random(dense.shape) < 0.05)
    assert encode_matrix(sparse, quantise=True)["format"] == "csr"  # CSR stays exact and smaller
    with_nan = dense.copy()
    with_nan[3, 4] = np.nan
    payload = encode_matrix(with_nan, quantise=True)
    assert payload["format"] == "dense"
    np.testing.assert_array_equal(decode_matrix(payload), with_nan)
    empty = encode_matrix(np.zeros((0, 4), np.float32), quantise=True)
    assert decode_matrix(empty).shape == (0, 4)
    scale, zero = quantisation_grid(np.array([0, -1, 3], np.float32), np.array([0, 1, 3], np.float32))
    assert scale.dtype == zero.dtype == np.float32
    assert zero[0] == 0 and scale[0] == 0  # an all-zero column
    assert zero[1] in (127, 128)  # [-1, 1]: zero near the middle code
    assert zero[2] == -(2**22)  # a constant column: exact, with |zero| kept an exact float32 integer
