"""Faults mid-campaign through the sandbox Asterisk: the campaign runs in this process
(``run_session``, as ``duncall campaign run`` does) against the ``silent`` persona, who
answers and stays on the line until the dialer hangs up.

- one answered call's answerer raises: the others talk to their end, the run finishes;
- Redis (a private redis-server: the shared one is never touched) stops mid-campaign:
  nothing is dialled without a decision, the run holds, resumes when Redis is back, and
  every target ends up dialled exactly once;
- the ARI event WebSocket drops mid-call while the calls' channels end: after the
  reconnect the calls are reconciled against Asterisk's channel list, not left waiting;
- Asterisk itself goes away mid-call and comes back: killed (SIGKILL, no event sent) and
  started again, the client reconnects and ends the calls whose channels are gone; or
  restarted from its CLI (``core restart now``, which hangs up every channel first). Either
  way every call ends, is recorded as answered, and the sandbox answers again afterwards.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine
from test_campaign_support import channel_witness, our_live_channels, read_store

from dialer import call as call_mod
from dialer.call import AnsweredCall
from dialer.campaign.session import CampaignOptions, Summary, run_session
from dialer.campaign.targets import endpoint_map
from dialer.guards.ledger import Ledger
from dialer.store.db import open_engine
from duncall.compose import parts
from duncall.personas import load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from duncall.sandbox import runtime as sandbox_runtime
from foundation import paths, services
from foundation.contract import CallOutcome, ConversationRecord, DialTarget
from foundation.settings import ari_settings
from telephony.ari import AriClient

pytestmark = [pytest.mark.asterisk, pytest.mark.redis, pytest.mark.slow]

RUN_TIMEOUT_S = 120.0

Answer = Callable[[DialTarget, AnsweredCall], Awaitable[ConversationRecord]]


@dataclass
class Sandbox:
    engine: Engine
    db_url: str
    accounts: list[str]
    endpoint_for: dict[str, str]


def _sandbox(tmp_path: Path, copies: int) -> Sandbox:
    db_url = f"sqlite:///{tmp_path / 'faults.db'}"
    engine = open_engine(db_url)
    silent = [p for p in load_personas(paths.personas_dir()) if p.name == "silent"]
    accounts = persona_accounts(silent, copies)
    import_persona_accounts(engine, accounts)
    return Sandbox(
        engine, db_url, [a.account_id for a in accounts], {a.account_id: a.endpoint for a in accounts}
    )


def _ari() -> AriClient:
    # An application of its own: Asterisk sends an app's events to its newest WebSocket only.
    return AriClient(replace(ari_settings(), app=f"test-faults-{uuid.uuid4().hex[:8]}"), reconnect_base_s=1.0)


async def _run(
    ari: AriClient, box: Sandbox, client: redis.Redis, prefix: str, on_answer: Answer, concurrency: int
) -> Summary:
    guard = parts.guard(client, box.engine, parts.guard_rules("sandbox"), prefix)
    options = CampaignOptions(
        f"faults-{uuid.uuid4().hex[:8]}", concurrency=concurrency, calls_per_second=0, use_schedule=False
    )
    return await asyncio.wait_for(
        run_session(
            ari,
            box.engine,
            client,
            guard,
            parts.strategy(),
            endpoint_map(box.endpoint_for),
            on_answer,
            options,
            account_ids=box.accounts,
            prefix=prefix,
            live_prefix=f"{prefix}live:",
        ),
        RUN_TIMEOUT_S,
    )


class Started:
    """The answered calls' channels; ``enough`` is set once ``n`` calls are up."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.channels: list[str] = []
        self.enough = asyncio.Event()

    def add(self, channel_id: str) -> None:
        self.channels.append(channel_id)
        if len(self.channels) >= self.n:
            self.enough.set()


