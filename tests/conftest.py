"""Fixtures: tiny random models and SAEs for unit tests (seconds); the embedded model for integration tests."""

import os

import pytest
import torch

from factories import make_sae

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    from featureviz.loading import embedded_model_dir

    return AutoTokenizer.from_pretrained(embedded_model_dir())


@pytest.fixture(scope="session")
def tiny_model(tokenizer):
    """A 2-layer random HookedTransformer with the embedded model's tokenizer."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    torch.manual_seed(0)
    cfg = HookedTransformerConfig(
        n_layers=2, d_model=32, n_ctx=64, d_head=8, n_heads=4, d_mlp=64, d_vocab=len(tokenizer),
        act_fn="gelu", normalization_type="LN", model_name="tiny-random", default_prepend_bos=True,
    )
    model = HookedTransformer(cfg, tokenizer=tokenizer)
    model.eval()
    return model


@pytest.fixture
def tiny_sae():
    return make_sae()


@pytest.fixture(scope="session")
def embedded():
    """The embedded SmolLM2-135M default (model, source)."""
    import featureviz as fv

    return fv.load_default()
