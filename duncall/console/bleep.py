"""Recordings for roles without ``pii_read``: the debtor's name and number bleeped out.

The store keeps no word timings, only each turn's start and end in the recording (turn times
count from the recording's start).  So within a turn whose text names the debtor, where the
name falls is estimated from where the voice is: the turn's voiced span (20 ms frames above a
quiet line's level) is spread over its characters, the bot's TTS speaking at an even pace, and
each occurrence of a name or number is replaced, with a margin either side, by a 1 kHz tone.
The estimate is coarse on purpose: the margin errs towards bleeping a syllable too many.

Pure: bytes and turns in, bytes out (the same WAV format and length).
"""

from __future__ import annotations

import io
import re
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

TONE_HZ = 1000.0
TONE_LEVEL = 0.25  # of full scale: audible, not painful
MARGIN_S = 0.35  # either side of an estimated span
FRAME_S = 0.02
VOICED_RMS = 300.0  # int16 RMS above which a 20 ms frame counts as voice (a quiet line is far below)
MIN_NUMBER_DIGITS = 7  # a run of digits this long that ends like the debtor's number is theirs


@dataclass(frozen=True, slots=True)
class TurnTiming:
    text: str
    started_s: float
    ended_s: float | None


@dataclass(frozen=True, slots=True)
class Span:
    start_s: float
    end_s: float


def _name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    words = sorted({n.strip() for n in names if len(n.strip()) >= 2}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)


_DIGIT_RUN = re.compile(r"\+?\d[\d\s().-]{5,}\d")


def sensitive_spans(text: str, names: Sequence[str], numbers: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans of ``text`` that say one of the debtor's names or numbers."""
    out: list[tuple[int, int]] = []
    pattern = _name_pattern(names)
    if pattern is not None:
        out += [(m.start(), m.end()) for m in pattern.finditer(text)]
    tails = {re.sub(r"\D", "", n)[-MIN_NUMBER_DIGITS:] for n in numbers}
    tails.discard("")
    for m in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if len(digits) >= MIN_NUMBER_DIGITS and any(digits.endswith(t) or t.endswith(digits) for t in tails):
            out.append((m.start(), m.end()))
    return sorted(out)


def _voiced(samples: np.ndarray, rate: int, start_s: float, end_s: float) -> tuple[float, float] | None:
    """The first and last voiced instant between ``start_s`` and ``end_s``."""
    step = max(int(rate * FRAME_S), 1)
    a, b = max(int(start_s * rate), 0), min(int(end_s * rate), len(samples))
    if b - a < step:
        return None
    frames = samples[a : a + (b - a) // step * step].astype(np.float64).reshape(-1, step)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > VOICED_RMS)
    if loud.size == 0:
        return None
    return (a + loud[0] * step) / rate, (a + (loud[-1] + 1) * step) / rate


def bleep_spans(
    samples: np.ndarray, rate: int, turns: Sequence[TurnTiming], names: Sequence[str], numbers: Sequence[str]
) -> list[Span]:
    """Where in the recording the debtor's names and numbers are said (estimated, with margins)."""
    spans: list[Span] = []
    for turn in turns:
        if turn.ended_s is None or turn.ended_s <= max(turn.started_s, 0.0) or not turn.text:
            continue
        chars = sensitive_spans(turn.text, names, numbers)
        if not chars:
            continue
        voiced = _voiced(samples, rate, turn.started_s, turn.ended_s) or (turn.started_s, turn.ended_s)
        first, last = voiced
        per_char = (last - first) / len(turn.text)
        for a, b in chars:
            start = max(first + a * per_char - MARGIN_S, turn.started_s, 0.0)
            end = min(first + b * per_char + MARGIN_S, turn.ended_s)
            if end > start:
                spans.append(Span(start, end))
    return _merged(spans)


def _merged(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start_s):
        if out and span.start_s <= out[-1].end_s:
            out[-1] = Span(out[-1].start_s, max(out[-1].end_s, span.end_s))
        else:
            out.append(span)
    return out


def bleep_wav(
    data: bytes, turns: Sequence[TurnTiming], names: Sequence[str], numbers: Sequence[str]
) -> bytes:
    """``data`` (a 16-bit mono WAV) with the debtor's names and numbers replaced by a tone."""
    with wave.open(io.BytesIO(data)) as w:
        params = w.getparams()
        raw = w.readframes(w.getnframes())
    if params.sampwidth != 2 or params.nchannels != 1:
        raise ValueError("only 16-bit mono recordings can be bleeped")
    samples = np.frombuffer(raw, dtype="<i2").copy()
    rate = params.framerate
    for span in bleep_spans(samples, rate, turns, names, numbers):
        a, b = int(span.start_s * rate), min(int(span.end_s * rate), len(samples))
        t = np.arange(b - a) / rate
        samples[a:b] = (np.sin(2 * np.pi * TONE_HZ * t) * TONE_LEVEL * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setparams(params)
        w.writeframes(samples.tobytes())
    return out.getvalue()
