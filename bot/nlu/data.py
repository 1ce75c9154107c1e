"""The labeled utterances in ``data/nlu/<lang>/`` and what training makes of them.

``train.tsv`` is what models learn from; ``heldout.tsv`` (the dev set) and
``frozen.tsv`` (written apart from everything else and never edited to raise a
score) are only ever scored.  Each line is ``intent<TAB>utterance``; ``#`` starts a
comment.  The hash of the training files (and of the training recipe version)
names the built artifact, so editing the data makes the next load rebuild.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

from foundation import paths
from foundation.contract import Intent
from foundation.errors import ConfigError

LANGS = ("en", "zh")
LABELS: tuple[Intent, ...] = tuple(Intent)
TRAIN_SPLIT = "train"
# Scored, never learned from: training reads TRAIN_SPLIT alone (``training_examples``).
SCORED_SPLITS = ("heldout", "frozen")
SPLITS = (TRAIN_SPLIT, *SCORED_SPLITS)
# Bump when the training recipe changes so old artifacts are not reused.
RECIPE_VERSION = "1"

_FILLERS = {
    "en": (
        ("uh", "um", "well", "okay", "so", "yeah", "look", "listen", "hmm"),
        ("you know", "okay", "i mean"),
    ),
    "zh": (("嗯", "那个", "呃", "就是", "喂", "哦", "啊"), ("啊", "吧", "呢", "哈", "嘛")),
}


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: Intent


def data_dir() -> Path:
    return paths.nlu_data_dir()


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ConfigError(f"unknown language {lang!r}", f"use one of {', '.join(LANGS)}")
    return lang


def load(lang: str, split: str, root: Path | None = None) -> list[Example]:
    """``split`` is one of ``SPLITS``: ``train``, ``heldout`` or ``frozen``."""
    if split not in SPLITS:
        raise ConfigError(f"unknown NLU data set {split!r}", f"use one of {', '.join(SPLITS)}")
    path = (root or data_dir()) / check_lang(lang) / f"{split}.tsv"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"no NLU data at {path}", "restore data/nlu from the repository") from None
    examples = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        label, sep, text = line.partition("\t")
        if not sep or not text.strip():
            raise ConfigError(f"{path}:{number}: expected 'intent<TAB>utterance'", "fix the line")
        try:
            intent = Intent(label.strip())
        except ValueError:
            raise ConfigError(
                f"{path}:{number}: unknown intent {label!r}", "use a foundation.contract.Intent value"
            ) from None
        examples.append(Example(normalize(text, lang), intent))
    return examples


def training_examples(lang: str, root: Path | None = None) -> list[Example]:
    """What a model learns from: ``train.tsv`` only, never a scored set."""
    return load(lang, TRAIN_SPLIT, root)


def normalize(text: str, lang: str) -> str:
    """What every model and matcher sees: lowercase, single spaces, no punctuation."""
    kept = "".join(ch if ch.isalnum() or ch in "'$" or ch.isspace() else " " for ch in text.lower())
    if lang == "zh":
        # ASR output for Mandarin may put spaces between words; they carry nothing.
        return "".join(kept.split())
    return " ".join(kept.split())


def data_hash(lang: str, root: Path | None = None) -> str:
    digest = hashlib.sha256(RECIPE_VERSION.encode())
    digest.update(((root or data_dir()) / check_lang(lang) / "train.tsv").read_bytes())
    return digest.hexdigest()[:16]


def augment(examples: list[Example], lang: str, rng: random.Random, copies: int) -> list[Example]:
    """The originals plus ``copies`` noisy variants each: fillers before or after, a word
    or character dropped — the way phone speech and ASR output differ from clean text."""
    leading, trailing = _FILLERS[lang]
    out = list(examples)
    for example in examples:
        for _ in range(copies):
            text = example.text
            roll = rng.random()
            if roll < 0.4:
                text = _join(lang, rng.choice(leading), text)
            elif roll < 0.6:
                text = _join(lang, text, rng.choice(trailing))
            elif roll < 0.8:
                text = _drop_one(text, lang, rng)
            elif roll < 0.9 and lang == "en":
                # Recognizers cut replies short ("wrong number" → "wrong numb").
                text = _cut_last_word(text)
            else:
                text = _join(lang, rng.choice(leading), _join(lang, text, rng.choice(trailing)))
            out.append(Example(text, example.intent))
    return out


def _join(lang: str, left: str, right: str) -> str:
    return left + right if lang == "zh" else f"{left} {right}"


def _drop_one(text: str, lang: str, rng: random.Random) -> str:
    units = list(text) if lang == "zh" else text.split()
    if len(units) < 4:
        return text
    del units[rng.randrange(len(units))]
    return "".join(units) if lang == "zh" else " ".join(units)


def _cut_last_word(text: str) -> str:
    words = text.split()
    if len(words) < 2 or len(words[-1]) < 5:
        return text
    words[-1] = words[-1][: (len(words[-1]) + 1) // 2]
    return " ".join(words)
