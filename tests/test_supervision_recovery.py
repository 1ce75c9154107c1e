"""A dialer that restarts while a supervisor has one of its calls must not hang that call up.

The dead run's calls are reconciled on restart (``dialer.campaign.recovery``): an
ordinary orphan is hung up and counted abandoned; one a supervisor took over
(``DUNCALL_TAKEN_OVER_BY`` on the debtor's channel) stays up for them and ends
``answered`` / ``transferred``."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dialer.campaign.recovery import reconcile
from dialer.store.db import open_engine
from dialer.store.models import AttemptState, CallAttempt, Campaign
from duncall.personas import load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from foundation import paths
from foundation.contract import CallOutcome, Disposition
from foundation.settings import ari_settings
from telephony.ari import AriClient, StasisStart
from telephony.ari.errors import AriNotFound
from telephony.live.registry import TAKEOVER_VARIABLE

pytestmark = pytest.mark.asterisk


@pytest.fixture
async def ari() -> AsyncIterator[AriClient]:
    client = AriClient(replace(ari_settings(), app=f"duncall-test-{uuid.uuid4().hex[:10]}"))
    await client.connect()
    yield client
    await client.close()


def _store(tmp_path: Path, campaign: str, attempts: list[str]) -> Engine:
    engine = open_engine(f"sqlite:///{tmp_path / 'calls.db'}")
    persona = next(p for p in load_personas(paths.personas_dir()) if p.name == "cooperative")
    import_persona_accounts(engine, persona_accounts([persona]))
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as s, s.begin():
        s.add(Campaign(campaign_id=campaign, name=campaign, strategy="default.yaml", created_at=now))
        s.flush()  # the attempts refer to it
        for attempt in attempts:
            s.add(
                CallAttempt(
                    attempt_id=attempt,
                    account_id=persona.account.account_id,
                    campaign_id=campaign,
                    number=persona.account.phone,
                    state=AttemptState.DIALING.value,
                    script="early_collection",
                    reserved_at=now,
                    dialed_at=now,
                )
            )
    return engine


async def _answered_call(ari: AriClient, channel_id: str) -> None:
    """A call the dead dialer left up: answered and in Stasis, as a bot call is."""
    with ari.channel_events(channel_id) as events:
        await ari.originate("Local/silence@duncall-test", app=ari.app, channel_id=channel_id)
        async with asyncio.timeout(10):
            async for ev in events:
                if isinstance(ev, StasisStart):
                    return


async def _exists(ari: AriClient, channel_id: str) -> bool:
    try:
        await ari.get_channel(channel_id)
    except AriNotFound:
        return False
    return True


async def test_restart_leaves_a_taken_over_call_to_its_supervisor(tmp_path: Path, ari: AriClient) -> None:
    supervised, abandoned = str(uuid.uuid4()), str(uuid.uuid4())
    campaign = f"sup-recovery-{uuid.uuid4().hex[:8]}"
    engine = _store(tmp_path, campaign, [supervised, abandoned])
    try:
        for attempt in (supervised, abandoned):
            await _answered_call(ari, f"dc-{attempt}")
        await ari.set_variable(f"dc-{supervised}", TAKEOVER_VARIABLE, "alice")

        result = await reconcile(ari, engine, campaign)

        by_id = {o.attempt_id: o for o in result.orphans}
        assert by_id[supervised].taken_over and not by_id[supervised].hung_up
        assert by_id[supervised].outcome is CallOutcome.ANSWERED
        assert by_id[abandoned].hung_up and by_id[abandoned].outcome is CallOutcome.ABANDONED
        assert await _exists(ari, f"dc-{supervised}")
        with Session(engine) as s:
            rows = {a: s.get(CallAttempt, a) for a in (supervised, abandoned)}
            assert {a: (r.state, r.disposition) for a, r in rows.items() if r is not None} == {
                supervised: (AttemptState.ENDED.value, Disposition.TRANSFERRED.value),
                abandoned: (AttemptState.ENDED.value, Disposition.INCOMPLETE.value),
            }
    finally:
        for attempt in (supervised, abandoned):
            try:
                await ari.hangup(f"dc-{attempt}")
            except AriNotFound:
                pass
        engine.dispose()
