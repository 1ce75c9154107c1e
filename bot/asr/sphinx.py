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

Confidence (``confidence``): a phrase grammar always returns *some* phrase, so being
one of the listed phrases says little ("hello" comes back as "no", "yes this is john
speaking" as "yes it is").  Two things measured on the decode itself do: how much of
the utterance's speech the recognized words cover (a fragment or a short phrase
forced onto a long reply leaves most of it to silence and filler models), and the
words' acoustic score per frame (PocketSphinx scores each frame against the best
senone, so a word that fits the audio costs little per frame and a forced one a lot).
Both cost nothing beyond the decode.  A whole phrase's confidence is that evidence
calibrated for the band the call is heard in and the kind of phrase, an affirmation or
another (``bot.asr.sphinx_calibration``: the share of such results that were right on
held-out audio); a result that is not one whole
phrase of the state's list is capped below every verification and flag threshold; the
reliability tables are in bench/RESULTS.md.
"""

from __future__ import annotations

import hashlib
import math
import queue
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pocketsphinx import Decoder, get_model_path

from bot.asr.base import Transcript
from bot.asr.sphinx_calibration import calibrated, phrase_kind
from bot.asr.streaming import PartialTranscript
from bot.asr.telephone import Band
from bot.audio import SAMPLE_RATE_HZ, duration_ms
from foundation import paths
from foundation.errors import ConfigError
from foundation.settings import get_settings

DECODER_POOL_SIZE = 2  # whole-utterance decodes at once: one per core; a decoder is not thread-safe
# Streams hold a decoder while the debtor speaks: one per caller speaking at the
# same moment.  Past this many, a new stream waits for a decoder to come back.
MAX_DECODERS = 24
LM_FALLBACK_BUDGET_S = 0.2  # language-model decode after the endpoint, at most
LM_CHUNK_BYTES = SAMPLE_RATE_HZ * 2 // 10  # 100 ms of audio between budget checks
CUT_SHORT_CONFIDENCE = 0.3  # words of a fallback cut short: kept for QA, below any script's floor
# Confidence from the decode (see the module's notes and ``confidence``).
FRAME_RATE_HZ = 100  # PocketSphinx's frames: 10 ms
SPEECH_BELOW_PEAK_DB = 35.0  # a frame within this of the utterance's loudest is speech
SPEECH_FLOOR_DB = 30.0  # …and never quieter than this (line noise)
COVERAGE_NONE, COVERAGE_FULL = 0.3, 0.9  # share of speech frames inside recognized words
PENALTY_GOOD, PENALTY_BAD = 3.0, 7.0  # -ln(acoustic score) per word frame, vs the best senone
FRAGMENT_CONF = (0.2, 0.65)  # a piece of a phrase: never enough to verify or to set a flag
LM_CONF = (0.45, 0.7)  # the language model's words (no list to be a phrase of)
# A call's own grammar ("yes this is john") is compiled on the decoder that decodes it;
# past this many grammars a decoder forgets the oldest that is not one of the warmed ones,
# and only this many are primed on every new decoder.
MAX_SEARCHES_PER_DECODER = 48
# Telephone audio (G.711: 300-3400 Hz) decoded at 8 kHz: a 256-point FFT for 8 kHz frames
# and mel filters that stop below the channel's top (bench/asr.py --telephone measures it).
# The bundled model's feat.params sets its 16 kHz filters and wins over arguments, so the
# narrow-band decoder reads the model from a folder of links with its own feat.params.
NARROWBAND_FRONT_END: dict[str, int | float] = {"samprate": 8000, "nfft": 256}
NARROWBAND_UPPER_HZ = 3500
# Low-pass before dropping every other sample (windowed sinc, cut-off 3.6 kHz at 16 kHz).
_HALF_TAPS = 31
_n = np.arange(_HALF_TAPS) - (_HALF_TAPS - 1) / 2
_HALF_FIR = np.sinc(2 * 0.225 * _n) * np.hamming(_HALF_TAPS)
_HALF_FIR /= _HALF_FIR.sum()
MAX_KNOWN_GRAMMARS = 16
# An endpointed utterance carries ~0.3 s of pre-roll and ~0.5 s of trailing silence.
PREROLL_AND_TAIL_S = 0.8
_WORD_RE = re.compile(r"[a-z']+")
# Half a second of faint noise, decoded once per grammar by every decoder (see _prime).
_WARMUP_AUDIO = np.random.default_rng(0).normal(0, 300, SAMPLE_RATE_HZ // 2).astype(np.int16).tobytes()


@dataclass
class _Slot:
    decoder: Decoder
    searches: dict[str, None]  # compiled grammars, oldest first
    lm_search: str


class SphinxRecognizer:
    """``Recognizer`` and ``StreamingRecognizer`` over PocketSphinx's bundled en-us model."""

    name = "pocketsphinx"

    def __init__(
        self,
        pool_size: int = DECODER_POOL_SIZE,
        max_decoders: int = MAX_DECODERS,
        *,
        narrowband: bool = False,
        lm: Literal["domain", "generic"] | None = None,
        mllr: Path | None = None,
        raw_confidence: bool = False,
    ) -> None:
        # narrowband: decode at 8 kHz with a front end fitted to telephone audio
        # (``NARROWBAND_FRONT_END``); the calls' 16 kHz audio is halved first.
        # lm: the language model off-grammar answers are decoded with (default DUNCALL_ASR_LM):
        # the domain model (bot.asr.domain_lm) or the bundled general en-us one.
        self._narrowband = narrowband
        # mllr: a transform of the model's means for the channel (bot.asr.telephone).
        self._mllr = {"mllr": str(mllr)} if mllr else {}
        # The band a whole phrase's confidence is calibrated for; raw_confidence gives the
        # decode's evidence itself (what bench/asr_calibrate.py fits).
        self._band: Band = "telephone" if mllr or narrowband else "wideband"
        self._raw = raw_confidence
        self._lm = lm or get_settings().asr_lm
        self._lm_file: str | None = None
        self._lm_resolved = False
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

    def _lm_args(self) -> dict[str, str]:
        """The decoder's ``lm`` argument: the domain model's file, or none for the bundled one."""
        with self._lock:
            if not self._lm_resolved:
                if self._lm == "domain":
                    from bot.asr.domain_lm import domain_lm_or_none

                    found = domain_lm_or_none("en")
                    self._lm_file = str(found) if found else None
                self._lm_resolved = True
            return {"lm": self._lm_file} if self._lm_file else {}

    def _new_slot(self) -> _Slot:
        lm = self._lm_args()
        if self._narrowband:
            dec = Decoder(loglevel="FATAL", hmm=str(narrowband_model()), **NARROWBAND_FRONT_END, **lm)
        else:
            dec = Decoder(loglevel="FATAL", samprate=SAMPLE_RATE_HZ, **lm, **self._mllr)
        slot = _Slot(dec, {}, dec.current_search())
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
            slot.searches[name] = None
        dec.activate_search(name)
        _warm_up(dec)

    def audio_in(self, pcm: bytes) -> bytes:
        """The call's 16 kHz audio as this recognizer's decoders take it."""
        return halve_rate(pcm) if self._narrowband else pcm

    def prepare(self, lang: str, phrases: tuple[str, ...]) -> None:
        """Compile and run once, on the decoder the next utterance most likely gets, a grammar
        this call will listen with (its phrases name the account: "yes this is john"), while
        the bot is still speaking — not after the debtor's answer."""
        check_lang(lang)
        slot = self._acquire()
        try:
            clean = tuple(p for p in (normalize(x, slot.decoder) for x in phrases) if p)
            if clean:
                name = _search_name(clean)
                if name not in slot.searches:
                    self._forget_old(slot)
                    self._prime(slot, name, jsgf(name, clean))
                slot.decoder.activate_search(slot.lm_search)
        finally:
            self._release(slot)

    def _forget_old(self, slot: _Slot) -> None:
        if len(slot.searches) < MAX_SEARCHES_PER_DECODER:
            return
        with self._lock:
            keep = set(self._known)
        for name in list(slot.searches):
            if name not in keep:
                slot.decoder.remove_search(name)
                del slot.searches[name]
                return

    def _learn(self, name: str, text: str) -> None:
        """A grammar seen for the first time: each decoder made from now on gets it ready.

        (Not the idle ones in the background: PocketSphinx holds the GIL while it
        decodes, so priming during calls would stall every call's audio; ``warm``
        prepares them before the first dial.)
        """
        with self._lock:
            if len(self._known) < MAX_KNOWN_GRAMMARS:
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
                text = self._decode(dec, self.audio_in(pcm))
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
            _start_utt(slot.decoder)
        except BaseException:
            self._release(slot)
            raise
        return SphinxStream(self, slot, phrase_set, time.perf_counter() - started)

    def _lm_within(self, slot: _Slot, pcm: bytes, budget_s: float) -> tuple[str, bool]:
        """The language model's words for ``pcm``, decoding for at most ``budget_s``; (words, complete)."""
        dec = slot.decoder
        pcm = self.audio_in(pcm)
        chunk_bytes = LM_CHUNK_BYTES // 2 if self._narrowband else LM_CHUNK_BYTES
        dec.activate_search(slot.lm_search)
        _start_utt(dec)
        started = time.perf_counter()
        complete = True
        chunk_s = 0.0
        for off in range(0, len(pcm), chunk_bytes):
            if time.perf_counter() - started + chunk_s > budget_s:
                complete = False  # the next chunk would overrun the budget
                break
            chunk_started = time.perf_counter()
            dec.process_raw(pcm[off : off + chunk_bytes], full_utt=False)
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
        evidence = decode_evidence(dec, pcm) if text else 0.0
        if phrase_set and _grammar_missed(text, pcm):
            # The answer was off the state's list: a phrase grammar then returns
            # nothing or a short fragment of the closest phrase.  The language
            # model's rougher words are worth more than that.
            if budget_s is None:
                dec.activate_search(slot.lm_search)
                free = self._decode(dec, self.audio_in(pcm))
            else:
                free, complete = self._lm_within(slot, pcm, budget_s)
            if len(free.split()) > len(text.split()):
                text, phrase_set = free, frozenset()
                evidence = decode_evidence(dec, pcm)
        if not text:
            conf = 0.0
        elif not complete:
            conf = CUT_SHORT_CONFIDENCE
        elif not phrase_set:
            conf = _scale(evidence, LM_CONF)
        elif text in phrase_set:
            conf = evidence if self._raw else calibrated(self._band, phrase_kind(text), evidence)
        else:
            conf = _scale(evidence, FRAGMENT_CONF)
        return Transcript(
            text=text,
            confidence=max(0.0, min(1.0, conf)),
            engine=self.name,
            audio_ms=duration_ms(pcm),
            decode_ms=(decode_s + time.perf_counter() - started) * 1000,
        )

    @staticmethod
    def _decode(dec: Decoder, pcm: bytes) -> str:
        _start_utt(dec)
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
            self._forget_old(slot)
            text = jsgf(name, clean)
            dec.add_jsgf_string(name, text)
            slot.searches[name] = None
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
        dec.process_raw(self._owner.audio_in(pcm), full_utt=False)
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


