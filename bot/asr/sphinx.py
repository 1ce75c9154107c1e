"""PocketSphinx: the embedded default engine (its PyPI package ships an en-us model).

A dialogue state's phrases become a JSGF grammar of alternatives.  Measured
on espeak-ng speech: the phrase grammar decodes a 2.9 s reply in 31 ms and
word-exact, while adding a free loop over the same words (so off-list answers
come out as words) took 300-1,200 ms and lost words even with JSGF weights —
so off-list answers are left to the fuzzy matcher downstream, and states with
no grammar use the full language model (RTF ≈ 0.3-0.4, rougher words).

Streaming: ``stream()`` holds one decoder for one utterance and is fed the
call's frames while the debtor speaks (``process_raw`` per batch), so when the
endpointer closes the turn only ``end_utt`` is left.  Decoders are ~95 MB and
take ~0.6 s to create, so the pool grows on demand up to ``MAX_DECODERS`` and
keeps one spare ready, made on a background thread, for the next speaker.

When the grammar finds nothing (an answer off the state's list) the language
model's words are used instead — but decoding a whole utterance with it takes
0.5-2 s on a loaded 2-core machine, the worst of the turn latency tail.  So
after the endpoint it gets ``LM_FALLBACK_BUDGET_S``, and its words, if cut
short, come back with a confidence under the scripts' floor: the bot asks
again instead of keeping the debtor waiting.  (Following the speech with the
language model on a second decoder was tried: PocketSphinx holds the GIL while
it decodes, so that stalled every call's audio by ~40% of the speech time.)
Decoders are warmed (``warm``) before the first dial: a decoder's first audio
with a grammar costs ~1 s, and making one ~0.6 s, both with the GIL held.
"""

from __future__ import annotations

import hashlib
import queue
import re
import threading
import time
from dataclasses import dataclass

import numpy as np
from pocketsphinx import Decoder

from bot.asr.base import Transcript
from bot.asr.streaming import PartialTranscript
from bot.audio import SAMPLE_RATE_HZ, duration_ms
from foundation.errors import ConfigError

