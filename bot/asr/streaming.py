"""Streaming recognition: feed 20 ms frames as they arrive, read partial results.

A ``RecognitionStream`` decodes one utterance while it is being spoken, so the
final words are ready a few milliseconds after the endpointer closes the turn
instead of a whole decode later.  Both engines here stream (PocketSphinx with
``process_raw`` per batch, Vosk with ``AcceptWaveform``); an engine that can only
decode a finished utterance implements ``Recognizer`` alone, and the
conversation (``bot.conversation``) checks for ``StreamingRecognizer`` and falls
back to ``recognize``.

Deciding *when* the debtor stopped speaking stays with the endpointer
(``bot.media.endpointer``); a stream only reports what its decoder knows —
how long ago the last word ended — so a caller may end a turn sooner when the
words are plainly finished.  It never decides barge-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.asr.base import Recognizer, Transcript
from bot.audio import FRAME_BYTES
from foundation.settings import get_settings


@dataclass(frozen=True, slots=True)
class PartialTranscript:
    """The decoder's current best guess for the words so far; it may still change."""

    text: str
    audio_ms: float  # audio fed to the stream so far
    trailing_silence_ms: float  # audio fed since the words last changed (all of it if none yet)
    speech_ended: bool  # words were heard and trailing_silence_ms reached the stream's endpoint


@runtime_checkable
class RecognitionStream(Protocol):
    def feed(self, pcm: bytes) -> PartialTranscript | None:
        """Decode more audio; returns a partial when the text or the end-of-speech verdict changed."""
        ...

    def finish(self) -> Transcript:
        """End the utterance and return its words. The stream cannot be fed afterwards."""
        ...


@runtime_checkable
class StreamingRecognizer(Recognizer, Protocol):
    def stream(self, lang: str, phrases: tuple[str, ...] = ()) -> RecognitionStream: ...


def feed_frames(stream: RecognitionStream, pcm: bytes) -> list[PartialTranscript]:
    """Feed finished audio in 20 ms frames, as a call would deliver it; returns the partials seen."""
    partials: list[PartialTranscript] = []
    for start in range(0, len(pcm), FRAME_BYTES):
        partial = stream.feed(pcm[start : start + FRAME_BYTES])
        if partial is not None:
            partials.append(partial)
    return partials


def streaming_enabled() -> bool:
    """``DUNCALL_ASR_STREAMING=1`` decodes the debtor's words while they speak.

    Off by default: it takes 20-200 ms off every turn, but PocketSphinx fed live
    estimates its cepstral mean as it goes instead of over the whole utterance,
    and on the sandbox calls that cost words two personas' tests rely on
    ("friday", "already paid"); whole-utterance decoding hears them.
    """
    return get_settings().asr_streaming
