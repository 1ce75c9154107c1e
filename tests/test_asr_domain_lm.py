"""The domain language model: built from what debtors say, never from the personas' replies,
and it hears a long answer off the script better than PocketSphinx's general English model.

The clips are espeak-ng answers kept out of the model's text: a persona's reply (the model
leaves every persona reply out) and one of bench/asr.py's ``EXTRA_OFF_GRAMMAR``.  Measured
three times with fresh recognizers, the words came back the same every time:
"i lost my job can i pay in installments" → generic "i was gonna cut by the install in"
(7 of 9 words wrong), domain "i lost my job can i three installments" (2); "i already sent
a check to the original creditor" → generic "i already done to the radio at the" (6 of 9),
domain "i already sent the original creditor" (3).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pocketsphinx import get_model_path
from rapidfuzz.distance import Levenshtein

from bot.asr import domain_lm
from bot.asr.sphinx import SphinxRecognizer

PAD = bytes(32_000 * 3 // 10)  # the endpointer's pre-roll and tail
OFF_SCRIPT = (
    "i lost my job can i pay in installments",
    "i already sent a check to the original creditor",
)


def _need_irstlm() -> None:
    if not Path(domain_lm.TLM).is_file() and shutil.which("tlm") is None:
        pytest.skip("IRSTLM is needed (tools/setup.sh installs the irstlm package)")


def _say(text: str) -> bytes:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed (tools/setup.sh installs them)")
    wav = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "155", "--stdout", text], check=True, capture_output=True
    )
    raw = subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1", "-"],
        input=wav.stdout,
        check=True,
        capture_output=True,
    )
    return PAD + raw.stdout + PAD


@pytest.mark.unit
def test_the_text_holds_no_persona_reply_and_only_words_the_dictionary_can_say() -> None:
    text = domain_lm.sentences("en")
    replies = domain_lm.persona_replies("en")
    assert "i can pay two hundred dollars on friday" in replies
    assert not replies & set(text)
    assert not set(OFF_SCRIPT) & set(text)
    dictionary = Path(get_model_path()) / "en-us" / "cmudict-en-us.dict"
    known = {re.sub(r"\(\d+\)$", "", line.split(" ", 1)[0]) for line in dictionary.read_text().splitlines()}
    assert {w for s in text for w in s.split()} <= known
    assert "i lost my job" in " ".join(text)  # the NLU training text is in it


@pytest.mark.unit
def test_the_model_is_built_once_per_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _need_irstlm()
    monkeypatch.setenv("DUNCALL_HOME", str(tmp_path))
    path, built = domain_lm.build("en", if_missing=True)
    assert built and path.is_relative_to(tmp_path)
    assert "\\3-grams:" in path.read_text()
    assert domain_lm.build("en", if_missing=True) == (path, False)


@pytest.mark.audio
def test_a_long_answer_off_the_script_is_heard_better_with_the_domain_model() -> None:
    _need_irstlm()
    clips = [_say(t) for t in OFF_SCRIPT]
    errors = {}
    for lm in ("generic", "domain"):
        rec = SphinxRecognizer(pool_size=1, lm=lm)
        heard = [rec.recognize(pcm, "en").text for pcm in clips]  # no grammar: the language model
        errors[lm] = [
            Levenshtein.distance(t.split(), h.split()) for t, h in zip(OFF_SCRIPT, heard, strict=True)
        ]
    assert all(d < g for d, g in zip(errors["domain"], errors["generic"], strict=True)), errors
    assert 2 * sum(errors["domain"]) <= sum(errors["generic"]), errors
