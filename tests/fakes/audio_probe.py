"""Looking into recorded call audio: is a tone of a known frequency there, is a known clip there.

Used by the supervision tests to prove which way audio flowed: each supervisor
stand-in "speaks" a tone of its own frequency, and the parties' own speech is
found by cross-correlating against the exact audio they played.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import soxr

RATE_HZ = 16_000
WINDOW_MS = 50
TONE_SHARE = 0.5  # a window "has the tone" when this share of its energy sits at the tone's frequency
QUIET_RMS = 60.0  # windows quieter than this (int16 units) are not judged at all
COMPARE_RATE_HZ = 8_000  # clips are compared band-limited to the narrowest leg a call may cross


def pcm16(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float64)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        return pcm16(w.readframes(w.getnframes())), w.getframerate()


def read_raw16(path: Path) -> np.ndarray:
    """A signed-linear 16 kHz file (``.sln16``) as samples."""
    return pcm16(path.read_bytes())


def tone_windows(samples: np.ndarray, rate: int, hz: float) -> int:
    """How many 50 ms windows are dominated by a ``hz`` tone (Goertzel-style single-bin DFT)."""
    n = int(rate * WINDOW_MS / 1000)
    if len(samples) < n:
        return 0
    frames = samples[: len(samples) // n * n].reshape(-1, n)
    basis = np.exp(-2j * np.pi * hz * np.arange(n) / rate)
    energy = (frames**2).sum(axis=1)
    at_tone = 2 * np.abs(frames @ basis) ** 2 / n
    loud = energy > (QUIET_RMS**2) * n
    share = np.divide(at_tone, energy, out=np.zeros_like(energy), where=energy > 0)
    return int(np.count_nonzero(loud & (share > TONE_SHARE)))


def voiced_share(samples: np.ndarray, rate: int) -> float:
    """The share of 50 ms windows louder than a quiet line (0..1)."""
    n = int(rate * WINDOW_MS / 1000)
    if len(samples) < n:
        return 0.0
    frames = samples[: len(samples) // n * n].reshape(-1, n)
    return float(np.mean((frames**2).mean(axis=1) > QUIET_RMS**2))


def clip_match(recording: np.ndarray, rate: int, clip: np.ndarray, clip_rate: int) -> float:
    """Peak normalised cross-correlation (0..1) of ``clip`` anywhere in ``recording``."""
    rec = soxr.resample(recording, rate, COMPARE_RATE_HZ)
    ref = soxr.resample(clip, clip_rate, COMPARE_RATE_HZ)
    ref = ref - ref.mean()
    if len(rec) < len(ref) or not np.any(ref):
        return 0.0
    size = 1 << int(np.ceil(np.log2(len(rec) + len(ref))))
    corr = np.fft.irfft(np.fft.rfft(rec, size) * np.conj(np.fft.rfft(ref, size)), size)[
        : len(rec) - len(ref) + 1
    ]
    squares = np.concatenate(([0.0], np.cumsum(rec**2)))
    window_energy = squares[len(ref) :] - squares[: len(rec) - len(ref) + 1]
    # Near-silent stretches are left out: there the ratio is only rounding noise.
    heard = window_energy > (QUIET_RMS / 2) ** 2 * len(ref)
    if not np.any(heard):
        return 0.0
    norm = np.sqrt(window_energy[heard]) * np.sqrt((ref**2).sum())
    return float(min(1.0, np.max(np.abs(corr[heard]) / norm)))
