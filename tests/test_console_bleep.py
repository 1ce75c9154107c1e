"""QA hears recordings with the debtor's name and number bleeped, placed from the turn timings."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from duncall.console.bleep import (
    FRAME_S,
    TONE_HZ,
    VOICED_RMS,
    TurnTiming,
    bleep_spans,
    bleep_wav,
    sensitive_spans,
)

RATE = 16_000


def _wav(samples: np.ndarray, rate: int = RATE) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return out.getvalue()


def _samples(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def _trim(pcm: bytes) -> np.ndarray:
    x = np.frombuffer(pcm, dtype="<i2")
    step = int(RATE * FRAME_S)
    frames = x[: len(x) // step * step].astype(np.float64).reshape(-1, step)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > VOICED_RMS)
    return x[loud[0] * step : (loud[-1] + 1) * step]


@pytest.mark.unit
def test_names_and_the_number_are_found_in_a_turns_text() -> None:
    text = "Thank you, Jordan. We will text 212-555-0123, not Jordana's sister at 4155550100."
    found = [text[a:b] for a, b in sensitive_spans(text, ["Jordan", "Avery"], ["+12125550123"])]
    assert found == ["Jordan", "212-555-0123"]
    assert sensitive_spans("Your balance is $1,250.00 due 2027-03-05.", ["Jo"], ["+12125550123"]) == []


@pytest.mark.audio
def test_the_bots_spoken_name_is_bleeped_where_the_voice_says_it() -> None:
    """A greeting as espeak says it, built from its parts so where "John Smith" and "John" fall
    is known; only the turn's start, end and text are given to the bleeper."""
    from bot.tts.cache import PromptCache
    from bot.tts.espeak import DEFAULT_RATE_WPM, EspeakSynthesizer

    # Through the prompt cache, as the bot gets its prompts: it synthesizes again when the
    # engine hands back an empty file under load.
    prompts = PromptCache(EspeakSynthesizer(), None, DEFAULT_RATE_WPM)
    parts = [
        ("Hello, this is Sam. May I speak with", False),
        ("John Smith", True),
        ("Press 1 if you are", False),
        ("John", True),
        ("or 2 if not.", False),
    ]
    gap = np.zeros(int(0.12 * RATE), dtype="<i2")
    audio, truth, t = [np.zeros(RATE, dtype="<i2")], [], 1.0
    for text, secret in parts:
        voice = _trim(prompts.get(text, "en"))
        if secret:
            truth.append((t, t + len(voice) / RATE))
        audio += [voice, gap]
        t += (len(voice) + len(gap)) / RATE
    audio.append(np.zeros(int(1.5 * RATE), dtype="<i2"))  # the prompt's silent tail
    original = np.concatenate(audio)
    turn = TurnTiming(
        "Hello, this is Sam. May I speak with John Smith? Press 1 if you are John, or 2 if not.",
        1.0,
        len(original) / RATE,
    )
    spans = bleep_spans(original, RATE, [turn], ["John", "Smith"], [])
    bleeped = _samples(bleep_wav(_wav(original), [turn], ["John", "Smith"], []))
    assert len(bleeped) == len(original)
    for a, b in truth:  # every sample of the name is the tone
        assert any(s.start_s <= a and b <= s.end_s for s in spans), (a, b, spans)
        part = bleeped[int(a * RATE) : int(b * RATE)].astype(np.float64)
        spectrum = np.abs(np.fft.rfft(part))
        assert abs(np.argmax(spectrum) * RATE / len(part) - TONE_HZ) < 20
    # Little else goes: the rest of the greeting is untouched, and at most ~0.8 s more than the names.
    kept = np.ones(len(original), dtype=bool)
    for s in spans:
        kept[int(s.start_s * RATE) : int(s.end_s * RATE)] = False
    assert np.array_equal(bleeped[kept], original[kept])
    extra = sum(s.end_s - s.start_s for s in spans) - sum(b - a for a, b in truth)
    assert extra < 0.8 * len(truth) + 0.4, (extra, spans, truth)


@pytest.mark.redis
def test_qa_hears_the_recording_bleeped_and_a_pii_reader_hears_it_whole(tmp_path: Path) -> None:
    from test_console_fixtures import GOOD, make_env, seed_calls

    from duncall.console.roles import Role

    env = make_env(tmp_path, qa_transcript_only=False)
    try:
        seed_calls(env.engine)
        # The seeded call's greeting names "Jordan Avery" (turn 0, 0-6 s): a voice-like tone there.
        rate = 8000
        t = np.arange(12 * rate) / rate
        voice = (np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2")
        original = _wav(voice, rate)
        (env.recordings_dir / f"call-{GOOD[-4:]}.wav").write_bytes(original)
        url = f"/api/calls/{GOOD}/recording"
        supervisor = env.login(Role.SUPERVISOR).get(url)
        assert supervisor.status_code == 200 and supervisor.content == original
        qa = env.login(Role.QA)
        heard = qa.get(url)
        assert heard.status_code == 200 and len(heard.content) == len(original)
        assert heard.content != original
        changed = np.flatnonzero(_samples(heard.content) != voice)
        assert 0 < changed[0] / rate < changed[-1] / rate < 12.0
        part = qa.get(url, headers={"Range": "bytes=44-1043"})
        assert part.status_code == 206 and part.content == heard.content[44:1044]
    finally:
        env.close()