def decode_evidence(dec: Decoder, pcm: bytes) -> float:
    """0..1: how well the decoder's last hypothesis fits ``pcm`` (its words' share of the
    speech, and their acoustic score per frame), half each."""
    covered = 0.0
    penalty = 0.0
    word_frames = 0
    segments = [s for s in (dec.seg() or ()) if not s.word.startswith(("<", "["))]
    if not segments:
        return 0.0
    speech = speech_frames(pcm)
    in_words = np.zeros(len(speech), dtype=bool)
    for seg in segments:
        in_words[seg.start_frame : seg.end_frame + 1] = True
        frames = seg.end_frame - seg.start_frame + 1
        # The binding gives the score as a probability; a long word can underflow to 0.
        penalty += -math.log(seg.ascore) if seg.ascore > 0 else PENALTY_BAD * frames
        word_frames += frames
    if speech.any():
        covered = float((speech & in_words).sum() / speech.sum())
    per_frame = penalty / max(1, word_frames)
    coverage = _unit((covered - COVERAGE_NONE) / (COVERAGE_FULL - COVERAGE_NONE))
    fit = _unit((PENALTY_BAD - per_frame) / (PENALTY_BAD - PENALTY_GOOD))
    return 0.5 * coverage + 0.5 * fit


def narrowband_model() -> Path:
    """The bundled en-us acoustic model with its filters capped at ``NARROWBAND_UPPER_HZ``."""
    source = Path(get_model_path()) / "en-us" / "en-us"
    target = paths.home() / "sphinx" / f"en-us-{NARROWBAND_UPPER_HZ}hz"
    params = (source / "feat.params").read_text()
    params = re.sub(r"-upperf \S+", f"-upperf {NARROWBAND_UPPER_HZ}", params)
    if not (target / "feat.params").is_file() or (target / "feat.params").read_text() != params:
        target.mkdir(parents=True, exist_ok=True)
        for f in source.iterdir():
            if f.name != "feat.params" and not (target / f.name).exists():
                (target / f.name).symlink_to(f)
        (target / "feat.params").write_text(params)
    return target


