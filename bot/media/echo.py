"""Echo guard: the bot must not barge in on its own voice coming back down the line.

On a telephone line part of what the bot says returns as echo (a 2-wire hybrid
returns it some 6-20 dB down, 0-300 ms late), and webrtcvad calls that echo
speech.  While the bot plays a prompt, the guard gives the endpointer a level
floor: a frame counts toward starting speech only if it is louder than the
loudest bot frame played in the last ``ECHO_TAIL_MS``, less
``ECHO_RETURN_LOSS_DB``.  A debtor talking over the bot at a normal level is
well above that; the echo of the bot is below it.  When the bot is silent the
floor is 0 and the endpointer hears everything.

Pure: the caller says what it played and when (monotonic seconds), and asks
for the floor at a frame's arrival time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bot.audio import FRAME_BYTES, FRAME_MS

ECHO_TAIL_MS = 300  # longest echo delay the guard covers (line + jitter buffers)
ECHO_RETURN_LOSS_DB = 12.0  # echo assumed at least this far below the bot's level


def frame_levels(pcm: bytes) -> np.ndarray:
    """RMS level of each 20 ms frame of 16-bit audio."""
    n = len(pcm) // FRAME_BYTES
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    samples = np.frombuffer(pcm[: n * FRAME_BYTES], dtype=np.int16).astype(np.float32).reshape(n, -1)
    levels: np.ndarray = np.sqrt(np.mean(samples * samples, axis=1))
    return levels


@dataclass
class EchoGuard:
    tail_ms: int = ECHO_TAIL_MS
    return_loss_db: float = ECHO_RETURN_LOSS_DB
    _levels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    _start_s: float = 0.0  # when the first frame of _levels plays
    _stop_s: float = 0.0  # when the bot stops playing (end of audio, or a flush)

    def playing(self, pcm: bytes, starts_at: float) -> None:
        """The bot's audio ``pcm`` starts playing at ``starts_at``."""
        self._levels = frame_levels(pcm)
        self._start_s = starts_at
        self._stop_s = starts_at + len(self._levels) * FRAME_MS / 1000

    def stopped(self, at: float) -> None:
        """The bot's audio was cut at ``at`` (barge-in flush)."""
        self._stop_s = min(self._stop_s, at)

    def floor(self, at: float) -> float:
        """The level a frame arriving at ``at`` must exceed to count as the debtor's voice."""
        if not self._levels.size or at < self._start_s or at > self._stop_s + self.tail_ms / 1000:
            return 0.0
        last = min(at, self._stop_s)
        first_i = max(0, int((at - self.tail_ms / 1000 - self._start_s) * 1000 // FRAME_MS))
        last_i = min(len(self._levels), int((last - self._start_s) * 1000 // FRAME_MS) + 1)
        if last_i <= first_i:
            return 0.0
        return float(self._levels[first_i:last_i].max()) * 10 ** (-self.return_loss_db / 20)
