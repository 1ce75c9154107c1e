"""The bot's synthesizer as configured: Piper for English by default, espeak-ng for the rest."""

from __future__ import annotations

from bot.tts.base import Synthesizer
from bot.tts.espeak import EspeakSynthesizer
from bot.tts.piper import LanguageVoices, PiperSynthesizer
from foundation.settings import get_settings


def configured_synthesizer() -> Synthesizer:
    espeak = EspeakSynthesizer()
    if get_settings().tts_en == "espeak":
        return espeak
    return LanguageVoices({"en": PiperSynthesizer()}, espeak)
