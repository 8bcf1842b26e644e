"""Fixtures: tiny random models and SAEs for unit tests (seconds); the embedded model for integration tests."""

import os

import pytest

from factories import make_sae, make_tiny_model, tiny_llama_config

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
    return make_tiny_model(tokenizer)


@pytest.fixture(scope="session")
def tiny_pair(tokenizer):
    """(HFModel of a 2-layer random Llama, the same model converted to a HookedTransformer)."""
    import torch
    from transformers import LlamaForCausalLM

    from featureviz.backends import HFModel
    from featureviz.loading import hooked_from_hf

    torch.manual_seed(0)
    config = tiny_llama_config(tokenizer, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    config.architectures = ["LlamaForCausalLM"]  # what save_pretrained writes; TL picks the architecture by it
    hf = LlamaForCausalLM(config).eval()
    return HFModel(hf, tokenizer), hooked_from_hf(hf, tokenizer, name="tiny-llama")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small convolutions (tests/test_vision*.py): one thread was ~20x faster than two on the busy 2-core box."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_sae():
    return make_sae()


@pytest.fixture(scope="session")
def embedded():
    """The embedded SmolLM2-135M default (model, source)."""
    import featureviz as fv

    return fv.load_default()
