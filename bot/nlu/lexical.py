"""A linear model over word and character n-grams, blended with the transformer.

The transformers learn from a few hundred lines per language and read a phrasing they
never saw through what they made of the ones they did.  A logistic regression over
sparse n-grams reads it through its pieces instead — "their not my debt" still holds
"not my" and "debt", 俺木有钱 still holds 有钱 and "mei you"/"mu you" syllables, a hardship
reason said beside a promise still holds the promise's words — and is wrong on other
utterances than the transformer is.  The two are averaged (``BLEND``).

Features, each counted once per utterance and the row scaled to unit length:
- en: words, word bigrams, and character 3-5-grams inside each word (``<word>`` with its
  boundaries), so a cut-off or misspelt word ("numb", "colin") shares most of its pieces
  with the right one;
- zh: characters, character bigrams and trigrams, toneless pinyin syllables and syllable
  bigrams, so a homophone slip (换 for 还) keeps its syllables.

Trained in seconds with scikit-learn (lbfgs, deterministic: the same data and seed give the
same weights), on the same seeded augmentation as the transformer.  The artifact is plain
data — the feature list as JSON and the weights as a NumPy array file, read without pickle —
under ``nlu/<lang>-lex-<key>/``, the key hashing the training data and this recipe.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pypinyin import lazy_pinyin

from bot.nlu.data import LABELS, augment, check_lang, data_hash, replace_directory, training_examples
from foundation import paths
from foundation.contract import Intent
from foundation.errors import ConfigError

SEED = 20250514
# Bump when the features or the fit change, so an old artifact is not loaded.
LEXICAL_VERSION = "1"


@dataclass(frozen=True, slots=True)
class LexicalRecipe:
    regularization_c: float  # scikit-learn's C: larger fits the training lines more closely
    augment_copies: int


LEXICAL_RECIPES = {
    "en": LexicalRecipe(regularization_c=10.0, augment_copies=2),
    "zh": LexicalRecipe(regularization_c=10.0, augment_copies=2),
}


def features(text: str, lang: str) -> list[str]:
    """The n-grams of one normalized utterance (see the module's docstring)."""
    out: list[str] = []
    if lang == "en":
        words = text.split()
        out += ["w:" + w for w in words]
        out += ["b:" + " ".join(words[i : i + 2]) for i in range(len(words) - 1)]
        for word in words:
            padded = f"<{word}>"
            for n in (3, 4, 5):
                out += ["c:" + padded[i : i + n] for i in range(len(padded) - n + 1)]
        return out
    chars = [ch for ch in text if not ch.isspace()]
    syllables = [s for s in lazy_pinyin("".join(chars)) if s.strip()]
    out += ["c1:" + ch for ch in chars]
    out += ["c2:" + "".join(chars[i : i + 2]) for i in range(len(chars) - 1)]
    out += ["c3:" + "".join(chars[i : i + 3]) for i in range(len(chars) - 2)]
    out += ["p1:" + s for s in syllables]
    out += ["p2:" + " ".join(syllables[i : i + 2]) for i in range(len(syllables) - 1)]
    return out


def artifact_key(lang: str) -> str:
    recipe = f"{LEXICAL_RECIPES[lang]}|{LEXICAL_VERSION}|{SEED}"
    return hashlib.sha256(f"{data_hash(lang)}|{recipe}".encode()).hexdigest()[:16]


def artifact_dir(lang: str) -> Path:
    return paths.home() / "nlu" / f"{lang}-lex-{artifact_key(lang)}"


class LexicalModel:
    """Weights per (intent, n-gram); ``probabilities`` is a softmax over the n-grams present."""

    def __init__(
        self,
        lang: str,
        vocab: dict[str, int],
        coef: NDArray[np.float64],
        intercept: NDArray[np.float64],
        labels: Sequence[Intent],
    ) -> None:
        self.lang = lang
        self.vocab = vocab
        self.coef = coef  # (features, labels): one row read per n-gram present
        self.intercept = intercept
        self.labels: tuple[Intent, ...] = tuple(labels)

    def rows(self, text: str) -> list[int]:
        return sorted({self.vocab[f] for f in features(text, self.lang) if f in self.vocab})

    def probabilities(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for text in texts:
            rows = self.rows(text)
            logits = self.intercept.copy()
            if rows:
                logits += self.coef[rows].sum(axis=0) / math.sqrt(len(rows))
            logits -= logits.max()
            exp = np.exp(logits)
            out.append((exp / exp.sum()).tolist())
        return out

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        names = sorted(self.vocab, key=self.vocab.__getitem__)
        meta = {"lang": self.lang, "labels": [str(label) for label in self.labels], "features": names}
        (directory / "lexical.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        np.savez(directory / "weights.npz", coef=self.coef, intercept=self.intercept)

    @classmethod
    def load(cls, directory: Path) -> LexicalModel:
        try:
            meta = json.loads((directory / "lexical.json").read_text(encoding="utf-8"))
            with np.load(directory / "weights.npz", allow_pickle=False) as weights:
                coef, intercept = weights["coef"], weights["intercept"]
            labels = [Intent(label) for label in meta["labels"]]
            vocab = {name: i for i, name in enumerate(meta["features"])}
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"the n-gram intent model in {directory} cannot be loaded ({exc.__class__.__name__})",
                "rebuild it: duncall nlu train",
            ) from None
        if coef.shape != (len(vocab), len(labels)):
            raise ConfigError(
                f"the n-gram intent model in {directory} is inconsistent", "rebuild it: duncall nlu train"
            )
        return cls(meta["lang"], vocab, coef, intercept, labels)


def train(lang: str, seed: int = SEED, recipe: LexicalRecipe | None = None) -> LexicalModel:
    """Fit ``lang``'s n-gram model on train.tsv and its seeded variants (never a scored set)."""
    # scikit-learn and scipy load only to train; a call process reads the weights with NumPy.
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    check_lang(lang)
    recipe = recipe or LEXICAL_RECIPES[lang]
    examples = augment(training_examples(lang), lang, random.Random(seed), recipe.augment_copies)
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    for row, example in enumerate(examples):
        present = sorted({vocab.setdefault(f, len(vocab)) for f in features(example.text, lang)})
        rows += [row] * len(present)
        cols += present
        values += [1.0 / math.sqrt(len(present))] * len(present) if present else []
    matrix = sparse.csr_matrix((values, (rows, cols)), shape=(len(examples), len(vocab)))
    index = {label: i for i, label in enumerate(LABELS)}
    targets = np.array([index[e.intent] for e in examples])
    fit = LogisticRegression(C=recipe.regularization_c, max_iter=5000).fit(matrix, targets)
    # Every label trains (each has lines in both languages), so classes_ is 0..len(LABELS)-1.
    if list(fit.classes_) != list(range(len(LABELS))):
        raise ConfigError(f"{lang} training data lacks some intents", "give every intent lines in train.tsv")
    coef = np.ascontiguousarray(fit.coef_.T, dtype=np.float64)
    return LexicalModel(lang, vocab, coef, fit.intercept_.astype(np.float64), LABELS)


def build(lang: str) -> Path:
    target = artifact_dir(lang)
    model = train(lang)
    replace_directory(target, model.save)
    return target


def load_lexical(lang: str, build_missing: bool = False) -> LexicalModel:
    directory = artifact_dir(check_lang(lang))
    if not (directory / "lexical.json").exists():
        if not build_missing:
            raise ConfigError(
                f"the {lang} n-gram intent model for the current data is not built ({directory})",
                "build it with: duncall nlu train",
            )
        build(lang)
    return LexicalModel.load(directory)
