"""A collector's click-to-call against the real Asterisk: the guard allows it as a human call,
the desk's phone (the sandbox's agent stand-in) is up while the persona's number still rings,
the persona answers and no answer detection runs on it, the two are bridged — Asterisk's own
channel and bridge events say so — and the collector's wrap-up ends the attempt."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_agent_calls import watching

from dialer.agents.desk import DeskBoard, DeskState, WrapUp
from dialer.agents.manual import ManualCall
from dialer.campaign.facts import store_facts
from dialer.guards.gate import GuardGate
from dialer.guards.guard import Guard
from dialer.guards.ledger import Ledger
from dialer.policy import Voice
from dialer.policy.config import load_preset
from dialer.store.db import open_engine
from dialer.store.models import CallAttempt
from duncall.personas import load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from foundation import paths, services
from foundation.contract import CallOutcome, ChannelPrefix, DialTarget, Disposition, debtor_channel
from foundation.settings import ari_settings
from telephony.ari import AriClient, ChannelVarset
from telephony.live.registry import CallKind, LiveCallRegistry

pytestmark = pytest.mark.asterisk

DESK = "Local/agent1-4@duncall-agents"  # the sandbox's stand-in for a softphone: talks 4 s, hangs up


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def test_a_click_to_call_reaches_the_persona_and_bridges_the_desk(
    tmp_path: Path, key_prefix: str
) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'desk.db'}")
    personas = [p for p in load_personas(paths.personas_dir()) if p.name == "cooperative"]
    [account] = persona_accounts(personas, 1)
    await asyncio.to_thread(import_persona_accounts, engine, [account])
    client = services.redis_client()
    guard = Guard(client, Ledger.on(engine), load_preset("sandbox"), prefix=key_prefix)
    board = DeskBoard(client, key_prefix)
    board.choose("c1", DeskState.READY)
    ari = AriClient(replace(ari_settings(), app=f"test-desk-call-{uuid.uuid4().hex[:6]}"))
    await ari.connect()
    manual = ManualCall(
        ari,
        engine,
        GuardGate(guard, store_facts(engine), voice=Voice.HUMAN),
        board,
        clock=_now,
        recording_notice=None,
        live=LiveCallRegistry(client, key_prefix),
    )
    target = DialTarget(account.account_id, account.number, endpoint=account.endpoint)
    attempt_id = str(uuid.uuid4())
    try:
        async with watching() as watch, asyncio.timeout(60):
            decision, task = await manual.start(target, "c1", DESK, attempt_id)
            assert decision.allowed and task is not None, decision.reasons
            listed = None
            while board.desk("c1").state is not DeskState.WRAP_UP:  # the stand-in hung up
                assert not task.done(), task.result()
                if board.desk("c1").state is DeskState.ON_CALL and listed is None:
                    listed = manual.live.get(attempt_id) if manual.live is not None else None
                await asyncio.sleep(0.2)
            board.submit_wrap_up("c1", WrapUp(Disposition.CALLBACK, callback_on=dt.date(2030, 1, 2)))
            result = await task
    finally:
        await ari.close()
    # Listed for supervisors while bridged, as a campaign's desk call is; gone once it ended.
    assert listed is not None and (listed.kind, listed.agent_id) == (CallKind.AGENT, "c1")
    assert LiveCallRegistry(client, key_prefix).get(attempt_id) is None
    assert result is not None and result.attempt is not None
    assert result.attempt.outcome is CallOutcome.ANSWERED
    # One bridge, the debtor's (persona's) channel and the desk's, as Asterisk reported it.
    bridge = ChannelPrefix.AGENT_BRIDGE.of(attempt_id)
    debtor, desk = debtor_channel(attempt_id), ChannelPrefix.AGENT.of(attempt_id)
    assert watch.bridge_members(bridge) == {debtor, desk}
    # The collector's phone was up (hearing ringback) before the persona answered, and the
    # answer went straight to the desk: no answer detection verdict, no detecting state.
    assert watch.answered_at(desk) < watch.answered_at(debtor)
    assert not [
        e
        for e in watch.events
        if isinstance(e, ChannelVarset)
        and e.channel is not None
        and e.channel.id == debtor
        and e.variable == "AMDSTATUS"
    ]
    assert result.attempt.amd_status is None and "detecting" not in result.attempt.states
    with Session(engine) as s:
        row = s.scalars(select(CallAttempt).where(CallAttempt.attempt_id == attempt_id)).one()
        assert (row.state, row.outcome, row.disposition) == ("ended", "answered", "callback")
        assert row.callback_at is not None and row.callback_at.date() == dt.date(2030, 1, 2)
    assert board.desk("c1").state is DeskState.READY
