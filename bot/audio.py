"""Audio units moved through the bot: 16 kHz signed-linear mono, 20 ms frames."""

from __future__ import annotations

from dataclasses import dataclass

SAMPLE_RATE_HZ = 16_000
SAMPLE_WIDTH_BYTES = 2
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE_HZ * SAMPLE_WIDTH_BYTES * FRAME_MS // 1000  # 640
SILENCE_FRAME = bytes(FRAME_BYTES)


@dataclass(frozen=True, slots=True)
class AudioFrame:
    pcm: bytes  # FRAME_BYTES of slin16, little-endian
    received_at: float  # monotonic seconds when it arrived from Asterisk


def duration_ms(pcm: bytes) -> float:
    return len(pcm) / (SAMPLE_RATE_HZ * SAMPLE_WIDTH_BYTES) * 1000


def pad_to_frames(pcm: bytes) -> bytes:
    """Whole frames only: chan_websocket re-frames, but a partial tail would be dropped."""
    rest = len(pcm) % FRAME_BYTES
    return pcm + bytes(FRAME_BYTES - rest) if rest else pcm
