"""Hundreds of persona calls through the real Asterisk, every dial through the guards."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from pathlib import Path

import pytest
from test_campaign_support import campaign_cmd, channel_witness, our_live_channels, read_store

from dialer.store.models import AttemptState

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]

# Short personas only: the answered ones are hung up at once (2 cores; a Local channel
# playing audio costs Asterisk ~4.5 % of a core).
PERSONAS = ["busy", "no_answer", "voicemail", "hangs_up"]
COPIES = 50  # 200 accounts
RUN_TIMEOUT_S = 150.0


async def test_two_hundred_persona_calls_through_the_guards(tmp_path: Path, key_prefix: str) -> None:
    db_url = f"sqlite:///{tmp_path / 'campaign.db'}"
    campaign = f"load-{uuid.uuid4().hex[:8]}"
    args = ("--concurrency", "20", "--cps", "10", "--ring-timeout", "4", "--ignore-schedule")
    cmd = campaign_cmd(campaign, db_url, key_prefix, PERSONAS, *args, copies=COPIES)
    async with channel_witness() as witness:
        first = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, timeout=RUN_TIMEOUT_S)
        assert first.returncode == 0, first.stdout.decode() + first.stderr.decode()
        after_first = read_store(db_url)
        # The same campaign again at once: every dial is a redial within min_gap.
        second = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, timeout=RUN_TIMEOUT_S)
        assert second.returncode == 0, second.stdout.decode() + second.stderr.decode()
        after = read_store(db_url)
        live = await our_live_channels(witness.ari, {a.attempt_id for a in after.attempts})

    accounts = {f"P-10{n}-{i:04d}" for n in (10, 11, 12, 13) for i in range(COPIES)}
    assert len(after_first.attempts) == len(accounts)
    assert {a.account_id for a in after_first.attempts} == accounts
    outcomes = {a.outcome for a in after.attempts}
    assert outcomes == {"busy", "no_answer", "voicemail", "answered"}, outcomes
    # Every attempt was allowed by a ledger decision; every attempt ended; none left up.
    assert {a.attempt_id for a in after.attempts} <= after.allowed_ids
    assert all(a.state == AttemptState.ENDED.value and a.ended_at for a in after.attempts)
    assert not live
    # The second run dialled nothing: the guard denied each account by min_gap.
    assert len(after.attempts) == len(accounts)
    assert dict(after.allowed) == dict.fromkeys(accounts, 1)
    assert after.denied["min_gap"] == len(accounts)
    # Asterisk created exactly one channel per allowed attempt, none for the denied dials.
    seen = {i: n for i, n in witness.attempt_ids().items() if i in after.allowed_ids}
    assert set(seen) == {a.attempt_id for a in after.attempts}
    assert all(n == 1 for n in seen.values())
    assert "denied by the guard 200: min_gap 200" in second.stdout.decode()
