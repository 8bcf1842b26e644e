import os
import tempfile

import pytest
import torch

import featureviz as fv
from factories import make_sae, tiny_llama_config
from featureviz import loading
from featureviz.sources import NeuronSource, SAESource


@pytest.fixture
def hub_offline(monkeypatch):
    """HF_HUB_OFFLINE=1 as huggingface_hub reads it (its constant is set from the environment at import)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def test_hub_model_offline_fails_with_one_sentence(hub_offline):
    with pytest.raises(fv.HubUnavailableError) as info:
        fv.load("gpt2-small")
    message = str(info.value)
    assert "load_default()" in message and "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_hub_sae_offline_fails_with_one_sentence(hub_offline, tiny_model):
    with pytest.raises(fv.HubUnavailableError, match="load_default"):
        loading.load_sae(("gpt2-small-res-jb", "blocks.8.hook_resid_pre"), tiny_model)


def test_non_network_errors_are_not_reported_as_offline():
    with pytest.raises(KeyError):
        with loading.hub_errors("model 'x'"):
            raise KeyError("a bug, not the network")


HUB_THROUGH_PROXY = """
import featureviz as fv
from huggingface_hub import constants
assert not constants.HF_HUB_OFFLINE
try:
    fv.load("gpt2-small")
except fv.HubUnavailableError as e:
    print("ERROR:", e)
"""


def test_hub_requests_go_through_the_users_proxy(tmp_path):
    """No probe of our own: huggingface_hub's client talks to the hub through HTTPS_PROXY (here a local proxy that
    refuses), and its error becomes our one sentence. The old raw-socket probe bypassed proxies and declared the
    hub unreachable without asking the proxy."""
    import socket
    import subprocess
    import sys
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    requests = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                requests.append(conn.recv(4096).split(b"\r\n")[0].decode())
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    proxy = f"http://127.0.0.1:{server.getsockname()[1]}"
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "hf_hub_offline")}
    env |= {"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "HF_HOME": str(tmp_path / "hf")}
    try:
        run = subprocess.run(
            [sys.executable, "-c", HUB_THROUGH_PROXY], env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        server.close()
    assert "ERROR: Could not download model 'gpt2-small' from the hub" in run.stdout, run.stderr[-3000:]
    assert any(r.startswith("CONNECT huggingface.co:443") for r in requests), requests


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


@pytest.fixture
def tiny_hf_dir(tmp_path, tokenizer):
    """A 2-layer random Llama saved as an ordinary Hugging Face directory, with the embedded tokenizer."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    LlamaForCausalLM(tiny_llama_config(tokenizer)).eval().save_pretrained(tmp_path / "tiny-model")
    tokenizer.save_pretrained(tmp_path / "tiny-model")
    return tmp_path / "tiny-model"


def _hf_log_probs(hf_dir, tokens):
    from transformers import AutoModelForCausalLM

    with torch.no_grad():
        return AutoModelForCausalLM.from_pretrained(hf_dir).eval()(tokens).logits.log_softmax(-1)


TOKENS = torch.tensor([[1, 57, 2606, 451, 17]])


def test_local_model_directory_loads_like_the_hub(tiny_hf_dir):
    """load() takes a local HF directory through TransformerLens's own conversion."""
    model, source = fv.load(str(tiny_hf_dir), neuron_layer=1)
    assert isinstance(source, NeuronSource) and source.hook_name == "blocks.1.mlp.hook_post"
    with torch.no_grad():
        ours = model(TOKENS).log_softmax(-1)
    assert (ours - _hf_log_probs(tiny_hf_dir, TOKENS)).abs().max() < 1e-4


def test_llama_or_gemma_in_the_path_loads(tmp_path, tiny_hf_dir, monkeypatch):
    """TransformerLens picks a built-in config when a path mentions llama/gemma; we convert through a neutral name,
    even when the temporary directory itself lives under such a path."""
    home = tmp_path / "gemma-user" / "llama-experiments"
    home.mkdir(parents=True)
    (home / "my-llama").symlink_to(tiny_hf_dir)
    monkeypatch.chdir(home)
    monkeypatch.setattr(tempfile, "tempdir", str(home))
    model, _ = fv.load(str(home / "my-llama"), neuron_layer=1)
    assert model.cfg.model_name == "my-llama" and model.cfg.n_layers == 2
    with torch.no_grad():
        assert (model(TOKENS).log_softmax(-1) - _hf_log_probs(tiny_hf_dir, TOKENS)).abs().max() < 1e-4


def test_converted_model_round_trips_and_each_load_gets_its_own_weights(tmp_path, tiny_hf_dir):
    """save_converted/load_converted give the processed model back exactly, without TransformerLens's processing."""
    model = loading.load_model(tiny_hf_dir)
    target = loading.cached_conversion(
        tmp_path / "llama-cache" / "converted",
        lambda out: loading.save_converted(model, model.tokenizer, out),
    )
    first, second = loading.load_converted(target), loading.load_converted(target)
    with torch.no_grad():
        torch.testing.assert_close(first(TOKENS), model(TOKENS), rtol=0, atol=0)
        first.W_U.mul_(0)  # a user editing one loaded model must not change the next one
        first.tokenizer.padding_side = "left"
        torch.testing.assert_close(second(TOKENS), model(TOKENS), rtol=0, atol=0)
    assert loading.load_converted(target).tokenizer.padding_side == "right"
    assert first.cfg is not second.cfg
    assert sorted(p.name for p in target.parent.iterdir()) == [".converted.lock", "converted"]


