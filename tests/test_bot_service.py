"""The bot as a service of its own, on the sandbox: one dialer, two ``duncall bot serve`` workers.

The dialer runs a persona campaign with ``DUNCALL_BOT=remote`` (it loads no speech model); each
worker carries one call at a time, and the campaign places two calls at once, so each worker
must take one.  Each call is moved into its worker's Stasis app, talked on through the worker's
chan_websocket channel, and its record comes back to the dialer, which stores the attempt.

Beside it, a dialer on a Redis prefix no worker reads: its answered call is abandoned after the
take window (the abandon message plays), stored ``abandoned``.  Then one more call, whose worker
is killed (SIGKILL) once it took it: the other worker does not get it, and its dialer ends it
and stores it answered without a conversation (``incomplete``), never left open.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from test_campaign_support import DUNCALL, campaign_cmd

from dialer.store.db import open_engine
from dialer.store.models import AttemptState, CallAttempt
from dialer.store.models.transcripts import CallRecording
from duncall.compose.campaign import select_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]

# Two short calls that end differently: a machine (AMD's verdict crosses to the worker, which
# leaves the voicemail) and a person who hangs up mid-call.
PERSONAS = ("voicemail", "hangs_up")
ABANDONED_PERSONA = "third_party"
LOST_PERSONA = "silent"  # a long call (the bot asks again and again): its worker is killed on it
LOST_WAIT_S = 120.0
WORKER_UP_S = 180.0  # the engines load before a worker reads a job (a loaded machine is slow)
CAMPAIGN_S = 240.0


def _env(prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "DUNCALL_BOT": "remote",
        "DUNCALL_LIVE_PREFIX": prefix,
        "DUNCALL_TTS_EN": "espeak",  # the voice is not what this test is about; espeak loads at once
        "DUNCALL_ASR_WORKERS": "0",  # decoding in the worker's process: its CPU is the bot's
        # Asterisk sends an application's events to its newest WebSocket only: one app per process.
        "DUNCALL_ARI_APP": f"test-bots-{uuid.uuid4().hex[:8]}",
    }


def _attempts(db_url: str) -> list[CallAttempt]:
    engine = create_engine(db_url)
    try:
        with Session(engine) as s:
            rows = list(s.scalars(select(CallAttempt)))
            s.expunge_all()
            return rows
    finally:
        engine.dispose()


def by_id(attempts: list[CallAttempt]) -> set[str]:
    return {a.attempt_id for a in attempts}


def _taker(live: str, known: set[str], timeout_s: float) -> str:
    """The worker that took the next call (not one of ``known``), as the job's key says."""
    client = redis.Redis.from_url(os.environ.get("DUNCALL_REDIS_URL", "redis://127.0.0.1:6379/0"))
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for key in client.scan_iter(match=f"{live}bot:job:*"):
                job_id = key.decode().rsplit(":", 1)[1]
                raw = client.get(key)
                state = raw.decode() if isinstance(raw, bytes) else str(raw or "")
                if job_id not in known and state.startswith("taken:"):
                    return state.removeprefix("taken:")
            time.sleep(0.1)
    finally:
        client.close()
    raise AssertionError("no worker took the call")


def _recorded(db_url: str) -> dict[str, str]:
    engine = create_engine(db_url)
    try:
        with Session(engine) as s:
            return {r.attempt_id: r.disposition for r in s.scalars(select(CallRecording))}
    finally:
        engine.dispose()


