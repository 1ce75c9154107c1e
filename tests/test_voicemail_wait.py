"""An answering machine's line can stop sending audio after its greeting (no RTP while it records):
the bot still leaves its message once the line has been quiet long enough, instead of waiting for
audio that never comes until the machine hangs up."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from fakes.action_ports import FakeActionPorts
from fakes.classifier import KeywordClassifier

from bot.audio import FRAME_BYTES, AudioFrame
from bot.conversation import VOICEMAIL_QUIET_MS, Conversation
from bot.dialogue import DialogueSession, load_script
from foundation import paths
from foundation.contract import AccountView

FRAME_S = 0.02
HANG_GUARD_S = 15.0  # the old wait had no end at all; this only keeps a failure from hanging the run


class Machine:
    """A line that plays `greeting` in real time, then sends nothing (and never hangs up)."""

    dropped_frames = 0
    closed = False

    def __init__(self, greeting: bytes) -> None:
        self.greeting = greeting
        self.played: list[float] = []
        self.greeting_ended = 0.0
        self._sent = False

    async def frames(self) -> AsyncIterator[AudioFrame]:
        if not self._sent:
            self._sent = True
            for off in range(0, len(self.greeting) - FRAME_BYTES + 1, FRAME_BYTES):
                await asyncio.sleep(FRAME_S)
                yield AudioFrame(self.greeting[off : off + FRAME_BYTES], time.monotonic())
            self.greeting_ended = time.monotonic()
        await asyncio.Event().wait()  # no more audio, ever
        yield AudioFrame(b"", 0.0)  # pragma: no cover - unreachable

    async def play(self, pcm: bytes) -> float:
        now = time.monotonic()
        self.played.append(now)
        return now

    async def wait_played(self) -> None:
        return None

    async def flush(self) -> None:
        return None


class Prompts:
    def get(self, text: str, lang: str) -> bytes:
        return text.encode() * 100

    def prefetch(self, texts: Any, lang: str) -> None:
        return None


def _session() -> DialogueSession:
    script = load_script(paths.scripts_dir() / "early_collection.en.yaml")
    account = AccountView(
        account_id="A-1",
        first_name="Susan",
        last_name="Taylor",
        language="en",
        balance=Decimal("975.25"),
        currency="USD",
        due_date=dt.date(2027, 2, 1),
        days_past_due=30,
        creditor="Acme Lending",
        callback_number="+18005550100",
    )
    return DialogueSession(
        script, replace(account), dt.date(2027, 3, 3), KeywordClassifier(), ports=FakeActionPorts()
    )


def _leave(line: Machine) -> tuple[Conversation, float]:
    async def run() -> tuple[Conversation, float]:
        conv = Conversation(line, _session(), None, Prompts(), "en", lambda *_: ())  # type: ignore[arg-type]
        started = time.monotonic()
        await asyncio.wait_for(conv.leave_voicemail(), HANG_GUARD_S)
        return conv, started

    return asyncio.run(run())


@pytest.mark.unit
def test_a_line_that_sends_nothing_gets_the_message() -> None:
    line = Machine(b"")
    conv, started = _leave(line)
    assert line.played, "the voicemail message was never played"
    assert line.played[0] - started >= VOICEMAIL_QUIET_MS / 1000 - 0.05
    assert conv.record.hangup_by == "bot"
    assert any(t.speaker == "bot" for t in conv.record.turns)


@pytest.mark.audio
def test_the_message_follows_the_greeting_when_the_line_goes_dead() -> None:
    from bot.tts.cache import PromptCache
    from bot.tts.espeak import DEFAULT_RATE_WPM, EspeakSynthesizer

    greeting = PromptCache(EspeakSynthesizer(), None, DEFAULT_RATE_WPM).get(
        "Hi, you have reached Susan. Please leave a message after the tone.", "en"
    )
    line = Machine(greeting)
    conv, _ = _leave(line)
    assert line.played, "the voicemail message was never played"
    # Not over the greeting: the message starts once the greeting has ended and the quiet span passed.
    assert line.greeting_ended > 0
    assert line.played[0] >= line.greeting_ended
    assert conv.record.hangup_by == "bot"
