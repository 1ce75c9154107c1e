"""Human agents on live calls, against the real Asterisk: progressive and predictive campaigns
over the sandbox personas with the sandbox's agent stand-ins (``Local/<agent>-<secs>@duncall-agents``).

An independent ARI application watches every channel and bridge; what the tests assert about
answers, bridges and the abandon message comes from its events, with Asterisk's timestamps.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from dialer.agents.campaign import AgentCampaignOptions, AgentDialing, PacingPrior
from dialer.agents.pool import AgentPool, sandbox_agents
from dialer.agents.record import abandon_ledger
from dialer.campaign.recovery import reconcile
from dialer.campaign.session import CampaignOptions, run_session
from dialer.campaign.targets import endpoint_map
from dialer.dial.record import record_reserved
from dialer.guards.guard import Guard
from dialer.guards.ledger import Ledger
from dialer.pacing import PacingMode
from dialer.policy import Voice
from dialer.policy.config import load_preset
from dialer.store.db import open_engine
from dialer.store.models import CallAttempt, Campaign
from dialer.strategy.config import load_strategy
from duncall.personas import load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from foundation import paths, services
from foundation.contract import DialTarget
from foundation.errors import DuncallError
from foundation.settings import ari_settings
from telephony.ari import (
    AriClient,
    AriEvent,
    ChannelDestroyed,
    ChannelEnteredBridge,
    ChannelStateChange,
    ChannelVarset,
    PlaybackStarted,
    StasisStart,
)

pytestmark = pytest.mark.asterisk

STRATEGY = Path(__file__).resolve().parents[1] / "strategies" / "default.yaml"
RUN_TIMEOUT_S = 60.0
AGENT_HANDLE_S = 5  # the stand-ins talk this long, then hang up
WRAP_UP_S = 0.5
# The sandbox's figures: a persona rings 1.5 s, answer detection takes ~1.5 s more.
SANDBOX_RING_S = (2.5, 4.5)
AFTER_GREETING_SILENCE_MS = 600  # asterisk-config/amd.conf
SANDBOX_HANDLE_S = (AGENT_HANDLE_S + WRAP_UP_S, AGENT_HANDLE_S + WRAP_UP_S + 1.0)


@dataclass
class Watch:
    """What an application subscribed to every channel and bridge saw."""

    events: list[AriEvent] = field(default_factory=list)

    def answered_at(self, channel_id: str) -> dt.datetime:
        ups = [
            e.at
            for e in self.events
            if isinstance(e, ChannelStateChange) and e.channel.id == channel_id and e.channel.state == "Up"
        ]
        assert ups and ups[0] is not None, f"{channel_id} never answered"
        return ups[0]

    def greeting_ended_at(self, channel_id: str) -> dt.datetime:
        """When the person's greeting ended: answer detection says HUMAN (sets AMDSTATUS) after
        ``after_greeting_silence`` of silence that follows the greeting."""
        verdicts = [
            e.at
            for e in self.events
            if isinstance(e, ChannelVarset)
            and e.channel is not None
            and e.channel.id == channel_id
            and e.variable == "AMDSTATUS"
        ]
        assert verdicts and verdicts[0] is not None, f"no answer detection verdict on {channel_id}"
        return verdicts[0] - dt.timedelta(milliseconds=AFTER_GREETING_SILENCE_MS)

    def message_started_at(self, channel_id: str) -> dt.datetime | None:
        for e in self.events:
            if isinstance(e, PlaybackStarted) and e.playback.channel_id == channel_id:
                assert e.playback.media_uri.endswith("abandon-message"), e.playback.media_uri
                return e.at
        return None

    def bridge_members(self, bridge_id: str) -> set[str]:
        return {
            e.channel.id
            for e in self.events
            if isinstance(e, ChannelEnteredBridge) and e.bridge.id == bridge_id and e.channel is not None
        }

    def most_debtor_channels_up(self, attempt_ids: set[str]) -> int:
        """The most debtor channels of these attempts alive at once (other tests share Asterisk)."""
        ours = {f"dc-{a}" for a in attempt_ids}
        alive: set[str] = set()
        most = 0
        for e in self.events:
            if isinstance(e, ChannelStateChange | ChannelDestroyed) and e.channel.id in ours:
                if isinstance(e, ChannelDestroyed):
                    alive.discard(e.channel.id)
                else:
                    alive.add(e.channel.id)
                most = max(most, len(alive))
        return most


@contextlib.asynccontextmanager
async def watching() -> AsyncIterator[Watch]:
    ari = AriClient(replace(ari_settings(), app=f"test-agent-watch-{uuid.uuid4().hex[:6]}"))
    await ari.connect()
    watch = Watch()
    await ari.subscribe_source("channel:")
    await ari.subscribe_source("bridge:")
    sub = ari.subscribe(maxsize=100_000)

    async def collect() -> None:
        async for event in sub:
            watch.events.append(event)

    task = asyncio.create_task(collect(), name="agent-watch")
    try:
        yield watch
    finally:
        await asyncio.sleep(0.5)  # the last events may still be in flight
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await ari.close()


@dataclass
class Run:
    dialing: AgentDialing
    attempts: list[CallAttempt]
    guard: Guard
    engine: Engine
    campaign_id: str


async def run_agents(
    tmp_path: Path,
    key_prefix: str,
    *,
    mode: PacingMode,
    agents: int,
    copies: int,
    prior_answer_rate: float,
) -> Run:
    engine = open_engine(f"sqlite:///{tmp_path / 'agents.db'}")
    client = services.redis_client()
    guard = Guard(client, Ledger.on(engine), load_preset("sandbox"), prefix=key_prefix)
    personas = [p for p in load_personas(paths.personas_dir()) if p.name == "cooperative"]
    accounts = persona_accounts(personas, copies)
    await asyncio.to_thread(import_persona_accounts, engine, accounts)
    pool = AgentPool(sandbox_agents(agents, AGENT_HANDLE_S), now_s=time.monotonic(), wrap_up_s=WRAP_UP_S)
    prior = PacingPrior(answer_rate=prior_answer_rate, ring_s=SANDBOX_RING_S, handle_s=SANDBOX_HANDLE_S)
    dialing = AgentDialing(pool, AgentCampaignOptions(mode=mode, ring_timeout_s=10, prior=prior))
    ari = AriClient(replace(ari_settings(), app=f"test-agents-{uuid.uuid4().hex[:6]}"))
    await ari.connect()
    campaign_id = f"agents-{uuid.uuid4().hex[:8]}"

    async def no_bot(*_: object) -> object:
        raise AssertionError("an agent campaign never hands a call to the bot")

    try:
        async with asyncio.timeout(RUN_TIMEOUT_S):
            await run_session(
                ari,
                engine,
                client,
                guard,
                load_strategy(STRATEGY),
                endpoint_map({a.account_id: a.endpoint for a in accounts}),
                no_bot,  # type: ignore[arg-type]
                CampaignOptions(campaign_id=campaign_id, calls_per_second=0, use_schedule=False),
                account_ids=[a.account_id for a in accounts],
                prefix=key_prefix,
                live_prefix=key_prefix,
                agents=dialing,
            )
    finally:
        await ari.close()
    with Session(engine) as s:
        attempts = list(s.scalars(select(CallAttempt)))
        s.expunge_all()
    return Run(dialing, attempts, guard, engine, campaign_id)


async def test_progressive_rings_no_more_calls_than_free_agents_and_bridges_each_answer(
    tmp_path: Path, key_prefix: str
) -> None:
    async with watching() as watch:
        run = await run_agents(
            tmp_path, key_prefix, mode=PacingMode.PROGRESSIVE, agents=2, copies=4, prior_answer_rate=0.3
        )
    result = run.dialing.result
    # At every decision: calls still ringing plus the new ones never outnumber the ready agents.
    assert result.ticks and all(t.ringing + t.decided <= t.ready_agents for t in result.ticks)
    # So never more debtors on the line than agents.
    assert watch.most_debtor_channels_up({a.attempt_id for a in run.attempts}) <= 2
    assert len(run.attempts) == 4 and {a.outcome for a in run.attempts} == {"answered"}
    assert {a.disposition for a in run.attempts} == {"transferred"}
    # Each answered debtor and an agent's leg were in the same bridge (Asterisk's own events).
    assert len(result.calls) == 4 and result.abandoned == 0
    for attempt_id, call in result.calls.items():
        assert call.bridge_id is not None and call.agent_id is not None
        assert watch.bridge_members(call.bridge_id) == {f"dc-{attempt_id}", f"da-{attempt_id}"}
    assert {c.agent_id for c in result.calls.values()} == {"agent1", "agent2"}


async def test_predictive_with_too_few_agents_plays_the_message_and_stores_the_abandon(
    tmp_path: Path, key_prefix: str
) -> None:
    # The campaign expects 1 answer in 20 dials and dials ahead for 2 agents; every persona answers.
    async with watching() as watch:
        run = await run_agents(
            tmp_path, key_prefix, mode=PacingMode.PREDICTIVE, agents=2, copies=5, prior_answer_rate=0.05
        )
    result = run.dialing.result
    abandoned = [c for c in result.calls.values() if c.abandoned]
    connected = [c for c in result.calls.values() if not c.abandoned]
    assert abandoned and connected, (result.calls, result.ticks[:12])
    stored = {a.attempt_id: a for a in run.attempts}
    for call in abandoned:
        channel = f"dc-{call.attempt_id}"
        started = watch.message_started_at(channel)
        assert started is not None, "the abandon message never started"
        # Within 2 s of the person's completed greeting (US TSR, UK Ofcom), as Asterisk timed both.
        assert (started - watch.greeting_ended_at(channel)).total_seconds() <= 2.0
        # Answer detection listens to that greeting: from the answer itself it takes a little more.
        assert (started - watch.answered_at(channel)).total_seconds() <= 3.0
        assert stored[call.attempt_id].outcome == "abandoned"
        assert stored[call.attempt_id].disposition == "abandoned"
    for call in connected:
        assert call.bridge_id is not None
        assert watch.bridge_members(call.bridge_id) == {f"dc-{call.attempt_id}", f"da-{call.attempt_id}"}
    # Fed to the guard: under a 72 h abandon lockout (the UK rule) an abandoned number is locked,
    # a number whose call reached an agent is not (both are within min_gap, which denies them too).
    sandbox = load_preset("sandbox")
    uk_like = replace(sandbox, frequency=replace(sandbox.frequency, abandon_lockout=dt.timedelta(hours=72)))
    guard = Guard(services.redis_client(), run.guard.ledger, uk_like, prefix=key_prefix)

    def redial_reasons(attempt_id: str) -> tuple[str, ...]:
        a = stored[attempt_id]
        return guard.reserve(DialTarget(account_id=a.account_id, number=a.number, voice=Voice.HUMAN)).reasons

    assert "abandon_lockout" in redial_reasons(abandoned[0].attempt_id)
    assert "abandon_lockout" not in redial_reasons(connected[0].attempt_id)
    # Counted in the campaign's abandon-rate windows (30 days, 24 h), which a next run starts from.
    us, uk = abandon_ledger(run.engine, run.campaign_id, dt.datetime.now(dt.UTC)).windows(time.time())
    assert (us.abandoned, us.answered) == (uk.abandoned, uk.answered) == (len(abandoned), len(result.calls))


async def test_a_restarted_dialer_leaves_a_debtor_talking_to_an_agent_on_the_line(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'restart.db'}")
    personas = [p for p in load_personas(paths.personas_dir()) if p.name == "cooperative"]
    [account] = persona_accounts(personas, 1)
    await asyncio.to_thread(import_persona_accounts, engine, [account])
    campaign_id, talking, left = "agents-restart", str(uuid.uuid4()), str(uuid.uuid4())
    with engine.begin() as conn:
        now = dt.datetime.now(dt.UTC)
        conn.execute(
            insert(Campaign), [{"campaign_id": campaign_id, "name": "x", "strategy": "", "created_at": now}]
        )
    for attempt_id in (talking, left):
        record_reserved(engine, DialTarget(account.account_id, account.number), attempt_id, campaign_id, now)
    ari = AriClient(replace(ari_settings(), app=f"test-agents-{uuid.uuid4().hex[:6]}"))
    await ari.connect()
    # What a dialer killed mid-call leaves: a debtor and an agent in their bridge, nobody watching;
    # and an agent alone in a bridge whose debtor hung up meanwhile.
    legs = {
        f"dc-{talking}": account.endpoint,
        f"da-{talking}": "Local/agent1-30@duncall-agents",
        f"da-{left}": "Local/agent2-30@duncall-agents",
    }
    bridges = {f"ab-{talking}": [f"dc-{talking}", f"da-{talking}"], f"ab-{left}": [f"da-{left}"]}
    try:
        for channel, endpoint in legs.items():
            with ari.channel_events(channel) as events:
                await ari.originate(endpoint, app=ari.app, channel_id=channel, timeout_s=10)
                async with asyncio.timeout(15):
                    while not isinstance(event := await events.get(), StasisStart):
                        assert event is not None
        for bridge, members in bridges.items():
            await ari.create_bridge(bridge_type="mixing", bridge_id=bridge)
            await ari.add_to_bridge(bridge, members)
        reconciled = await reconcile(ari, engine, campaign_id)
        by_id = {o.attempt_id: o for o in reconciled.orphans}
        assert by_id[talking].taken_over and not by_id[talking].hung_up
        assert by_id[talking].outcome.value == "answered"
        up = {c.id for c in await ari.list_channels()}
        assert {f"dc-{talking}", f"da-{talking}"} <= up  # still talking
        assert f"da-{left}" not in up  # the lone agent was hung up, its bridge destroyed
        assert f"ab-{left}" not in {b.id for b in await ari.list_bridges()}
        with Session(engine) as s:
            row = s.get(CallAttempt, talking)
            assert row is not None and (row.state, row.disposition) == ("ended", "transferred")
    finally:
        for channel in legs:
            with contextlib.suppress(DuncallError):
                await ari.hangup(channel)
        for bridge in bridges:
            with contextlib.suppress(DuncallError):
                await ari.destroy_bridge(bridge)
        await ari.close()
