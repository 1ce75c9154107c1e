"""Faults inside a campaign end the one call they hit, never the campaign.

A fake switch stands in for Asterisk (one event queue per channel), so each fault lands
exactly where it is meant to: an answerer that raises, an originate that gets no answer,
a debtor gone before answer detection starts, events missed across an ARI reconnect, a
connected call that never ends, Redis or the database away before a dial, a lost lease.
The same faults through the sandbox Asterisk are in ``test_campaign_faults_sandbox``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from dialer import call as call_mod
from dialer.agents.manual import settle_lost_calls
from dialer.call import AnsweredCall, place_call
from dialer.campaign import lease as lease_mod
from dialer.campaign.control import CampaignControl, read_control
from dialer.campaign.lease import campaign_lease
from dialer.campaign.outage import Outage
from dialer.campaign.recovery import guard_sink, reconcile
from dialer.campaign.runner import run_campaign
from dialer.dial import record
from dialer.dial.pipeline import DialNotPlaced, dial_one
from dialer.guards.gate import AccountFacts, GuardGate
from dialer.guards.guard import Guard
from dialer.guards.ledger import DecisionEntry, Ledger
from dialer.policy import Voice
from dialer.policy.config import load_preset
from dialer.store.db import open_engine
from dialer.store.models import Account, AttemptState, CallAttempt, Campaign
from foundation.contract import CallOutcome, ConversationRecord, DialTarget
from foundation.errors import ServiceUnavailable
from telephony.ari import Reconnected
from telephony.ari.errors import AriNotFound
from telephony.ari.events import parse_event

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


def _event(kind: str, channel_id: str, **fields: Any) -> Any:
    return parse_event(
        {
            "type": kind,
            "application": "t",
            "timestamp": "2026-12-01T12:00:00.000+0000",
            **fields,
            "channel": {
                "id": channel_id,
                "name": "Local/x@y-00000001;1",
                "state": "Up",
                "caller": {"name": "", "number": ""},
                "connected": {"name": "", "number": ""},
                "dialplan": {"context": "y", "exten": "x", "priority": 1},
                "creationtime": "2026-12-01T12:00:00.000+0000",
                "language": "en",
            },
        }
    )


class _Events:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def get(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109 - the ARI subscription's signature
        async with asyncio.timeout(timeout):
            return await self.queue.get()


class _Channel:
    def __init__(self, cid: str) -> None:
        self.id = cid


class Switch:
    """The part of AriClient the dialer uses. Endpoint ``answer`` answers; ``timeout`` makes
    the channel and then never answers the originate; ``vanish`` answers and is gone before
    answer detection can start; ``detecting`` answers and detection never gives its verdict."""

    app = "t"

    def __init__(self) -> None:
        self.reconnects = 0
        self.queues: dict[str, _Events] = {}
        self.live: set[str] = set()
        self.originated: list[str] = []
        self.hangups: list[str] = []
        self.endpoints: dict[str, str] = {}

    def q(self, cid: str) -> _Events:
        return self.queues.setdefault(cid, _Events())

    @contextlib.contextmanager
    def channel_events(self, channel_id: str) -> Iterator[_Events]:
        yield self.q(channel_id)

    async def originate(self, endpoint: str, *, channel_id: str, **kwargs: Any) -> None:
        self.originated.append(channel_id)
        self.live.add(channel_id)
        self.endpoints[channel_id] = endpoint
        if endpoint == "ring":
            return  # it rings, and nobody answers while the test looks
        if endpoint == "timeout":
            # Asterisk made the channel; its answer to the REST call never came.
            asyncio.get_running_loop().call_later(
                0.05, self.q(channel_id).queue.put_nowait, _event("ChannelStateChange", channel_id)
            )
            raise ServiceUnavailable("cannot reach Asterisk ARI at x (POST /channels: no answer within 10 s)")
        self.q(channel_id).queue.put_nowait(_event("StasisStart", channel_id, args=["dialed"]))

    async def continue_in_dialplan(self, channel_id: str, **kwargs: Any) -> None:
        if channel_id not in self.live or channel_id.endswith("vanish"):
            self.q(channel_id).queue.put_nowait(_event("ChannelDestroyed", channel_id, cause=16))
            self.live.discard(channel_id)
            raise AriNotFound("POST", f"/channels/{channel_id}/continue", 404, "Channel not found")
        if self.endpoints.get(channel_id) == "detecting":
            return  # the answering machine detector still listens while the test looks
        self.q(channel_id).queue.put_nowait(_event("StasisStart", channel_id, args=["amd", "HUMAN", ""]))

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.hangups.append(channel_id)
        if channel_id in self.live:
            self.live.discard(channel_id)
            self.q(channel_id).queue.put_nowait(_event("ChannelDestroyed", channel_id, cause=16))
        else:
            raise AriNotFound("DELETE", f"/channels/{channel_id}", 404, "Channel not found")

    async def list_channels(self) -> list[_Channel]:
        return [_Channel(c) for c in self.live]

    def reconnect(self, *, lose: set[str]) -> None:
        """The events WebSocket came back; ``lose`` ended meanwhile, their ChannelDestroyed missed."""
        self.reconnects += 1
        self.live -= lose
        for q in self.queues.values():
            q.queue.put_nowait(Reconnected(attempts=1, down_s=1.0, application="t", timestamp="x"))


class Gate:
    def __init__(self, unavailable: int = 0) -> None:
        self.unavailable = unavailable  # the first N decisions find Redis away
        self.allowed: list[str] = []
        self.outcomes: dict[str, tuple[CallOutcome, bool]] = {}

    async def reserve(self, target: DialTarget, attempt_id: str, at: dt.datetime) -> list[str]:
        if self.unavailable:
            self.unavailable -= 1
            raise ServiceUnavailable(
                "Redis at 127.0.0.1:1 failed during a guard decision; nothing was dialled"
            )
        self.allowed.append(attempt_id)
        return []

    async def outcome(self, attempt_id: str, outcome: CallOutcome, right_party: bool) -> None:
        self.outcomes[attempt_id] = (outcome, right_party)

    async def withdraw(self, attempt_id: str) -> None:
        return None


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = open_engine(f"sqlite:///{tmp_path / 'faults.db'}")
    with Session(engine) as s, s.begin():
        for i in range(6):
            s.add(
                Account(
                    account_id=f"A-{i}",
                    first_name="F",
                    last_name="L",
                    timezone="America/New_York",
                    language="en",
                    balance=Decimal("10.00"),
                    currency="USD",
                )
            )
    return engine


def _targets(n: int, endpoint: str = "answer") -> list[DialTarget]:
    return [DialTarget(f"A-{i}", f"+1212555010{i}", endpoint=endpoint, script="s") for i in range(n)]


def _rows(engine: Engine) -> list[CallAttempt]:
    with Session(engine) as s:
        rows = list(s.scalars(select(CallAttempt)))
        s.expunge_all()
        return rows


async def _talk(switch: Switch, call: AnsweredCall) -> ConversationRecord:
    await asyncio.sleep(0.05)
    await switch.hangup(call.channel_id)  # the bot says goodbye and hangs up
    return ConversationRecord(language="en", right_party=False)


async def test_an_answerer_that_raises_ends_only_its_call(engine: Engine) -> None:
    switch, gate = Switch(), Gate()

    async def on_answer(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        if target.account_id == "A-1":
            raise RuntimeError("this persona's script blew up")
        return await _talk(switch, call)

    results = await asyncio.wait_for(
        run_campaign(switch, engine, _targets(4), on_answer, gate, concurrency=4),  # type: ignore[arg-type]
        10,
    )
    assert [r.allowed for r in results] == [True] * 4
    by_account = {r.target.account_id: r for r in results}
    broken = by_account["A-1"]
    assert broken.attempt is not None and broken.attempt.outcome is CallOutcome.ANSWERED
    # A person answered and nothing says who: counted as a right-party conversation.
    assert gate.outcomes[broken.attempt_id] == (CallOutcome.ANSWERED, True)
    for account in ("A-0", "A-2", "A-3"):
        assert by_account[account].attempt.conversation is not None  # type: ignore[union-attr]
        assert gate.outcomes[by_account[account].attempt_id] == (CallOutcome.ANSWERED, False)
    assert {r.state for r in _rows(engine)} == {AttemptState.ENDED.value}
    assert not switch.live, "a channel was left up"


async def test_redis_away_holds_dials_then_every_target_is_dialled_once(engine: Engine) -> None:
    switch, gate = Switch(), Gate(unavailable=3)
    back = asyncio.Event()
    probes = 0

    async def probe() -> None:
        nonlocal probes
        probes += 1
        if not back.is_set():
            raise ServiceUnavailable("Redis at 127.0.0.1:1 is unavailable")

    shown: list[str] = []

    async def notify(reason: str) -> None:
        shown.append(reason)

    async def on_answer(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        return await _talk(switch, call)

    async with Outage(probe, notify=notify, first_s=0.01, longest_s=0.02) as outage:
        run = asyncio.create_task(
            run_campaign(switch, engine, _targets(4), on_answer, gate, concurrency=2, outage=outage)  # type: ignore[arg-type]
        )
        await asyncio.sleep(0.15)
        assert outage.held and probes >= 2 and "Redis" in shown[0]
        held_originates = list(switch.originated)
        await asyncio.sleep(0.1)
        assert switch.originated == held_originates, "a dial went out while Redis was away"
        back.set()
        results = await asyncio.wait_for(run, 10)
    assert shown[-1] == ""  # the hold was lifted and shown lifted
    assert sorted(r.target.account_id for r in results) == ["A-0", "A-1", "A-2", "A-3"]
    assert all(r.allowed and r.attempt is not None for r in results)
    # Every originate had its own allowing decision, and no target was dialled twice.
    assert len(switch.originated) == 4 and {f"dc-{a}" for a in gate.allowed} == set(switch.originated)
    assert len(_rows(engine)) == 4


async def test_no_dial_without_a_decision() -> None:
    switch, gate = Switch(), Gate(unavailable=1)
    with pytest.raises(DialNotPlaced) as held:
        await dial_one(switch, None, _targets(1)[0], lambda c: _talk(switch, c), gate)  # type: ignore[arg-type]
    assert held.value.result is None and switch.originated == []


async def test_attempt_row_refused_means_not_dialled_and_recovery_writes_it(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The guard allowed (its decision is in the ledger), then the database refused the row.
    ledger = Ledger.on(engine)
    switch = Switch()

    class LedgerGate(Gate):
        async def reserve(self, target: DialTarget, attempt_id: str, at: dt.datetime) -> list[str]:
            ledger.append_decisions(
                [DecisionEntry(attempt_id, target.account_id, None, target.number, NOW, True, (), "t", None)]
            )
            return await super().reserve(target, attempt_id, at)

    def refused(*args: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("database is gone"))

    monkeypatch.setattr(record, "record_reserved", refused)
    with pytest.raises(DialNotPlaced) as held:
        await dial_one(switch, engine, _targets(1)[0], lambda c: _talk(switch, c), LedgerGate())  # type: ignore[arg-type]
    result = held.value.result
    assert result is not None and result.allowed and switch.originated == []
    assert result.attempt is not None and result.attempt.outcome is CallOutcome.FAILED
    assert _rows(engine) == []


async def test_decision_without_attempt_row_is_settled_on_start(engine: Engine) -> None:
    # A dialer killed between the guard's ledger write and the attempt row.
    Ledger.on(engine).append_decisions(
        [
            DecisionEntry("gap-1", "A-2", "c1", "+12125550102", NOW, True, (), "t", None),
            DecisionEntry("denied-1", "A-3", "c1", "+12125550103", NOW, False, ("min_gap",), "t", None),
            DecisionEntry("other-1", "A-4", "c2", "+12125550104", NOW, True, (), "t", None),
        ]
    )
    with Session(engine) as s, s.begin():
        from dialer.store.models import Campaign

        s.add(Campaign(campaign_id="c1", name="c1", strategy="", created_at=NOW))
    reconciled = await reconcile(Switch(), engine, "c1", clock=lambda: NOW)  # type: ignore[arg-type]
    assert "1 unfinished attempt(s) from an earlier run ended" in reconciled.one_line()
    (row,) = _rows(engine)
    assert (row.attempt_id, row.account_id, row.state, row.outcome) == ("gap-1", "A-2", "ended", "failed")
    assert row.dialed_at is None  # never dialled
    assert (await reconcile(Switch(), engine, "c1")).orphans == []  # settled once


async def test_originate_without_an_answer_hangs_up_what_it_made(engine: Engine) -> None:
    switch, gate = Switch(), Gate()
    (target,) = _targets(1, endpoint="timeout")
    result = await asyncio.wait_for(dial_one(switch, engine, target, lambda c: _talk(switch, c), gate), 5)  # type: ignore[arg-type]
    channel = f"dc-{result.attempt_id}"
    assert result.attempt is not None and result.attempt.outcome is CallOutcome.FAILED
    assert channel in switch.hangups and channel not in switch.live
    (row,) = _rows(engine)
    assert (row.state, row.outcome) == ("ended", "failed")


async def test_debtor_gone_before_detection_is_a_hangup_not_an_error(engine: Engine) -> None:
    switch = Switch()
    never: list[AnsweredCall] = []

    async def bot(call: AnsweredCall) -> None:
        never.append(call)

    result = await asyncio.wait_for(place_call(switch, "answer", bot, attempt_id="x-vanish"), 5)  # type: ignore[arg-type]
    assert result.outcome is CallOutcome.ANSWERED and result.cause == 16 and never == []


async def test_channel_gone_across_a_reconnect_ends_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_mod, "BOT_FINISH_TIMEOUT_S", 0.1)
    switch = Switch()
    talking = asyncio.Event()

    async def bot(call: AnsweredCall) -> None:
        talking.set()
        await asyncio.sleep(3600)  # its ChannelDestroyed is lost with the WebSocket

    call = asyncio.create_task(place_call(switch, "answer", bot, attempt_id="r1"))  # type: ignore[arg-type]
    await asyncio.wait_for(talking.wait(), 5)
    switch.reconnect(lose={"dc-r1"})
    result = await asyncio.wait_for(call, 5)
    assert result.outcome is CallOutcome.ANSWERED and result.conversation is None


async def test_a_channel_still_up_after_a_reconnect_keeps_its_call(monkeypatch: pytest.MonkeyPatch) -> None:
    switch = Switch()
    talking = asyncio.Event()

    async def bot(call: AnsweredCall) -> str:
        talking.set()
        await asyncio.sleep(0.3)
        await switch.hangup(call.channel_id)
        return "spoke"

    call = asyncio.create_task(place_call(switch, "answer", bot, attempt_id="r2"))  # type: ignore[arg-type]
    await asyncio.wait_for(talking.wait(), 5)
    switch.reconnect(lose=set())
    result = await asyncio.wait_for(call, 5)
    assert result.conversation == "spoke"


async def test_a_connected_call_has_a_maximum_duration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_mod, "BOT_FINISH_TIMEOUT_S", 0.1)
    switch = Switch()

    async def bot(call: AnsweredCall) -> None:
        await asyncio.sleep(3600)

    result = await asyncio.wait_for(
        place_call(switch, "answer", bot, attempt_id="m1", max_call_s=0.2),  # type: ignore[arg-type]
        5,
    )
    assert result.outcome is CallOutcome.ANSWERED and "dc-m1" in switch.hangups


@pytest.mark.redis
async def test_a_lost_lease_stops_new_dials_at_once(
    redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lease_mod, "RENEW_EVERY_S", 0.05)
    client = redis.Redis.from_url(redis_url)
    key = f"{key_prefix}campaign:l1:lease"
    async with CampaignControl(client, key_prefix, "l1", concurrency=2, cps=0, poll_s=0.02) as ctl:

        async def lost() -> None:
            await ctl.halt("lease lost")

        async with campaign_lease(client, key, on_lost=lost):
            async with ctl.slot() as first:
                assert first  # a call up before the loss
                client.set(key, uuid.uuid4().hex, px=5000)  # another dialer took the campaign
                for _ in range(100):
                    if ctl.stopped:
                        break
                    await asyncio.sleep(0.02)
                async with ctl.slot() as second:
                    assert not second  # nothing new is admitted
            assert ctl.live == 0  # the call up at the loss ran to its end


@pytest.mark.redis
async def test_an_expired_lease_nobody_took_is_taken_back(
    redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lease_mod, "RENEW_EVERY_S", 0.05)
    client = redis.Redis.from_url(redis_url)
    key = f"{key_prefix}campaign:l2:lease"
    lost: list[bool] = []

    async def on_lost() -> None:
        lost.append(True)

    async with campaign_lease(client, key, on_lost=on_lost):
        client.delete(key)  # expired while Redis was unreachable
        await asyncio.sleep(0.3)
        assert client.get(key) is not None and lost == []


@pytest.mark.redis
async def test_a_hold_is_shown_and_lifts_by_itself(redis_url: str, key_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    async with CampaignControl(client, key_prefix, "h1", concurrency=2, cps=0, poll_s=0.02) as ctl:
        await ctl.hold("the database is unavailable (OperationalError)")
        shown = read_control(client, key_prefix, "h1")
        assert shown is not None and shown.held.startswith("the database is unavailable")
        admitted: list[bool] = []

        async def dial() -> None:
            async with ctl.slot() as ok:
                admitted.append(ok)

        waiting = asyncio.create_task(dial())
        await asyncio.sleep(0.1)
        assert admitted == []
        await ctl.unhold()
        await asyncio.wait_for(waiting, 2)
        assert admitted == [True]
        assert read_control(client, key_prefix, "h1").held == ""  # type: ignore[union-attr]


# -- a call lost with its dialer: the answer stored at answer time counts for the guard ---------------


def _guard(redis_url: str, key_prefix: str, engine: Engine, at: list[dt.datetime]) -> Guard:
    """A dialer process's guard on the shared Redis and ledger (a restarted one makes its own)."""
    client = redis.Redis.from_url(redis_url)
    return Guard(client, Ledger.on(engine), load_preset("sandbox"), prefix=key_prefix, clock=lambda: at[0])


