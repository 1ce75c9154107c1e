"""The bot's English voice is Piper's neural voice, Mandarin stays on espeak-ng, and what Piper
says is what the recognizer hears."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.asr.sphinx import SphinxRecognizer
from bot.audio import SAMPLE_RATE_HZ
from bot.tts.cache import PromptCache
from bot.tts.espeak import DEFAULT_RATE_WPM, VOICES
from bot.tts.piper import PIPER_VOICE, SENTENCE_GAP_S
from bot.tts.registry import configured_synthesizer
from foundation.settings import get_settings

pytestmark = pytest.mark.audio


@pytest.fixture
def voices(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.delenv("DUNCALL_TTS_EN", raising=False)  # the default
    return configured_synthesizer()


def test_english_speaks_through_piper_and_mandarin_through_espeak(voices: object) -> None:
    synth = voices
    assert synth.voice_for("en") == PIPER_VOICE  # type: ignore[attr-defined]
    assert synth.voice_for("zh") == VOICES["zh"]  # type: ignore[attr-defined]
    zh = synth.synthesize("您好，请问是王伟本人吗？", VOICES["zh"])  # type: ignore[attr-defined]
    assert len(zh) > SAMPLE_RATE_HZ  # over half a second of 16-bit audio


def test_what_piper_says_is_heard(voices: object) -> None:
    synth = voices
    pcm = synth.synthesize("Yes, I can pay on Friday.", PIPER_VOICE, DEFAULT_RATE_WPM)  # type: ignore[attr-defined]
    samples = np.frombuffer(pcm, dtype=np.int16)
    assert 0.8 < samples.size / SAMPLE_RATE_HZ < 4.0
    assert np.abs(samples).max() > 3000  # speech, not silence
    heard = SphinxRecognizer(pool_size=1).recognize(
        bytes(SAMPLE_RATE_HZ // 2) + pcm + bytes(SAMPLE_RATE_HZ // 2),
        "en",
        ("yes i can pay on friday", "yes i can pay tomorrow", "no i cannot pay"),
    )
    assert heard.text == "yes i can pay on friday"


def test_sentences_keep_a_short_pause_and_the_cache_keys_the_voice(voices: object, tmp_path: Path) -> None:
    synth = voices
    two = np.frombuffer(synth.synthesize("Hello. Goodbye.", PIPER_VOICE), dtype=np.int16)  # type: ignore[attr-defined]
    quiet = np.abs(two) < 200
    longest, run = 0, 0
    for q in quiet:
        run = run + 1 if q else 0
        longest = max(longest, run)
    # A pause between the sentences, but shorter than the 0.9 s a listener takes for "done".
    assert SENTENCE_GAP_S * SAMPLE_RATE_HZ <= longest < 0.9 * SAMPLE_RATE_HZ
    cache = PromptCache(synth, tmp_path, DEFAULT_RATE_WPM)  # type: ignore[arg-type]
    assert cache.get("Hello.", "en") == cache.get("Hello.", "en")
    assert (cache.hits, cache.misses) == (1, 1)


def test_espeak_stays_available_by_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNCALL_TTS_EN", "espeak")
    assert get_settings().tts_en == "espeak"
    assert configured_synthesizer().voice_for("en") == VOICES["en"]
