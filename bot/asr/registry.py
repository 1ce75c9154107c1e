"""Which ASR engine hears which language, chosen by configuration.

``DUNCALL_ASR`` is one engine name for every language (``vosk``,
``pocketsphinx``) or a per-language list, ``en=pocketsphinx,zh=vosk,*=vosk``
(``*`` covers the rest).  The default keeps the embedded PocketSphinx for
English — it needs no download — and uses Vosk for every other language,
since PocketSphinx ships only an English model.  ``pocketsphinx-pinyin``
(``bot.asr.mandarin``) hears Mandarin offline with no model download —
grammar-only phrase spotting on the English model — but is not the default:
on telephone-band speech it picks the right answer too rarely to hold a
collection conversation (README, known gaps).  Choose it with
``DUNCALL_ASR=en=pocketsphinx,zh=pocketsphinx-pinyin,*=vosk``.  Each Vosk
language's model directory comes from ``bot.models.vosk_model_dir``
(``DUNCALL_VOSK_MODEL_<LANG>`` or the pulled model).

A call is heard in its leg's band (``bot.asr.telephone``): ``for_band`` gives it the
router for that band, whose PocketSphinx loads the telephone adaptation for an 8 kHz
G.711 leg; engines whose model does not differ by band are shared by every call.

``DUNCALL_ASR_WORKERS`` (default: one per core) runs PocketSphinx in that many
worker processes (``bot.asr.workers``), since it holds the GIL while it
decodes; 0 keeps it in the bot's process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.asr.base import Recognizer, Transcript
from bot.asr.streaming import StreamingRecognizer, streaming_enabled
from bot.asr.telephone import Band, call_band
from foundation.errors import ConfigError
from foundation.settings import MAX_ASR_WORKERS, get_settings

ENV_VAR = "DUNCALL_ASR"
WORKERS_ENV_VAR = "DUNCALL_ASR_WORKERS"
MAX_WORKERS = MAX_ASR_WORKERS
DEFAULT_SPEC = "en=pocketsphinx,*=vosk"
ANY_LANG = "*"
PINYIN_ENGINE = "pocketsphinx-pinyin"


def asr_workers() -> int:
    """``DUNCALL_ASR_WORKERS``: PocketSphinx worker processes (default one per core; 0: in process)."""
    configured = get_settings().asr_workers  # checked there: a whole number from 0 to MAX_WORKERS
    if configured is None:
        return max(1, min(MAX_WORKERS, os.cpu_count() or 1))
    return configured


def _pocketsphinx(band: Band) -> Recognizer:
    from bot.asr.telephone import band_mllr

    mllr = band_mllr(band)
    # Decoding while the debtor speaks (DUNCALL_ASR_STREAMING=1) feeds an in-process decoder.
    workers = 0 if streaming_enabled() else asr_workers()
    if workers:
        from bot.asr.workers import SphinxWorkers

        return SphinxWorkers(workers, mllr=mllr)
    from bot.asr.sphinx import SphinxRecognizer

    return SphinxRecognizer(mllr=mllr)


def _vosk(band: Band) -> Recognizer:
    from bot.asr.vosk_engine import VoskRecognizer

    return VoskRecognizer()


def _pinyin(band: Band) -> Recognizer:
    from bot.asr.mandarin import MandarinGrammarRecognizer

    return MandarinGrammarRecognizer()


# Each engine made for a band (bot.asr.telephone): a call's recognizer fits its leg.
ENGINES: Mapping[str, Callable[[Band], Recognizer]] = {
    "pocketsphinx": _pocketsphinx,
    "vosk": _vosk,
    PINYIN_ENGINE: _pinyin,
}
# Engines whose model differs by band; the others are one engine for every call.
BAND_AWARE = frozenset({"pocketsphinx"})


@dataclass(frozen=True, slots=True)
class AsrChoice:
    by_lang: Mapping[str, str]  # language → engine name; ANY_LANG for the rest

    def engine_for(self, lang: str) -> str:
        name = self.by_lang.get(lang) or self.by_lang.get(ANY_LANG)
        if name is None:
            raise ConfigError(
                f"{ENV_VAR} names no ASR engine for language '{lang}'",
                f"add '{lang}=vosk' (or '*=vosk') to {ENV_VAR}",
            )
        return name


def parse_choice(spec: str) -> AsrChoice:
    """``vosk`` or ``en=pocketsphinx,*=vosk`` → an ``AsrChoice``; a clear error for anything else."""
    by_lang: dict[str, str] = {}
    items = [i.strip() for i in spec.split(",") if i.strip()]
    if not items:
        raise ConfigError(f"{ENV_VAR} is empty", f"unset it, or set it to one of {', '.join(ENGINES)}")
    for item in items:
        lang, sep, name = item.partition("=")
        if not sep:
            lang, name = ANY_LANG, item
        lang, name = lang.strip().lower(), name.strip().lower()
        if name not in ENGINES:
            raise ConfigError(
                f"{ENV_VAR}: unknown ASR engine '{name}'",
                f"use one of {', '.join(ENGINES)} (e.g. {DEFAULT_SPEC})",
            )
        if not lang or lang in by_lang:
            raise ConfigError(
                f"{ENV_VAR}: language '{lang}' is empty or given twice in '{spec}'",
                f"write it as {DEFAULT_SPEC}",
            )
        by_lang[lang] = name
    return AsrChoice(by_lang)


def configured_choice() -> AsrChoice:
    return parse_choice(get_settings().asr or DEFAULT_SPEC)


def create(name: str, band: Band = "wideband") -> Recognizer:
    try:
        factory = ENGINES[name]
    except KeyError:
        raise ConfigError(f"unknown ASR engine '{name}'", f"use one of {', '.join(ENGINES)}") from None
    return factory(band)


@dataclass
class RoutingRecognizer:
    """A ``Recognizer`` that hands each utterance to the engine configured for its language.

    Engines are made on first use and shared across calls (a Vosk model is
    loaded once per language).  ``warm`` loads a language's model up front so
    the first call's first turn does not pay for it.

    ``band``: the calls this router hears (``bot.asr.telephone``); ``for_band`` gives a
    call the router for its leg's band, sharing the engines made so far.
    """

    choice: AsrChoice
    name: str = "router"
    band: Band = "wideband"
    _engines: dict[tuple[str, Band | None], Recognizer] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def for_band(self, band: Band) -> RoutingRecognizer:
        """The router for calls of ``band``: same choice, same engines (made per band where a
        model differs by band)."""
        if band == self.band:
            return self
        view = RoutingRecognizer(self.choice, self.name, band)
        view._engines, view._lock = self._engines, self._lock
        return view

    def engine_for(self, lang: str) -> Recognizer:
        engine_name = self.choice.engine_for(lang)
        key = (engine_name, self.band if engine_name in BAND_AWARE else None)
        with self._lock:
            if key not in self._engines:
                self._engines[key] = create(engine_name, self.band)
            return self._engines[key]

    def streaming_for(self, lang: str) -> StreamingRecognizer | None:
        engine = self.engine_for(lang)
        return engine if isinstance(engine, StreamingRecognizer) else None

    def warm(self, lang: str) -> None:
        engine = self.engine_for(lang)
        load = getattr(engine, "model", None)  # Vosk: load the language's model now
        if callable(load):
            load(lang)
        start = getattr(engine, "warm", None)  # pinyin grammar recognizer: make a decoder now
        if callable(start):
            start()

    def prepare(self, lang: str, phrases: tuple[str, ...]) -> None:
        """Let the language's engine get a call's grammar ready ahead of the answer, if it can."""
        ready = getattr(self.engine_for(lang), "prepare", None)
        if callable(ready):
            ready(lang, phrases)

    def recognize(self, pcm: bytes, lang: str, phrases: tuple[str, ...] = ()) -> Transcript:
        return self.engine_for(lang).recognize(pcm, lang, phrases)


def configured_recognizer() -> RoutingRecognizer:
    """The recognizer ``DUNCALL_ASR`` asks for (default: PocketSphinx for en, Vosk for the rest),
    for the default band (``DUNCALL_ASR_CHANNEL``; ``auto``: wide-band until a call says otherwise)."""
    return RoutingRecognizer(configured_choice(), band=call_band(None))
