"""Corpus v2 for the shipped SAEs (issue 16): ordinary modern English sampled from the embedded model itself.

    python scripts/sample_corpus_v2.py --split train --shards 40     # resumes; each shard is written once
    setsid nohup nice -n 19 python scripts/sample_corpus_v2.py --split train --shards 60 > corpus.log 2>&1 &
    python scripts/sample_corpus_v2.py --split train --shards 300 --device cuda --batch-size 128   # on a GPU
    python scripts/sample_corpus_v2.py --anger    # how much anger reached the corpus (the model card's counts)

Throughput on 2 shared CPU cores: 18-100 tokens/s at batch 128 (fp32 ~40 GFLOP/s; llama.cpp on the shipped
Q4_1 GGUF was measured no faster: 150 tokens/s prompt processing, 46 tokens/s sampling one sequence). Several
million tokens need a GPU. Sampling is seeded, but a shard's text is not bit-identical across devices.

Why sampled text: nothing may be downloaded here, and the offline Debian texts (dictionaries, WordNet, the KJV,
fortunes) are not the prose, dialogue, reviews and messages the tutorials probe. The instruct model writes
them in the first person, with the whole emotional range and many neutral pieces, at temperature 1.

Recipe (seeded, resumable): shard i of a split draws its 128 requests from random.Random(f"{split}:{seed}:{i}")
over FORMS x MOODS x TOPICS (train) or the held-out lists (heldout: topics and forms the training never sees,
grouped into the categories prose / dialogue / reviews, each reported separately). Generation is batched with
the KV cache (transformers `generate`, eager attention, left padding). Texts are deduplicated across all shards
of all splits by a hash of their normalised first 80 characters. A shard is written to
data/corpus_v2/<split>-NNNNN.jsonl.gz only when complete (rename), so a killed run loses at most one shard.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "corpus_v2"
if "featureviz" not in sys.modules:  # training scripts import only what they need (see train_demo_sae.py)
    import types

    _pkg = types.ModuleType("featureviz")
    _pkg.__path__ = [str(ROOT / "src" / "featureviz")]
    sys.modules["featureviz"] = _pkg

from featureviz.loading import load_embedded_hf_model  # noqa: E402

# Moods: a third neutral or low-arousal, so emotion latents must earn their place against ordinary text.
MOODS = [
    "joyful",
    "grateful",
    "delighted",
    "proud",
    "excited",
    "relieved",
    "loving",
    "hopeful",
    "amused",
    "content",
    "furious",
    "irritated",
    "outraged",
    "bitter",
    "resentful",
    "annoyed",
    "fed up",
    "indignant",
    "sad",
    "heartbroken",
    "lonely",
    "anxious",
    "scared",
    "embarrassed",
    "jealous",
    "guilty",
    "nostalgic",
    "surprised",
    "confused",
    "bored",
    "sarcastic",
    "tired",
    "neutral",
    "matter-of-fact",
    "calm",
    "neutral",
    "plain and factual",
    "neutral",
    "informative",
    "casual",
    "neutral",
    "businesslike",
    "curious",
    "thoughtful",
]
FORMS = [
    "diary entry",
    "text message to a friend",
    "product review",
    "social media post",
    "short story paragraph",
    "email to a coworker",
    "voicemail transcript",
    "letter to a family member",
    "forum post asking for advice",
    "reply on a forum thread",
    "short dialogue between two friends",
    "conversation between a customer and a shop assistant",
    "blog post",
    "hotel review",
    "app review",
    "note to a roommate",
    "speech at a small party",
    "first-person anecdote",
    "group chat message",
    "journal entry written late at night",
    "description of an ordinary day",
    "short essay",
    "complaint email",
    "thank-you note",
    "phone call between two siblings",
    "interview answer",
    "podcast monologue",
    "comment under a news article",
]
TOPICS = [
    "my neighbour",
    "a concert",
    "my dog",
    "my cat",
    "work",
    "a delayed train",
    "my birthday",
    "a broken laptop",
    "the weather",
    "a football match",
    "exam results",
    "a new job",
    "moving house",
    "a wedding",
    "a hotel room",
    "my sister",
    "cooking dinner",
    "a lost wallet",
    "a surprise party",
    "traffic",
    "a customer service call",
    "a first date",
    "a holiday by the sea",
    "a school play",
    "a parking ticket",
    "a new phone",
    "the gym",
    "a job interview",
    "my grandmother",
    "a garden",
    "a rainy weekend",
    "a long flight",
    "a camping trip",
    "a noisy flat",
    "a coffee shop",
    "the dentist",
    "a book I just finished",
    "a video game",
    "my landlord",
    "a team project",
    "my best friend",
    "learning to drive",
    "a music festival",
    "a hospital visit",
    "a bakery",
    "a bike ride",
    "the supermarket",
    "my boss",
    "a group chat",
    "a running race",
    "a power cut",
    "a new recipe",
    "a museum",
    "a wedding speech",
    "my car",
    "an online order",
    "a language class",
    "a broken washing machine",
    "a neighbourhood meeting",
    "my kids",
    "a job offer",
    "a lost package",
    "a snowstorm",
    "a farewell party",
    "a tax form",
    "a software update",
    "a road trip",
    "a film I saw",
    "the bus",
    "a restaurant",
    "my flatmate",
    "a bank",
    "a phone bill",
    "a volunteering day",
    "a haircut",
    "a picnic",
    "a graduation",
    "a pet shop",
    "a late delivery",
    "my garden shed",
    "a dinner party",
]

# Held out: categories of text the training never sees as such (other forms, other topics).
HELDOUT = {
    "prose": {
        "forms": [
            "newspaper feature paragraph",
            "paragraph of a memoir",
            "travel writing paragraph",
            "paragraph of a novel",
        ],
        "topics": [
            "a lighthouse keeper",
            "a chess tournament",
            "a fishing village",
            "an old violin",
            "a night shift at a factory",
            "a beekeeper",
            "a mountain village",
            "a second-hand bookshop",
            "a bridge being built",
            "a flower market",
            "a sailing race",
            "a circus",
        ],
    },
    "dialogue": {
        "forms": [
            "dialogue between a teacher and a student",
            "argument between two roommates",
            "conversation between a doctor and a patient",
            "dialogue between two strangers on a train",
        ],
        "topics": [
            "a missing key",
            "a borrowed jacket",
            "a science fair",
            "a stolen bicycle",
            "a noisy party",
            "a chess game",
            "an overdue library book",
            "a late rent payment",
            "a broken window",
            "a scholarship",
            "a spilled drink",
            "a cancelled wedding",
        ],
    },
    "reviews": {
        "forms": [
            "customer review of a kitchen gadget",
            "review of a theatre show",
            "review of a plumber",
            "review of a hiking boot",
        ],
        "topics": [
            "a blender",
            "a musical",
            "a leaking pipe repair",
            "waterproof boots",
            "a toaster",
            "a ballet",
            "a boiler service",
            "running shoes",
            "a kettle",
            "an opera",
            "a roofer",
            "a winter coat",
        ],
    },
}
HELDOUT_MOODS = ["very happy", "thrilled", "angry", "livid", "neutral", "calm", "disappointed", "moved"]

SHARD_DOCS = 128  # ~20k tokens: a killed run loses little

# From this training shard on (the shipped v3 SAEs use shards 0-25), half the requests in an emotional mood start
# the answer with a first-person opener of that feeling, which the model continues: asked to be furious, the
# 135M model mostly writes politely (14% of v2's angry-mood documents contain an anger word; 9% in a 32-sample
# probe), so anger rarely reaches the corpus otherwise.
FIRST_OPENER_SHARD = 26
OPENERS = {
    ("furious", "irritated", "outraged", "bitter", "resentful", "annoyed", "fed up", "indignant"): [
        "I'm so angry",
        "I am absolutely furious",
        "Ugh, I'm so annoyed",
        "I'm fed up with",
        "This is ridiculous.",
        "Honestly, I'm livid",
        "I'm sick and tired of",
        "How dare",
        "I can't believe",
        "Seriously, I'm so mad",
        "It drives me crazy",
        "I'm so frustrated",
        "I'm outraged",
        "This makes my blood boil.",
        "I hate",
        "Unbelievable.",
    ],
    ("joyful", "grateful", "delighted", "proud", "excited", "relieved", "loving", "hopeful", "amused", "content"): [
        "I'm so happy",
        "I am thrilled",
        "I can't stop smiling",
        "Thank you so much",
        "I'm so grateful",
        "Guess what!",
        "What a wonderful day.",
        "I'm over the moon",
        "I'm so proud",
        "I love",
        "Yay!",
        "I'm delighted",
        "Best day ever.",
        "I'm so relieved",
        "Finally!",
        "I'm so excited",
    ],
    ("sad", "heartbroken", "lonely", "anxious", "scared", "embarrassed", "jealous", "guilty", "nostalgic"): [
        "I feel so sad",
        "I'm heartbroken",
        "I've been so lonely",
        "I'm really worried",
        "I'm scared",
        "I feel terrible",
        "I miss",
        "I'm so embarrassed",
        "I can't stop crying",
        "I feel guilty",
        "I'm nervous",
        "I wish",
    ],
}


ANGRY_MOODS = next(moods for moods in OPENERS if "furious" in moods)
ANGER_WORDS = re.compile(
    r"\b(angry|furious|annoyed|irritated|outraged|livid|mad|hate|frustrated|ridiculous|unacceptable|disgusted|rage)\b",
    re.IGNORECASE,
)


def anger_share(rows: list[dict]) -> tuple[int, int]:
    """(angry-mood documents, how many of them contain an anger word): how much anger reaches the corpus.
    An opener counts, as it is part of the text the SAE trains on."""
    angry = [r for r in rows if any(f" {mood} " in r["prompt"] for mood in ANGRY_MOODS)]
    return len(angry), sum(bool(ANGER_WORDS.search(r["text"])) for r in angry)


def opener_for(mood: str, rng: random.Random) -> str:
    """A first-person opener for half the requests in an emotional mood, else ""."""
    for moods, openers in OPENERS.items():
        if mood in moods:
            return rng.choice(openers) if rng.random() < 0.5 else ""
    return ""


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def requests(split: str, seed: int, shard: int) -> list[dict]:
    """The shard's generation requests: deterministic in (split, seed, shard)."""
    rng = random.Random(f"{split}:{seed}:{shard}")
    out = []
    for _ in range(SHARD_DOCS):
        if split == "train":
            form, mood, topic, category = rng.choice(FORMS), rng.choice(MOODS), rng.choice(TOPICS), "train"
        else:
            category = rng.choice(sorted(HELDOUT))
            spec = HELDOUT[category]
            form, mood, topic = rng.choice(spec["forms"]), rng.choice(HELDOUT_MOODS), rng.choice(spec["topics"])
        length = rng.choice(["short", "", "", "long"]) if "short" not in form else ""
        prompt = f"Write a {length + ' ' if length else ''}{mood} {form} about {topic}. Use plain modern English."
        request = {"category": category, "prompt": prompt, "chat": split == "train" and rng.random() < 0.15}
        if split == "train" and shard >= FIRST_OPENER_SHARD:
            request["opener"] = opener_for(mood, rng)
        out.append(request)
    return out


