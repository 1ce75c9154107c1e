"""An agent's call is recorded only after its recording notice has played, against the real Asterisk.

The sandbox's agent stand-ins take a predictive call to the ``cooperative`` persona each. With
the notice played the call is recorded (its mix, named as a bot call's, and both sides);
with a notice that cannot play (its sound is missing: Asterisk reports the playback failed)
or none at all, nothing is recorded. The recordings of a desk call, their timing and their
transcript are in test_agent_recordings_browser.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.agents.campaign import AgentCampaignOptions, AgentDialing, PacingPrior
from dialer.agents.pool import AgentPool, sandbox_agents
from dialer.campaign.session import CampaignOptions, run_session
from dialer.campaign.targets import endpoint_map
from dialer.guards.guard import Guard
from dialer.guards.ledger import Ledger
from dialer.pacing import PacingMode
from dialer.policy.config import load_preset
from dialer.store.db import open_engine
from dialer.store.models.transcripts import CallRecording
from dialer.strategy.config import load_strategy
from duncall.personas import load_personas, render
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from duncall.sandbox import runtime
from foundation import paths, services
from foundation.settings import ari_settings
from telephony.ari import AriClient
from telephony.ari.errors import AriError, AriNotFound

pytestmark = [pytest.mark.asterisk, pytest.mark.redis]

STRATEGY = Path(__file__).resolve().parents[1] / "strategies" / "default.yaml"
HANDLE_S = 8  # the stand-in talks this long after answering


async def _one_call(
    tmp_path: Path, key_prefix: str, notice: str | None
) -> tuple[CallRecording | None, list[str]]:
    """One answered call through an agent campaign; its call record and the recordings Asterisk holds."""
    engine = open_engine(f"sqlite:///{tmp_path / 'notice.db'}")
    client = services.redis_client()
    personas = [p for p in load_personas(paths.personas_dir()) if p.name == "cooperative"]
    accounts = persona_accounts(personas, 1)
    await asyncio.to_thread(import_persona_accounts, engine, accounts)
    pool = AgentPool(sandbox_agents(1, HANDLE_S), now_s=time.monotonic(), wrap_up_s=0.5)
    options = AgentCampaignOptions(
        mode=PacingMode.PROGRESSIVE,
        ring_timeout_s=10,
        prior=PacingPrior(answer_rate=0.9, ring_s=(2.5, 4.5), handle_s=(8.0, 10.0)),
        recording_notice=notice,
    )
    ari = AriClient(replace(ari_settings(), app=f"test-notice-{uuid.uuid4().hex[:6]}"))
    await ari.connect()

    async def no_bot(*_: object) -> object:
        raise AssertionError("an agent campaign never hands a call to the bot")

    try:
        async with asyncio.timeout(60):
            await run_session(
                ari,
                engine,
                client,
                Guard(client, Ledger.on(engine), load_preset("sandbox"), prefix=key_prefix),
                load_strategy(STRATEGY),
                endpoint_map({a.account_id: a.endpoint for a in accounts}),
                no_bot,  # type: ignore[arg-type]
                CampaignOptions(
                    campaign_id=f"notice-{uuid.uuid4().hex[:8]}", calls_per_second=0, use_schedule=False
                ),
                account_ids=[a.account_id for a in accounts],
                prefix=key_prefix,
                live_prefix=key_prefix,
                agents=AgentDialing(pool, options),
            )
        with Session(engine) as s:
            record = s.scalars(select(CallRecording)).one_or_none()
            if record is not None:
                s.expunge(record)
        assert record is not None, "the answered call has no call record"
        debtor = f"call-dc-{record.attempt_id}"
        held: list[str] = []
        for name in (debtor, f"{debtor}-debtor", f"{debtor}-agent"):
            try:
                await ari.get_stored_recording(name)
                held.append(name)
            except AriNotFound:
                pass
        for name in held:
            with contextlib.suppress(AriError):
                await ari.delete_stored_recording(name)
        return record, held
    finally:
        await ari.close()


async def test_an_agents_call_is_recorded_on_both_sides_after_the_notice(
    tmp_path: Path, key_prefix: str
) -> None:
    await asyncio.to_thread(
        render.render_audio, load_personas(paths.personas_dir()), runtime.sandbox().sounds
    )
    record, held = await _one_call(tmp_path, key_prefix, "sound:duncall/recording-notice")
    assert record is not None and record.audio_path == f"call-dc-{record.attempt_id}"
    assert held == [record.audio_path, f"{record.audio_path}-debtor", f"{record.audio_path}-agent"]


@pytest.mark.parametrize("notice", ["sound:duncall/no-such-notice", None])
async def test_a_call_whose_notice_did_not_play_is_not_recorded(
    tmp_path: Path, key_prefix: str, notice: str | None
) -> None:
    record, held = await _one_call(tmp_path, key_prefix, notice)
    assert record is not None and record.audio_path is None
    assert held == []