def _talking(ari: AriClient, talk_s: float, started: Started | None = None) -> Answer:
    async def answer(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        if started is not None:
            started.add(call.channel_id)
        await asyncio.sleep(talk_s)
        await ari.hangup(call.channel_id)
        return ConversationRecord(language="en", hangup_by="bot")

    return answer


async def test_one_call_that_raises_leaves_the_others_talking(tmp_path: Path, key_prefix: str) -> None:
    box = _sandbox(tmp_path, copies=3)
    client = services.redis_client()
    broken = box.accounts[1]
    talk = 4.0

    async def on_answer(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        if target.account_id == broken:
            raise RuntimeError("this call's answerer failed")
        return await _talking(ari, talk)(target, call)

    async with channel_witness() as witness, _ari() as ari:
        summary = await _run(ari, box, client, key_prefix, on_answer, concurrency=3)
        left = await our_live_channels(witness.ari, {r.attempt_id for r in summary.results})
    assert not left, f"channels left up: {left}"
    by_account = {r.target.account_id: r for r in summary.results}
    assert set(by_account) == set(box.accounts) and all(r.allowed for r in summary.results)
    failed = by_account[broken].attempt
    assert failed is not None and failed.conversation is None
    for account in box.accounts:
        if account == broken:
            continue
        attempt = by_account[account].attempt
        assert attempt is not None and attempt.conversation is not None, account
        assert attempt.duration_s is not None and attempt.duration_s >= talk  # talked to the end
    store = read_store(box.db_url)
    assert {a.state for a in store.attempts} == {"ended"} and len(store.attempts) == 3
    if failed.outcome is CallOutcome.ANSWERED:
        # A person answered and nothing says who: the guard counts a right-party conversation.
        hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        ledger = {a.attempt_id: a for a in Ledger(box.engine).attempts_since(hour_ago)}
        assert ledger[by_account[broken].attempt_id].conversation


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test's own, persisted (AOF) so a stop and start keeps its data."""

    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        self.dir = tmp / "redis"
        self.dir.mkdir()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe, "redis-server is not installed"
        args = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.RedisError:
                assert time.monotonic() < deadline, "the private redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()  # SIGTERM: redis-server flushes its AOF and exits
        self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:
            server.stop()


async def test_redis_stopped_mid_campaign_holds_then_resumes(
    tmp_path: Path, key_prefix: str, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    box = _sandbox(tmp_path, copies=6)
    client = redis.Redis.from_url(
        private_redis.url,
        socket_connect_timeout=services.REDIS_CONNECT_TIMEOUT_S,
        socket_timeout=services.REDIS_SOCKET_TIMEOUT_S,
    )
    started = Started(2)
    down_s = 4.0
    attempts_at_stop: int | None = None

    async def outage() -> None:
        nonlocal attempts_at_stop
        await started.enough.wait()
        await asyncio.to_thread(private_redis.stop)
        attempts_at_stop = len(read_store(box.db_url).attempts)
        await asyncio.sleep(down_s)
        # Held: no attempt was written (so nothing was dialled) while Redis was away.
        assert len(read_store(box.db_url).attempts) == attempts_at_stop
        await asyncio.to_thread(private_redis.start)

    async with channel_witness() as witness, _ari() as ari:
        stopper = asyncio.create_task(outage())
        summary = await _run(ari, box, client, key_prefix, _talking(ari, 1.5, started), concurrency=2)
        await stopper
        left = await our_live_channels(witness.ari, {r.attempt_id for r in summary.results})
    assert not left
    messages = [r.getMessage() for r in caplog.records]
    assert "campaign held: a service is unavailable" in messages
    assert "campaign resumes: the services are back" in messages
    store = read_store(box.db_url)
    # Every target dialled exactly once, every attempt ended, each under its own allowing decision.
    assert sorted(a.account_id for a in store.attempts) == sorted(box.accounts)
    assert {a.state for a in store.attempts} == {"ended"}
    assert {a.attempt_id for a in store.attempts} <= store.allowed_ids
    assert dict(store.allowed) == dict.fromkeys(box.accounts, 1)
    # Asterisk saw each of this run's attempts once (other runs share the sandbox: theirs are left out).
    ours = {i: n for i, n in witness.attempt_ids().items() if i in store.allowed_ids}
    assert set(ours) == {a.attempt_id for a in store.attempts} and all(n == 1 for n in ours.values())
    assert sorted(r.target.account_id for r in summary.dialled) == sorted(box.accounts)


async def test_calls_whose_channels_end_while_the_websocket_is_down_are_reconciled(
    tmp_path: Path, key_prefix: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(call_mod, "BOT_FINISH_TIMEOUT_S", 1.0)
    box = _sandbox(tmp_path, copies=2)
    client = services.redis_client()
    started = Started(2)

    async def stuck(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        # An answerer waiting for media that will never come: only the call's end stops it.
        started.add(call.channel_id)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async with channel_witness() as witness, _ari() as ari:

        async def drop_and_hang_up() -> float:
            await started.enough.wait()
            assert ari._ws is not None
            await ari._ws.close()  # the events WebSocket drops; reconnecting takes a second or more
            for channel in started.channels:
                await witness.ari.hangup(channel)  # their ChannelDestroyed goes to nobody
            return time.monotonic()

        dropper = asyncio.create_task(drop_and_hang_up())
        summary = await _run(ari, box, client, key_prefix, stuck, concurrency=2)
        dropped_at = await dropper
        ended_after_s = time.monotonic() - dropped_at
    assert ari.reconnects >= 1
    # Their ChannelDestroyed was missed: Asterisk's channel list after the reconnect ended them.
    gone = [r for r in caplog.records if r.getMessage() == "channel gone after an ARI reconnect"]
    assert len(gone) == 2
    assert ended_after_s < 20, "the calls waited instead of being reconciled"
    assert all(r.attempt is not None and r.attempt.outcome is CallOutcome.ANSWERED for r in summary.results)
    store = read_store(box.db_url)
    assert {a.state for a in store.attempts} == {"ended"} and len(store.attempts) == 2


def _kill_and_start_asterisk() -> None:
    """Asterisk dies (SIGKILL: no hangup, no event) and its supervisor starts it again."""
    box = sandbox_runtime.sandbox()
    pid = int(box.pidfile.read_text())
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while sandbox_runtime.ari_ready(0.5):
        assert time.monotonic() < deadline, "Asterisk still answered after SIGKILL"
        time.sleep(0.1)
    time.sleep(2.0)  # down for a while: the client's reconnects fail meanwhile
    sandbox_runtime.start(box)


def _restart_asterisk() -> None:
    """Asterisk restarts itself (``core restart now``): it hangs up every channel first."""
    sandbox_runtime.cli(sandbox_runtime.sandbox(), "core restart now")


@pytest.mark.parametrize("how", ["crash", "restart"])
async def test_an_asterisk_restart_mid_call_ends_and_records_the_calls(
    how: str,
    tmp_path: Path,
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(call_mod, "BOT_FINISH_TIMEOUT_S", 1.0)
    box = _sandbox(tmp_path, copies=2)
    client = services.redis_client()
    started = Started(2)

    async def stuck(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        # Waiting for media that will never come: only the call's end stops it.
        started.add(call.channel_id)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def restart() -> float:
        await started.enough.wait()
        await asyncio.to_thread(_kill_and_start_asterisk if how == "crash" else _restart_asterisk)
        return time.monotonic()

    try:
        async with _ari() as ari:
            restarter = asyncio.create_task(restart())
            summary = await _run(ari, box, client, key_prefix, stuck, concurrency=2)
            restarted_at = await restarter
            ended_after_s = max(0.0, time.monotonic() - restarted_at)
            reconnects = ari.reconnects
    finally:
        # Whatever happened, the next test finds Asterisk answering on ARI again.
        deadline = time.monotonic() + 60
        while not sandbox_runtime.ari_ready(1.0):
            if how == "crash" and not sandbox_runtime.is_running():
                sandbox_runtime.start(sandbox_runtime.sandbox())
            assert time.monotonic() < deadline, "the sandbox Asterisk did not come back after its restart"
            await asyncio.sleep(0.5)
    if how == "crash":
        # No ChannelDestroyed was ever sent. Each call ended on what the client found out for itself:
        # once reconnected, its channel missing from the restarted Asterisk; or, events silent for a
        # while, the node not answering (lost with the call on it) or answering without the channel.
        found = (
            "channel gone after an ARI reconnect",
            "Asterisk node lost with the call on it",
            "channel gone while the ARI events were down",
        )
        gone = [r for r in caplog.records if r.getMessage() in found]
        assert len(gone) == 2, [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        if all(r.getMessage() == found[0] for r in gone):
            assert reconnects >= 1, "the calls were found gone after a reconnect that never happened"
    assert ended_after_s < 30, "the calls waited instead of ending with Asterisk's restart"
    assert len(summary.results) == 2 and all(r.allowed for r in summary.results)
    # Answered before the restart: recorded as answered, on the cautious side for the guard.
    assert all(r.attempt is not None and r.attempt.outcome is CallOutcome.ANSWERED for r in summary.results)
    store = read_store(box.db_url)
    assert {a.state for a in store.attempts} == {"ended"} and len(store.attempts) == 2
    assert {a.attempt_id for a in store.attempts} <= store.allowed_ids
