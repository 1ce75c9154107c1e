"""The desk's states in Redis and its API: who may work a desk, the softphone's credentials
handed to their own collector only, the moves a collector may make, the longest-ready desk
claimed first, a wrap-up handed to the campaign waiting for it."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from conftest import REDIS_URL
from sqlalchemy.orm import Session
from test_console_fixtures import ConsoleEnv, make_env

from dialer.agents.desk import DeskBoard, DeskPool, DeskState, WrapUp
from dialer.store.models import Collector
from dialer.store.models.console import AuditEntry
from duncall.console.roles import Role
from duncall.sandbox import phones
from foundation.contract import ConversationRecord, Disposition
from foundation.errors import InputError

pytestmark = pytest.mark.redis


@pytest.fixture
def board(key_prefix: str) -> Iterator[DeskBoard]:
    client = redis.Redis.from_url(REDIS_URL)
    yield DeskBoard(client, key_prefix)
    for key in client.scan_iter(f"{key_prefix}desk:*"):
        client.delete(key)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConsoleEnv]:
    monkeypatch.setenv("DUNCALL_HOME", str(tmp_path / "home"))  # the phones file, not the machine's
    env = make_env(tmp_path)
    with Session(env.engine) as db, db.begin():
        db.add(Collector(collector_id="c1", name="Anna", capacity=10, console_user="collector"))
    yield env
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{env.live_prefix}desk:*"):
        client.delete(key)
    env.close()


def test_the_longest_ready_desk_of_the_campaign_is_claimed_and_moves_along_the_call(board: DeskBoard) -> None:
    for desk, since in (("a", 100.0), ("b", 50.0), ("c", 10.0), ("d", 1.0)):
        board.choose(desk, DeskState.READY, now=since)
        if desk != "d":
            board.seen(desk)  # d's page was closed: it stopped polling
    # d waited longest but its page is gone; c is not one of this campaign's collectors.
    assert board.ready_among(("a", "b", "d")) == 2
    assert board.claim("att-1", "acc-1", ("a", "b", "d")) == "b"
    assert board.desk("b").state is DeskState.CONNECTING and board.desk("b").account_id == "acc-1"
    assert board.ready_among(("a", "b", "c")) == 2
    with pytest.raises(InputError, match="cannot go paused"):
        board.choose("b", DeskState.PAUSED, "break")  # a claimed desk is the dialer's
    board.connected("b")
    with pytest.raises(InputError, match="still up"):
        board.submit_wrap_up("b", WrapUp(Disposition.REFUSED))
    board.release("b")
    assert board.desk("b").state is DeskState.WRAP_UP
    assert board.submit_wrap_up("b", WrapUp(Disposition.REFUSED), DeskState.PAUSED, "lunch") == "att-1"
    assert (board.desk("b").state, board.desk("b").reason) == (DeskState.PAUSED, "lunch")
    assert board.wait_wrap_up("att-1", 1) == WrapUp(Disposition.REFUSED)
    assert board.claim("att-2", "acc-2", ("b",)) is None  # paused desks are not rung


def test_a_softphone_that_does_not_answer_pauses_its_desk(board: DeskBoard) -> None:
    board.choose("a", DeskState.READY)
    board.seen("a")
    pool = DeskPool(board, {"a": "PJSIP/desk-a"})
    spec = pool.claim("att-1", time.monotonic(), account_id="acc-1")
    assert spec is not None and spec.endpoint == "PJSIP/desk-a"
    pool.unreachable("a", time.monotonic())
    assert (board.desk("a").state, board.desk("a").reason) == (DeskState.PAUSED, "no_answer")
    assert pool.ready() == 0 and pool.claim("att-2", time.monotonic()) is None


async def test_the_campaign_gets_the_wrap_up_and_measures_the_handle_time(board: DeskBoard) -> None:
    board.choose("a", DeskState.READY)
    board.seen("a")
    pool = DeskPool(board, {"a": "PJSIP/desk-a"})
    assert pool.claim("att-1", time.monotonic(), account_id="acc-1") is not None
    pool.connected("a", time.monotonic())
    pool.release("a", time.monotonic())
    wrap = WrapUp(
        Disposition.PROMISE_TO_PAY, Decimal("120.50"), dt.date(2026, 12, 20), note="paying from salary"
    )
    threading.Timer(0.2, board.submit_wrap_up, ("a", wrap)).start()
    got = await pool.wrap_up("a", "att-1", timeout_s=5)
    assert got == wrap
    record = ConversationRecord(language="en")
    assert got is not None
    got.apply(record)
    assert record.disposition is Disposition.PROMISE_TO_PAY and record.right_party
    assert record.promise == {"date": "2026-12-20", "amount": "120.50"}
    (handle,) = pool.advance(time.monotonic())
    assert 0.2 <= handle < 5
    assert board.desk("a").state is DeskState.READY


def test_a_wrap_up_says_what_it_lacks() -> None:
    with pytest.raises(InputError, match="without a promise"):
        WrapUp(Disposition.PROMISE_TO_PAY)
    with pytest.raises(InputError, match="both an amount and a date"):
        WrapUp(Disposition.REFUSED, promise_amount=Decimal("10"))
    with pytest.raises(InputError, match="callback without a day"):
        WrapUp(Disposition.CALLBACK)
    with pytest.raises(InputError, match="not a collector's"):
        WrapUp(Disposition.ABANDONED)


def test_the_desk_api_gives_the_softphone_to_its_own_collector_only(env: ConsoleEnv) -> None:
    collector = env.login(Role.COLLECTOR)
    first = collector.get("/api/desk")
    assert first.status_code == 200 and first.json()["phone"] is None  # no phone made yet
    phone, _ = phones.make_phone("c1")
    body = collector.get("/api/desk")
    assert body.headers["cache-control"] == "no-store"
    assert body.json()["phone"] == {
        "ws_url": "ws://127.0.0.1:8088/ws",
        "uri": "sip:desk-c1@127.0.0.1",
        "password": phone.password,
    }
    assert body.json()["state"] == "offline"
    # The page may open the PBX's SIP WebSocket, and nothing else beyond the console.
    csp = collector.get("/desk").headers["content-security-policy"]
    assert "connect-src 'self' ws://127.0.0.1:8088/ws;" in csp
    assert env.login(Role.ADMIN).get("/api/desk").status_code == 404  # may, but is no collector's log-in
    # A supervisor may work a desk too (with a collector's log-in of their own); QA may not.
    assert env.login(Role.SUPERVISOR).get("/api/desk").status_code == 404
    assert env.login(Role.QA).get("/api/desk").status_code == 403


def test_a_collector_goes_ready_pauses_with_a_reason_and_cannot_wrap_up_without_a_call(
    env: ConsoleEnv,
) -> None:
    collector = env.login(Role.COLLECTOR)
    assert collector.post("/api/desk/state", json={"state": "ready"}).json()["state"] == "ready"
    bad = collector.post("/api/desk/state", json={"state": "paused", "reason": "nap"})
    assert bad.status_code == 400 and "pause reason" in bad.json()["error"]
    paused = collector.post("/api/desk/state", json={"state": "paused", "reason": "lunch"}).json()
    assert (paused["state"], paused["reason"]) == ("paused", "lunch")
    assert collector.post("/api/desk/state", json={"state": "on_call"}).status_code == 400
    none = collector.post("/api/desk/wrapup", json={"disposition": "refused"})
    assert none.status_code == 400 and "no call to wrap up" in none.json()["error"]


def test_a_wrap_up_from_the_page_reaches_the_campaign_and_the_audit_log(env: ConsoleEnv) -> None:
    board = DeskBoard(redis.Redis.from_url(REDIS_URL), env.live_prefix)
    collector = env.login(Role.COLLECTOR)
    collector.post("/api/desk/state", json={"state": "ready"})
    assert board.claim("att-9", "acc-9", ("c1",)) == "c1"
    board.connected("c1")
    board.release("c1")
    assert collector.get("/api/desk/state").json()["account_id"] == "acc-9"
    sent = collector.post(
        "/api/desk/wrapup",
        json={"disposition": "callback", "callback_on": "2026-12-21", "note": "call after payday"},
    )
    assert sent.status_code == 200 and sent.json()["state"] == "ready"
    assert board.wait_wrap_up("att-9", 1) == WrapUp(
        Disposition.CALLBACK, callback_on=dt.date(2026, 12, 21), note="call after payday"
    )
    with Session(env.engine) as db:
        row = db.query(AuditEntry).filter_by(action="desk_wrap_up").one()
        assert (row.user_name, row.target, row.detail["attempt_id"]) == ("collector", "acc-9", "att-9")
