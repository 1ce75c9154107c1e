"""The bot's Mandarin voice says Mandarin prompts in Mandarin.

espeak-ng's plain ``cmn`` voice reads many characters through their pinyin as English
("底" comes out as "di three"); the voice the bot uses must not switch to English inside
any shipped Mandarin prompt. espeak-ng's phoneme output marks such a switch with "(en)".
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.tts.espeak import VOICES, EspeakSynthesizer

pytestmark = pytest.mark.audio

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def _texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = []
        for key, value in node.items():
            if key in ("say", "text") and isinstance(value, str):
                out.append(value)
            else:
                out.extend(_texts(value))
        return out
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    return []


def _phonemes(voice_id: str, text: str) -> str:
    voice = voice_id.rsplit("/", 1)[-1].lower()  # pyttsx3 takes the file id, the CLI its name
    done = subprocess.run(
        ["espeak-ng", "-v", voice, "-q", "-x", text], capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


def test_no_mandarin_prompt_is_read_in_english() -> None:
    prompts = [
        re.sub(r"\{[a-z_]+\}", "", t)  # placeholders are filled with spoken Mandarin at run time
        for path in sorted(SCRIPTS.glob("*.zh.yaml"))
        for t in _texts(yaml.safe_load(path.read_text(encoding="utf-8")))
    ]
    assert len(prompts) > 30
    english = [p for p in prompts if "(en)" in _phonemes(VOICES["zh"], p)]
    assert english == []


def test_plain_cmn_voice_would_have_failed() -> None:
    # The check above can fail: the voice espeak-ng calls plain "cmn" switches to English here.
    assert "(en)" in _phonemes("sit/cmn", "欠款一千二百五十元")


def test_mandarin_voice_renders_audio() -> None:
    audio = EspeakSynthesizer().synthesize("您好，请问是王伟本人吗？", VOICES["zh"])
    assert len(audio) > 16_000 * 2 // 2  # more than half a second of 16 kHz slin