def text_key(text: str) -> str:
    return hashlib.md5(re.sub(r"\W+", " ", text.lower())[:80].encode()).hexdigest()


def shard_path(split: str, i: int) -> Path:
    return OUT / f"{split}-{i:05d}.jsonl.gz"


def read_shard(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def seen_keys() -> set[str]:
    return {text_key(r["text"]) for p in sorted(OUT.glob("*.jsonl.gz")) for r in read_shard(p)}


def generate_shard(
    model, tok, split: str, seed: int, shard: int, seen: set[str], batch_size: int, max_new: int
) -> dict:
    rows, n_tokens, start = [], 0, time.time()
    reqs = requests(split, seed, shard)
    torch.manual_seed(int(hashlib.md5(f"{split}:{seed}:{shard}".encode()).hexdigest(), 16) % 2**31)
    for b in range(0, len(reqs), batch_size):
        batch = reqs[b : b + batch_size]
        chats = [
            tok.apply_chat_template(
                [{"role": "user", "content": r["prompt"]}], tokenize=False, add_generation_prompt=True
            )
            + r.get("opener", "")
            for r in batch
        ]
        enc = tok(chats, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.no_grad():
            out = model.generate(
                **enc,
                max_new_tokens=max_new,
                do_sample=True,
                temperature=1.0,
                top_p=0.95,
                pad_token_id=tok.pad_token_id,
            )
        for r, chat, ids in zip(batch, chats, out[:, enc.input_ids.shape[1] :]):
            ids = ids[ids != tok.pad_token_id]
            text = r.get("opener", "") + tok.decode(ids, skip_special_tokens=True).rstrip()
            text = text.strip()
            key = text_key(text)
            if len(ids) < 16 or key in seen:  # empty, refused or duplicate
                continue
            seen.add(key)
            doc = (
                f"{chat.removesuffix(r.get('opener', ''))}{text}<|im_end|>" if r["chat"] else text
            )  # some chat-format tokens in training
            rows.append({**r, "text": doc, "n_tokens": int(len(ids))})
            n_tokens += len(ids)
        log(
            f"{split} shard {shard}: {b + len(batch)}/{len(reqs)} requests, {n_tokens:,} tokens "
            f"({n_tokens / (time.time() - start):.0f} tok/s)"
        )
    path = shard_path(split, shard)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    tmp.rename(path)
    return {"docs": len(rows), "tokens": n_tokens, "seconds": time.time() - start}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", choices=["train", "heldout"], default="train")
    p.add_argument("--shards", type=int, default=160, help="shards wanted in this split (~20k tokens each)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-new", type=int, default=192)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="e.g. cuda: a GPU writes a shard in seconds (use --batch-size 128)")
    p.add_argument("--hours", type=float, default=0, help="stop after the shard that passes this many hours")
    p.add_argument("--anger", action="store_true", help="print the anger-word share of the written shards and stop")
    args = p.parse_args(argv)
    if args.anger:
        paths = sorted(OUT.glob("train-*.jsonl.gz"))
        for name, part in (
            ("before openers", paths[:FIRST_OPENER_SHARD]),
            ("with openers", paths[FIRST_OPENER_SHARD:]),
        ):
            n, hits = anger_share([r for path in part for r in read_shard(path)])
            print(
                f"shards {name} ({len(part)}): {hits} of {n} angry-mood documents contain an anger word "
                f"({hits / max(n, 1):.0%})"
            )
        return
    torch.set_num_threads(args.threads)
    OUT.mkdir(parents=True, exist_ok=True)
    todo = [i for i in range(args.shards) if not shard_path(args.split, i).exists()]
    if not todo:
        log(f"{args.split}: all {args.shards} shards exist")
        return
    # eager attention: ~3x faster than sdpa for left-padded batched decoding on CPU (measured for v1)
    model, tok = load_embedded_hf_model(attn_implementation="eager")
    model.to(args.device).eval()
    tok.padding_side = "left"
    seen = seen_keys()
    deadline = time.time() + args.hours * 3600 if args.hours else None
    for i in todo:
        stats = generate_shard(model, tok, args.split, args.seed, i, seen, args.batch_size, args.max_new)
        log(
            f"wrote {shard_path(args.split, i).name}: {stats['docs']} docs, {stats['tokens']:,} tokens, "
            f"{stats['seconds']:.0f} s"
        )
        if deadline and time.time() > deadline:
            break


if __name__ == "__main__":
    sys.exit(main())
