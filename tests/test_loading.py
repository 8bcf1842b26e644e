import pytest
import torch

import featureviz as fv
from featureviz import loading
from featureviz.sources import NeuronSource, SAESource
from factories import make_sae


@pytest.fixture
def no_offline_env(monkeypatch):
    """Behave like a user who never set HF_HUB_OFFLINE: the library must notice the closed network itself."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def test_hub_model_offline_fails_with_one_sentence(no_offline_env):
    with pytest.raises(fv.HubUnavailableError) as info:
        fv.load("gpt2-small")
    message = str(info.value)
    assert "load_default()" in message and "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_hub_sae_offline_fails_with_one_sentence(no_offline_env, tiny_model):
    with pytest.raises(fv.HubUnavailableError, match="load_default"):
        loading.load_sae(("gpt2-small-res-jb", "blocks.8.hook_resid_pre"), tiny_model)


def test_unknown_model_name_is_a_clear_value_error():
    with pytest.raises(ValueError, match="neither a local directory nor a model TransformerLens knows"):
        fv.load("surely-not-a-model-xyz")
    with pytest.raises(TypeError, match="model_name"):
        fv.load(42)


def test_local_sae_directory_loads_and_is_checked(tmp_path, tiny_model):
    sae = make_sae(hook_name="blocks.1.hook_resid_pre")
    sae.save_model(tmp_path / "sae")
    source = loading.load_sae(tmp_path / "sae", tiny_model)
    assert isinstance(source, SAESource) and source.hook_name == "blocks.1.hook_resid_pre"
    torch.testing.assert_close(source.sae.W_dec, sae.W_dec)

    make_sae(d_in=16).save_model(tmp_path / "narrow")
    with pytest.raises(ValueError, match="trained for another model"):
        loading.load_sae(tmp_path / "narrow", tiny_model)
    with pytest.raises(FileNotFoundError, match="not an sae-lens directory"):
        loading.load_sae(tmp_path / "missing", tiny_model)
    with pytest.raises(TypeError, match="sae must be"):
        loading.load_sae(3.5, tiny_model)


def test_local_model_directory_loads_like_the_hub(tmp_path, tokenizer):
    """load() takes a local HF directory through TransformerLens's own conversion."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    hf = LlamaForCausalLM(config).eval()
    hf.save_pretrained(tmp_path / "tiny-model")
    tokenizer.save_pretrained(tmp_path / "tiny-model")
    (tmp_path / "my-llama").symlink_to(tmp_path / "tiny-model")
    model, source = fv.load(str(tmp_path / "tiny-model"), neuron_layer=1)
    assert isinstance(source, NeuronSource) and source.hook_name == "blocks.1.mlp.hook_post"
    tokens = torch.tensor([[1, 57, 2606, 451, 17]])
    with torch.no_grad():
        ours = model(tokens).log_softmax(-1)
        theirs = hf(tokens).logits.log_softmax(-1)
    assert (ours - theirs).abs().max() < 1e-4
    with pytest.raises(ValueError, match="rename the directory"):
        fv.load(str(tmp_path / "my-llama"))


@pytest.mark.embedded
def test_embedded_model_matches_the_hf_model(embedded):
    model, source = embedded
    hf, tokenizer = loading.load_embedded_hf_model()
    text = "The committee met on Tuesday, and nobody expected what happened next."
    tokens = model.to_tokens(text)
    assert tokens[0, 1:].tolist() == tokenizer(text).input_ids
    with torch.no_grad():
        ours = model(tokens).log_softmax(-1)
        theirs = hf(tokens).logits.log_softmax(-1)
    assert (ours - theirs).abs().max() < 1e-3
    assert model.cfg.n_layers == 30 and model.cfg.d_model == 576


@pytest.mark.embedded
def test_converted_weights_are_cached(embedded):
    first = loading.embedded_model_dir()
    stamp = (first / "config.json").stat().st_mtime_ns
    assert loading.embedded_model_dir() == first
    assert (first / "config.json").stat().st_mtime_ns == stamp  # reused, not converted again


@pytest.mark.embedded
def test_readme_one_liner(embedded):
    model, source = embedded
    acts = fv.activations(model, source, ["I love this!"])
    top = acts.top_features(5)
    assert len(top) == 5 and (top["max"].diff().dropna() <= 0).all()
    assert acts.str_tokens == [["I", " love", " this", "!"]]
