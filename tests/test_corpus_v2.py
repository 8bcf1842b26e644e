"""The v2 corpus recipe (scripts/sample_corpus_v2.py): seeded, resumable, held-out kinds disjoint from training."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "sample_corpus_v2.py"
spec = importlib.util.spec_from_file_location("sample_corpus_v2", SCRIPT)
corpus = importlib.util.module_from_spec(spec)
spec.loader.exec_module(corpus)


def test_requests_are_deterministic_per_shard_and_differ_between_shards():
    assert corpus.requests("train", 0, 3) == corpus.requests("train", 0, 3)
    assert corpus.requests("train", 0, 3) != corpus.requests("train", 0, 4)
    assert corpus.requests("train", 0, 3) != corpus.requests("train", 1, 3)
    assert len(corpus.requests("heldout", 0, 0)) == corpus.SHARD_DOCS


def test_heldout_forms_and_topics_never_appear_in_training_requests():
    held = corpus.HELDOUT
    held_forms = {f for c in held.values() for f in c["forms"]}
    held_topics = {t for c in held.values() for t in c["topics"]}
    assert not held_forms & set(corpus.FORMS) and not held_topics & set(corpus.TOPICS)
    train = [r["prompt"] for i in range(4) for r in corpus.requests("train", 0, i)]
    assert not any(f" {t}." in p for p in train for t in held_topics)
    cats = {r["category"] for r in corpus.requests("heldout", 0, 0)}
    assert cats == set(held)


def test_dedup_key_ignores_case_and_punctuation_but_not_content():
    assert corpus.text_key("Hello,  World! I am here") == corpus.text_key("hello world i am here")
    assert corpus.text_key("hello world") != corpus.text_key("goodbye world")


def test_committed_shards_are_complete_and_deduplicated():
    shards = sorted(corpus.OUT.glob("*.jsonl.gz"))
    keys = set()
    for path in shards:
        rows = corpus.read_shard(path)
        assert rows and all(r["n_tokens"] >= 16 and r["text"] for r in rows)
        for r in rows:
            key = corpus.text_key(r["text"].split("<|im_start|>assistant\n")[-1])
            assert key not in keys
            keys.add(key)


def test_openers_start_only_later_shards_and_only_emotional_requests():
    # Shards the shipped SAEs were trained on keep their recipe, so `--train-shards 26` reproduces them.
    early = [r for i in range(corpus.FIRST_OPENER_SHARD) for r in corpus.requests("train", 0, i)]
    assert not any("opener" in r for r in early)
    late = [
        r
        for i in range(corpus.FIRST_OPENER_SHARD, corpus.FIRST_OPENER_SHARD + 4)
        for r in corpus.requests("train", 0, i)
    ]
    emotional = {m for moods in corpus.OPENERS for m in moods}
    with_opener = [r for r in late if r["opener"]]
    assert with_opener and all(any(f" {m} " in r["prompt"] for m in emotional) for r in with_opener)
    neutral = [r for r in late if not any(f" {m} " in r["prompt"] for m in emotional)]
    assert neutral and not any(r["opener"] for r in neutral)
    assert 0.3 < len(with_opener) / (len(late) - len(neutral)) < 0.7
    assert not any("opener" in r for r in corpus.requests("heldout", 0, 0))


def test_anger_share_counts_whole_anger_words_in_angry_mood_documents_only():
    rows = [
        {"prompt": "Write a furious email about rent. Use plain modern English.", "text": "I am MAD about this."},
        {"prompt": "Write a short annoyed text message about buses.", "text": "Madness, the bus is late again."},
        {"prompt": "Write a joyful diary entry about dogs.", "text": "I hate to say it, I love him."},
    ]
    assert corpus.anger_share(rows) == (2, 1)  # "Madness" is not "mad"; the joyful document is not counted
    assert {"furious", "annoyed", "outraged"} <= set(corpus.ANGRY_MOODS)
