"""What an answered line carries: speech, or only its own steady background.

Pure and synchronous: 20 ms frames of slin16 in, ``LineHeard`` figures out.  A frame is
speech when webrtcvad calls it voiced *and* it stands ``SPEECH_OVER_FLOOR_DB`` above the
line's background, taken as a low percentile of the frame levels heard so far.  webrtcvad
alone calls steady hiss voiced (it adapts to noise slowly, and an answer is short); the
background comparison alone would call a click speech.  Together a steady noise floor is
never speech, however loud, and a voice over it is.  Used while answer detection runs
(``bot.media.answer_ear``); the verdict is ``dialer.amd``'s.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import webrtcvad

from bot.audio import FRAME_BYTES, FRAME_MS, SAMPLE_RATE_HZ
from bot.media.endpointer import VAD_AGGRESSIVENESS
from foundation.contract import LineHeard

SPEECH_OVER_FLOOR_DB = 6.0
FLOOR_PERCENTILE = 10  # the background: the level 90% of frames stand above
MIN_SPEECH_LEVEL = 50.0  # mean |sample| below this is never speech (codec idle noise on a quiet line)
MAX_FRAMES = 500  # 10 s: the longest answer detection (AMD reports within 3 s; its timeout is 10 s)


def frame_level(pcm: bytes) -> float:
    """Mean absolute sample value of a frame of 16-bit audio (what AMD compares with its threshold)."""
    samples = np.frombuffer(pcm, dtype=np.int16)
    return float(np.mean(np.abs(samples.astype(np.int32)))) if samples.size else 0.0


@dataclass
class LineMeter:
    aggressiveness: int = VAD_AGGRESSIVENESS
    _vad: webrtcvad.Vad = field(init=False)
    _levels: deque[float] = field(init=False)
    _voiced: deque[bool] = field(init=False)

    def __post_init__(self) -> None:
        self._vad = webrtcvad.Vad(self.aggressiveness)
        self._levels = deque(maxlen=MAX_FRAMES)
        self._voiced = deque(maxlen=MAX_FRAMES)

    def feed(self, pcm: bytes) -> None:
        """One 20 ms frame (``FRAME_BYTES`` of slin16); a frame of another size is skipped."""
        if len(pcm) != FRAME_BYTES:
            return
        self._levels.append(frame_level(pcm))
        self._voiced.append(self._vad.is_speech(pcm, SAMPLE_RATE_HZ))

    def heard(self) -> LineHeard:
        frames = len(self._levels)
        if not frames:
            return LineHeard(0, 0.0, 0, 0)
        levels = np.fromiter(self._levels, dtype=np.float64, count=frames)
        voiced = np.fromiter(self._voiced, dtype=bool, count=frames)
        floor = float(np.percentile(levels, FLOOR_PERCENTILE))
        gate = max(floor * 10 ** (SPEECH_OVER_FLOOR_DB / 20), MIN_SPEECH_LEVEL)
        speech = voiced & (levels >= gate)
        spoken = np.flatnonzero(speech)
        quiet = frames - 1 - int(spoken[-1]) if spoken.size else frames
        return LineHeard(
            heard_ms=frames * FRAME_MS,
            floor_level=floor,
            speech_ms=int(spoken.size) * FRAME_MS,
            quiet_after_ms=quiet * FRAME_MS,
        )
