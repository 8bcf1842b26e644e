"""Fixtures: tiny random models and SAEs for unit tests (seconds); the embedded model for integration tests."""

import os

import pytest
import torch

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


def make_sae(d_in=32, d_sae=96, hook_name="blocks.1.hook_resid_pre", seed=0):
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    torch.manual_seed(seed)
    sae = StandardSAE(StandardSAEConfig(d_in=d_in, d_sae=d_sae, metadata=SAEMetadata(hook_name=hook_name)))
    with torch.no_grad():
        sae.W_enc.normal_(0, 0.5)
        sae.W_dec.normal_(0, 0.2)
        sae.b_enc.fill_(-0.1)
    return sae


@pytest.fixture
def tiny_sae():
    return make_sae()


@pytest.fixture(scope="session")
def embedded():
    """The embedded SmolLM2-135M default (model, source)."""
    import featureviz as fv

    return fv.load_default()
