"""The synthesizer interface: text in, 16 kHz slin out."""

from __future__ import annotations

from typing import Protocol


class Synthesizer(Protocol):
    name: str

    def voice_for(self, lang: str) -> str: ...

    def synthesize(self, text: str, voice: str, rate_wpm: int) -> bytes:
        """16 kHz signed-linear mono PCM."""
        ...