async def _facts(account_id: str, number: str) -> AccountFacts:
    return AccountFacts(timezone="America/New_York")


async def _lost_mid_call(
    engine: Engine, guard: Guard, target: DialTarget, campaign_id: str | None, at: list[dt.datetime]
) -> tuple[asyncio.Task[Any], asyncio.Event]:
    """A dial left where its dialer died: answered and talking (endpoint ``answer``), answered
    with detection still listening (``detecting``) or still ringing (``ring``).  Returns the
    dial, frozen there until the event is set."""
    switch, release = Switch(), asyncio.Event()

    async def talking(call: AnsweredCall) -> ConversationRecord:
        await release.wait()
        return await _talk(switch, call)

    gate = GuardGate(guard, _facts, voice=Voice.HUMAN, campaign_id=campaign_id)
    dial = asyncio.create_task(
        dial_one(switch, engine, target, talking, gate, campaign_id=campaign_id, clock=lambda: at[0])  # type: ignore[arg-type]
    )
    async with asyncio.timeout(5):
        while not switch.originated or not _rows(engine):  # noqa: ASYNC110 (the database is polled)
            await asyncio.sleep(0.01)
        stored = {"answer": "human", "detecting": "pending"}.get(target.endpoint or "")
        if stored is not None:
            # Stored mid-call, not at the end.
            while _rows(engine)[0].answered_by != stored:  # noqa: ASYNC110 (the database is polled)
                await asyncio.sleep(0.01)
    return dial, release


