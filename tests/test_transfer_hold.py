"""While a collector's desk rings on a warm transfer the debtor hears the script's holding line
("One moment please."), played at the same time as the desk is rung — not silence, and not the
"connecting you" line, which is said only once a collector has accepted."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from fakes.action_ports import FakeActionPorts
from fakes.classifier import KeywordClassifier

from bot.conversation import Conversation
from bot.dialogue import DialogueSession, load_script
from foundation import paths
from foundation.contract import AccountView, Turn

pytestmark = pytest.mark.unit

PLAY_S = 0.3  # how long each prompt takes to play on the fake line


class Line:
    """The call's media: each prompt plays for PLAY_S; what was played is kept, with when."""

    dropped_frames = 0
    closed = False

    def __init__(self) -> None:
        self.played: list[tuple[bytes, float]] = []
        self._done_at = 0.0

    def frames(self) -> Any:
        return None

    async def play(self, pcm: bytes) -> float:
        now = time.monotonic()
        self.played.append((pcm, now))
        self._done_at = now + PLAY_S
        return now

    async def wait_played(self) -> None:
        await asyncio.sleep(max(0.0, self._done_at - time.monotonic()))

    async def flush(self) -> None:
        return None


class Prompts:
    """Text → 'audio': the text's bytes (long enough to count as speech)."""

    def get(self, text: str, lang: str) -> bytes:
        return text.encode() * 100

    def prefetch(self, texts: Any, lang: str) -> None:
        return None


def _session(lang: str) -> DialogueSession:
    script = load_script(paths.scripts_dir() / f"early_collection.{lang}.yaml")
    account = AccountView(
        account_id="A-1",
        first_name="Susan",
        last_name="Taylor",
        language=lang,
        balance=Decimal("975.25"),
        currency="CNY" if lang == "zh" else "USD",
        due_date=dt.date(2027, 2, 1),
        days_past_due=30,
        creditor="Acme Lending",
        callback_number="+18005550100",
    )
    session = DialogueSession(
        script, replace(account), dt.date(2027, 3, 3), KeywordClassifier(), ports=FakeActionPorts()
    )
    session.start()
    session.dtmf("1")
    assert session.hear("我要转人工" if lang == "zh" else "I want to talk to a real person") == []
    return session


@pytest.mark.parametrize(
    ("lang", "hold", "connect"),
    [
        ("en", "One moment please.", "I'm connecting you to a colleague now."),
        ("zh", "请稍等。", "现在为您转接人工同事。"),
    ],
)
def test_the_holding_line_plays_while_the_desk_rings(lang: str, hold: str, connect: str) -> None:
    line = Line()
    rung: list[float] = []

    async def desk(queue: str, so_far: Sequence[Turn]) -> bool:
        rung.append(time.monotonic())
        await asyncio.sleep(2 * PLAY_S)  # the collector's softphone takes a while to come up
        return True

    async def run() -> Conversation:
        conv = Conversation(line, _session(lang), None, Prompts(), lang, lambda *_: (), on_transfer=desk)  # type: ignore[arg-type]
        await conv._hand_over()
        return conv

    conv = asyncio.run(run())
    said = [t.text for t in conv.record.turns if t.speaker == "bot"]
    assert said == [hold, connect]
    (_, hold_at), (_, connect_at) = line.played
    # The desk was rung before the holding line had finished: the two happen together.
    assert rung and rung[0] < hold_at + PLAY_S
    assert connect_at >= rung[0] + 2 * PLAY_S - 0.05  # "connecting" only once accepted
    assert conv.transferred


def test_no_collector_the_holding_line_then_the_true_line() -> None:
    line = Line()

    async def desk(queue: str, so_far: Sequence[Turn]) -> bool:
        await asyncio.sleep(PLAY_S / 2)
        return False

    async def run() -> Conversation:
        conv = Conversation(line, _session("en"), None, Prompts(), "en", lambda *_: (), on_transfer=desk)  # type: ignore[arg-type]
        await conv._hand_over()
        return conv

    conv = asyncio.run(run())
    said = [t.text for t in conv.record.turns if t.speaker == "bot"]
    assert said[0] == "One moment please."
    assert said[1].startswith("No colleague is free right now.")
    assert not conv.transferred and all("connecting" not in s for s in said)
