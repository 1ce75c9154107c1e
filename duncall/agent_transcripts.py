"""A collector's call transcribed for QA, each side from its own recording.

After the call's attempt is stored, each side's recording (``dialer.agents.recording``: what
the debtor said, what the collector said, apart) is fetched from Asterisk, cut into stretches
of speech by its energy, and each stretch decoded by the recognizer the bot uses.  The turns
go into the call's transcript (``transcript_turns``: speaker ``debtor`` or ``agent``, seconds
from the answer), in the order they were spoken, and the call's record says who took it and
where each side's recording is (``call_records.agent_id``, ``leg_audio``).  QA then reads who
said what beside the recording it plays.

Runs in the dialer process, off the event loop (the recognizer is CPU-bound), one call at a time.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.asr.base import Recognizer
from dialer.agents.recording import AgentRecording
from dialer.store.models.transcripts import CallRecording, TranscriptTurn
from foundation.contract import Turn
from foundation.errors import DuncallError
from foundation.log import kv
from telephony.ari import AriClient
from telephony.ari.errors import AriNotFound

log = logging.getLogger(__name__)

FRAME_MS = 20
MIN_SPEECH_S = 0.3  # shorter bursts are clicks and breaths
JOIN_GAP_S = 0.6  # pauses shorter than this stay inside one turn
PAD_S = 0.15  # kept around each stretch, so word edges are not cut
MAX_TURN_S = 15.0  # a longer stretch is decoded in pieces
FLOOR_PERCENTILE = 10  # the line's noise floor: the quietest tenth of the frames
THRESHOLD_OVER_FLOOR = 4.0
MIN_THRESHOLD = 0.01  # RMS (full scale 1.0): below this nothing is speech
MAX_THRESHOLD = 0.03  # …and above this it always is (a side that talks throughout has no floor)
RECORDING_WAIT_S = 15.0  # how long a side's recording may take to be finished by Asterisk


@dataclass(frozen=True, slots=True)
class Stretch:
    start_s: float
    end_s: float


def speech_stretches(samples: np.ndarray, rate: int) -> list[Stretch]:
    """Where ``samples`` (float, full scale 1.0) hold speech: energy over the line's own floor."""
    n = rate * FRAME_MS // 1000
    if len(samples) < n:
        return []
    frames = samples[: len(samples) // n * n].reshape(-1, n)
    rms = np.sqrt((frames**2).mean(axis=1))
    floor = float(np.percentile(rms, FLOOR_PERCENTILE))
    voiced = rms > min(MAX_THRESHOLD, max(MIN_THRESHOLD, floor * THRESHOLD_OVER_FLOOR))
    frame_s = FRAME_MS / 1000
    out: list[Stretch] = []
    start: int | None = None
    for i, v in enumerate([*voiced.tolist(), False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            begin, end = start * frame_s, i * frame_s
            if out and begin - out[-1].end_s < JOIN_GAP_S:
                out[-1] = Stretch(out[-1].start_s, end)
            else:
                out.append(Stretch(begin, end))
            start = None
    total = len(samples) / rate
    padded = [
        Stretch(max(0.0, s.start_s - PAD_S), min(total, s.end_s + PAD_S))
        for s in out
        if s.end_s - s.start_s >= MIN_SPEECH_S
    ]
    pieces: list[Stretch] = []
    for s in padded:
        at = s.start_s
        while s.end_s - at > MAX_TURN_S:
            pieces.append(Stretch(at, at + MAX_TURN_S))
            at += MAX_TURN_S
        pieces.append(Stretch(at, s.end_s))
    return pieces


@dataclass(frozen=True, slots=True)
class SideTurn:
    speaker: str
    text: str
    start_s: float
    end_s: float
    confidence: float


def transcribe_side(
    wav_bytes: bytes, speaker: str, language: str, recognize: Callable[[bytes, str], tuple[str, float]]
) -> list[SideTurn]:
    """Every stretch of speech in one side's recording (16 kHz mono s16 WAV), decoded."""
    with wave.open(io.BytesIO(wav_bytes)) as w:
        rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
        raw = w.readframes(w.getnframes())
    if width != 2 or channels != 1:
        raise DuncallError(
            f"a {speaker} recording is {channels}-channel {8 * width}-bit",
            "record each side as 16-bit mono (dialer.agents.recording.LEG_FORMAT)",
        )
    pcm = np.frombuffer(raw, dtype=np.int16)
    turns: list[SideTurn] = []
    for s in speech_stretches(pcm.astype(np.float64) / 32768, rate):
        piece = pcm[int(s.start_s * rate) : int(s.end_s * rate)].tobytes()
        text, confidence = recognize(piece, language)
        if text.strip():
            turns.append(SideTurn(speaker, text.strip(), s.start_s, s.end_s, confidence))
    return turns


async def _fetch(ari: AriClient, name: str) -> bytes | None:
    """The finished recording's bytes (it finishes when its snoop ends with the call)."""
    deadline = time.monotonic() + RECORDING_WAIT_S
    while time.monotonic() < deadline:
        try:
            await ari.get_live_recording(name)
        except AriNotFound:
            break
        await asyncio.sleep(0.2)
    else:
        log.warning("a side's recording is still live; transcribing what it holds", extra=kv(name=name))
        try:
            await ari.stop_live_recording(name)
        except DuncallError:
            pass
    try:
        return await ari.fetch_stored_recording(name)
    except DuncallError as exc:
        log.warning("a side's recording is missing", extra=kv(name=name, why=type(exc).__name__))
        return None


class _Recognizing:
    def __init__(self, recognizer: Recognizer | None) -> None:
        self.recognizer = recognizer

    def recognize(self, pcm: bytes, language: str) -> tuple[str, float]:
        if self.recognizer is None:
            from bot.asr.registry import configured_recognizer

            self.recognizer = configured_recognizer()
        got = self.recognizer.recognize(pcm, language)
        return got.text, got.confidence

    async def sides(self, ari: AriClient, recording: AgentRecording, language: str) -> list[SideTurn]:
        turns: list[SideTurn] = []
        for speaker, name in recording.legs.items():
            data = await _fetch(ari, name)
            if data is not None:
                turns += await asyncio.to_thread(transcribe_side, data, speaker, language, self.recognize)
        return sorted(turns, key=lambda t: t.start_s)


class TransferTranscriber(_Recognizing):
    """A call the bot put through to a desk (``dialer.agents.transfer.DeskTransfer``): what the
    debtor and the collector said after the transfer, as turns of the call's record, stored
    with the bot's in the attempt's transaction."""

    async def __call__(self, ari: AriClient, recording: AgentRecording, language: str) -> list[Turn]:
        return [
            Turn(
                speaker="agent" if t.speaker == "agent" else "debtor",
                text=t.text,
                started_s=round(recording.started_s + t.start_s, 3),
                ended_s=round(recording.started_s + t.end_s, 3),
                asr_confidence=t.confidence,
            )
            for t in await self.sides(ari, recording, language)
        ]


class AgentTranscriber:
    """The ``after_call`` of an agent campaign (``dialer.agents.campaign.AgentDialing``)."""

    def __init__(self, ari: AriClient, engine: Engine, recognizer: Recognizer | None = None) -> None:
        """``recognizer``: the bot's, when the process has one; else the configured one, made
        on the first call's transcription (its models take seconds to load)."""
        self.ari = ari
        self.engine = engine
        self.recognizing = _Recognizing(recognizer)

    async def __call__(self, recording: AgentRecording, language: str) -> None:
        started = time.monotonic()
        turns = await self.recognizing.sides(self.ari, recording, language)
        stored = await asyncio.to_thread(self._store, recording, turns)
        log.info(
            "agent call transcribed",
            extra=kv(
                attempt_id=recording.attempt_id,
                turns=len(turns),
                stored=stored,
                took_ms=round((time.monotonic() - started) * 1000),
            ),
        )

    def _store(self, recording: AgentRecording, turns: list[SideTurn]) -> bool:
        with Session(self.engine) as s, s.begin():
            row = s.get(CallRecording, recording.attempt_id)
            if row is None:
                return False  # the attempt was not stored with a conversation: nothing to add to
            row.agent_id = recording.agent_id or None
            row.leg_audio = dict(recording.legs)
            row.transcript_due = None  # in the turns' transaction: a job that ran is never run again
            last = s.scalar(
                select(func.max(TranscriptTurn.seq)).where(TranscriptTurn.attempt_id == recording.attempt_id)
            )
            first = 0 if last is None else last + 1
            for i, t in enumerate(turns):
                s.add(
                    TranscriptTurn(
                        attempt_id=recording.attempt_id,
                        seq=first + i,
                        speaker=t.speaker,
                        text=t.text,
                        # The recordings started when the notice ended: seconds from the answer.
                        started_s=round(recording.started_s + t.start_s, 3),
                        ended_s=round(recording.started_s + t.end_s, 3),
                        asr_confidence=t.confidence,
                    )
                )
        return True