async def _done(dial: asyncio.Task[Any], release: asyncio.Event) -> None:
    release.set()
    dial.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(dial, 5)


def _redial(guard: Guard, target: DialTarget) -> tuple[str, ...]:
    dial = DialTarget(target.account_id, target.number, timezone="America/New_York", voice=Voice.HUMAN)
    reservation = guard.reserve(dial)
    return reservation.reasons


@pytest.mark.redis
@pytest.mark.parametrize("settled_by", ["campaign", "desk"])
@pytest.mark.parametrize(("endpoint", "stored"), [("answer", "human"), ("detecting", "pending")])
async def test_an_answered_call_lost_with_its_dialer_starts_the_conversation_lockout(
    engine: Engine, redis_url: str, key_prefix: str, settled_by: str, endpoint: str, stored: str
) -> None:
    """Lost in conversation, or while answer detection still listened: someone answered, and
    not knowing who, the guard takes it for the debtor (the strict side)."""
    at = [NOW]
    campaign_id = "c1" if settled_by == "campaign" else None  # a desk's own calls have no campaign
    with Session(engine) as s, s.begin():
        s.add(Campaign(campaign_id="c1", name="c1", strategy="", created_at=NOW))
    target = DialTarget("A-0", "+12125550100", endpoint=endpoint, script="s")
    dial, release = await _lost_mid_call(
        engine, _guard(redis_url, key_prefix, engine, at), target, campaign_id, at
    )
    try:
        (row,) = _rows(engine)
        assert (row.state, row.answered_by) == ("dialing", stored) and row.answered_at is not None
        # The dialer (or console) died mid-call; the call ended while nobody watched.  The next
        # one starts 3 h later (past min_gap) with its own guard and sees no channel.
        at[0] = NOW + dt.timedelta(hours=3)
        guard = _guard(redis_url, key_prefix, engine, at)
        if settled_by == "campaign":
            (orphan,) = (
                await reconcile(Switch(), engine, "c1", on_orphan=guard_sink(guard), clock=lambda: at[0])
            ).orphans  # type: ignore[arg-type]
            assert orphan.outcome is CallOutcome.ANSWERED and orphan.conversation
        else:
            assert await settle_lost_calls(Switch(), engine, at[0], on_lost=guard_sink(guard)) == 1  # type: ignore[arg-type]
        (row,) = _rows(engine)
        assert (row.state, row.outcome, row.disposition) == ("ended", "answered", "incomplete")
        assert _redial(guard, target) == ("after_conversation",)
        # The ledger holds it too: Redis losing the counters rebuilds the same lockout.
        guard.redis.delete(*guard.redis.keys(f"{key_prefix}*"))
        assert _redial(guard, target) == ("after_conversation",)
    finally:
        await _done(dial, release)


