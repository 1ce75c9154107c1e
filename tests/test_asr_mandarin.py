"""Mandarin grammar recognition on PocketSphinx's English model: the pinyin spelling tables,
and real decoding of espeak-ng Mandarin (the personas' voice) among a dialogue state's phrases."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.asr.mandarin import MandarinGrammarRecognizer, _new_decoder
from bot.asr.pinyin import FINALS, INITIALS, UnknownSyllable, phrase_spellings, spellings, syllables
from bot.grammars import phrases
from bot.nlu.data import load as load_nlu
from bot.nlu.grammar import STATE_GRAMMARS
from duncall.personas import load_personas
from foundation import paths
from foundation.errors import ConfigError

VOICE = "cmn-latn-pinyin"  # the personas' Mandarin voice


def _project_mandarin() -> set[str]:
    """Every Mandarin text the project listens for: grammars, NLU data (all-hanzi lines), persona replies."""
    texts = {p for name in STATE_GRAMMARS for p in phrases("zh", name)}
    texts |= {
        ex.text
        for split in ("train", "heldout")
        for ex in load_nlu("zh", split)
        if not any(c.isascii() and c.isalnum() for c in ex.text)
    }  # "在app上怎么还" cannot be
    texts |= {
        r.text for p in load_personas(paths.personas_dir()) if p.language == "zh" for r in p.replies if r.text
    }
    return texts


@pytest.mark.unit
def test_syllables_are_spelled_in_english_phones() -> None:
    assert phrase_spellings("是我")[:2] == ["SH IH W AO", "SH ER W AO"]
    assert phrase_spellings("你打错了")[0] == "N IY D AA T S W AO L AH"
    assert phrase_spellings("去")[0] == "CH UW"  # ü after q
    assert phrase_spellings("月底")[0] == "Y EH D IY"  # null initial: yue is final üe
    assert spellings("j", "ia")[0] == ("JH", "AA")  # the affricate carries the glide
    assert ("SH", "IH") in spellings("sh", "i")  # the retroflex vowel has a second spelling


@pytest.mark.unit
def test_a_character_read_two_ways_gets_both_readings() -> None:
    spelled = phrase_spellings("还了")
    assert any(s.startswith("HH AY") for s in spelled) and any(s.startswith("HH W AA N") for s in spelled)
    assert len(phrase_spellings("我还不起我还不了", max_variants=8)) == 8


@pytest.mark.unit
@pytest.mark.parametrize("text", ["ABC", "十5号", "ok好的"])
def test_latin_letters_and_digits_cannot_be_spelled(text: str) -> None:
    with pytest.raises(UnknownSyllable):
        phrase_spellings(text)


@pytest.mark.unit
def test_every_mandarin_text_of_the_project_can_be_spelled() -> None:
    unspellable = []
    for text in sorted(_project_mandarin()):
        try:
            syllables(text)
            phrase_spellings(text)
        except UnknownSyllable:
            unspellable.append(text)
    assert not unspellable


@pytest.mark.unit
def test_every_phone_the_tables_use_is_in_the_english_model() -> None:
    dec = _new_decoder()
    phones = {p for t in (*INITIALS.values(), *FINALS.values()) for p in t} | {"ER", "IH", "EH", "K"}
    for i, phone in enumerate(sorted(phones)):
        dec.add_word(f"probe{i}", phone, True)  # raises on a phone the model does not have


@pytest.mark.unit
def test_only_mandarin_is_accepted() -> None:
    with pytest.raises(ConfigError) as err:
        MandarinGrammarRecognizer(pool_size=1).recognize(bytes(3200), "en", ("yes",))
    assert "only Mandarin" in err.value.one_line() and "DUNCALL_ASR" in err.value.one_line()


def _speak(text: str, folder: Path, rate: int = 155) -> bytes:
    """espeak-ng Mandarin as a call carries it: through 8 kHz (the sandbox's Local channels, PSTN)."""
    wav, raw = folder / "s.wav", folder / "s.raw"
    subprocess.run(
        ["espeak-ng", "-v", VOICE, "-s", str(rate), "-w", str(wav), text], check=True, capture_output=True
    )
    subprocess.run(
        [
            "sox",
            str(wav),
            "-t",
            "raw",
            "-r",
            "16000",
            "-e",
            "signed",
            "-b",
            "16",
            "-c",
            "1",
            str(raw),
            "rate",
            "8000",
            "rate",
            "16000",
        ],
        check=True,
        capture_output=True,
    )
    return raw.read_bytes()


@pytest.fixture(scope="module")
def recognizer() -> MandarinGrammarRecognizer:
    return MandarinGrammarRecognizer(pool_size=1)


def _state(name: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(phrases("zh", name) + phrases("zh", "open")))


@pytest.mark.audio
@pytest.mark.parametrize(
    ("said", "state"),
    [
        # Phrases far apart in sound; short ones (是的 / 不是, 他不在) are often confused over 8 kHz —
        # bench/asr.py measures how often, README says what that means.
        ("你打错了", "identity"),
        ("别再打电话了", "promise"),
        ("我月底还", "promise"),
        ("下周五", "promise"),
        ("我还了", "promise"),
    ],
)
def test_a_listed_answer_is_heard_as_its_hanzi(
    recognizer: MandarinGrammarRecognizer, tmp_path: Path, said: str, state: str
) -> None:
    heard = recognizer.recognize(_speak(said, tmp_path), "zh", _state(state))
    assert heard.text == said, heard
    assert heard.engine == "pocketsphinx-pinyin" and 0.5 <= heard.confidence <= 1.0
    assert heard.audio_ms > 300 and heard.decode_ms > 0


@pytest.mark.audio
def test_the_answer_is_one_of_the_states_phrases_never_free_words(
    recognizer: MandarinGrammarRecognizer, tmp_path: Path
) -> None:
    grammar = _state("confirm")
    heard = recognizer.recognize(_speak("我想问一下你们公司在哪里", tmp_path), "zh", grammar)
    assert heard.text == "" or heard.text in grammar


@pytest.mark.audio
def test_no_grammar_or_an_unspellable_one_hears_nothing(
    recognizer: MandarinGrammarRecognizer, tmp_path: Path
) -> None:
    pcm = _speak("你打错了", tmp_path)
    assert recognizer.recognize(pcm, "zh", ()).text == ""
    assert recognizer.recognize(pcm, "zh", ("OK", "5号")).text == ""
    heard = recognizer.recognize(pcm, "zh", ("OK", "你打错了", "别再打电话了"))
    assert heard.text == "你打错了"  # the rest still works