def halve_rate(pcm: bytes) -> bytes:
    """16 kHz slin → 8 kHz slin (low-passed first)."""
    x = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype=np.int16).astype(np.float32)
    if not len(x):
        return b""
    y = np.convolve(x, _HALF_FIR, mode="same")[::2]
    return np.clip(np.round(y), -32768, 32767).astype(np.int16).tobytes()


def speech_frames(pcm: bytes) -> np.ndarray:
    """Per 10 ms frame: whether it holds speech (energy near the utterance's peak)."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype=np.int16).astype(np.float32)
    size = SAMPLE_RATE_HZ // FRAME_RATE_HZ
    n = len(samples) // size
    if n == 0:
        return np.zeros(0, dtype=bool)
    energy_db = 10 * np.log10((samples[: n * size].reshape(n, size) ** 2).mean(axis=1) + 1.0)
    return np.asarray(energy_db > max(float(energy_db.max()) - SPEECH_BELOW_PEAK_DB, SPEECH_FLOOR_DB))


def _unit(x: float) -> float:
    return max(0.0, min(1.0, x))


def _scale(evidence: float, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return round(low + (high - low) * _unit(evidence), 3)


def check_lang(lang: str) -> None:
    """PocketSphinx's bundled model is English only."""
    if lang != "en":
        raise ConfigError(
            f"PocketSphinx has no model for language '{lang}'",
            "use the Vosk engine with a model for it (`duncall models pull vosk-model-small-cn`)",
        )


