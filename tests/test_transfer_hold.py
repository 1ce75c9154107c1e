"""While a collector's desk rings on a warm transfer the debtor hears the script's holding line
("One moment please."), played at the same time as the desk is rung — not silence, and not the
"connecting you" line, which is said only once a collector has accepted.  While the desk keeps
ringing the holding line is said again after each stretch of silence, until a collector accepts
or the transfer gives up."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
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


def test_the_holding_line_is_said_again_while_the_debtor_waits_until_a_collector_accepts() -> None:
    line = Line()
    repeat_s = PLAY_S  # the silence between holding lines (HOLD_REPEAT_S on a call)
    accepted_at: list[float] = []

    async def desk(queue: str, so_far: Sequence[Turn]) -> bool:
        await asyncio.sleep(5 * (PLAY_S + repeat_s))  # a collector slow to pick up
        accepted_at.append(time.monotonic())
        return True

    async def run() -> Conversation:
        conv = Conversation(
            line,  # type: ignore[arg-type]
            _session("en"),
            None,  # type: ignore[arg-type]
            Prompts(),  # type: ignore[arg-type]
            "en",
            lambda *_: (),
            on_transfer=desk,
            hold_repeat_s=repeat_s,
        )
        await conv._hand_over()
        return conv

    conv = asyncio.run(run())
    said = [t.text for t in conv.record.turns if t.speaker == "bot"]
    # Said again and again while nobody had the call (not once, then silence), and never after.
    assert said[-1] == "I'm connecting you to a colleague now."
    holds = said[:-1]
    assert len(holds) >= 3 and set(holds) == {"One moment please."}
    times = [at for _, at in line.played]
    assert all(at < accepted_at[0] for at in times[:-1])
    # Each repeat waits out the silence after the last one finished: no line over another.
    assert all(b - a >= PLAY_S + repeat_s - 0.05 for a, b in itertools.pairwise(times[:-1]))
    assert conv.transferred


def test_the_holding_line_stops_when_the_transfer_gives_up() -> None:
    line = Line()

    async def desk(queue: str, so_far: Sequence[Turn]) -> bool:
        await asyncio.sleep(3 * PLAY_S)  # the transfer's own limit: nobody accepted
        return False

    async def run() -> Conversation:
        conv = Conversation(
            line,  # type: ignore[arg-type]
            _session("en"),
            None,  # type: ignore[arg-type]
            Prompts(),  # type: ignore[arg-type]
            "en",
            lambda *_: (),
            on_transfer=desk,
            hold_repeat_s=PLAY_S / 2,
        )
        await conv._hand_over()
        return conv

    conv = asyncio.run(run())
    said = [t.text for t in conv.record.turns if t.speaker == "bot"]
    assert said[-1].startswith("No colleague is free right now.")
    assert len(said) >= 3 and set(said[:-1]) == {"One moment please."}
    assert not conv.transferred
