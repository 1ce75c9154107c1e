"""Mandarin phrase spotting on PocketSphinx's bundled English model — works offline, grammar only.

No package registry ships a Mandarin model for Vosk or PocketSphinx.  This
engine (``DUNCALL_ASR=...,zh=pocketsphinx-pinyin``) hears Mandarin anyway:
every phrase the dialogue state expects becomes one dictionary word spelled in
en-us phones from its pinyin (``bot.asr.pinyin``), a JSGF grammar allows one of
them, and the decoded word maps back to the hanzi phrase.  The result is
always one of the state's phrases (or nothing): what the debtor says off the
list comes out as the closest phrase, never as their own words.  It is not the
default: over 8 kHz telephone audio it picks the right phrase about half the
time (``bench/asr.py --engines zh``; README, known gaps); ``duncall models pull
vosk-model-small-cn-0.22`` installs a real Mandarin model.

Confidence: the grammar's best path score against a free phone loop's over the
same audio.  It is reported, but measured on espeak-ng speech it hardly
separates right answers from wrong ones.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import tempfile
import threading
import time
from dataclasses import dataclass, field

from pocketsphinx import Decoder, get_model_path

from bot.asr.base import Transcript
from bot.asr.pinyin import UnknownSyllable, phrase_spellings
from bot.audio import SAMPLE_RATE_HZ, duration_ms
from foundation.errors import ConfigError
from foundation.log import kv

log = logging.getLogger(__name__)

LANG = "zh"
DECODER_POOL_SIZE = 2  # one per core; a decoder is not thread-safe
MAX_PHRASES = 1  # one phrase per answer: 2-3 in a row cost 10 points (16 kHz dev set)
# Confidence = (grammar path score / phone loop score) ** CONF_EXPONENT.
CONF_EXPONENT = 1.0
# Optional fillers around the phrase ("我…", "…了", "…啊") were tried: phrase accuracy fell 22 points.
# PocketSphinx's defaults were best on the dev set (insertion penalties, silence probability;
# the model's feat.params fixes the front end: a 3.8 kHz upper filter or no noise removal for
# 8 kHz audio fell 15-50 points).
_PHONE_LOOP = "allphone"
_BASE_GRAMMAR = "base"


@dataclass
class _Slot:
    decoder: Decoder
    searches: set[str] = field(default_factory=set)
    words: dict[str, str] = field(default_factory=dict)  # dictionary word → hanzi phrase


def _hmm_dir() -> str:
    return os.path.join(get_model_path(), "en-us", "en-us")


def _new_decoder() -> Decoder:
    # A decoder needs a dictionary and a search to start; both are tiny here and
    # grow as the states' phrases arrive (add_word, add_jsgf_string).
    with tempfile.TemporaryDirectory(prefix="duncall-zh-") as tmp:
        dict_path = os.path.join(tmp, "base.dict")
        gram_path = os.path.join(tmp, "base.gram")
        with open(dict_path, "w", encoding="ascii") as f:
            f.write("zh_sil SIL\n")
        with open(gram_path, "w", encoding="ascii") as f:
            f.write(f"#JSGF V1.0;\ngrammar {_BASE_GRAMMAR};\npublic <utt> = zh_sil;\n")
        dec = Decoder(
            hmm=_hmm_dir(), dict=dict_path, jsgf=gram_path, samprate=SAMPLE_RATE_HZ, loglevel="FATAL"
        )
    dec.add_allphone_file(_PHONE_LOOP)
    return dec


class MandarinGrammarRecognizer:
    """Grammar-only Mandarin recognition: picks among the state's phrases, offline, no model download."""

    name = "pocketsphinx-pinyin"

    def __init__(self, pool_size: int = DECODER_POOL_SIZE) -> None:
        self._pool: queue.Queue[_Slot] = queue.Queue(maxsize=pool_size)
        self._lock = threading.Lock()
        self._size = pool_size
        self._created = 0
        self._unspellable: set[str] = set()

    def _acquire(self) -> _Slot:
        with self._lock:
            if self._pool.empty() and self._created < self._size:
                self._created += 1
                return _Slot(_new_decoder())
        return self._pool.get()

    def warm(self) -> None:
        """Create one decoder now, so the first call's first turn does not pay for it."""
        self._pool.put(self._acquire())

    def recognize(self, pcm: bytes, lang: str, phrases: tuple[str, ...] = ()) -> Transcript:
        if lang != LANG:
            raise ConfigError(
                f"the pinyin grammar recognizer hears only Mandarin, not '{lang}'",
                f"route '{lang}' to another engine in DUNCALL_ASR (e.g. {lang}=vosk)",
            )
        started = time.perf_counter()
        slot = self._acquire()
        try:
            text, conf = self._decode(slot, pcm, phrases)
        finally:
            self._pool.put(slot)
        return Transcript(
            text=text,
            confidence=conf,
            engine=self.name,
            audio_ms=duration_ms(pcm),
            decode_ms=(time.perf_counter() - started) * 1000,
        )

    def _decode(self, slot: _Slot, pcm: bytes, phrases: tuple[str, ...]) -> tuple[str, float]:
        search = self._activate(slot, phrases)
        if search is None:
            # No grammar: this engine has no language model to fall back on.
            return "", 0.0
        dec = slot.decoder
        dec.activate_search(search)
        hyp, score = _run(dec, pcm)
        if not hyp:
            return "", 0.0
        words = [w.split("(", 1)[0] for w in hyp.split()]
        text = "".join(slot.words[w] for w in words if w in slot.words)
        dec.activate_search(_PHONE_LOOP)
        _, loop_score = _run(dec, pcm)
        return text, _confidence(score, loop_score)

    def _activate(self, slot: _Slot, phrases: tuple[str, ...]) -> str | None:
        clean = tuple(dict.fromkeys(p.strip() for p in phrases if p.strip()))
        names = [n for n in (self._word(slot, p) for p in clean) if n]
        if not names:
            return None
        name = "g" + hashlib.sha1("|".join(sorted(names)).encode()).hexdigest()[:12]
        if name not in slot.searches:
            slot.decoder.add_jsgf_string(name, jsgf(name, names))
            slot.searches.add(name)
        return name

    def _word(self, slot: _Slot, phrase: str) -> str | None:
        """The dictionary word that stands for ``phrase`` (added on first use), None if unspellable."""
        word = "zh_" + hashlib.sha1(phrase.encode()).hexdigest()[:10]
        if word in slot.words:
            return word
        try:
            variants = phrase_spellings(phrase)
        except UnknownSyllable:
            if phrase not in self._unspellable:
                self._unspellable.add(phrase)
                log.warning(
                    "grammar phrase left out: not spellable in pinyin", extra=kv(phrase_sha=word, lang=LANG)
                )
            return None
        for i, phones in enumerate(variants):
            slot.decoder.add_word(word if i == 0 else f"{word}({i + 1})", phones, i == len(variants) - 1)
        slot.words[word] = phrase
        return word


def jsgf(name: str, words: list[str]) -> str:
    one = " | ".join(sorted(set(words)))
    more = " ".join(["[<p>]"] * (MAX_PHRASES - 1))
    return f"#JSGF V1.0;\ngrammar {name};\n<p> = {one};\npublic <utt> = <p> {more};\n"


def _run(dec: Decoder, pcm: bytes) -> tuple[str, float]:
    """Decode ``pcm`` with the active search: (words, the best path's score)."""
    dec.start_utt()
    dec.process_raw(pcm, full_utt=True)
    dec.end_utt()
    hyp = dec.hyp()
    if hyp is None:
        return "", 0.0
    return hyp.hypstr.strip(), float(hyp.score)


def _confidence(score: float, loop_score: float) -> float:
    """0..1 from how far the grammar's best path scores below the free phone loop's."""
    if score <= 0 or loop_score <= 0:
        return 0.0
    ratio: float = min(1.0, score / loop_score) ** CONF_EXPONENT
    return round(ratio, 3)
