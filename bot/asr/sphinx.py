"""PocketSphinx: the embedded default engine (its PyPI package ships an en-us model).

A dialogue state's phrases become a JSGF grammar of alternatives.  Measured
on espeak-ng speech: the phrase grammar decodes a 2.9 s reply in 31 ms and
word-exact, while adding a free loop over the same words (so off-list answers
come out as words) took 300-1,200 ms and lost words even with JSGF weights —
so off-list answers are left to the fuzzy matcher downstream, and states with
no grammar use the full language model (RTF ≈ 0.3-0.4, rougher words).
"""

from __future__ import annotations

import hashlib
import queue
import re
import threading
import time
from dataclasses import dataclass

from pocketsphinx import Decoder

from bot.asr.base import Transcript
from bot.audio import SAMPLE_RATE_HZ, duration_ms
from duncall.errors import ConfigError

DECODER_POOL_SIZE = 2  # one per core; a decoder is not thread-safe
# An endpointed utterance carries ~0.3 s of pre-roll and ~0.5 s of trailing silence.
PREROLL_AND_TAIL_S = 0.8
_WORD_RE = re.compile(r"[a-z']+")


@dataclass
class _Slot:
    decoder: Decoder
    searches: set[str]
    lm_search: str


class SphinxRecognizer:
    name = "pocketsphinx"

    def __init__(self, pool_size: int = DECODER_POOL_SIZE) -> None:
        self._pool: queue.Queue[_Slot] = queue.Queue(maxsize=pool_size)
        self._lock = threading.Lock()
        self._size = pool_size
        self._created = 0

    def _acquire(self) -> _Slot:
        with self._lock:
            if self._pool.empty() and self._created < self._size:
                self._created += 1
                dec = Decoder(samprate=SAMPLE_RATE_HZ, loglevel="FATAL")
                return _Slot(dec, set(), dec.current_search())
        return self._pool.get()

    def recognize(self, pcm: bytes, lang: str, phrases: tuple[str, ...] = ()) -> Transcript:
        if lang != "en":
            raise ConfigError(
                f"PocketSphinx has no model for language '{lang}'",
                "use the Vosk engine with a model for it (`duncall models pull vosk-model-small-cn`)",
            )
        slot = self._acquire()
        try:
            started = time.perf_counter()
            dec = slot.decoder
            phrase_set = self._activate(slot, phrases)
            text = self._decode(dec, pcm)
            if phrase_set and _grammar_missed(text, pcm):
                # The answer was off the state's list: a phrase grammar then returns
                # nothing or a short fragment of the closest phrase.  The language
                # model's rougher words are worth more than that.
                dec.activate_search(slot.lm_search)
                free = self._decode(dec, pcm)
                if len(free.split()) > len(text.split()):
                    text, phrase_set = free, frozenset()
            # PocketSphinx's posteriors are not calibrated; what tells us more is
            # whether the words form one of the phrases the state expects.
            conf = 0.0 if not text else (0.9 if text in phrase_set else 0.6)
            return Transcript(
                text=text,
                confidence=max(0.0, min(1.0, conf)),
                engine=self.name,
                audio_ms=duration_ms(pcm),
                decode_ms=(time.perf_counter() - started) * 1000,
            )
        finally:
            self._pool.put(slot)

    @staticmethod
    def _decode(dec: Decoder, pcm: bytes) -> str:
        dec.start_utt()
        dec.process_raw(pcm, full_utt=True)
        dec.end_utt()
        hyp = dec.hyp()
        return hyp.hypstr.strip() if hyp is not None else ""

    def _activate(self, slot: _Slot, phrases: tuple[str, ...]) -> frozenset[str]:
        dec = slot.decoder
        clean = tuple(p for p in (normalize(x, dec) for x in phrases) if p)
        if not clean:
            dec.activate_search(slot.lm_search)
            return frozenset()
        name = "g" + hashlib.sha1("|".join(clean).encode()).hexdigest()[:12]
        if name not in slot.searches:
            dec.add_jsgf_string(name, jsgf(name, clean))
            slot.searches.add(name)
        dec.activate_search(name)
        return frozenset(clean)


def normalize(phrase: str, dec: Decoder) -> str:
    """Lowercase dictionary words only; a phrase with an unknown word is left out."""
    words = _WORD_RE.findall(phrase.lower())
    if not words or any(dec.lookup_word(w) is None for w in words):
        return ""
    return " ".join(words)


def jsgf(name: str, phrases: tuple[str, ...]) -> str:
    alternatives = " | ".join(sorted(set(phrases)))
    return f"#JSGF V1.0;\ngrammar {name};\npublic <utt> = {alternatives};\n"


def _grammar_missed(text: str, pcm: bytes) -> bool:
    """Whether the grammar found nothing in audio that held speech.

    (A words-per-second test for forced short fits was tried: the language
    model's words on such replies were no better — "i want to talk to a real
    person" came back as "on the thirtieth" — so only empty results fall back.)
    """
    return not text and duration_ms(pcm) / 1000 > PREROLL_AND_TAIL_S
