"""Warm transfer's desk side without a call: the bot's transcript beside the claimed desk reaches
its page (and only for that call), the desks a call may go to are those whose collector speaks
the account's language, and with no desk ready the offer is refused before anything is rung."""

from __future__ import annotations

import asyncio

import pytest
import redis
from conftest import REDIS_URL
from sqlalchemy.orm import Session
from test_console_fixtures import ConsoleEnv
from test_desk import board, env  # noqa: F401 (fixtures)

from dialer.agents.desk import DeskBoard, DeskState
from dialer.agents.transfer import DeskTransfer, transcript_lines
from dialer.store.models import Collector
from duncall.compose.answer import speaking_collectors
from duncall.console.roles import Role
from foundation.contract import Turn
from foundation.settings import ari_settings
from telephony.ari import AriClient

pytestmark = pytest.mark.redis

SAID = [
    Turn("bot", "Hello, this is Sam. May I speak with Susan Taylor?", 0.0),
    Turn("debtor", "", 3.0, dtmf="1"),
    Turn("debtor", "", 5.0),  # nothing heard: not shown
    Turn("debtor", "i want to talk to a real person", 7.0),
]


def test_the_transcript_shows_the_turns_and_keys_the_bot_heard() -> None:
    assert transcript_lines(SAID) == [
        {"speaker": "bot", "text": "Hello, this is Sam. May I speak with Susan Taylor?"},
        {"speaker": "debtor", "text": "[keys 1]"},
        {"speaker": "debtor", "text": "i want to talk to a real person"},
    ]


def test_the_desk_page_gets_the_bots_transcript_of_its_call_only(env: ConsoleEnv) -> None:  # noqa: F811
    desk = DeskBoard(redis.Redis.from_url(REDIS_URL), env.live_prefix)
    collector = env.login(Role.COLLECTOR)
    collector.post("/api/desk/state", json={"state": "ready"})
    assert collector.get("/api/desk/state").json()["transcript"] == []
    assert desk.claim("att-7", "acc-7", ("c1",)) == "c1"
    desk.set_transcript("att-7", transcript_lines(SAID))
    desk.set_transcript("att-8", [{"speaker": "debtor", "text": "someone else's call"}])
    desk.connected("c1")
    shown = collector.get("/api/desk/state").json()
    assert shown["account_id"] == "acc-7" and shown["transcript"] == transcript_lines(SAID)
    desk.release("c1")
    sent = collector.post("/api/desk/wrapup", json={"disposition": "refused", "note": ""})
    assert sent.status_code == 200
    assert collector.get("/api/desk/state").json()["transcript"] == []  # the next call starts clean


def test_a_call_goes_only_to_desks_whose_collector_speaks_its_language(env: ConsoleEnv) -> None:  # noqa: F811
    with Session(env.engine) as db, db.begin():
        db.add(Collector(collector_id="c2", name="Li", capacity=10, languages=["zh"]))
        db.add(Collector(collector_id="c3", name="Bo", capacity=10, languages=["en", "zh"]))
    endpoints = {c: f"PJSIP/desk-{c}" for c in ("c1", "c2", "c3", "c4")}  # c1: no languages; c4: no row
    assert set(speaking_collectors(env.engine, endpoints, "en")) == {"c1", "c3", "c4"}
    assert set(speaking_collectors(env.engine, endpoints, "zh")) == {"c1", "c2", "c3", "c4"}


def test_with_no_desk_ready_the_transfer_is_refused_and_nothing_is_rung(board: DeskBoard) -> None:  # noqa: F811
    board.choose("c1", DeskState.PAUSED, reason="lunch")
    board.seen("c1")
    ari = AriClient(ari_settings())  # never connected: a ring would fail the test
    transfer = DeskTransfer(ari, board, {"c1": "PJSIP/desk-c1"}, attempt_id="att-1", account_id="acc-1")
    assert asyncio.run(transfer.offer("collections", "bridge-1", SAID)) is False
    assert transfer.leg is None and board.desk("c1").state is DeskState.PAUSED
    assert board.transcript("att-1") == []