DECODER_POOL_SIZE = 2  # whole-utterance decodes at once: one per core; a decoder is not thread-safe
# Streams hold a decoder while the debtor speaks: one per caller speaking at the
# same moment.  Past this many, a new stream waits for a decoder to come back.
MAX_DECODERS = 24
LM_FALLBACK_BUDGET_S = 0.2  # language-model decode after the endpoint, at most
LM_CHUNK_BYTES = SAMPLE_RATE_HZ * 2 // 10  # 100 ms of audio between budget checks
CUT_SHORT_CONFIDENCE = 0.3  # words of a fallback cut short: kept for QA, below any script's floor
# An endpointed utterance carries ~0.3 s of pre-roll and ~0.5 s of trailing silence.
PREROLL_AND_TAIL_S = 0.8
_WORD_RE = re.compile(r"[a-z']+")
# Half a second of faint noise, decoded once per grammar by every decoder (see _prime).
_WARMUP_AUDIO = np.random.default_rng(0).normal(0, 300, SAMPLE_RATE_HZ // 2).astype(np.int16).tobytes()


@dataclass
class _Slot:
    decoder: Decoder
    searches: set[str]
    lm_search: str


class SphinxRecognizer:
    """``Recognizer`` and ``StreamingRecognizer`` over PocketSphinx's bundled en-us model."""

    name = "pocketsphinx"

    def __init__(self, pool_size: int = DECODER_POOL_SIZE, max_decoders: int = MAX_DECODERS) -> None:
        self._idle: queue.LifoQueue[_Slot] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._whole = threading.BoundedSemaphore(pool_size)
        self._max = max(max_decoders, pool_size)
        self._created = 0
        self._making = False
        self._known: dict[str, str] = {}  # grammars seen so far: search name -> JSGF

    @property
    def decoders(self) -> int:
        """Decoders made so far (each ~95 MB)."""
        return self._created

    def _new_slot(self) -> _Slot:
        dec = Decoder(samprate=SAMPLE_RATE_HZ, loglevel="FATAL")
        slot = _Slot(dec, set(), dec.current_search())
        with self._lock:
            known = list(self._known.items())
        for name, text in known:
            self._prime(slot, name, text)
        dec.activate_search(slot.lm_search)
        return slot

    @staticmethod
    def _prime(slot: _Slot, name: str, text: str) -> None:
        """Compile a grammar on a decoder and run it once: a grammar's first audio on a
        decoder costs ~1 s (its search is built lazily) — paid here, not in a caller's words."""
        dec = slot.decoder
        if name not in slot.searches:
            dec.add_jsgf_string(name, text)
            slot.searches.add(name)
        dec.activate_search(name)
        _warm_up(dec)

    def _learn(self, name: str, text: str) -> None:
        """A grammar seen for the first time: each decoder made from now on gets it ready.

        (Not the idle ones in the background: PocketSphinx holds the GIL while it
        decodes, so priming during calls would stall every call's audio; ``warm``
        prepares them before the first dial.)
        """
        with self._lock:
            self._known.setdefault(name, text)

    def _acquire(self) -> _Slot:
        with self._lock:
            make_now = self._idle.empty() and self._created < self._max and not self._making
            if make_now:
                self._created += 1
        if make_now:
            return self._new_slot()
        slot = self._idle.get()
        self._spare_ahead()
        return slot

    def _release(self, slot: _Slot) -> None:
        self._idle.put(slot)

    def _spare_ahead(self) -> None:
        """Keep one idle decoder ready, so the next speaker does not wait 0.6 s for one."""
        with self._lock:
            if not self._idle.empty() or self._created >= self._max or self._making:
                return
            self._making = True
            self._created += 1

        def make() -> None:
            try:
                self._idle.put(self._new_slot())
            except BaseException:
                with self._lock:
                    self._created -= 1
                raise
            finally:
                with self._lock:
                    self._making = False

        threading.Thread(target=make, name="sphinx-spare", daemon=True).start()

    def warm(
        self, count: int = DECODER_POOL_SIZE, phrase_sets: tuple[tuple[str, ...], ...] | None = None
    ) -> None:
        """Make ``count`` decoders now, each ready for every one of ``phrase_sets`` (a bot
        expecting that many callers speaking at once).  By default: every English state
        grammar with the open one, as the conversation decodes them (~0.4 s per decoder)."""
        if phrase_sets is None:
            phrase_sets = state_phrase_sets("en")
        slots = [self._acquire() for _ in range(max(1, min(count, self._max)))]
        for slot in slots:
            for phrases in phrase_sets:
                clean = tuple(p for p in (normalize(x, slot.decoder) for x in phrases) if p)
                if clean:
                    name = _search_name(clean)
                    with self._lock:
                        self._known[name] = jsgf(name, clean)
                    if name not in slot.searches:
                        self._prime(slot, name, jsgf(name, clean))
        for slot in slots:
            self._release(slot)

    def recognize(self, pcm: bytes, lang: str, phrases: tuple[str, ...] = ()) -> Transcript:
        check_lang(lang)
        with self._whole:
            slot = self._acquire()
            try:
                started = time.perf_counter()
                dec = slot.decoder
                phrase_set = self._activate(slot, phrases)
                text = self._decode(dec, pcm)
                return self._result(slot, pcm, text, phrase_set, time.perf_counter() - started)
            finally:
                self._release(slot)

    def stream(self, lang: str, phrases: tuple[str, ...] = ()) -> SphinxStream:
        """One utterance decoded as it is fed (blocking: call it off the event loop)."""
        check_lang(lang)
        slot = self._acquire()
        try:
            started = time.perf_counter()
            phrase_set = self._activate(slot, phrases)
            slot.decoder.start_utt()
        except BaseException:
            self._release(slot)
            raise
        return SphinxStream(self, slot, phrase_set, time.perf_counter() - started)

    def _lm_within(self, slot: _Slot, pcm: bytes, budget_s: float) -> tuple[str, bool]:
        """The language model's words for ``pcm``, decoding for at most ``budget_s``; (words, complete)."""
        dec = slot.decoder
        dec.activate_search(slot.lm_search)
        dec.start_utt()
        started = time.perf_counter()
        complete = True
        chunk_s = 0.0
        for off in range(0, len(pcm), LM_CHUNK_BYTES):
            if time.perf_counter() - started + chunk_s > budget_s:
                complete = False  # the next chunk would overrun the budget
                break
            chunk_started = time.perf_counter()
            dec.process_raw(pcm[off : off + LM_CHUNK_BYTES], full_utt=False)
            chunk_s = time.perf_counter() - chunk_started
        dec.end_utt()
        hyp = dec.hyp()
        return (hyp.hypstr.strip() if hyp is not None else ""), complete

    def _result(
        self,
        slot: _Slot,
        pcm: bytes,
        text: str,
        phrase_set: frozenset[str],
        decode_s: float,
        *,
        budget_s: float | None = None,
    ) -> Transcript:
        started = time.perf_counter()
        dec = slot.decoder
        complete = True
        if phrase_set and _grammar_missed(text, pcm):
            # The answer was off the state's list: a phrase grammar then returns
            # nothing or a short fragment of the closest phrase.  The language
            # model's rougher words are worth more than that.
            if budget_s is None:
                dec.activate_search(slot.lm_search)
                free = self._decode(dec, pcm)
            else:
                free, complete = self._lm_within(slot, pcm, budget_s)
            if len(free.split()) > len(text.split()):
                text, phrase_set = free, frozenset()
        # PocketSphinx's posteriors are not calibrated; what tells us more is
        # whether the words form one of the phrases the state expects.
        conf = 0.0 if not text else (0.9 if text in phrase_set else 0.6 if complete else CUT_SHORT_CONFIDENCE)
        return Transcript(
            text=text,
            confidence=max(0.0, min(1.0, conf)),
            engine=self.name,
            audio_ms=duration_ms(pcm),
            decode_ms=(decode_s + time.perf_counter() - started) * 1000,
        )

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
        name = _search_name(clean)
        if name not in slot.searches:
            text = jsgf(name, clean)
            dec.add_jsgf_string(name, text)
            slot.searches.add(name)
            self._learn(name, text)
        dec.activate_search(name)
        return frozenset(clean)


class SphinxStream:
    """One utterance fed to a decoder as it arrives (see ``bot.asr.streaming``).

    Not thread-safe: one caller feeds it, from one thread at a time, then
    calls ``finish`` exactly once, which gives the decoder back.
    """

    def __init__(
        self,
        owner: SphinxRecognizer,
        slot: _Slot,
        phrase_set: frozenset[str],
        setup_s: float,
    ) -> None:
        self._owner = owner
        self._slot: _Slot | None = slot
        self._phrases = phrase_set
        self._audio: list[bytes] = []  # kept for the language-model fallback
        self._decode_s = setup_s
        self._last_text = ""
        self._finished = False

    @property
    def audio_ms(self) -> float:
        return sum(len(b) for b in self._audio) / (SAMPLE_RATE_HZ * 2) * 1000

    def feed(self, pcm: bytes) -> PartialTranscript | None:
        if self._slot is None:
            raise RuntimeError("SphinxStream.feed after finish")
        started = time.perf_counter()
        self._audio.append(pcm)
        dec = self._slot.decoder
        dec.process_raw(pcm, full_utt=False)
        hyp = dec.hyp()
        text = hyp.hypstr.strip() if hyp is not None else ""
        self._decode_s += time.perf_counter() - started
        if text == self._last_text:
            return None
        self._last_text = text
        return PartialTranscript(text, self.audio_ms, 0.0, False)

    def finish(self) -> Transcript:
        if self._slot is None:
            raise RuntimeError("SphinxStream.finish called twice")
        slot, self._slot = self._slot, None
        try:
            started = time.perf_counter()
            dec = slot.decoder
            dec.end_utt()
            hyp = dec.hyp()
            text = hyp.hypstr.strip() if hyp is not None else ""
            decode_s = self._decode_s + time.perf_counter() - started
            return self._owner._result(
                slot,
                b"".join(self._audio),
                text,
                self._phrases,
                decode_s,
                budget_s=LM_FALLBACK_BUDGET_S,
            )
        finally:
            self._owner._release(slot)


def check_lang(lang: str) -> None:
    """PocketSphinx's bundled model is English only."""
    if lang != "en":
        raise ConfigError(
            f"PocketSphinx has no model for language '{lang}'",
            "use the Vosk engine with a model for it (`duncall models pull vosk-model-small-cn`)",
        )


def _warm_up(dec: Decoder) -> None:
    """Run the active search once on faint noise."""
    dec.start_utt()
    dec.process_raw(_WARMUP_AUDIO, full_utt=True)
    dec.end_utt()


def state_phrase_sets(lang: str) -> tuple[tuple[str, ...], ...]:
    """Each state grammar's phrases plus the open grammar's (what ``bot.conversation`` listens with)."""
    from bot.grammars import phrases
    from bot.nlu.grammar import STATE_GRAMMARS

    open_ = phrases(lang, "open")
    return tuple(tuple(dict.fromkeys(phrases(lang, n) + open_)) for n in STATE_GRAMMARS if n != "open")


def _search_name(clean: tuple[str, ...]) -> str:
    return "g" + hashlib.sha1("|".join(clean).encode()).hexdigest()[:12]


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
