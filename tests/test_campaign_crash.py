"""Killing the dialer with SIGKILL mid-campaign and starting it again: every attempt
ends, nothing is dialled twice or beyond the guard's rules, no channel is left
behind in Asterisk, and the targets the first run never reached are called."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from test_campaign_support import campaign_cmd, channel_witness, our_live_channels, read_store

from dialer.guards.ledger import Ledger
from dialer.store.models import AttemptState, CallAttempt

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]

PERSONAS = ["busy", "no_answer", "voicemail", "hangs_up"]
COPIES = 3  # 12 accounts
CONCURRENCY = 4
# Generous: on a loaded machine starting the dialer alone can take most of a minute.  The
# waits end as soon as their condition holds, so an idle machine does not pay for them.
KILL_WAIT_S = 120.0
RESTART_TIMEOUT_S = 360.0


def _dialing_ids(db_url: str) -> set[str]:
    engine = create_engine(db_url)
    try:
        with Session(engine) as s:
            rows = s.scalars(
                select(CallAttempt.attempt_id).where(CallAttempt.state == AttemptState.DIALING.value)
            )
            return set(rows)
    except Exception:
        return set()
    finally:
        engine.dispose()


async def test_sigkill_mid_campaign_then_restart(tmp_path: Path, key_prefix: str) -> None:
    db_url = f"sqlite:///{tmp_path / 'campaign.db'}"
    campaign = f"crash-{uuid.uuid4().hex[:8]}"
    # no_answer rings for 20 s, so calls are surely up when the dialer dies.
    args = ("--concurrency", str(CONCURRENCY), "--cps", "0", "--ring-timeout", "20")
    cmd = campaign_cmd(campaign, db_url, key_prefix, PERSONAS, *args, copies=COPIES)
    async with channel_witness() as witness:
        first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # noqa: ASYNC220 - Popen only starts it
        try:
            deadline = time.monotonic() + KILL_WAIT_S
            up: list[str] = []
            while time.monotonic() < deadline:
                dialing = await asyncio.to_thread(_dialing_ids, db_url)
                up = await our_live_channels(witness.ari, dialing) if dialing else []
                # Wait for a no_answer call: it stays up long after the kill.
                if (
                    any(i.startswith("P-1012") for i in await asyncio.to_thread(_dialing_accounts, db_url))
                    and up
                ):
                    break
                assert first.poll() is None, first.communicate()[0].decode()
                await asyncio.sleep(0.2)
            assert up, "no call was up before the kill"
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        assert first.returncode == -signal.SIGKILL
        before = read_store(db_url)
        unfinished = {a.attempt_id for a in before.attempts if a.state != AttemptState.ENDED.value}
        # A kill between the guard's allowing decision and the attempt row leaves a decision with
        # no attempt: never dialled, but counted; the restart writes its ended ``failed`` row.
        unrecorded = before.allowed_ids - {a.attempt_id for a in before.attempts}
        orphans = unfinished | unrecorded
        assert unfinished, "the kill left no unfinished attempt to reconcile"
        # Calls of the dead dialer are still up in Asterisk until the restart settles them.
        assert await our_live_channels(witness.ari, orphans)

        # The restart ignores the strategy's retry spacing: only the guard stands between a
        # target already dialled and a redial.
        try:
            second = await asyncio.to_thread(
                subprocess.run, [*cmd, "--ignore-schedule"], capture_output=True, timeout=RESTART_TIMEOUT_S
            )
        except subprocess.TimeoutExpired as exc:
            said = (exc.stdout or b"").decode() + (exc.stderr or b"").decode()
            pytest.fail(
                f"the restarted campaign did not finish in {RESTART_TIMEOUT_S:.0f} s; it said:\n{said}"
            )
        out = second.stdout.decode()
        assert second.returncode == 0, out + second.stderr.decode()
        after = read_store(db_url)
        live = await our_live_channels(witness.ari, {a.attempt_id for a in after.attempts})

    assert f"{len(orphans)} unfinished attempt(s) from an earlier run ended" in out
    assert not live, f"channels left behind: {live}"
    assert all(a.state == AttemptState.ENDED.value for a in after.attempts)
    by_id = {a.attempt_id: a for a in after.attempts}
    # An orphan ends by what its row said of the answer (written when it came): a person →
    # answered, or abandoned when its channel was still up and hung up by the restart — and a
    # conversation for the guard either way; a machine → voicemail (or abandoned); never
    # answered → failed.
    conversations = _conversations(db_url)
    for attempt_id in orphans:
        row = by_id[attempt_id]
        if row.answered_by == "human":
            assert row.outcome in ("answered", "abandoned") and attempt_id in conversations, row.outcome
        elif row.answered_by == "machine":
            assert row.outcome in ("voicemail", "abandoned") and attempt_id not in conversations
        else:
            assert row.outcome in ("failed", "abandoned") and attempt_id not in conversations
    for attempt_id in unrecorded:
        assert by_id[attempt_id].outcome == "failed" and by_id[attempt_id].dialed_at is None
    # Every account dialled exactly once over both runs: the ones the first run reached were
    # denied by the guard on restart (min_gap), the others were called.  A kill between the
    # guard's reservation in Redis and its ledger write leaves a reservation with no decision:
    # the strict side, so that account is denied (min_gap) on restart and is not called at all
    # until the reservation ages out; never more of them than the calls in flight.
    accounts = {f"P-10{n}-{i:04d}" for n in (10, 11, 12, 13) for i in range(COPIES)}
    reserved_unrecorded = accounts - set(after.allowed)
    assert len(reserved_unrecorded) <= CONCURRENCY, reserved_unrecorded
    denials = _denials(db_url)
    for account in reserved_unrecorded:
        assert before.allowed[account] == 0 and "min_gap" in denials[account], (account, denials)
    assert dict(after.allowed) == dict.fromkeys(accounts - reserved_unrecorded, 1)
    assert after.denied["min_gap"] >= len(before.allowed)
    assert {a.account_id for a in after.attempts} == accounts - reserved_unrecorded
    # Asterisk saw each attempt's channel at most once, and only for allowed attempts.
    seen = witness.attempt_ids()
    ours = {i: n for i, n in seen.items() if i in by_id or i in after.allowed_ids}
    assert ours and all(n == 1 for n in ours.values()), ours
    assert set(ours) <= after.allowed_ids
    # A kill that lands between an attempt's durable reservation and its originate leaves an
    # attempt Asterisk never saw: the restart ends it failed and never dials it.
    never_dialled = set(by_id) - set(ours)
    assert never_dialled <= orphans, never_dialled
    assert all(by_id[i].outcome == "failed" for i in never_dialled)


def _denials(db_url: str) -> dict[str, set[str]]:
    """account → every reason the guard denied it for."""
    engine = create_engine(db_url)
    try:
        out: dict[str, set[str]] = {}
        for d in Ledger(engine).decisions():
            if not d.allowed:
                out.setdefault(d.account_id, set()).update(d.reasons)
        return out
    finally:
        engine.dispose()


def _conversations(db_url: str) -> set[str]:
    """The attempts the guard's ledger counts as conversations."""
    engine = create_engine(db_url)
    try:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        return {a.attempt_id for a in Ledger(engine).attempts_since(since) if a.conversation}
    finally:
        engine.dispose()


def _dialing_accounts(db_url: str) -> set[str]:
    engine = create_engine(db_url)
    try:
        with Session(engine) as s:
            rows = s.scalars(
                select(CallAttempt.account_id).where(CallAttempt.state == AttemptState.DIALING.value)
            )
            return set(rows)
    except Exception:
        return set()
    finally:
        engine.dispose()
