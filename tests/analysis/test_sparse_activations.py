"""fv.activations stores a TopK SAE's activations as CSR and everything reading them gives the dense answers."""

import numpy as np
import pandas as pd
import pytest
import torch

import featureviz as fv
from factories import make_topk_sae
from featureviz.analysis import activations as A
from featureviz.analysis.contrast import prompt_aggregates
from featureviz.analysis.dashboard import dashboard_data

PROMPTS = {
    "happy": ["I am so happy today", "What a joy this is, truly a joy", "Lovely sunny day"],
    "angry": ["I am so angry now", "What a mess you made of it all", "Awful, awful day"],
    "baseline": ["The table is brown", "It is Tuesday", "Water is wet and the sky is blue"],
}


@pytest.fixture(scope="module")
def pair(tiny_model):
    """The same activations stored sparse (the default for a TopK SAE) and dense (density limit forced below 0)."""
    sae = make_topk_sae()
    sparse = fv.activations(tiny_model, sae, PROMPTS)
    limit = A.SPARSE_MAX_DENSITY
    A.SPARSE_MAX_DENSITY = -1.0
    try:
        dense = fv.activations(tiny_model, sae, PROMPTS)
    finally:
        A.SPARSE_MAX_DENSITY = limit
    return sae, sparse, dense


def test_topk_activations_are_stored_sparse_and_read_back_exactly(pair):
    _, sparse, dense = pair
    assert sparse.sparse is not None and dense.sparse is None
    assert sparse.sparse.nnz == int((dense.values != 0).sum()) <= 4 * sparse.n_tokens
    assert sparse.nbytes < dense.nbytes / 5  # 4 of 96 latents: 8 bytes per non-zero vs 4 per cell
    torch.testing.assert_close(sparse.values, dense.values, rtol=0, atol=0)
    assert sparse.values.dtype == torch.float32 and sparse.values.device.type == "cpu"
    assert sparse.shape == dense.shape == tuple(dense.values.shape)
    for p in range(len(sparse.prompts)):
        torch.testing.assert_close(sparse.prompt_values(p), dense.prompt_values(p), rtol=0, atol=0)
    torch.testing.assert_close(sparse.columns([5, 0, 95]), dense.values[:, [5, 0, 95]], rtol=0, atol=0)
    sparse.values[0, 0] = 123.0  # a copy: the stored result does not change
    assert float(sparse.values[0, 0]) == float(dense.values[0, 0])


def test_everything_reading_sparse_activations_gives_the_dense_answers(tiny_model, pair):
    sae, sparse, dense = pair
    pd.testing.assert_frame_equal(sparse.feature_stats(), dense.feature_stats(), rtol=1e-6)
    pd.testing.assert_frame_equal(sparse.top_features(10), dense.top_features(10), rtol=1e-6)
    pd.testing.assert_frame_equal(
        sparse.group("happy").top_features(5, baseline=sparse.group("baseline")),
        dense.group("happy").top_features(5, baseline=dense.group("baseline")),
        rtol=1e-6,
    )
    torch.testing.assert_close(sparse.group("angry").values, dense.group("angry").values, rtol=0, atol=0)
    assert sparse.group("angry").sparse is not None
    for a, b in zip(
        sparse.histogram(int(dense.values.sum(0).argmax())), dense.histogram(int(dense.values.sum(0).argmax()))
    ):
        np.testing.assert_array_equal(a, b)
    for how in ("max", "mean"):
        np.testing.assert_allclose(prompt_aggregates(sparse, how), prompt_aggregates(dense, how), rtol=1e-6)
    pd.testing.assert_frame_equal(fv.contrast(sparse), fv.contrast(dense), rtol=1e-6)
    np.testing.assert_array_equal(fv.Heatmap(sparse, top_k=8).feature_ids, fv.Heatmap(dense, top_k=8).feature_ids)
    a, b = (
        dashboard_data(tiny_model, sae, activations=x, k=3, n_samples=4, n_bins=8, progress=False)
        for x in (sparse, dense)
    )
    np.testing.assert_array_equal(a.top_values, b.top_values)
    np.testing.assert_array_equal(a.hist_counts, b.hist_counts)


def test_small_prompt_blocks_cover_every_prompt_once(pair):
    _, sparse, dense = pair
    blocks = list(sparse.prompt_blocks(max_rows=7))
    assert [b[0] for b in blocks] == [0] + [b[1] for b in blocks[:-1]] and blocks[-1][1] == len(sparse.prompts)
    torch.testing.assert_close(torch.cat([b[2] for b in blocks]), dense.values, rtol=0, atol=0)


def test_dense_sources_stay_dense(tiny_model):
    acts = fv.activations(tiny_model, fv.NeuronSource(tiny_model, 0), PROMPTS["happy"])
    assert acts.sparse is None and acts.values.data_ptr() == acts.values.data_ptr()  # stored, not copied


def test_csr_is_assembled_in_prompt_order_whatever_the_arrival_order():
    """Batches arrive length-sorted; the store appends each chunk's non-zeros and reorders rows at the end, in
    blocks: shuffled prompts, small blocks, the CSR equals the dense values."""
    g = np.random.default_rng(0)
    offsets = np.concatenate([[0], np.cumsum(g.integers(1, 9, 30))])
    dense = torch.zeros(int(offsets[-1]), 50)
    mask = torch.rand(dense.shape, generator=torch.Generator().manual_seed(0)) < 0.05
    dense[mask] = torch.arange(1, int(mask.sum()) + 1, dtype=torch.float32)
    store = A._ValueStore(offsets, 50)
    for chunk in np.array_split(g.permutation(30), 7):
        store.put(list(chunk), [dense[offsets[i] : offsets[i + 1]] for i in chunk])
    csr = store.result(block_rows=5)
    np.testing.assert_array_equal(csr.toarray(), dense.numpy())
    assert csr.indices.dtype == np.int32 and csr.has_sorted_indices
