"""Shared helpers of the campaign tests (no tests here): a witness of every channel Asterisk
creates, the command line of a sandbox campaign, and a read of the store and ledger."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from dialer.guards.ledger import Ledger
from dialer.store.models import CallAttempt
from foundation.settings import ari_settings
from telephony.ari import AriClient
from telephony.ari.events import ChannelCreated

DUNCALL = str(Path(sys.executable).parent / "duncall")


@dataclass
class ChannelWitness:
    """Every ``dc-…`` channel Asterisk created while it watched (an app subscribed to all channels)."""

    ari: AriClient
    created: Counter[str] = field(default_factory=Counter)

    def attempt_ids(self) -> Counter[str]:
        return Counter({cid.removeprefix("dc-"): n for cid, n in self.created.items()})


@contextlib.asynccontextmanager
async def channel_witness() -> AsyncIterator[ChannelWitness]:
    ari = AriClient(replace(ari_settings(), app=f"test-witness-{uuid.uuid4().hex[:6]}"))
    await ari.connect()
    witness = ChannelWitness(ari)
    await ari.subscribe_source("channel:")
    sub = ari.subscribe(lambda e: isinstance(e, ChannelCreated), maxsize=100_000)

    async def collect() -> None:
        while True:
            event = await sub.get()
            assert isinstance(event, ChannelCreated)
            cid = event.channel.id
            # The ;2 half of a Local channel shares the id with a suffix; count the dialled half.
            if cid.startswith("dc-") and ";" not in cid:
                witness.created[cid] += 1

    task = asyncio.create_task(collect(), name="channel-witness")
    try:
        yield witness
    finally:
        await asyncio.sleep(0.5)  # the last ChannelCreated events may still be in flight
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await ari.close()


def own_ari_app() -> dict[str, str]:
    """Environment giving a ``duncall`` subprocess an ARI application of its own.

    Asterisk sends an application's events to its newest WebSocket only, so two dialers on
    the default app (parallel test runs, a demo) would take each other's calls' events.
    """
    s = ari_settings()
    return {
        "DUNCALL_ARI_URL": s.base_url,
        "DUNCALL_ARI_USER": s.username,
        "DUNCALL_ARI_PASSWORD": s.password,
        "DUNCALL_ARI_APP": f"test-dialer-{uuid.uuid4().hex[:8]}",
    }


def campaign_cmd(
    campaign: str, db_url: str, prefix: str, personas: list[str], *extra: str, copies: int = 1
) -> list[str]:
    return [
        DUNCALL,
        "campaign",
        "run",
        "--campaign",
        campaign,
        "--personas",
        *personas,
        "--copies",
        str(copies),
        "--answer",
        "hangup",
        "--db",
        db_url,
        "--guard-prefix",
        prefix,
        *extra,
    ]


@dataclass(frozen=True)
class StoreView:
    attempts: list[CallAttempt]
    allowed: Counter[str]  # account → allowed guard decisions
    allowed_ids: set[str]
    denied: Counter[str]  # reason → denials


def read_store(db_url: str) -> StoreView:
    engine = create_engine(db_url)
    try:
        with Session(engine) as s:
            attempts = list(s.scalars(select(CallAttempt)))
            s.expunge_all()
        decisions = Ledger(engine).decisions()
    finally:
        engine.dispose()
    allowed = Counter(d.account_id for d in decisions if d.allowed)
    denied = Counter(r for d in decisions if not d.allowed for r in d.reasons)
    return StoreView(attempts, allowed, {d.attempt_id for d in decisions if d.allowed}, denied)


async def our_live_channels(ari: AriClient, attempt_ids: set[str]) -> list[str]:
    return [c.id for c in await ari.list_channels() if c.id.removeprefix("dc-") in attempt_ids]