@pytest.mark.redis
@pytest.mark.parametrize("settled_by", ["campaign", "desk"])
async def test_an_unanswered_call_lost_with_its_dialer_is_no_conversation(
    engine: Engine, redis_url: str, key_prefix: str, settled_by: str
) -> None:
    at = [NOW]
    campaign_id = "c1" if settled_by == "campaign" else None
    with Session(engine) as s, s.begin():
        s.add(Campaign(campaign_id="c1", name="c1", strategy="", created_at=NOW))
    target = DialTarget("A-1", "+12125550101", endpoint="ring", script="s")
    dial, release = await _lost_mid_call(
        engine, _guard(redis_url, key_prefix, engine, at), target, campaign_id, at
    )
    try:
        at[0] = NOW + dt.timedelta(hours=3)
        guard = _guard(redis_url, key_prefix, engine, at)
        if settled_by == "campaign":
            (orphan,) = (
                await reconcile(Switch(), engine, "c1", on_orphan=guard_sink(guard), clock=lambda: at[0])
            ).orphans  # type: ignore[arg-type]
            assert orphan.outcome is CallOutcome.FAILED and not orphan.conversation
        else:
            assert await settle_lost_calls(Switch(), engine, at[0], on_lost=guard_sink(guard)) == 1  # type: ignore[arg-type]
        (row,) = _rows(engine)
        assert (row.state, row.outcome, row.disposition, row.answered_at) == (
            "ended",
            "failed",
            "no_contact",
            None,
        )
        (counted,) = guard.ledger.attempts_since(NOW - dt.timedelta(days=1), "A-1")
        assert not (
            counted.conversation or counted.connected or counted.abandoned
        )  # an attempt, nothing more
        assert _redial(guard, target) == ()  # 3 h later: min_gap passed, no conversation to wait for
    finally:
        await _done(dial, release)
