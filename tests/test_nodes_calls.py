"""Two Asterisk nodes, two dialer processes each with its bot, one store and one Redis.

The second node is a second sandbox Asterisk started by ``duncall asterisk up --node 2`` (ARI on
8188).  Two ``duncall campaign run`` processes run two campaigns over the same persona accounts,
the bot answering, with ``DUNCALL_ASTERISK_NODES`` naming both nodes at two channels each (the
dialers want six calls at once between them).  Mid-campaign, once node 2 has carried a bot call
to its end and has another call up, node 2 is killed (SIGKILL: a crash, nothing hung up).

What it shows: calls land on both nodes (the store's node of every attempt is the node whose
Asterisk saw its channel); neither node ever carries more than its two channels; every account
is dialled once over both processes (the guard's min_gap holds across them) and a third dialer
on a running campaign is refused by the campaign's lease; the calls node 2 had up end with a
final outcome and disposition, every attempt ends, and the calls after the kill go to node 1,
where both campaigns finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from test_campaign_support import DUNCALL, campaign_cmd

from dialer.guards.ledger import Ledger
from dialer.store.db import open_engine
from dialer.store.models import AttemptState, CallAttempt
from dialer.store.models.transcripts import CallRecording
from duncall.compose.campaign import select_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from duncall.sandbox import nodes as sandbox_nodes
from foundation.settings import AriSettings, ari_settings
from telephony.ari import AriClient
from telephony.ari.events import ChannelCreated, ChannelDestroyed

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]

PERSONAS = ("hangs_up",)  # talks to the bot (answers who it is, then hangs up): ~15 s calls
COPIES = 9  # 9 accounts: at most 8 (two rounds of four channels) are up before node 2 is lost
CHANNELS = 2  # per node: 4 in all, for 2 × 3 wanted
CONCURRENCY = 3
KILL_WAIT_S = 240.0  # bot start-up of two processes on a loaded machine, then node 2's first call
FINISH_S = 300.0


@dataclass
class NodeWatch:
    """The ``dc-`` channels one node's Asterisk made and ended, in order (others' calls too: the
    primary sandbox is shared)."""

    seen: set[str] = field(default_factory=set)
    live: set[str] = field(default_factory=set)
    steps: list[tuple[str, int]] = field(default_factory=list)

    def peak(self, ours: set[str]) -> int:
        """The most of ``ours`` up at once."""
        up = most = 0
        for attempt_id, step in self.steps:
            if attempt_id in ours:
                up += step
                most = max(most, up)
        return most


@contextlib.asynccontextmanager
async def watching(settings: AriSettings) -> AsyncIterator[NodeWatch]:
    ari = AriClient(replace(settings, app=f"test-nodes-{uuid.uuid4().hex[:6]}"))
    await ari.connect()
    await ari.subscribe_source("channel:")
    watch = NodeWatch()
    sub = ari.subscribe(lambda e: isinstance(e, ChannelCreated | ChannelDestroyed), maxsize=100_000)

    async def collect() -> None:
        while (event := await sub.get()) is not None:
            assert isinstance(event, ChannelCreated | ChannelDestroyed)
            cid = event.channel.id
            if not cid.startswith("dc-") or ";" in cid:  # the dialled half of a Local channel
                continue
            attempt_id = cid.removeprefix("dc-")
            if isinstance(event, ChannelCreated):
                watch.seen.add(attempt_id)
                watch.live.add(attempt_id)
                watch.steps.append((attempt_id, 1))
            elif attempt_id in watch.live:
                watch.live.discard(attempt_id)
                watch.steps.append((attempt_id, -1))

    task = asyncio.create_task(collect(), name="node-watch")
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await ari.close()


@pytest.fixture
def node2() -> Iterator[AriSettings]:
    """Node 2, started by the project's own command and stopped (if still up) at the end."""
    up = subprocess.run(
        [DUNCALL, "asterisk", "up", "--node", "2"], capture_output=True, text=True, timeout=120, check=False
    )
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield replace(ari_settings(), base_url=sandbox_nodes.node(2).url)
    finally:
        subprocess.run(
            [DUNCALL, "asterisk", "down", "--node", "2"], capture_output=True, timeout=60, check=False
        )


def _attempts(db_url: str) -> list[CallAttempt]:
    engine = create_engine(db_url)
    try:
        with Session(engine) as s:
            rows = list(s.scalars(select(CallAttempt)))
            s.expunge_all()
            return rows
    except Exception:
        return []  # the dialers' writes hold the file a moment
    finally:
        engine.dispose()


def _recorded(db_url: str) -> set[str]:
    engine = create_engine(db_url)
    try:
        with Session(engine) as s:
            return set(s.scalars(select(CallRecording.attempt_id)))
    finally:
        engine.dispose()


