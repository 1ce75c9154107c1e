"""A collector's call transcript: each side's recording cut into its turns (pure parts, no Asterisk).

The calls themselves, recorded after the notice and transcribed, are in
test_agent_recordings_browser.py."""

from __future__ import annotations

import io
import itertools
import wave

import numpy as np
import pytest

from duncall.agent_transcripts import Stretch, speech_stretches, transcribe_side
from foundation.errors import DuncallError

pytestmark = pytest.mark.unit
RATE = 16_000


def _line(*bursts: tuple[float, float], total_s: float = 8.0) -> np.ndarray:
    """Line noise with a 300 Hz tone (a voice's stand-in) over each (start, end) in seconds."""
    rng = np.random.default_rng(7)
    out = rng.normal(0, 0.002, int(total_s * RATE))
    t = np.arange(len(out)) / RATE
    for start, end in bursts:
        on = (t >= start) & (t < end)
        out[on] += 0.3 * np.sin(2 * np.pi * 300 * t[on])
    return out


def _wav(samples: np.ndarray, *, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(RATE)
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
        w.writeframes(np.repeat(pcm, channels).tobytes())
    return buf.getvalue()


def test_speech_is_cut_at_pauses_a_breath_stays_inside_and_a_click_is_dropped() -> None:
    line = _line((1.0, 2.0), (2.3, 2.8), (4.0, 5.0), (6.0, 6.1))
    got = speech_stretches(line, RATE)
    # 1.0-2.8 is one turn (a 0.3 s pause), 4.0-5.0 another, the 0.1 s click none; 0.15 s padding.
    assert [(round(s.start_s, 2), round(s.end_s, 2)) for s in got] == [(0.85, 2.95), (3.85, 5.15)]
    assert speech_stretches(_line(total_s=3.0), RATE) == []  # a silent side has no turns


def test_a_long_monologue_is_decoded_in_pieces() -> None:
    got = speech_stretches(_line((0.5, 40.0), total_s=41.0), RATE)
    assert len(got) == 3 and all(s.end_s - s.start_s <= 15.0 + 1e-9 for s in got)
    assert got[0].start_s == pytest.approx(0.35) and got[-1].end_s == pytest.approx(40.15)
    assert all(a.end_s == b.start_s for a, b in itertools.pairwise(got))


def test_each_turn_keeps_its_side_and_times_and_empty_decodes_are_dropped() -> None:
    heard: list[tuple[float, str]] = []

    def recognize(pcm: bytes, language: str) -> tuple[str, float]:
        seconds = len(pcm) / 2 / RATE
        heard.append((round(seconds, 2), language))
        return ("" if seconds < 1.5 else " yes this is john ", 0.8)

    turns = transcribe_side(_wav(_line((1.0, 2.0), (4.0, 6.0))), "debtor", "en", recognize)
    assert heard == [(1.3, "en"), (2.3, "en")]
    assert [(t.speaker, t.text, round(t.start_s, 2), round(t.end_s, 2)) for t in turns] == [
        ("debtor", "yes this is john", 3.85, 6.15)
    ]
    assert isinstance(turns[0].confidence, float)
    with pytest.raises(DuncallError, match="2-channel"):
        transcribe_side(_wav(_line((1.0, 2.0)), channels=2), "agent", "en", recognize)
    assert Stretch(0.0, 1.0).end_s == 1.0
