"""Endpointing: where an utterance starts and ends, from 20 ms frames.

Pure and synchronous: a frame in, at most one event out.  webrtcvad decides
voiced/unvoiced per frame; a short run of voiced frames starts speech (so a
click or line noise does not), and ``ENDPOINT_SILENCE_MS`` of trailing
unvoiced frames ends it.  To start speech a voiced frame must also stand above
the line's background level (and, while the bot talks, above its echo: see
``bot.media.echo``).  A pre-roll keeps the audio just before the start so the
recognizer hears the first phoneme.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import webrtcvad

from bot.audio import FRAME_MS, SAMPLE_RATE_HZ

ENDPOINT_SILENCE_MS = 500  # trailing silence that ends an utterance (tunable per state)
START_VOICED_MS = 100  # voiced audio needed, within START_WINDOW_MS, to start speech
START_WINDOW_MS = 200
PREROLL_MS = 300
MAX_UTTERANCE_MS = 15_000  # a stuck VAD never holds a turn longer than this
VAD_AGGRESSIVENESS = 2  # 0..3; 2 keeps 8 kHz line noise from counting as speech
# To start speech a voiced frame must also stand this far above the line's background
# level (tracked: quieter frames lower it at once, louder ones raise it over ~10 s), since
# webrtcvad calls steady band-limited hiss voiced.  10 dB.
START_SNR = 10 ** (10 / 20)
NOISE_RISE = 0.002


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    at_frame: int
    pcm: bytes = b""  # the utterance so far (pre-roll included), for a streaming recognizer
    first_voiced_ago: int = 0  # frames between the first voiced frame of the start window and this one


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    at_frame: int
    pcm: bytes  # the utterance, pre-roll included
    speech_ms: int


@dataclass
class Endpointer:
    endpoint_silence_ms: int = ENDPOINT_SILENCE_MS
    aggressiveness: int = VAD_AGGRESSIVENESS
    _vad: webrtcvad.Vad = field(init=False)
    _window: deque[bool] = field(init=False)
    _preroll: deque[bytes] = field(init=False)
    _utterance: list[bytes] = field(init=False, default_factory=list)
    _in_speech: bool = field(init=False, default=False)
    _trailing: int = field(init=False, default=0)
    _frame_no: int = field(init=False, default=0)
    _noise: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._vad = webrtcvad.Vad(self.aggressiveness)
        self._window = deque(maxlen=START_WINDOW_MS // FRAME_MS)
        self._preroll = deque(maxlen=PREROLL_MS // FRAME_MS)

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    def _track_noise(self, level: float) -> float:
        """The line's background level: follows quieter frames at once, louder ones slowly."""
        if self._noise is None or level < self._noise:
            self._noise = level
        else:
            self._noise += (level - self._noise) * NOISE_RISE
        return self._noise

    def reset(self) -> None:
        self._window.clear()
        self._preroll.clear()
        self._utterance = []
        self._in_speech = False
        self._trailing = 0

    def flush(self) -> SpeechEnded | None:
        """End the utterance in progress now (the line dropped mid-sentence), if there is one."""
        if not self._in_speech:
            return None
        pcm_all = b"".join(self._utterance)
        speech_ms = (len(self._utterance) - self._trailing) * FRAME_MS
        self.reset()
        return SpeechEnded(self._frame_no, pcm_all, speech_ms)

    def feed(self, pcm: bytes, floor_rms: float = 0.0) -> SpeechStarted | SpeechEnded | None:
        """One 20 ms frame.  ``floor_rms``: a frame must be louder than this to count as
        voiced *to start* speech (the echo guard's level while the bot talks; 0 = any)."""
        self._frame_no += 1
        voiced = self._vad.is_speech(pcm, SAMPLE_RATE_HZ)
        level = rms(pcm)
        noise = self._track_noise(level)
        if not self._in_speech:
            # Line hiss webrtcvad calls voiced is no louder than the line's own noise level.
            if voiced and level <= max(floor_rms, noise * START_SNR):
                voiced = False
            self._preroll.append(pcm)
            self._window.append(voiced)
            if sum(self._window) * FRAME_MS >= START_VOICED_MS:
                first = next(i for i, v in enumerate(self._window) if v)
                ago = len(self._window) - 1 - first
                self._in_speech = True
                self._trailing = 0
                self._utterance = list(self._preroll)
                self._preroll.clear()
                self._window.clear()
                return SpeechStarted(self._frame_no, b"".join(self._utterance), ago)
            return None
        self._utterance.append(pcm)
        self._trailing = 0 if voiced else self._trailing + 1
        too_long = len(self._utterance) * FRAME_MS >= MAX_UTTERANCE_MS
        if self._trailing * FRAME_MS >= self.endpoint_silence_ms or too_long:
            pcm_all = b"".join(self._utterance)
            speech_ms = (len(self._utterance) - self._trailing) * FRAME_MS
            self.reset()
            return SpeechEnded(self._frame_no, pcm_all, speech_ms)
        return None


def rms(pcm: bytes) -> float:
    """Root-mean-square level of 16-bit samples (0..32768)."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0
