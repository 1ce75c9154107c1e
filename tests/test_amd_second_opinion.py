"""A person on a noisy line is not taken for an answering machine; a recorded greeting still is.

Asterisk's AMD() calls steady line noise one long greeting (MACHINE). The bot's ear measures
the same answer (``bot.media.line_meter``: speech told from the line's own background) and
the policy (``dialer.amd``) gives the second opinion. Here: the policy on figures, the meter
on synthesized lines (a harmonic "voice" over low-passed noise; espeak-ng words through
μ-law as sipp sends them), and the dialer acting on the opinion with a fake line.
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import shutil
import tempfile
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.audio import FRAME_BYTES
from bot.media.line_meter import LineMeter
from dialer import amd, listening
from dialer.amd import Opinion, second_opinion
from dialer.call import AnsweredCall, AnswerKind, place_call
from foundation import paths
from foundation.contract import CallOutcome, LineHeard
from telephony.ari.events import parse_event

RATE = 16_000
SPEECH_RMS = 3000.0


# --- the policy -------------------------------------------------------------------------


def heard(floor: float, speech_ms: int, quiet_ms: int, heard_ms: int = 1500) -> LineHeard:
    return LineHeard(heard_ms=heard_ms, floor_level=floor, speech_ms=speech_ms, quiet_after_ms=quiet_ms)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("status", "line", "final", "expected"),
    [
        # A quiet line: AMD's energy reading is sound there, whatever the bot heard.
        ("MACHINE", heard(2, 400, 900), True, Opinion.KEEP),
        # Noise at 800 (AMD's threshold is 256): a "hello" then quiet is a person.
        ("MACHINE", heard(800, 360, 720), False, Opinion.HUMAN),
        # Nothing but noise: a person who has not spoken yet; the bot speaks first.
        ("MACHINE", heard(800, 0, 1500), False, Opinion.NOTSURE),
        # Speech still going on: listen on while the budget lasts, then AMD's verdict stands.
        ("MACHINE", heard(800, 500, 40), False, Opinion.LISTEN),
        ("MACHINE", heard(800, 500, 40), True, Opinion.KEEP),
        # A pause shorter than a person's wait after a greeting is not a person either.
        ("MACHINE", heard(800, 500, 340), True, Opinion.KEEP),
        # Too little heard to say anything (the ear came up late).
        ("MACHINE", heard(800, 0, 300, heard_ms=300), False, Opinion.KEEP),
        # AMD's HUMAN and NOTSURE are never overruled: only a person's abandonment is at stake.
        ("HUMAN", heard(800, 1400, 0), True, Opinion.KEEP),
        ("NOTSURE", heard(800, 1400, 0), True, Opinion.KEEP),
    ],
)
def test_second_opinion(status: str, line: LineHeard, final: bool, expected: Opinion) -> None:
    assert second_opinion(status, line, final=final) is expected


@pytest.mark.unit
def test_nothing_heard_keeps_amds_verdict() -> None:
    assert second_opinion("MACHINE", None, final=False) is Opinion.KEEP
    assert amd.status_for(Opinion.KEEP, "MACHINE") == "MACHINE"
    assert amd.status_for(Opinion.HUMAN, "MACHINE") == "HUMAN"
    assert amd.status_for(Opinion.NOTSURE, "MACHINE") == "NOTSURE"


@pytest.mark.unit
def test_policy_follows_amd_conf() -> None:
    conf = configparser.ConfigParser(inline_comment_prefixes=(";",))
    conf.read_string((paths.REPO_ROOT / "asterisk-config" / "amd.conf").read_text())
    general = conf["general"]
    assert int(general["silence_threshold"]) == amd.AMD_SILENCE_THRESHOLD
    assert int(general["after_greeting_silence"]) == amd.AFTER_GREETING_SILENCE_MS


# --- the meter on synthesized lines -----------------------------------------------------


def _voice(seconds: float, level: float = SPEECH_RMS) -> np.ndarray:
    """A voiced sound: harmonics of a 120 Hz pitch that wanders, in 4 Hz syllables."""
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(120 + 10 * np.sin(2 * np.pi * 3 * t)) / RATE
    x = sum(np.sin(k * phase) / k for k in range(1, 20)) * (
        0.55 + 0.45 * np.sin(2 * np.pi * 4 * t - np.pi / 2)
    )
    return np.asarray(x / np.sqrt(np.mean(x**2)) * level)


def _line(
    words: list[tuple[float, float]], seconds: float, snr_db: float | None, seed: int = 1
) -> np.ndarray:
    x = np.zeros(int(seconds * RATE))
    for at, length in words:
        v = _voice(length)
        start = int(at * RATE)
        x[start : start + v.size] += v[: x.size - start]
    if snr_db is not None:
        rng = np.random.default_rng(seed)
        noise = np.convolve(rng.standard_normal(x.size), np.ones(8) / 8, mode="same")
        x += noise / np.sqrt(np.mean(noise**2)) * SPEECH_RMS / 10 ** (snr_db / 20)
    return x


def _meter(x: np.ndarray) -> LineHeard:
    meter = LineMeter()
    pcm = np.clip(x, -32768, 32767).astype("<i2").tobytes()
    for off in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES):
        meter.feed(pcm[off : off + FRAME_BYTES])
    return meter.heard()


def _verdict(x: np.ndarray) -> Opinion:
    return second_opinion("MACHINE", _meter(x), final=True)


@pytest.mark.unit
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_hello_over_steady_noise_is_a_person(seed: int) -> None:
    line = _line([(0.3, 0.45)], 1.5, snr_db=9, seed=seed)
    got = _meter(line)
    assert got.floor_level > amd.AMD_SILENCE_THRESHOLD  # AMD hears this noise as voice
    assert 200 <= got.speech_ms <= 500, got
    assert _verdict(line) is Opinion.HUMAN


@pytest.mark.unit
def test_steady_noise_alone_is_no_speech() -> None:
    got = _meter(_line([], 1.5, snr_db=9))
    assert got.speech_ms == 0 and got.quiet_after_ms == got.heard_ms == 1500
    assert _verdict(_line([], 1.5, snr_db=9)) is Opinion.NOTSURE


@pytest.mark.unit
@pytest.mark.parametrize("snr_db", [None, 9.0, 15.0])
def test_a_greeting_that_goes_on_stays_a_machine(snr_db: float | None) -> None:
    assert _verdict(_line([(0.4, 1.1)], 1.5, snr_db)) is Opinion.KEEP
    assert _verdict(_line([(0.3, 0.5), (0.95, 0.55)], 1.5, snr_db)) is Opinion.KEEP


@pytest.mark.unit
def test_a_quiet_line_keeps_amds_reading() -> None:
    # A clean hello: AMD itself gets that right, and its MACHINE on a clean line is not overruled.
    got = _meter(_line([(0.3, 0.45)], 1.5, snr_db=None))
    assert got.floor_level < amd.NOISY_FLOOR_LEVEL and got.speech_ms > 0
    assert _verdict(_line([(0.3, 0.45)], 1.5, snr_db=None)) is Opinion.KEEP


def _ulaw_line(words: tuple[tuple[float, str], ...], snr_db: float | None) -> np.ndarray:
    """espeak-ng's words as the sandbox's sipp debtor sends them (8 kHz μ-law), back at 16 kHz."""
    import subprocess

    from duncall.sandbox import sipp

    line = sipp.Line(
        words=tuple(sipp.Words(at, text) for at, text in words), length_s=2.0, noise_snr_db=snr_db
    )
    with tempfile.TemporaryDirectory() as tmp:
        wav = sipp.render(line, Path(tmp) / "line.wav")
        out = Path(tmp) / "line16.wav"
        subprocess.run(["sox", str(wav), "-r", str(RATE), "-e", "signed", "-b", "16", str(out)], check=True)
        with wave.open(str(out)) as w:
            return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)


@pytest.mark.audio
@pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")), reason="needs espeak-ng and sox")
@pytest.mark.parametrize(
    ("words", "snr_db", "expected"),
    [
        (((0.3, "hello"),), 9.0, Opinion.HUMAN),
        (((0.3, "hello"),), 3.0, Opinion.HUMAN),
        ((), 9.0, Opinion.NOTSURE),
        (((0.5, "Hi, you have reached John. I can't take your call right now."),), 9.0, Opinion.KEEP),
        (((0.5, "Hi, you have reached John. I can't take your call right now."),), 15.0, Opinion.KEEP),
        (((0.0, "Hello, you have reached the voicemail of John Smith."),), 9.0, Opinion.KEEP),
    ],
)
def test_espeak_lines_at_amds_verdict(
    words: tuple[tuple[float, str], ...], snr_db: float, expected: Opinion
) -> None:
    # AMD's LONGGREETING on such a line comes 1.5 s after the answer; the ear started ~0.2 s late.
    x = _ulaw_line(words, snr_db)[int(0.2 * RATE) : int(1.5 * RATE)]
    assert _verdict(x) is expected


# --- the dialer acting on it ------------------------------------------------------------


class _Events:
    def __init__(self, queued: list[Any]) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        for item in queued:
            self.queue.put_nowait(item)

    async def get(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109 - the ARI subscription's signature
        async with asyncio.timeout(timeout):
            return await self.queue.get()


class _Line:
    """The part of AriClient that place_call uses: answered, then AMD's verdict."""

    app = "duncall-test"

    def __init__(self, queued: list[Any]) -> None:
        self.events = _Events(queued)
        self.hangups: list[str] = []

    @contextlib.contextmanager
    def channel_events(self, channel_id: str) -> Iterator[_Events]:
        yield self.events

    async def originate(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.hangups.append(channel_id)

    async def continue_in_dialplan(self, channel_id: str, **kwargs: Any) -> None:
        return None


def _stasis(channel_id: str, *args: str) -> Any:
    return parse_event(
        {
            "type": "StasisStart",
            "application": "duncall-test",
            "timestamp": "2026-12-01T12:00:00.000+0000",
            "args": list(args),
            "channel": {
                "id": channel_id,
                "name": "PJSIP/carrier-00000001",
                "state": "Up",
                "caller": {"name": "", "number": ""},
                "connected": {"name": "", "number": ""},
                "dialplan": {"context": "y", "exten": "x", "priority": 1},
                "creationtime": "2026-12-01T12:00:00.000+0000",
                "language": "en",
            },
        }
    )


class _Ear:
    def __init__(self, line: LineHeard) -> None:
        self.line = line
        self.closed = False
        self.listened_to: list[str] = []

    def heard(self) -> LineHeard | None:
        return self.line

    async def close(self) -> None:
        self.closed = True


async def _call(
    ear: _Ear, amd_args: tuple[str, ...], *, via_context: bool = False
) -> tuple[Any, AnsweredCall]:
    attempt = "amd1"
    channel = f"dc-{attempt}"
    line = _Line([_stasis(channel, "dialed")])
    answered: list[AnsweredCall] = []

    async def listen(ari: Any, channel_id: str) -> _Ear:
        ear.listened_to.append(channel_id)
        await asyncio.sleep(0)
        line.events.queue.put_nowait(_stasis(channel_id, "amd", *amd_args))  # AMD reports after the ear is up
        return ear

    async def bot(call: AnsweredCall) -> str:
        answered.append(call)
        line.events.queue.put_nowait(None)  # the call then ends
        return "done"

    if via_context:
        token = listening.EAR.set(listen)
        try:
            result = await asyncio.wait_for(place_call(line, "PJSIP/1@carrier", bot, attempt_id=attempt), 5)  # type: ignore[arg-type]
        finally:
            listening.EAR.reset(token)
    else:
        result = await asyncio.wait_for(
            place_call(line, "PJSIP/1@carrier", bot, attempt_id=attempt, listen=listen),  # type: ignore[arg-type]
            5,
        )
    assert ear.listened_to == [channel] and ear.closed, "the ear listened to the answer and left"
    return result, answered[0]


@pytest.mark.unit
async def test_dialer_takes_a_noisy_hello_for_the_person_it_is() -> None:
    result, call = await _call(_Ear(heard(800, 360, 720)), ("MACHINE", "LONGGREETING-1500-1500"))
    assert call.kind is AnswerKind.HUMAN and call.amd_status == "HUMAN"
    assert result.outcome is CallOutcome.ANSWERED
    assert result.amd_status == "HUMAN" and result.amd_verdict == "MACHINE/LONGGREETING-1500-1500"
    assert result.line_heard is not None and result.line_heard.startswith("human:")


@pytest.mark.unit
async def test_dialer_leaves_a_voicemail_on_a_greeting_over_noise() -> None:
    result, call = await _call(
        _Ear(heard(800, 520, 40)), ("MACHINE", "LONGGREETING-1500-1500"), via_context=True
    )
    assert call.kind is AnswerKind.MACHINE
    assert result.outcome is CallOutcome.VOICEMAIL and result.amd_status == "MACHINE"
    assert result.line_heard is not None and result.line_heard.startswith("keep:")


@pytest.mark.unit
async def test_amds_human_is_not_second_guessed() -> None:
    result, call = await _call(_Ear(heard(800, 1400, 0)), ("HUMAN", "HUMAN-600-600"))
    assert call.kind is AnswerKind.HUMAN and result.amd_status == "HUMAN" and result.line_heard is None
