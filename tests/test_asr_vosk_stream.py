"""The Vosk edge without a model: result JSON → transcripts, grammar building, the empty-final trap.

A scripted stand-in for ``vosk.KaldiRecognizer`` replays what Vosk was seen
to return (including a final result that comes back empty after good
partials, which a real model does only now and then).  The real engine runs
in test_asr_vosk_ko.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pytest

from bot.asr.streaming import PartialTranscript, RecognitionStream, feed_frames
from bot.asr.vosk_engine import PARTIAL_FALLBACK_CONFIDENCE, VoskStream, grammar_json, phrase_words
from bot.audio import FRAME_BYTES, SILENCE_FRAME

pytestmark = pytest.mark.unit


def result(*words: tuple[str, float]) -> str:
    return json.dumps(
        {
            "result": [{"word": w, "conf": c, "start": 0.0, "end": 0.1} for w, c in words],
            "text": " ".join(w for w, _ in words),
        }
    )


@dataclass
class ScriptedKaldi:  # Vosk's method names, so VoskStream cannot tell it from KaldiRecognizer
    """Per frame: a partial text, or ("final", result-json) when Vosk's endpoint fires."""

    script: Sequence[str | tuple[str, str]]
    final: str = '{"text": ""}'
    _i: int = field(default=0, init=False)
    _partial: str = field(default="", init=False)
    _result: str = field(default="", init=False)

    def AcceptWaveform(self, pcm: bytes) -> bool:
        step = self.script[min(self._i, len(self.script) - 1)]
        self._i += 1
        if isinstance(step, tuple):
            self._result, self._partial = step[1], ""
            return True
        self._partial = step
        return False

    def PartialResult(self) -> str:
        return json.dumps({"partial": self._partial})

    def Result(self) -> str:
        return self._result

    def FinalResult(self) -> str:
        return self.final


def run(
    kaldi: ScriptedKaldi, lang: str = "en", frames: int | None = None, endpoint_silence_ms: int = 800
) -> tuple[list[PartialTranscript], VoskStream]:
    stream = VoskStream(kaldi, lang, endpoint_silence_ms=endpoint_silence_ms)
    assert isinstance(stream, RecognitionStream)
    n = frames if frames is not None else len(kaldi.script)
    return feed_frames(stream, SILENCE_FRAME * n), stream


def test_partials_arrive_only_when_the_text_changes() -> None:
    kaldi = ScriptedKaldi(
        ["", "yes", "yes", "yes i", "yes i can"], final=result(("yes", 1.0), ("i", 0.9), ("can", 0.8))
    )
    partials, stream = run(kaldi)
    assert [p.text for p in partials] == ["yes", "yes i", "yes i can"]
    assert [p.audio_ms for p in partials] == [40.0, 80.0, 100.0]
    final = stream.finish()
    assert final.text == "yes i can" and final.confidence == pytest.approx(0.9)
    assert final.engine == "vosk" and final.audio_ms == 100.0


def test_empty_final_after_good_partials_keeps_the_last_partial() -> None:
    _, stream = run(ScriptedKaldi(["i", "i can pay", "i can pay on friday"]))
    final = stream.finish()
    assert final.text == "i can pay on friday"
    assert final.confidence == PARTIAL_FALLBACK_CONFIDENCE


def test_an_empty_segment_in_the_middle_keeps_its_partial_too() -> None:
    kaldi = ScriptedKaldi(
        ["yes", "yes this is", ("final", '{"text": ""}'), "", "john"], final=result(("john", 0.8))
    )
    partials, stream = run(kaldi)
    assert partials[-1].text == "yes this is john"
    assert stream.finish().text == "yes this is john"


def test_segments_vosk_closed_are_joined_in_order() -> None:
    kaldi = ScriptedKaldi(
        ["no", ("final", result(("no", 1.0))), "", "wrong", "wrong number"],
        final=result(("wrong", 1.0), ("number", 1.0)),
    )
    _, stream = run(kaldi)
    assert stream.finish().text == "no wrong number"


def test_unknown_words_are_dropped_and_lower_the_confidence() -> None:
    _, stream = run(ScriptedKaldi(["[unk]", "[unk] yes"], final=result(("[unk]", 1.0), ("yes", 1.0))))
    final = stream.finish()
    assert final.text == "yes" and final.confidence == pytest.approx(0.5)


