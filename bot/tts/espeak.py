"""pyttsx3 driving espeak-ng in-process; output converted once to the call's format."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import soxr

from bot.audio import SAMPLE_RATE_HZ
from foundation.errors import ConfigError

# Mandarin: espeak-ng's plain "cmn" voice reads many characters through their pinyin as
# English ("底" as "di three"); the Latin-as-pinyin variant says them in Mandarin.
VOICES = {"en": "gmw/en-us", "zh": "sit/cmn-Latn-pinyin"}
DEFAULT_RATE_WPM = 165
WARMUP_ATTEMPTS = 3


class EspeakSynthesizer:
    name = "pyttsx3-espeak"

    def __init__(self) -> None:
        # pyttsx3's espeak engine must be driven from the one thread that created it:
        # called from a pool's changing threads it returned empty WAV files now and then.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts-espeak")
        self._engine: object | None = None

    def voice_for(self, lang: str) -> str:
        try:
            return VOICES[lang]
        except KeyError:
            raise ConfigError(f"no TTS voice for language '{lang}'", f"use one of {sorted(VOICES)}") from None

    def _get_engine(self) -> object:
        if self._engine is None:
            import pyttsx3

            try:
                self._engine = pyttsx3.init("espeak")
            except (RuntimeError, OSError) as exc:
                raise ConfigError(
                    f"espeak-ng cannot start ({exc})", "apt-get install espeak-ng libespeak-ng1"
                ) from None
            # A fresh engine's first synthesis has come back empty (its WAV written after
            # runAndWait returned); spend that on a word nobody hears, not on a caller's prompt.
            for _ in range(WARMUP_ATTEMPTS):
                if self._synthesize("hello", VOICES["en"], DEFAULT_RATE_WPM):
                    break
        return self._engine

    def synthesize(self, text: str, voice: str, rate_wpm: int = DEFAULT_RATE_WPM) -> bytes:
        return self._worker.submit(self._synthesize, text, voice, rate_wpm).result()

    def _synthesize(self, text: str, voice: str, rate_wpm: int) -> bytes:
        engine = self._get_engine()
        fd, path = tempfile.mkstemp(suffix=".wav", prefix="duncall-tts-")
        os.close(fd)
        try:
            engine.setProperty("voice", voice)  # type: ignore[attr-defined]
            engine.setProperty("rate", rate_wpm)  # type: ignore[attr-defined]
            # pyttsx3 prints "Audio saved to …" on stdout; keep stdout clean for the CLI.
            with contextlib.redirect_stdout(io.StringIO()):
                engine.save_to_file(text, path)  # type: ignore[attr-defined]
                engine.runAndWait()  # type: ignore[attr-defined]
            try:
                with wave.open(path, "rb") as w:
                    rate = w.getframerate()
                    pcm = w.readframes(w.getnframes())
            except EOFError:
                return b""  # an empty file: the caller retries or reports it
        finally:
            os.unlink(path)
        return to_slin16(pcm, rate)


def to_slin16(pcm: bytes, rate: int) -> bytes:
    samples = np.frombuffer(pcm, dtype=np.int16)
    if rate == SAMPLE_RATE_HZ:
        return samples.tobytes()
    out = soxr.resample(samples, rate, SAMPLE_RATE_HZ)
    return np.asarray(out, dtype=np.int16).tobytes()