def test_failed_conversion_leaves_nothing_behind(tmp_path):
    def broken(out):
        (out / "half-written.bin").write_bytes(b"x" * 1000)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        loading.cached_conversion(tmp_path / "model", broken)
    assert [p.name for p in tmp_path.iterdir()] == [".model.lock"]


CONCURRENT_LOAD = """
import sys, time, torch
from pathlib import Path
from featureviz import loading
from transformers import AutoTokenizer

hf_dir, target, me, other = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])

def convert(out):
    with open(target.parent / "conversions.log", "a") as log:
        log.write(me.name + "\\n")
    model = loading.load_model(hf_dir)
    time.sleep(1.0)  # a slow conversion: the other process arrives while this one is writing
    loading.save_converted(model, AutoTokenizer.from_pretrained(hf_dir), out)

me.touch()
while not other.exists():  # start both conversions together
    time.sleep(0.01)
model = loading.load_converted(loading.cached_conversion(target, convert))
with torch.no_grad():
    print(float(model(torch.tensor([[1, 57, 2606, 451, 17]])).sum()))
"""


def test_two_processes_converting_at_once_wait_for_one_conversion(tmp_path, tiny_hf_dir):
    """Issue 23.8: two first loads at once used to collide on one partial directory (SafetensorError, 538 MB
    left behind). Now one converts, the other waits for the lock and loads the finished copy."""
    import subprocess
    import sys

    cache = tmp_path / "cache"
    cache.mkdir()
    target = cache / "converted"
    ready = [tmp_path / "ready-a", tmp_path / "ready-b"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_LOAD, str(tiny_hf_dir), str(target), str(me), str(other)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me, other in (ready, ready[::-1])
    ]
    results = [p.communicate(timeout=600) for p in procs]
    for p, (_out, err) in zip(procs, results):
        assert p.returncode == 0, err[-2000:]
    outputs = {out.strip().splitlines()[-1] for out, _ in results}
    assert len(outputs) == 1  # both loaded the same weights
    assert (cache / "conversions.log").read_text().split() in (["ready-a"], ["ready-b"])  # converted once
    assert any("waiting for it" in err for _, err in results)
    assert sorted(p.name for p in cache.iterdir()) == [".converted.lock", "conversions.log", "converted"]


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
def test_converted_weights_are_cached_and_memoised(embedded):
    first = loading.embedded_model_dir()
    stamp = (first / loading.WEIGHTS_FILE).stat().st_mtime_ns
    assert loading.embedded_model_dir() == first
    assert (first / loading.WEIGHTS_FILE).stat().st_mtime_ns == stamp  # reused, not converted again
    assert not any("llama" in p.name or "tmp" in p.name for p in first.parent.iterdir())
    hits = loading._read_converted.cache_info().hits
    model, _ = fv.load_default(source="neurons")
    assert loading._read_converted.cache_info().hits == hits + 1  # read from memory, not from disk
    assert model is not embedded[0] and model.W_E.data_ptr() != embedded[0].W_E.data_ptr()


@pytest.mark.embedded
def test_default_model_loads_from_a_cache_dir_named_llama(embedded, tmp_path, monkeypatch):
    """A cache under ~/llama-experiments or a user named gemma must not matter."""
    cache = tmp_path / "gemma" / "llama-experiments"
    cache.mkdir(parents=True)
    (cache / loading.DEFAULT_MODEL_DIRNAME).symlink_to(loading.embedded_model_dir())
    monkeypatch.setenv("FEATUREVIZ_CACHE", str(cache))
    model, source = fv.load_default()
    tokens = model.to_tokens("Hello there")
    with torch.no_grad():
        torch.testing.assert_close(model(tokens), embedded[0](tokens))


def test_missing_embedded_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(loading, "DEFAULT_GGUF_PACKAGE", "surely_not_installed_pkg")
    with pytest.raises(ModuleNotFoundError, match=r"python -m featureviz.install_default.*--no-deps"):
        loading.embedded_gguf_path()


@pytest.mark.embedded
def test_readme_one_liner(embedded):
    model, source = embedded
    acts = fv.activations(model, source, ["I love this!"])
    top = acts.top_features(5)
    assert len(top) == 5 and (top["max"].diff().dropna() <= 0).all()
    assert acts.str_tokens == [[" love", " this", "!"]]  # the shipped SAE leaves out the first token
    assert fv.activations(model, source, ["I love this!"], drop_first=0).str_tokens == [["I", " love", " this", "!"]]


def test_import_is_light():
    """`import featureviz` and DashboardData.load need neither TransformerLens, sae-lens nor transformers."""
    import subprocess
    import sys

    code = (
        "import sys, featureviz as fv; fv.DashboardData.load; assert callable(fv.load_default); "
        "print(sorted(m for m in ('transformer_lens', 'sae_lens', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_shipped_saes_are_found_by_hook():
    saes = fv.default_sae_hooks()
    assert list(saes)[0] == "blocks.15.hook_resid_pre"  # the tutorials' SAE comes first
    assert loading.default_sae_dir() == saes["blocks.15.hook_resid_pre"]
    assert loading.default_sae_dir("blocks.8.hook_resid_pre") == saes["blocks.8.hook_resid_pre"]
    with pytest.raises(ValueError, match="ships no SAE on 'blocks.9.hook_resid_pre'; it has SAEs on blocks.15"):
        fv.load_default(hook="blocks.9.hook_resid_pre")  # before any model loads


@pytest.mark.embedded
def test_earlier_layer_sae_loads_on_its_hook(embedded):
    model, source = fv.load_default(hook="blocks.8.hook_resid_pre")
    assert isinstance(source, SAESource) and source.hook_name == "blocks.8.hook_resid_pre"
    assert source.n_features == fv.load_default()[1].n_features