def test_only_unknown_words_give_an_empty_transcript_with_no_confidence() -> None:
    _, stream = run(ScriptedKaldi(["[unk]"], final=result(("[unk]", 1.0))))
    final = stream.finish()
    assert (final.text, final.confidence) == ("", 0.0)


def test_nothing_heard_gives_an_empty_transcript() -> None:
    partials, stream = run(ScriptedKaldi([""] * 10))
    assert partials == []
    final = stream.finish()
    assert (final.text, final.confidence, final.audio_ms) == ("", 0.0, 200.0)


def test_mandarin_words_are_joined_without_spaces() -> None:
    _, stream = run(
        ScriptedKaldi(["我", "我 月底 还"], final=result(("我", 1.0), ("月底", 1.0), ("还", 1.0))), "zh"
    )
    assert stream.finish().text == "我月底还"


def test_speech_ends_when_the_words_stop_changing_for_the_endpoint_silence() -> None:
    partials, _ = run(ScriptedKaldi(["yes"] + ["yes"] * 50), frames=51, endpoint_silence_ms=300)
    assert [(p.text, p.speech_ended) for p in partials] == [("yes", False), ("yes", True)]
    assert partials[1].trailing_silence_ms == pytest.approx(300.0)
    assert partials[1].audio_ms == pytest.approx(20.0 + 300.0)


def test_speech_ends_when_vosk_closes_a_segment_after_words() -> None:
    partials, _ = run(ScriptedKaldi(["yes", ("final", result(("yes", 1.0))), ""]), endpoint_silence_ms=10_000)
    assert [(p.text, p.speech_ended) for p in partials] == [("yes", False), ("yes", True)]


def test_a_new_word_after_an_end_reopens_the_turn() -> None:
    partials, _ = run(
        ScriptedKaldi(["yes", ("final", result(("yes", 1.0))), "", "please"]), endpoint_silence_ms=10_000
    )
    assert [(p.text, p.speech_ended) for p in partials][-1] == ("yes please", False)


def test_silence_before_any_word_never_ends_speech() -> None:
    partials, _ = run(ScriptedKaldi([""] * 100), endpoint_silence_ms=100)
    assert partials == []


def test_a_finished_stream_cannot_be_fed() -> None:
    _, stream = run(ScriptedKaldi(["yes"]))
    stream.finish()
    with pytest.raises(RuntimeError):
        stream.feed(bytes(FRAME_BYTES))
    with pytest.raises(RuntimeError):
        stream.finish()


# --- grammar ----------------------------------------------------------------------------------


def vocab(words: Iterable[str]) -> set[str]:
    return set(words)


def test_english_phrases_with_an_unknown_word_are_left_out_whole() -> None:
    known = vocab(["yes", "that's", "right", "no", "[unk]"]).__contains__
    assert phrase_words("Yes, that's right!", "en", known) == ["yes", "that's", "right"]
    assert phrase_words("yes that's correct", "en", known) is None
    grammar = grammar_json(["Yes", "yes that's correct", "no", "yes that's right", "YES"], "en", known)
    assert grammar is not None and json.loads(grammar) == ["yes", "no", "yes that's right", "[unk]"]


def test_unk_is_added_only_when_the_model_has_it() -> None:
    grammar = grammar_json(["yes"], "en", vocab(["yes"]).__contains__)
    assert grammar is not None and json.loads(grammar) == ["yes"]


def test_no_phrase_in_the_vocabulary_means_no_grammar() -> None:
    assert grammar_json(["what", "pardon"], "en", vocab(["yes"]).__contains__) is None
    assert grammar_json([], "en", vocab(["yes"]).__contains__) is None


def test_mandarin_phrases_are_split_into_the_models_words_by_longest_match() -> None:
    known = vocab(["我", "月底", "月", "底", "还", "五百", "块", "是", "的", "是的"]).__contains__
    assert phrase_words("我月底还五百块", "zh", known) == ["我", "月底", "还", "五百", "块"]
    assert phrase_words("是的，", "zh", known) == ["是的"]
    assert phrase_words("再说一遍", "zh", known) is None
    grammar = grammar_json(["是的", "我月底还五百块", "再说一遍"], "zh", known)
    assert grammar is not None and json.loads(grammar) == ["是的", "我 月底 还 五百 块"]