async def test_two_nodes_two_dialers_one_node_lost(
    tmp_path: Path, key_prefix: str, node2: AriSettings
) -> None:
    db_url = f"sqlite:///{tmp_path / 'nodes.db'}"
    # Schema and accounts first: two processes upgrading one empty file at once would race.
    engine = open_engine(db_url)
    import_persona_accounts(engine, persona_accounts(select_personas(PERSONAS), COPIES))
    engine.dispose()
    node1 = ari_settings()
    creds = {"user": node1.username, "password": node1.password, "max_channels": CHANNELS}
    base_env = {
        **os.environ,
        "DUNCALL_ASTERISK_NODES": json.dumps(
            [{"name": "n1", "url": node1.base_url, **creds}, {"name": "n2", "url": node2.base_url, **creds}]
        ),
        "DUNCALL_LIVE_PREFIX": f"{key_prefix}live:",
        "DUNCALL_TTS_EN": "espeak",  # the voice is not what this test is about; espeak loads at once
        "DUNCALL_ASR_WORKERS": "0",
    }

    def env() -> dict[str, str]:
        # Asterisk sends an application's events to its newest WebSocket only: one app per dialer.
        return {**base_env, "DUNCALL_ARI_APP": f"test-nodes-{uuid.uuid4().hex[:8]}"}

    args = ("--concurrency", str(CONCURRENCY), "--cps", "0", "--ring-timeout", "10")
    campaigns = [f"nodes-{c}-{uuid.uuid4().hex[:6]}" for c in "ab"]
    cmds = [
        [*campaign_cmd(c, db_url, key_prefix, list(PERSONAS), *args, copies=COPIES), "--answer", "bot"]
        for c in campaigns
    ]
    logs = [(tmp_path / f"dialer-{i}.log").open("wb") for i in range(2)]
    async with watching(node1) as on1, watching(node2) as on2:
        dialers = [
            subprocess.Popen(cmd, env=env(), stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220 - Popen only starts it
            for cmd, log in zip(cmds, logs, strict=True)
        ]
        try:
            # Until node 2 has finished a bot call and has another one up.
            deadline = time.monotonic() + KILL_WAIT_S
            while True:
                rows = await asyncio.to_thread(_attempts, db_url)
                done_on_2 = [a for a in rows if a.node == "n2" and a.outcome == "answered"]
                if done_on_2 and on2.live & {a.attempt_id for a in rows}:
                    break
                assert all(d.poll() is None for d in dialers), "a dialer ended before node 2 was lost"
                assert time.monotonic() < deadline, f"node 2 never had a finished and a live call: {rows}"
                await asyncio.sleep(0.2)
            # A third dialer on a running campaign: its lease is held, it must dial nothing.
            third = await asyncio.create_subprocess_exec(
                *[a if a != "bot" else "hangup" for a in cmds[0]],
                env=env(),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            up_at_kill = set(on2.live)  # node 2 is this test's alone
            killed_at = dt.datetime.now(dt.UTC)
            assert await asyncio.to_thread(sandbox_nodes.kill, 2)
            third_out = (await asyncio.wait_for(third.communicate(), 120))[0].decode()
            codes = [await asyncio.to_thread(d.wait, FINISH_S) for d in dialers]
        finally:
            for d in dialers:
                if d.poll() is None:
                    d.kill()
            for log in logs:
                log.close()
    said = [(tmp_path / f"dialer-{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], said

    # The campaign's lease: the third dialer was refused and dialled nothing.
    assert third.returncode != 0 and "another dialer is running this campaign" in third_out, third_out

    attempts = await asyncio.to_thread(_attempts, db_url)
    by_id = {a.attempt_id: a for a in attempts}
    # Nothing lost or half-written: every attempt ended with an outcome and a disposition.
    assert all(a.state == AttemptState.ENDED.value and a.outcome and a.disposition for a in attempts), [
        (a.attempt_id, a.state, a.outcome, a.disposition) for a in attempts
    ]
    # Calls landed on both nodes, each stored with the node whose Asterisk made its channel.
    dialled = [a for a in attempts if a.dialed_at is not None]
    assert {a.node for a in dialled} == {"n1", "n2"}
    assert {a for a in on1.seen if a in by_id} == {a.attempt_id for a in dialled if a.node == "n1"}
    assert {a for a in on2.seen if a in by_id} == {a.attempt_id for a in dialled if a.node == "n2"}
    # No node carried more than its channels, over both dialers; node 1 was filled to its limit.
    ours = set(by_id)
    assert on1.peak(ours) == CHANNELS and on2.peak(ours) <= CHANNELS, (on1.peak(ours), on2.peak(ours))

    # The bot answered on both nodes: node 2's finished call has its conversation stored.
    recorded = await asyncio.to_thread(_recorded, db_url)
    assert {by_id[a].node for a in recorded} == {"n1", "n2"}

    # The calls node 2 had up when it died ended, with a final outcome, after the kill.
    lost = [by_id[a] for a in up_at_kill if a in by_id]
    assert lost, up_at_kill
    for a in lost:
        assert a.node == "n2" and a.outcome in ("answered", "failed"), (a.outcome, a.disposition)
        assert a.ended_at is not None and a.ended_at.replace(tzinfo=dt.UTC) >= killed_at
    # Node 1 carried on: what was dialled after node 2 was known lost went there, and there was some.
    after = [a for a in dialled if a.reserved_at.replace(tzinfo=dt.UTC) > killed_at + dt.timedelta(seconds=1)]
    assert after and {a.node for a in after} == {"n1"}, [(a.node, a.reserved_at) for a in after]

    # The guard's caps across both processes: every account dialled exactly once, by one of the
    # two campaigns, and the other campaign's tries were refused (min_gap).
    engine = create_engine(db_url)
    try:
        decisions = Ledger(engine).decisions()
    finally:
        engine.dispose()
    allowed = Counter(d.account_id for d in decisions if d.allowed)
    accounts = {a.account_id for a in persona_accounts(select_personas(PERSONAS), COPIES)}
    assert dict(allowed) == dict.fromkeys(accounts, 1), allowed
    assert Counter(a.account_id for a in dialled) == Counter(dict.fromkeys(accounts, 1))
    assert {d.campaign_id for d in decisions if d.allowed} == set(campaigns)
    refused = [d for d in decisions if not d.allowed]
    assert refused and all("min_gap" in d.reasons for d in refused), refused
