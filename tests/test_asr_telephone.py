"""The telephone adaptation makes PocketSphinx hear G.711 calls it did not hear before.

Persona replies (never in the adaptation data) spoken by espeak-ng's en-us+f3 voice, put
through the simulated G.711 line (``bot.asr.line``, fixed seeds) and decoded with every
English grammar: the bundled model, on these, heard other phrases ("stop calling me do not
call this number again" as "not available"); the adapted one heard them right.  Decoding
is deterministic (each utterance starts from a fresh front end), so the counts below were
the same on every run.  The transform is built first if missing (~1 min; tools/setup.sh
builds it at set-up).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from rapidfuzz.distance import Levenshtein

from bot.asr.line import telephone_line
from bot.asr.sphinx import SphinxRecognizer
from bot.asr.telephone import channel_mllr, telephone_mllr_path
from bot.grammars import phrases
from bot.nlu.grammar import fill
from foundation.errors import ConfigError

pytestmark = pytest.mark.audio

PAD = bytes(32_000 * 3 // 10)  # the endpointer's pre-roll and tail
VOICE = "en-us+f3"
# (reply, line seed)
CLIPS = (
    ("call me back", 1000),
    ("no", 1008),
    ("stop calling me do not call this number again", 1014),
    ("that works", 1016),
    ("yes this is john speaking", 1026),
)
GRAMMAR = fill(
    tuple(
        dict.fromkeys(
            p
            for name in ("identity", "open", "confirm", "promise", "payment_plan")
            for p in phrases("en", name)
        )
    ),
    {"first_name": "john", "last_name": "smith"},
)


def _say(text: str) -> bytes:
    wav = subprocess.run(
        ["espeak-ng", "-v", VOICE, "-s", "155", "--stdout", text], check=True, capture_output=True
    )
    raw = subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1", "-"],
        input=wav.stdout,
        check=True,
        capture_output=True,
    )
    return PAD + raw.stdout + PAD


def test_the_adapted_model_hears_telephone_replies_the_bundled_one_misses() -> None:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed (tools/setup.sh installs them)")
    from duncall import asr_adapt

    mllr, _, _ = asr_adapt.build()
    plain = SphinxRecognizer(pool_size=1)
    adapted = SphinxRecognizer(pool_size=1, mllr=mllr)
    errors = {"plain": 0, "adapted": 0}
    exact = 0
    for text, seed in CLIPS:
        line = telephone_line(_say(text), seed)
        for name, engine in (("plain", plain), ("adapted", adapted)):
            heard = engine.recognize(line, "en", GRAMMAR).text
            errors[name] += Levenshtein.distance(text.split(), heard.split())
            exact += name == "adapted" and heard == text
    words = sum(len(t.split()) for t, _ in CLIPS)
    # Measured: plain 19 word errors in 19 words, adapted 0 (5 of 5 exact).
    assert exact >= 4, errors
    assert errors["plain"] >= words // 2, errors
    assert errors["adapted"] <= 2, errors


def test_a_telephone_channel_without_its_adaptation_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DUNCALL_HOME", str(tmp_path))
    monkeypatch.setenv("DUNCALL_ASR_CHANNEL", "wideband")
    assert channel_mllr() is None  # wide-band calls keep the bundled model as it is
    monkeypatch.setenv("DUNCALL_ASR_CHANNEL", "telephone")
    with pytest.raises(ConfigError) as missing:
        channel_mllr()
    assert "duncall models adapt" in missing.value.one_line()
    built = tmp_path / "sphinx" / "mllr-x" / "mllr_matrix"
    built.parent.mkdir(parents=True)
    built.write_text("1\n")
    telephone_mllr_path().symlink_to(built)
    assert channel_mllr() == built
