"""Train the SAEs shipped with featureviz: corpus -> activation cache -> sae-lens training -> export -> eval.

    python scripts/train_demo_sae.py                 # start, or resume from whatever is on disk
    setsid nohup nice -n 10 python scripts/train_demo_sae.py > pipeline.log 2>&1 &   # hours on 2 cores
    # v2 (issue 16): the sampled corpus of scripts/sample_corpus_v2.py, two hooks, staged outside the package
    python scripts/train_demo_sae.py --corpus v2 --assets data/sae_v2 --name default_sae --checkpoints 8
    python scripts/train_demo_sae.py --corpus v2 --assets data/sae_v2 --name sae_blocks8 --checkpoints 0 \
        --hook blocks.8.hook_resid_pre

Every stage is resumable and skipped when done, so after a kill run the same command again. The run's
settings are frozen in <run dir>/run.json on first start; later invocations reuse them (pass --run to start
another run). State lives outside git in featureviz.loading.cache_dir()/sae_training/<run>/; exported
checkpoints (each written once), the final SAE, held-out tokens and metrics go to src/featureviz/assets/.

Offline corpus: Debian packages fortunes, bible-kjv (+ bible-kjv-text), wordnet-base, dict-gcide, dict-devil
(apt-get install -y --no-install-recommends fortunes bible-kjv wordnet-base dict-gcide dict-devil) plus text
the model samples itself (chat template; moods x forms x topics). Online: --hf-dataset NAME or --text-files.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

if "featureviz" not in sys.modules:
    # Import only what training needs, not featureviz/__init__ (the widgets need JS bundles built by npm, which
    # a fresh checkout lacks, and this script runs for hours beside people editing the widgets).
    import types

    _pkg = types.ModuleType("featureviz")
    _pkg.__path__ = [str(Path(__file__).resolve().parents[1] / "src" / "featureviz")]
    sys.modules["featureviz"] = _pkg

from featureviz.analysis import training as tr  # noqa: E402
from featureviz.loading import cache_dir, embedded_model_dir, load_default, load_embedded_hf_model  # noqa: E402

HOOK = "blocks.15.hook_resid_pre"  # the tutorial SAE's hook (MODEL_CARD.md argues the choice)
CTX = 128  # BOS + 127 text tokens; BOS (position 0) is never cached
BOS, DOC_SEP = 1, 0  # <|im_start|> (what TransformerLens prepends), <|endoftext|> between documents
ASSETS = tr.ASSETS
# Attention-sink tokens (BOS, <|endoftext|>, some first tokens) have residual norms ~15,000-27,000 at this hook
# against a median ~155 (99th percentile ~200): they are excluded from training and metrics, like position 0.
# A run's limit is --max-norm (saved in run.json and the SAE's cfg); main() sets this module-wide default to it.
MAX_NORM = 2000.0
# Tokens right after BOS carry position artifacts (docs/DESIGN.md, drop_first): dropped in dashboards and checks.
DROP_FIRST = 1
# at most this share of the training contexts: archaic KJV English (v1), the v1 text in the v2 corpus
SMALL_CAPS = {"v1": {"bible_kjv": 0.25}, "v2": {"fortunes": 0.1}}
HELDOUT_EVAL = 1600  # held-out contexts evaluated: 203,200 tokens (>= 200k for the dead-latent count)
HELDOUT_PERCENT = 5  # documents whose md5 % 100 < this are held out (never trained on)
TEST_SLICE = 16  # held-out contexts the unit test re-evaluates (and the CE loss of intermediate checkpoints)
CE_CONTEXTS = 128  # held-out contexts for the final SAE's CE-loss metrics (four half forward passes each)


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


# --- corpus --------------------------------------------------------------------------------------------------


def fortunes_docs() -> list[str]:
    root = Path("/usr/share/games/fortunes")
    docs = []
    for path in sorted(root.glob("*.dat")):
        if path.stem == "ascii-art":
            continue
        text = path.with_suffix("").read_text(encoding="utf-8", errors="replace")
        text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text)  # bells, backspaces, escapes
        docs += [d.strip() for d in text.split("\n%\n") if d.strip()]
    return docs


def bible_docs() -> list[str]:
    text = subprocess.run(["bible", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True).stdout
    docs = []
    for chapter in re.split(r"\n(?=[1-3]?\s?[A-Z][A-Za-z ]+ \d+\n)", text):
        lines = chapter.strip().split("\n")
        body = " ".join(line.strip() for line in lines[1:] if line.strip())
        body = re.sub(r"\s*\b\d+ (?=[A-Z])", " ", body).strip()  # verse numbers
        if body:
            docs.append(f"{lines[0].strip()}\n{body}")
    return docs


def wordnet_docs(lines_per_doc: int = 20) -> list[str]:
    docs, lines = [], []
    for pos in ("noun", "verb", "adj", "adv"):
        for line in open(f"/usr/share/wordnet/data.{pos}", encoding="utf-8", errors="replace"):
            if line.startswith(" ") or " | " not in line:
                continue
            head, gloss = line.split(" | ", 1)
            lines.append(f"{head.split()[4].replace('_', ' ')}: {gloss.strip()}")
            if len(lines) == lines_per_doc:
                docs.append("\n".join(lines))
                lines = []
    return docs


def dictd_docs(name: str, max_chars: int, chars_per_doc: int = 2000, skip_lines: int = 0) -> list[str]:
    with gzip.open(f"/usr/share/dictd/{name}.dict.dz", "rt", encoding="utf-8", errors="replace") as f:
        text = f.read(max_chars)
    text = "\n".join(text.split("\n")[skip_lines:])
    text = re.sub(r"\\[^\\\n]*\\", "", text)  # gcide pronunciations \Ab*di"ca*tive\
    text = re.sub(r"\[(1913 Webster|PJC|WordNet 1\.5|Century Dict\.|Webster 1913 Suppl\.)[^\]]*\]", "", text)
    entries = [" ".join(e.split()) for e in re.split(r"\n\s*\n", text) if e.strip()]
    docs, cur = [], ""
    for e in entries:
        cur = f"{cur}\n{e}" if cur else e
        if len(cur) > chars_per_doc:
            docs.append(cur)
            cur = ""
    return docs + ([cur] if cur else [])


MOODS = [
    "furious",
    "joyful",
    "heartbroken",
    "anxious",
    "grateful",
    "excited",
    "disappointed",
    "calm",
    "bored",
    "proud",
    "jealous",
    "terrified",
    "loving",
    "annoyed",
    "hopeful",
    "lonely",
    "ecstatic",
    "bitter",
    "embarrassed",
    "relieved",
    "outraged",
    "cheerful",
    "neutral, matter-of-fact",
    "sarcastic",
]
FORMS = [
    "diary entry",
    "text message to a friend",
    "product review",
    "complaint letter",
    "social media post",
    "short dialogue between two people",
    "paragraph of a short story",
    "email to a coworker",
    "voicemail transcript",
    "restaurant review",
    "letter to a family member",
    "forum post",
]
TOPICS = [
    "my neighbour",
    "a concert",
    "my dog",
    "work",
    "a delayed flight",
    "my birthday",
    "a broken phone",
    "the weather",
    "a football match",
    "my exam results",
    "a new job",
    "moving house",
    "a wedding",
    "a noisy hotel",
    "my sister",
    "a cooking disaster",
    "a lost wallet",
    "a surprise party",
    "traffic",
    "a customer service call",
    "a first date",
    "a holiday at the sea",
    "a school play",
    "a parking ticket",
]


def generated_docs(path: Path, n_tokens: int, batch_size: int = 64, max_new: int = 160, seed: int = 0) -> list[str]:
    """Text the model samples itself; appended to `path` (JSONL) batch by batch, so it resumes."""
    rows = [json.loads(line) for line in open(path)] if path.exists() else []
    have = sum(r["n_tokens"] for r in rows)
    if have < n_tokens:
        # eager attention: ~3x faster than sdpa for left-padded batched decoding on CPU here
        model, tok = load_embedded_hf_model(attn_implementation="eager")
        tok.padding_side = "left"
        rng = random.Random(seed + len(rows))
        with open(path, "a") as f:
            while have < n_tokens:
                start = time.time()
                prompts = [
                    f"Write a {rng.choice(MOODS)} {rng.choice(FORMS)} about {rng.choice(TOPICS)}."
                    for _ in range(batch_size)
                ]
                chats = [
                    tok.apply_chat_template(
                        [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
                    )
                    for p in prompts
                ]
                enc = tok(chats, return_tensors="pt", padding=True, add_special_tokens=False)
                with torch.no_grad():
                    out = model.generate(
                        **enc,
                        max_new_tokens=max_new,
                        do_sample=True,
                        temperature=1.0,
                        top_p=0.95,
                        pad_token_id=tok.pad_token_id,
                    )
                new = out[:, enc.input_ids.shape[1] :]
                n_new = 0
                for prompt, chat, ids in zip(prompts, chats, new):
                    ids = ids[ids != tok.pad_token_id]
                    text = tok.decode(ids, skip_special_tokens=True).strip()
                    # a quarter keep the chat template, so chat-format tokens are in the training data too
                    doc = f"{chat}{text}<|im_end|>" if rng.random() < 0.25 else text
                    f.write(json.dumps({"prompt": prompt, "text": doc, "n_tokens": len(ids)}) + "\n")
                    n_new += len(ids)
                f.flush()
                have += n_new
                log(f"generated {have:,}/{n_tokens:,} tokens ({n_new / (time.time() - start):.0f} tok/s)")
        rows = [json.loads(line) for line in open(path)]
    return [r["text"] for r in rows]


def external_docs(args) -> dict[str, list[str]]:
    """Online / user corpora: an HF dataset (streamed) or local text files (one document per file)."""
    sources = {}
    if args.hf_dataset:
        from datasets import load_dataset

        ds = load_dataset(args.hf_dataset, split="train", streaming=True)
        docs, chars = [], 0
        for row in ds:
            docs.append(row[args.text_column])
            chars += len(docs[-1])
            if chars > 6 * args.corpus_tokens:
                break
        sources[args.hf_dataset] = docs
    if args.text_files:
        sources["text_files"] = [Path(p).read_text(encoding="utf-8", errors="replace") for p in args.text_files]
    return sources


CORPUS_V2 = Path(__file__).resolve().parents[1] / "data" / "corpus_v2"


def v2_docs(split: str, root: Path = CORPUS_V2, shards: int = 0) -> dict[str, list[str]]:
    """Documents of scripts/sample_corpus_v2.py by category: "train" for the training split, else
    prose / dialogue / reviews of the held-out split (kinds of text the training never sees). shards: only the
    first this many shards (0: all), so a run stays reproducible while the corpus grows."""
    out: dict[str, list[str]] = {}
    paths = sorted(root.glob(f"{split}-*.jsonl.gz"))
    for path in paths[:shards] if shards else paths:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for row in map(json.loads, f):
                out.setdefault(row["category"], []).append(row["text"])
    if not out:
        raise FileNotFoundError(f"no {split} shards in {root}: run scripts/sample_corpus_v2.py --split {split}")
    return out


def is_heldout(doc: str) -> bool:
    return int(hashlib.md5(doc.encode()).hexdigest(), 16) % 100 < HELDOUT_PERCENT


def pack(tokenizer, docs: list[str]) -> np.ndarray:
    """Documents joined by <|endoftext|>, cut into contexts of CTX-1 tokens, each prefixed with BOS."""
    stream = []
    for ids in tokenizer(docs, add_special_tokens=False).input_ids if docs else []:
        stream += ids + [DOC_SEP]
    n = len(stream) // (CTX - 1)
    body = np.asarray(stream[: n * (CTX - 1)], dtype=np.uint16).reshape(n, CTX - 1)
    return np.concatenate([np.full((n, 1), BOS, np.uint16), body], axis=1)


def build_contexts(run_dir: Path, cfg: dict) -> dict:
    out = run_dir / "contexts.npz"
    if out.exists():
        return json.loads((run_dir / "corpus.json").read_text())
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(embedded_model_dir())
    budget = cfg["corpus_tokens"] // (CTX - 1)  # training contexts
    heldout_only: dict[str, list[str]] = {}  # sources evaluated, never trained on
    if cfg["corpus"] == "v2" and not (cfg["hf_dataset"] or cfg["text_files"]):
        # ordinary modern English sampled from the model, plus a small share of the v1 text where installed
        root = Path(cfg["corpus_dir"])
        small = {"model_generated_v2": v2_docs("train", root, cfg["train_shards"])["train"]}
        if Path("/usr/share/games/fortunes").exists():
            small["fortunes"] = fortunes_docs()
        large = {}
        heldout_only = {f"heldout_{k}": v for k, v in v2_docs("heldout", root).items()}
    elif cfg["hf_dataset"] or cfg["text_files"]:
        sources = external_docs(argparse.Namespace(**cfg))
        small, large = {}, sources
    else:
        small = {
            "fortunes": fortunes_docs(),
            "bible_kjv": bible_docs(),
            "devils_dictionary": dictd_docs("devil", 10**7, skip_lines=40),
            "model_generated": generated_docs(run_dir / "generated.jsonl", cfg["gen_tokens"]),
        }
        large = {
            "wordnet_glosses": wordnet_docs(),
            "gcide": dictd_docs("gcide", 16 * cfg["corpus_tokens"], skip_lines=300),
        }
    train, held, stats = {}, {}, {}
    for name, docs in {**small, **large}.items():
        train[name] = pack(tok, [d for d in docs if not is_heldout(d)])
        held[name] = pack(tok, [d for d in docs if is_heldout(d)])
        log(f"{name}: {len(docs):,} docs, {train[name].size:,} train / {held[name].size:,} held-out tokens available")
    rng = np.random.default_rng(cfg["seed"])
    for name, share in SMALL_CAPS[cfg["corpus"]].items():
        if name in train:
            n = min(len(train[name]), int(share * budget))
            train[name] = train[name][rng.permutation(len(train[name]))[:n]]
    left = budget - sum(len(train[n]) for n in small)
    weights = {"wordnet_glosses": 0.4, "gcide": 0.6} if small else {}
    for name in large:
        share = weights.get(name, 1 / len(large))  # noqa: B023
        n = min(len(train[name]), int(left * share)) if small else min(len(train[name]), budget // len(large))
        train[name] = train[name][rng.permutation(len(train[name]))[:n]]
    scale = budget / sum(len(v) for v in train.values())
    if scale < 1:  # the small sources alone exceed the budget: take the same share of each
        for name in train:
            train[name] = train[name][rng.permutation(len(train[name]))[: int(len(train[name]) * scale)]]
    for name, docs in heldout_only.items():
        held[name] = pack(tok, docs)
        log(f"{name}: {len(docs):,} docs, {held[name].size:,} held-out tokens")
    total = sum(len(v) for v in train.values())
    # held-out mix follows the training mix; where a source has too few held-out documents, the largest
    # sources make up the difference
    want = {name: min(len(held[name]), round(cfg["heldout_contexts"] * len(train[name]) / total)) for name in train}
    if heldout_only:  # v2: equal parts of the training kind and of each held-out kind
        part = cfg["heldout_contexts"] // (len(heldout_only) + 1)
        want = {name: min(len(held[name]), round(part * len(train[name]) / total)) for name in train}
        want.update({name: min(len(held[name]), part) for name in heldout_only})
    for name in sorted(held, key=lambda n: -len(held[n])):
        want[name] += min(len(held[name]) - want[name], cfg["heldout_contexts"] - sum(want.values()))
    for name in heldout_only:
        train[name] = train["model_generated_v2"][:0]
    heldout = []
    for name in train:
        heldout.append(held[name][rng.permutation(len(held[name]))[: want[name]]])
        stats[name] = {"train_tokens": int(len(train[name]) * (CTX - 1)), "heldout_tokens": int(want[name] * (CTX - 1))}
    train_all = np.concatenate(list(train.values()))
    train_src = np.concatenate([np.full(len(v), i, np.uint8) for i, v in enumerate(train.values())])
    order = rng.permutation(len(train_all))
    train_all, train_src = train_all[order], train_src[order]
    held_src = np.concatenate([np.full(len(v), i, np.uint8) for i, v in enumerate(heldout)])
    heldout = np.concatenate(heldout)
    order = rng.permutation(len(heldout))
    heldout, held_src = heldout[order], held_src[order]
    stats = {
        "sources": stats,
        "train_contexts": len(train_all),
        "heldout_contexts": len(heldout),
        "train_tokens": int(len(train_all) * (CTX - 1)),
        "heldout_tokens": int(len(heldout) * (CTX - 1)),
        "context_size": CTX,
        "heldout_rule": f"md5(document) % 100 < {HELDOUT_PERCENT}",
    }
    np.savez(
        run_dir / "contexts.tmp.npz",
        train=train_all,
        heldout=heldout,
        train_source=train_src,
        heldout_source=held_src,
        source_names=np.array(list(train)),
    )
    (run_dir / "corpus.json").write_text(json.dumps(stats, indent=1))
    (run_dir / "contexts.tmp.npz").rename(out)
    log(f"corpus: {stats['train_tokens']:,} training tokens, {stats['heldout_tokens']:,} held-out tokens")
    return stats


def used_corpus(corpus: dict, data, n_train: int, n_heldout: int) -> dict:
    """Token counts per source of the contexts actually used (the first n of the shuffled arrays)."""
    names = [str(n) for n in data["source_names"]]
    count = lambda src, n: np.bincount(src[:n], minlength=len(names)) * (CTX - 1)  # noqa: E731
    train, held = count(data["train_source"], n_train), count(data["heldout_source"], n_heldout)
    return {
        **corpus,
        "sources": {
            name: {"train_tokens": int(train[i]), "heldout_tokens": int(held[i])} for i, name in enumerate(names)
        },
        "train_contexts": n_train,
        "heldout_contexts": n_heldout,
        "train_tokens": int(n_train * (CTX - 1)),
        "heldout_tokens": int(n_heldout * (CTX - 1)),
        "built_from": corpus,
    }


# --- training and evaluation ---------------------------------------------------------------------------------


def train_config(cfg: dict, n_train_tokens: int) -> tr.TrainConfig:
    total = cfg["train_tokens"] or 3 * n_train_tokens
    total -= total % cfg["batch_size"]
    return tr.TrainConfig(
        hook_name=cfg["hook"],
        d_in=576,
        d_sae=cfg["d_sae"],
        k=cfg["k"],
        total_tokens=total,
        batch_size=cfg["batch_size"],
        lr=cfg["lr"],
        seed=cfg["seed"],
        model_name="SmolLM2-135M-Instruct",
        context_size=CTX,
        export_at=tr.log_spaced(total, cfg["checkpoints"], first=16 * cfg["batch_size"], last=0.6)
        if cfg["checkpoints"]
        else (),
        dataset=cfg["hf_dataset"] or "featureviz offline corpus (see MODEL_CARD.md)",
        # featureviz's SAESource leaves sink tokens unencoded and drops the first positions' artifacts
        metadata={"max_input_norm": MAX_NORM, "drop_first_positions": DROP_FIRST},
    )


def evaluate_all(
    model,
    run_dir: Path,
    heldout: np.ndarray,
    heldout_cache: tr.ActivationCache,
    assets: Path,
    name: str = "default_sae",
    categories: dict[str, np.ndarray] | None = None,
) -> dict:
    """Metrics of every checkpoint and the final SAE on the held-out contexts; for the final SAE also per
    held-out category (categories: name -> context indices), each with its own CE contexts."""
    from sae_lens import SAE

    done_path = run_dir / "metrics.json"
    done = json.loads(done_path.read_text()) if done_path.exists() else {}
    series = tr.load_checkpoint_series(assets / f"{name}_checkpoints")
    series.append(
        (json.loads((assets / name / "cfg.json").read_text())["metadata"]["n_training_tokens"], assets / name)
    )
    acts = heldout_cache.all_acts()
    tokens = torch.from_numpy(heldout.astype(np.int64))
    for n_tokens, path in series:
        key = f"{path.parent.name}/{path.name}"
        if key in done:
            continue
        start = time.time()
        sae = SAE.load_from_disk(path)
        final = path.name == name
        full = tr.evaluate_sae(
            sae, model, tokens, acts=acts, ce_contexts=CE_CONTEXTS if final else 0, max_norm=MAX_NORM
        )
        if final and categories:
            full["per_category"] = {
                cat: tr.evaluate_sae(
                    sae, model, tokens[idx], ce_contexts=min(CE_CONTEXTS // 2, len(idx)), max_norm=MAX_NORM
                )
                for cat, idx in categories.items()
                if len(idx)
            }
        test_slice = tr.evaluate_sae(sae, model, tokens[:TEST_SLICE], max_norm=MAX_NORM)
        if not final:  # CE on the test slice only: each CE context costs two full forward passes
            full.update({k: v for k, v in test_slice.items() if k.startswith("ce_") or k == "n_ce_tokens"})
        done[key] = {"training_tokens": n_tokens, "heldout": full, "test_slice": test_slice}
        done_path.write_text(json.dumps(done, indent=1))
        log(
            f"eval {key}: EV {full['explained_variance']:.3f} L0 {full['mean_l0']:.1f} "
            f"dead {full['dead_fraction']:.3f} CE rec {full['ce_recovered']:.3f} ({time.time() - start:.0f} s)"
        )
    return done


def write_metrics(done: dict, corpus: dict, assets: Path, name: str = "default_sae", hook: str = HOOK) -> None:
    keys = sorted(done, key=lambda k: done[k]["training_tokens"])
    final = next((done[k] for k in keys if k.endswith(f"/{name}")), None)
    (assets / f"{name}_metrics.json").write_text(
        json.dumps(
            {
                "hook_name": hook,
                "max_norm": MAX_NORM,
                "test_slice_contexts": TEST_SLICE,
                "ce_contexts": CE_CONTEXTS,
                "corpus": corpus,
                "checkpoints": {k: done[k] for k in keys},
                "final": final,
            },
            indent=1,
        )
    )
    rows = [
        "| checkpoint | training tokens | 1-FVU | mean L0 | dead latents | CE clean | CE spliced | CE zero-abl. "
        "| CE recovered |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for k in keys:
        m = done[k]["heldout"]
        rows.append(
            f"| {k} | {done[k]['training_tokens']:,} | {m['explained_variance']:.3f} | {m['mean_l0']:.1f} "
            f"| {m['dead_fraction']:.1%} | {m['ce_clean']:.3f} | {m['ce_sae']:.3f} | {m['ce_zero']:.3f} "
            f"| {m['ce_recovered']:.1%} |"
        )
    for cat, m in (final or {}).get("heldout", {}).get("per_category", {}).items():
        rows.append(
            f"| final on {cat} | | {m['explained_variance']:.3f} | {m['mean_l0']:.1f} "
            f"| {m['dead_fraction']:.1%} | {m['ce_clean']:.3f} | {m['ce_sae']:.3f} | {m['ce_zero']:.3f} "
            f"| {m['ce_recovered']:.1%} |"
        )
    card = assets / "MODEL_CARD.md"
    text = card.read_text() if card.exists() else ""
    start, end = f"<!-- {name} metrics:start -->", f"<!-- {name} metrics:end -->"
    if name == "default_sae" and start not in text:  # the v1 card's markers
        start, end = "<!-- metrics:start -->", "<!-- metrics:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        note = (
            f"\n\n1-FVU, L0 and dead latents over all {done[keys[-1]]['heldout']['n_tokens']:,} held-out tokens "
            f"kept (norm <= {MAX_NORM:,.0f}); CE over {CE_CONTEXTS} held-out contexts for `{name}`, over the "
            f"{TEST_SLICE}-context test slice for the checkpoints."
        )
        card.write_text(head + start + "\n" + "\n".join(rows) + note + "\n" + end + rest.split(end, 1)[1])


def emotion_check(
    model,
    assets: Path,
    heldout: np.ndarray,
    n_contexts: int | None = None,
    top: int = 5,
    per_group: int | None = None,
    name: str = "default_sae",
    hook: str = HOOK,
    prompts_path: Path | None = None,
) -> dict:
    """Issue 4's emotion coverage: features separating happy / angry / neutral prompts (per-prompt max,
    Mann-Whitney, Benjamini-Hochberg q < 0.01); every significant feature (or the strongest `per_group` of each
    group) with its top contexts in the first `n_contexts` held-out contexts (default all) to read: the strongest
    are often punctuation, so reading only the first few finds too little emotion."""
    from sae_lens import SAE

    from featureviz.analysis.activations import activations
    from featureviz.analysis.contrast import contrast
    from featureviz.sources import SAESource

    sae = SAE.load_from_disk(assets / name)
    prompts = json.loads((prompts_path or ASSETS / "emotion_prompts.json").read_text())
    groups = {"happy": prompts["happy"], "angry": prompts["angry"], "neutral": prompts["baseline"]}
    result = activations(model, SAESource(sae), groups, progress=False)
    table = contrast(result, baseline="neutral", alpha=0.01)  # the neutral prompts counted once among the rest
    table = table[table["significant"] & (table["rank_biserial"] > 0)]
    n_significant = {g: int((table["group"] == g).sum()) for g in ("happy", "angry")}
    found = {g: table[table["group"] == g].head(per_group) for g in ("happy", "angry")}
    features = sorted({int(f) for t in found.values() for f in t["feature"]})
    # top held-out contexts of those features, BOS, the first position and over-norm tokens excluded
    tokens = torch.from_numpy(heldout[:n_contexts].astype(np.int64))
    best = {f: [] for f in features}
    for b in range(0, len(tokens), 16):
        resid = tr.resid_pre(model, tokens[b : b + 16], hook)
        feats = sae.encode(resid)[:, :, features]
        feats[:, : 1 + sae.cfg.metadata.drop_first_positions] = 0  # BOS and the position artifacts after it
        feats[resid.norm(dim=-1) > sae.cfg.metadata.max_input_norm] = 0  # this SAE's own limit
        for j, f in enumerate(features):
            vals, idx = feats[:, :, j].flatten().topk(top)
            best[f] += [(v.item(), b + int(i) // tokens.shape[1], int(i) % tokens.shape[1]) for v, i in zip(vals, idx)]
    contexts = {}
    for f in features:
        rows = []
        for v, c, pos in sorted(best[f], reverse=True)[:top]:
            left = model.tokenizer.decode(tokens[c, max(1, pos - 12) : pos])
            rows.append(
                {
                    "activation": round(v, 3),
                    "context": f"{left}[[{model.tokenizer.decode(tokens[c, pos])}]]"
                    f"{model.tokenizer.decode(tokens[c, pos + 1 : pos + 6])}",
                }
            )
        contexts[str(f)] = rows
    out = {
        "test": "per-prompt max, Mann-Whitney U vs the other groups, Benjamini-Hochberg q < 0.01",
        "n_prompts": {g: len(v) for g, v in groups.items()},
        "n_significant": n_significant,
        "heldout_contexts": len(tokens),
        "significant": {
            g: t[["feature", "rank_biserial", "p_value", "q_value"]].to_dict("records") for g, t in found.items()
        },
        "top_heldout_contexts": contexts,
    }
    (assets / f"{name}_emotion.json").write_text(json.dumps(out, indent=1, default=float))
    log(f"emotion: {', '.join(f'{g}: {n} significant features' for g, n in n_significant.items())}")
    return out


def main(argv=None) -> None:
    global MAX_NORM  # the run's --max-norm, read by every stage below
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", default="", help="run name (folder under the cache dir; default from the settings)")
    p.add_argument(
        "--corpus",
        choices=["v1", "v2"],
        default="v1",
        help="v1: Debian texts + a little sampled text; v2: data/corpus_v2 (scripts/sample_corpus_v2.py)",
    )
    p.add_argument("--corpus-dir", default=str(CORPUS_V2), help="where the v2 corpus shards are")
    p.add_argument("--train-shards", type=int, default=0, help="use the first N v2 training shards (0: all)")
    p.add_argument("--hook", default=HOOK, help="a blocks.L.hook_resid_pre hook")
    p.add_argument("--name", default="default_sae", help="asset name: <name>/, <name>_checkpoints/, <name>_*.json")
    p.add_argument("--checkpoints", type=int, default=8, help="intermediate checkpoints to export (0: final only)")
    p.add_argument("--emotion-prompts", default=str(ASSETS / "emotion_prompts.json"))
    p.add_argument("--tokens", type=int, default=1_000_000, help="training tokens to cache (position 0 excluded)")
    p.add_argument(
        "--corpus-tokens",
        type=int,
        default=2_000_000,
        help="training tokens in the corpus; the first --tokens of its shuffled contexts are used",
    )
    p.add_argument("--train-tokens", type=int, default=0, help="tokens to train on (default: 3 x --tokens, 3 epochs)")
    p.add_argument("--gen-tokens", type=int, default=9_000, help="tokens of model-sampled text in the corpus")
    p.add_argument("--heldout-contexts", type=int, default=2000)
    p.add_argument("--d-sae", type=int, default=2560)
    p.add_argument("--k", type=int, default=48)
    p.add_argument(
        "--train-drop-first",
        type=int,
        default=DROP_FIRST,
        help="positions after BOS never trained on (the position artifacts analysis leaves out by default)",
    )
    p.add_argument(
        "--max-norm",
        type=float,
        default=MAX_NORM,
        help="tokens whose activation norm exceeds this are never trained on or encoded (attention sinks)",
    )
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hf-dataset", default="", help="online: an HF dataset name instead of the offline corpus")
    p.add_argument("--text-column", default="text")
    p.add_argument("--text-files", nargs="*", default=[], help="local text files instead of the offline corpus")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--hours", type=float, default=0, help="stop (state saved) after this many hours; 0: no limit")
    p.add_argument("--resume", action="store_true", help="accepted for clarity: runs always resume from disk")
    p.add_argument("--assets", default=str(ASSETS), help="where exports, held-out tokens and metrics go")
    p.add_argument("--stop-after", choices=["corpus", "cache", "train", "eval", "emotion"], default="emotion")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    deadline = time.time() + args.hours * 3600 if args.hours else None

    if not args.run:
        args.run = f"smollm2-l{tr.hook_layer(args.hook)}-topk{args.k}-{args.d_sae}" + (
            "" if args.corpus == "v1" else f"-{args.corpus}"
        )
    run_dir = cache_dir() / "sae_training" / args.run
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = run_dir / "run.json"
    keys = [
        "tokens",
        "corpus_tokens",
        "train_tokens",
        "gen_tokens",
        "heldout_contexts",
        "d_sae",
        "k",
        "batch_size",
        "lr",
        "seed",
        "hf_dataset",
        "text_column",
        "text_files",
        "corpus",
        "corpus_dir",
        "hook",
        "checkpoints",
        "max_norm",
        "train_drop_first",
        "train_shards",
    ]
    cfg = {k: getattr(args, k) for k in keys}
    if cfg_path.exists():  # runs started before v2 have no corpus/hook/checkpoints keys: the v1 values
        saved = {
            "corpus": "v1",
            "corpus_dir": "",
            "hook": HOOK,
            "checkpoints": 8,
            "max_norm": 2000.0,
            "train_drop_first": 0,
            "train_shards": 0,
            **json.loads(cfg_path.read_text()),
        }
        if saved != cfg:
            log(f"resuming run {args.run} with its saved settings {saved} (command-line settings ignored)")
        cfg = saved
    else:
        cfg_path.write_text(json.dumps(cfg, indent=1))
    log(f"run dir {run_dir}")
    MAX_NORM = float(cfg["max_norm"])

    corpus = build_contexts(run_dir, cfg)
    if args.stop_after == "corpus":
        return
    data = np.load(run_dir / "contexts.npz")
    # contexts are shuffled once, so a smaller --tokens after the corpus was built keeps a random subset and
    # the shards already cached (shard i = contexts i*512 .. i*512+511) stay valid
    train_tokens = data["train"][: cfg["tokens"] // (CTX - 1)]
    heldout = data["heldout"][:HELDOUT_EVAL]
    held_src = data["heldout_source"][:HELDOUT_EVAL]
    names = [str(n) for n in data["source_names"]]
    categories = {n: np.flatnonzero(held_src == i) for i, n in enumerate(names)} if cfg["corpus"] == "v2" else None
    assets = Path(args.assets)
    assets.mkdir(parents=True, exist_ok=True)
    if not (assets / "heldout_tokens.npy").exists():
        np.save(assets / "heldout_tokens.npy", heldout)
        if categories:  # which held-out kind each context is (names in corpus.json's source order)
            np.save(assets / "heldout_source.npy", held_src)
    used = used_corpus(corpus, data, len(train_tokens), len(heldout))
    (assets / "corpus.json").write_text(json.dumps(used, indent=1))

    model, _ = load_default(source="neurons")
    hook, name = cfg["hook"], args.name
    cache = tr.ActivationCache(
        run_dir / "shards",
        train_tokens,
        hook,
        model=model,
        max_norm=MAX_NORM,
        log=log,
        drop_first=cfg["train_drop_first"],
    )
    heldout_cache = tr.ActivationCache(
        run_dir / "heldout_shards", heldout, hook, model=model, max_norm=MAX_NORM, log=log
    )
    tcfg = train_config(cfg, cache.n_tokens)
    log(
        f"{cache.n_cached()}/{cache.n_shards} shards cached; training {tcfg.total_tokens:,} tokens in "
        f"{tcfg.total_steps} steps; exports at {list(tcfg.export_at)}"
    )
    if args.stop_after == "cache":
        cache.cache_all()
        return
    # Shards are computed lazily as training reaches them, so checkpoints appear while the cache grows.
    final_dir = assets / name
    if not (final_dir / "cfg.json").exists():
        tr.train_sae(
            cache,
            tcfg,
            run_dir,
            export_dir=assets / f"{name}_checkpoints",
            final_dir=final_dir,
            deadline=deadline,
            log=log,
        )
        if not (final_dir / "cfg.json").exists():
            return  # stopped at the deadline
    if args.stop_after == "train":
        return
    heldout_cache.cache_all()
    done = evaluate_all(model, run_dir, heldout, heldout_cache, assets, name, categories)
    write_metrics(done, used, assets, name, hook)
    if args.stop_after == "eval":
        return
    emotion_check(model, assets, heldout, name=name, hook=hook, prompts_path=Path(args.emotion_prompts))
    log("done")


if __name__ == "__main__":
    sys.exit(main())
