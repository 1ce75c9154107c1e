"""The recognizer interface every ASR engine meets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    confidence: float  # 0..1
    engine: str
    audio_ms: float
    decode_ms: float


class Recognizer(Protocol):
    """Decodes one endpointed utterance (16 kHz slin).

    ``phrases`` optionally constrains recognition to what the dialogue state
    expects (a grammar); engines that cannot use it ignore it.
    """

    name: str

    def recognize(self, pcm: bytes, lang: str, phrases: tuple[str, ...] = ()) -> Transcript: ...