def _start_utt(dec: Decoder) -> None:
    """Start an utterance from a fresh front end: PocketSphinx otherwise carries the last
    utterance's cepstral mean and noise estimate into this one, so the same audio gave
    different words depending on which decoder (of the pool) had heard what before."""
    dec.reinit_feat()
    dec.start_utt()


def _warm_up(dec: Decoder) -> None:
    """Run the active search once on faint noise."""
    _start_utt(dec)
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
    """Lowercase dictionary words only; a phrase with an unknown word (or an account word
    not filled in, ``{first_name}``) is left out."""
    if "{" in phrase:
        return ""
    words = _WORD_RE.findall(phrase.lower())
    if not words or any(dec.lookup_word(w) is None for w in words):
        return ""
    return " ".join(words)


def jsgf(name: str, phrases: tuple[str, ...]) -> str:
    """The phrases as one JSGF grammar whose rules share common beginnings and endings.

    A grammar with slots lists ~1,500 phrases ("i can pay {amount} {day}"); as flat
    alternatives the decoder searched them all side by side (minutes per utterance on
    a loaded machine).  As the minimal word automaton it is a few hundred arcs: one rule
    per state, each alternative a word and the rule of the state it leads to.
    """
    rules = _minimal_automaton(sorted({tuple(p.split()) for p in phrases if p.split()}))
    lines = [f"#JSGF V1.0;\ngrammar {name};"]
    for i, (arcs, final) in enumerate(rules):
        alts = [f"{word} <q{target}>" if rules[target][0] else word for word, target in arcs]
        if i > 0 and not arcs:
            continue  # an ending: referred to as the bare word
        if final and arcs:
            body = f"[{' | '.join(alts)}]" if len(alts) > 1 else f"[{alts[0]}]"
        else:
            body = " | ".join(alts) if alts else "<NULL>"
        head = "public <utt>" if i == 0 else f"<q{i}>"
        lines.append(f"{head} = {body};")
    return "\n".join(lines) + "\n"


def _minimal_automaton(phrases: list[tuple[str, ...]]) -> list[tuple[list[tuple[str, int]], bool]]:
    """The minimal acyclic automaton of ``phrases`` (as word sequences): per state, its arcs
    (word, next state) and whether a phrase may end there; state 0 is the start."""
    trie: list[tuple[dict[str, int], bool]] = [({}, False)]
    for words in phrases:
        node = 0
        for word in words:
            arcs = trie[node][0]
            if word not in arcs:
                arcs[word] = len(trie)
                trie.append(({}, False))
            node = arcs[word]
        trie[node] = (trie[node][0], True)
    # Merge states with the same future, leaves first (a state's signature is its finality
    # and its arcs to already-merged states).
    canon: dict[tuple[bool, tuple[tuple[str, int], ...]], int] = {}
    merged: dict[int, int] = {}
    out: list[tuple[list[tuple[str, int]], bool]] = []

    def visit(node: int) -> int:
        arcs, final = trie[node]
        sig = (final, tuple(sorted((w, visit(t)) for w, t in arcs.items())))
        if sig not in canon:
            canon[sig] = len(out)
            out.append((list(sig[1]), final))
        merged[node] = canon[sig]
        return canon[sig]

    start = visit(0)
    # Renumber so the start is rule 0.
    order = [start] + [i for i in range(len(out)) if i != start]
    index = {old: new for new, old in enumerate(order)}
    return [([(w, index[t]) for w, t in out[old][0]], out[old][1]) for old in order]


def _grammar_missed(text: str, pcm: bytes) -> bool:
    """Whether the grammar found nothing in audio that held speech.

    (A words-per-second test for forced short fits was tried: the language
    model's words on such replies were no better — "i want to talk to a real
    person" came back as "on the thirtieth" — so only empty results fall back.)
    """
    return not text and duration_ms(pcm) / 1000 > PREROLL_AND_TAIL_S
