"""PocketSphinx's confidence says how well the words fit the audio, not only that they are a phrase.

Measured on espeak-ng speech with the greeting's grammar as a call fills it, at 16 kHz and
through a G.711 line heard by the telephone model (each band with its own calibration,
``bot.asr.sphinx_calibration``): a whole phrase said ("yes this is john speaking") is sure
enough to verify; a piece of one ("yes that is") or a reply off the list never is, so the
bot asks again instead of telling a stranger about the debt.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from decimal import Decimal

import pytest

from bot.asr.line import telephone_line
from bot.asr.sphinx import SphinxRecognizer
from bot.asr.sphinx_calibration import phrase_kind
from bot.grammars import phrases
from bot.nlu.grammar import fill
from bot.nlu.slots import extract
from bot.nlu.types import Slots

pytestmark = pytest.mark.audio

VERIFY = 0.85  # the English scripts' verify_confidence
PAD = bytes(32_000 * 3 // 10)  # the endpointer's pre-roll and tail


def _say(text: str, voice: str = "en-us") -> bytes:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed (tools/setup.sh installs them)")
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "155", "--stdout", text], check=True, capture_output=True
    )
    raw = subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1", "-"],
        input=wav.stdout,
        check=True,
        capture_output=True,
    )
    return PAD + raw.stdout + PAD


@pytest.fixture(scope="module")
def recognizer() -> SphinxRecognizer:
    return SphinxRecognizer(pool_size=1)


GREETING = fill(
    tuple(dict.fromkeys(phrases("en", "identity") + phrases("en", "open"))),
    {"first_name": "john", "last_name": "smith"},
)


@pytest.mark.parametrize("voice", ["en-us", "en-gb"])
def test_a_whole_yes_with_the_name_is_sure_enough_to_verify(recognizer: SphinxRecognizer, voice: str) -> None:
    heard = recognizer.recognize(_say("yes this is john speaking", voice), "en", GREETING)
    assert heard.text == "yes this is john speaking"
    assert heard.confidence >= VERIFY


@pytest.mark.parametrize("said", ["yes that is", "you got", "i can pay two hundred dollars on friday"])
def test_a_fragment_or_an_answer_off_the_list_never_verifies(recognizer: SphinxRecognizer, said: str) -> None:
    heard = recognizer.recognize(_say(said), "en", GREETING)
    assert heard.confidence < VERIFY, heard


@pytest.fixture(scope="module")
def telephone() -> SphinxRecognizer:
    from duncall import asr_adapt

    mllr, _, _ = asr_adapt.build()  # built by tools/setup.sh; a second build is skipped
    return SphinxRecognizer(pool_size=1, mllr=mllr)


@pytest.mark.parametrize("voice", ["en-us", "en-gb", "en-us+f3"])
@pytest.mark.parametrize("said", ["yes this is john speaking", "yes it's me", "yes speaking"])
def test_over_a_phone_line_a_whole_yes_verifies(telephone: SphinxRecognizer, voice: str, said: str) -> None:
    # Before the band had its own calibration these came back at 0.71-0.89 and the bot asked
    # again; measured now 0.85-0.96 (en-gb's name heard as "yes this is me": still a yes).
    heard = telephone.recognize(telephone_line(_say(said, voice), seed=1), "en", GREETING)
    assert phrase_kind(heard.text) == "affirm", heard
    assert heard.confidence >= VERIFY, heard


@pytest.mark.parametrize("voice", ["en-us", "en-gb", "en-us+f3"])
@pytest.mark.parametrize("said", ["yes that is", "you got", "i can pay two hundred dollars on friday"])
def test_over_a_phone_line_a_fragment_never_verifies(
    telephone: SphinxRecognizer, voice: str, said: str
) -> None:
    for seed in (1, 2):
        heard = telephone.recognize(telephone_line(_say(said, voice), seed), "en", GREETING)
        assert heard.confidence < VERIFY, heard


def test_a_promise_with_amount_and_date_is_one_phrase(recognizer: SphinxRecognizer) -> None:
    promise = tuple(dict.fromkeys(phrases("en", "promise") + phrases("en", "open")))
    heard = recognizer.recognize(_say("i can pay two hundred dollars on friday"), "en", promise)
    today = dt.date(2027, 3, 3)  # a Wednesday
    assert heard.text in promise and heard.confidence >= 0.5, heard
    assert extract(heard.text, "en", today) == Slots(dt.date(2027, 3, 5), Decimal("200")), heard