async def _wait_for_line(path: Path, needle: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while needle not in (text := await asyncio.to_thread(path.read_text, errors="replace")):
        assert proc.poll() is None, text
        assert time.monotonic() < deadline, text
        await asyncio.sleep(0.2)


async def test_two_bot_workers_carry_one_dialers_calls(tmp_path: Path, key_prefix: str) -> None:
    db_url = f"sqlite:///{tmp_path / 'bots.db'}"
    # Schema and accounts first: the workers and the dialer would otherwise upgrade one file at once.
    engine = open_engine(db_url)
    import_persona_accounts(engine, persona_accounts(select_personas((*PERSONAS, LOST_PERSONA)), 1))
    engine.dispose()
    live = f"{key_prefix}live:"
    logs = {name: tmp_path / f"{name}.log" for name in ("w1", "w2")}
    workers = {
        name: subprocess.Popen(  # noqa: ASYNC220 - Popen only starts it
            [DUNCALL, "bot", "serve", "--calls", "1", "--name", name, "--db", db_url],
            env={**_env(live), "DUNCALL_LOG_LEVEL": "INFO"},
            stdout=path.open("wb"),
            stderr=subprocess.STDOUT,
        )
        for name, path in logs.items()
    }
    args = ("--concurrency", "2", "--cps", "0", "--ring-timeout", "10")
    campaign = f"bots-{uuid.uuid4().hex[:6]}"
    alone = f"bots-alone-{uuid.uuid4().hex[:6]}"
    alone_db = f"sqlite:///{tmp_path / 'alone.db'}"
    try:
        # No worker reads this prefix: its one call is abandoned. It runs while the workers load.
        abandoning = await asyncio.create_subprocess_exec(
            # Its own guard counters too: its abandoned call must not count in the other campaign's rate.
            *campaign_cmd(alone, alone_db, f"{key_prefix}alone-guard:", [ABANDONED_PERSONA], *args),
            "--answer",
            "bot",
            env=_env(f"{key_prefix}alone:"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for name, proc in workers.items():
            await _wait_for_line(logs[name], f"bot worker {name}: up to 1 calls", proc, WORKER_UP_S)
        dialer = await asyncio.create_subprocess_exec(
            *campaign_cmd(campaign, db_url, key_prefix, list(PERSONAS), *args),
            "--answer",
            "bot",
            env=_env(live),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        said = (await asyncio.wait_for(dialer.communicate(), CAMPAIGN_S))[0].decode()
        assert dialer.returncode == 0, said
        alone_said = (await asyncio.wait_for(abandoning.communicate(), CAMPAIGN_S))[0].decode()
        assert abandoning.returncode == 0, alone_said
        # Record both workers' CPU for their one call before one of them is killed.
        first = await asyncio.to_thread(_attempts, db_url)
        losing = await asyncio.create_subprocess_exec(
            *campaign_cmd(f"bots-lost-{uuid.uuid4().hex[:6]}", db_url, key_prefix, [LOST_PERSONA], *args),
            "--answer",
            "bot",
            env=_env(live),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        killed = await asyncio.to_thread(_taker, live, {a.attempt_id for a in first}, LOST_WAIT_S)
        workers[killed].kill()  # mid-call: nothing ended, nothing returned
        lost_said = (await asyncio.wait_for(losing.communicate(), CAMPAIGN_S))[0].decode()
        assert losing.returncode == 0, lost_said
        for name, proc in workers.items():
            if name != killed:
                proc.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(proc.wait, 60) == 0, logs[name].read_text()
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                proc.kill()
    worker_said = {name: path.read_text(errors="replace") for name, path in logs.items()}

    attempts = [
        a for a in await asyncio.to_thread(_attempts, db_url) if a.attempt_id in {f.attempt_id for f in first}
    ]
    by_account = {a.account_id: a for a in attempts}
    expected = {p.account.account_id: p.expect for p in select_personas(PERSONAS)}
    assert set(by_account) == set(expected), (said, worker_said)
    recorded = await asyncio.to_thread(_recorded, db_url)
    for account_id, expect in expected.items():
        a = by_account[account_id]
        assert a.state == AttemptState.ENDED.value and a.outcome == expect.outcome, (a.outcome, said)
        assert a.disposition == expect.disposition, (a.disposition, said, worker_said)
        assert recorded.get(a.attempt_id) == expect.disposition, (recorded, worker_said)
    # Each worker carried one of the two calls that were up at once.
    client = redis.Redis.from_url(os.environ.get("DUNCALL_REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        takers = {a.attempt_id: client.get(f"{live}bot:job:{a.attempt_id}") for a in first}
        taken = sorted(v.decode() if isinstance(v, bytes) else str(v) for v in takers.values() if v)
        assert taken == ["taken:w1", "taken:w2"], takers
        keys = list(client.scan_iter(match=f"{key_prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
    survivor = next(name for name in workers if name != killed)
    match = re.search(r"stopped: (\d+) calls carried, 0 failed, ([\d.]+) s CPU", worker_said[survivor])
    assert match and match.group(1) == "1", worker_said[survivor]  # it never got the lost call
    print(f"{survivor}: {match.group(0)}")  # the worker's CPU for its call (bench/RESULTS.md)

    # The call whose worker died: ended by its dialer, stored answered without a conversation.
    [lost] = [a for a in await asyncio.to_thread(_attempts, db_url) if a.attempt_id not in by_id(first)]
    assert lost.state == AttemptState.ENDED.value, lost_said
    assert (lost.outcome, lost.disposition) == ("answered", "incomplete"), lost_said
    assert lost.attempt_id not in recorded

    # The call no worker took: the abandon message, then stored as an abandoned call.
    [abandoned] = await asyncio.to_thread(_attempts, alone_db)
    assert (abandoned.outcome, abandoned.disposition) == ("abandoned", "abandoned"), alone_said
