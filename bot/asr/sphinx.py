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
0.5-2 s on a loaded 2-core machine, the worst of the turn latency tail.  So a
stream also feeds a shadow decoder (``MAX_SHADOW_STREAMS`` of its own, apart
from the callers' pool) with the language model while the debtor speaks, when
one is free and only while it keeps up (at most
``SHADOW_MAX_LOAD`` of the audio's duration); without a shadow the fallback
decode gets ``LM_FALLBACK_BUDGET_S`` and its words, if cut short, come back
with a confidence under the scripts' floor, so the bot asks again instead of
keeping the debtor waiting.
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
from bot.asr.streaming import PartialTranscript
from bot.audio import SAMPLE_RATE_HZ, duration_ms
from duncall.errors import ConfigError

DECODER_POOL_SIZE = 2  # whole-utterance decodes at once: one per core; a decoder is not thread-safe
# Streams hold a decoder while the debtor speaks: one per caller speaking at the
# same moment.  Past this many, a new stream waits for a decoder to come back.
MAX_DECODERS = 24
MAX_SHADOW_STREAMS = 1  # language-model shadows at once (each costs ~0.4 of a core while fed)
SHADOW_MAX_LOAD = 0.6  # a shadow slower than this share of real time (after 0.5 s of audio) is dropped
SHADOW_JUDGED_AFTER_S = 0.5
LM_FALLBACK_BUDGET_S = 0.2  # language-model decode after the endpoint, at most
LM_CHUNK_BYTES = SAMPLE_RATE_HZ * 2 // 10  # 100 ms of audio between budget checks
CUT_SHORT_CONFIDENCE = 0.3  # words of a fallback cut short: kept for QA, below any script's floor
# An endpointed utterance carries ~0.3 s of pre-roll and ~0.5 s of trailing silence.
PREROLL_AND_TAIL_S = 0.8
_WORD_RE = re.compile(r"[a-z']+")


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
        # Shadow decoders are their own few, so a shadow never keeps a caller's grammar waiting.
        self._shadow_idle: queue.Queue[_Slot] = queue.Queue()
        self._shadows_made = 0

    @property
    def decoders(self) -> int:
        """Decoders made so far for callers' grammars (each ~95 MB; shadows not counted)."""
        return self._created

    def _new_slot(self) -> _Slot:
        dec = Decoder(samprate=SAMPLE_RATE_HZ, loglevel="FATAL")
        return _Slot(dec, set(), dec.current_search())

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

    def warm(self, count: int = 1) -> None:
        """Make ``count`` decoders now (a bot expecting that many callers speaking at once)."""
        slots = [self._acquire() for _ in range(max(0, min(count, self._max)))]
        for slot in slots:
            self._release(slot)

    @staticmethod
    def _check_lang(lang: str) -> None:
        if lang != "en":
            raise ConfigError(
                f"PocketSphinx has no model for language '{lang}'",
                "use the Vosk engine with a model for it (`duncall models pull vosk-model-small-cn`)",
            )

    def recognize(self, pcm: bytes, lang: str, phrases: tuple[str, ...] = ()) -> Transcript:
        self._check_lang(lang)
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
        self._check_lang(lang)
        slot = self._acquire()
        try:
            started = time.perf_counter()
            phrase_set = self._activate(slot, phrases)
            slot.decoder.start_utt()
        except BaseException:
            self._release(slot)
            raise
        shadow = self._shadow() if phrase_set else None
        return SphinxStream(self, slot, phrase_set, time.perf_counter() - started, shadow)

    def _shadow(self) -> _Slot | None:
        """A free shadow decoder on the language model, if there is one now (never waited for)."""
        try:
            slot = self._shadow_idle.get_nowait()
        except queue.Empty:
            with self._lock:
                make = self._shadows_made < MAX_SHADOW_STREAMS
                if make:
                    self._shadows_made += 1
            if make:  # for the next utterance; this one goes without
                threading.Thread(
                    target=lambda: self._shadow_idle.put(self._new_slot()), name="sphinx-shadow", daemon=True
                ).start()
            return None
        slot.decoder.activate_search(slot.lm_search)
        slot.decoder.start_utt()
        return slot

    def _end_shadow(self, slot: _Slot) -> str:
        try:
            slot.decoder.end_utt()
            hyp = slot.decoder.hyp()
            return hyp.hypstr.strip() if hyp is not None else ""
        finally:
            self._shadow_idle.put(slot)

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
        shadow_text: str | None = None,
        budget_s: float | None = None,
    ) -> Transcript:
        started = time.perf_counter()
        dec = slot.decoder
        complete = True
        if phrase_set and _grammar_missed(text, pcm):
            # The answer was off the state's list: a phrase grammar then returns
            # nothing or a short fragment of the closest phrase.  The language
            # model's rougher words are worth more than that.
            if shadow_text is not None:
                free = shadow_text
            elif budget_s is None:
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
        name = "g" + hashlib.sha1("|".join(clean).encode()).hexdigest()[:12]
        if name not in slot.searches:
            dec.add_jsgf_string(name, jsgf(name, clean))
            slot.searches.add(name)
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
        shadow: _Slot | None = None,
    ) -> None:
        self._owner = owner
        self._slot: _Slot | None = slot
        self._shadow = shadow  # the language model on the same audio, in case the grammar misses
        self._shadow_s = 0.0
        self._phrases = phrase_set
        self._audio: list[bytes] = []   # kept for the language-model fallback
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
        if self._shadow is not None:
            shadow_started = time.perf_counter()
            self._shadow.decoder.process_raw(pcm, full_utt=False)
            self._shadow_s += time.perf_counter() - shadow_started
            fed_s = self.audio_ms / 1000
            if fed_s >= SHADOW_JUDGED_AFTER_S and self._shadow_s > SHADOW_MAX_LOAD * fed_s:
                # Falling behind the debtor (a loaded machine): it would delay the grammar's words.
                shadow, self._shadow = self._shadow, None
                self._owner._end_shadow(shadow)
        self._decode_s += time.perf_counter() - started
        if text == self._last_text:
            return None
        self._last_text = text
        return PartialTranscript(text, self.audio_ms, 0.0, False)

    def finish(self) -> Transcript:
        if self._slot is None:
            raise RuntimeError("SphinxStream.finish called twice")
        slot, self._slot = self._slot, None
        shadow, self._shadow = self._shadow, None
        try:
            started = time.perf_counter()
            shadow_text = self._owner._end_shadow(shadow) if shadow is not None else None
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
                shadow_text=shadow_text,
                budget_s=LM_FALLBACK_BUDGET_S,
            )
        finally:
            self._owner._release(slot)


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
