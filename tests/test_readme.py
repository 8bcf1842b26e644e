"""The README's quick start runs exactly as pasted (issue 18.7), on the embedded default, offline; and
`fv.heldout_texts`, the corpus it uses, decodes the shipped held-out contexts.

The browser test tests/browser/test_readme_browser.py runs the same block in JupyterLab and takes the README's
pictures from it; both read it with `quick_start()`.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

import featureviz as fv
from featureviz.paths import ASSETS

README = Path(__file__).resolve().parents[1] / "README.md"


def quick_start(readme: Path = README) -> str:
    """The python block under the README's "## Quick start" heading, as written."""
    text = readme.read_text()
    section = text.split("\n## Quick start\n", 1)
    assert len(section) == 2, "README.md has no '## Quick start' section"
    block = re.search(r"```python\n(.*?)```", section[1].split("\n## ", 1)[0], re.S)
    assert block, "README.md's quick start has no ```python block"
    return block.group(1)


def test_quick_start_is_complete_code():
    code = quick_start()
    compile(code, "README.md", "exec")  # no `[...]` placeholders that only look like code
    assert "[...]" not in code.replace('"happy": [...], "angry": [...], "baseline": [...]', "")
    # The Colab line stays, commented out, beside the offline default.
    assert '# model, source = fv.load("gpt2-small"' in code
    for call in (
        "fv.emotion_prompts(",
        "fv.contrast(",
        "fv.ContrastView(",
        "fv.pick_steering_target(",
        "fv.Interpolation(",
        "fv.CheckpointScrubber(",
        'fv.sae_checkpoints("default")',
        "fv.export_html(",
    ):
        assert call in code, f"the quick start no longer shows {call}"


@pytest.mark.embedded
def test_quick_start_runs_as_pasted(tmp_path, monkeypatch, capsys):
    """Pasted into a fresh interpreter in an empty folder: it runs, and what it builds is the story it tells."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    t0 = time.monotonic()
    exec(compile(quick_start(), "README.md (quick start)", "exec"), namespace)
    seconds = time.monotonic() - t0

    happy, angry, target = namespace["happy"], namespace["angry"], namespace["target"]
    assert len(happy) == len(angry) == 5 and not set(happy) & set(angry)
    assert target.accepted and target.feature in angry  # an angry latent that passed every check
    explorer = namespace["explorer"]
    assert explorer.dashboard.feature == explorer.heatmap.selected_feature == target.feature
    assert explorer.heatmap.feature_ids and set(explorer.heatmap.feature_ids) <= set(happy + angry)
    steering = namespace["steering"]
    assert len(steering.texts) == 9 and len(set(steering.texts)) > 1  # steering changes the continuation
    report = tmp_path / "report.html"
    assert report.stat().st_size > 50_000
    assert str(target.feature) in report.read_text()
    out = capsys.readouterr().out
    assert "a sensible steering target" in out  # print(target)
    with capsys.disabled():
        print(f"\nquick start: {seconds:.0f} s; target {target.feature}, happy {happy}, angry {angry}")


def test_heldout_texts_are_the_shipped_contexts(tokenizer):
    tokens = np.load(ASSETS / "heldout_tokens.npy")
    texts = fv.heldout_texts()
    assert len(texts) == len(tokens) == json.loads((ASSETS / "corpus.json").read_text())["heldout_contexts"]
    assert fv.heldout_texts(3) == texts[:3]
    special = tokenizer.all_special_tokens
    assert all(isinstance(t, str) and t.strip() for t in texts)
    assert not any(s in t for t in texts for s in special)  # no chat markup in the corpus
    # Re-tokenised, each is about its 127 tokens (no BOS; a special token becomes one line break).
    lengths = [len(tokenizer(t, add_special_tokens=False).input_ids) for t in texts]
    assert all(120 <= n <= 130 for n in lengths), sorted(lengths)[:3] + sorted(lengths)[-3:]
    # Contexts without special tokens are the very same tokens once re-tokenised (BPE may merge a rare pair
    # differently, so nearly all, not all).
    ids = [row[1:].tolist() for row in tokens]
    clean = [i for i, row in enumerate(ids) if not set(row) & set(tokenizer.all_special_ids)]
    same = [i for i in clean if tokenizer(texts[i], add_special_tokens=False).input_ids == ids[i]]
    assert len(clean) > 50 and len(same) >= 0.95 * len(clean)


@pytest.mark.parametrize("n", [0, -1, 2.5])
def test_heldout_texts_rejects_a_bad_count(n):
    with pytest.raises((ValueError, TypeError)):
        fv.heldout_texts(n)
