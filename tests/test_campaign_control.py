"""Campaign control: pause, resume, stop and new limits act on a running campaign.

The first tests drive ``CampaignControl`` (the dialer's side) against real Redis; the last
runs ``duncall campaign run`` over sandbox personas through the real Asterisk and controls
it through the same record the console writes, watching its dials on the live stream.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from test_campaign_support import campaign_cmd, own_ari_app, read_store

from dialer.campaign import control
from dialer.campaign.control import CampaignControl, ControlRefused, RunState
from foundation.errors import InputError
from telephony.live import events
from telephony.live.events import EventKind, LiveEvent

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


async def wait_until(cond: Callable[[], bool], timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "the dialer did not follow the control record"
        await asyncio.sleep(0.01)


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.mark.redis
async def test_pause_holds_new_dials_resume_releases_them_stop_refuses_them(
    client: redis.Redis, key_prefix: str
) -> None:
    async with CampaignControl(client, key_prefix, "c1", concurrency=2, cps=0, poll_s=0.02) as ctl:
        assert control.read_control(client, key_prefix, "c1").dialer_running  # type: ignore[union-attr]
        control.set_state(client, key_prefix, "c1", RunState.PAUSED, "sam", NOW)
        await wait_until(lambda: ctl.state is RunState.PAUSED)
        admitted: list[bool] = []

        async def dial() -> None:
            async with ctl.slot() as ok:
                admitted.append(ok)

        waiting = asyncio.create_task(dial())
        await asyncio.sleep(0.2)
        assert admitted == []  # paused: held, not dialled
        control.set_state(client, key_prefix, "c1", RunState.RUNNING, "sam", NOW)
        await asyncio.wait_for(waiting, 2)
        assert admitted == [True]

        control.set_state(client, key_prefix, "c1", RunState.STOPPED, "sam", NOW)
        await wait_until(lambda: ctl.stopped)
        await dial()
        assert admitted == [True, False]  # stopped: every waiting target comes back undialled
        with pytest.raises(ControlRefused) as refused:
            control.set_state(client, key_prefix, "c1", RunState.RUNNING, "sam", NOW)
        assert not refused.value.missing and "stopped" in refused.value.what
    final = control.read_control(client, key_prefix, "c1")
    assert final is not None and final.state is RunState.FINISHED and not final.dialer_running


@pytest.mark.redis
async def test_new_concurrency_applies_to_the_next_dials(client: redis.Redis, key_prefix: str) -> None:
    async with CampaignControl(client, key_prefix, "c2", concurrency=1, cps=5, poll_s=0.02) as ctl:
        release = asyncio.Event()

        async def call() -> None:
            async with ctl.slot():
                await release.wait()

        calls = [asyncio.create_task(call()) for _ in range(4)]
        await asyncio.sleep(0.2)
        assert ctl.live == 1
        control.set_limits(client, key_prefix, "c2", 3, 7, "sam", NOW)
        await wait_until(lambda: ctl.live == 3)
        assert ctl.cps == 7
        release.set()
        await asyncio.gather(*calls)
        assert ctl.peak == 3


@pytest.mark.redis
def test_changes_are_checked(client: redis.Redis, key_prefix: str) -> None:
    with pytest.raises(ControlRefused) as missing:
        control.set_state(client, key_prefix, "never-run", RunState.PAUSED, "sam", NOW)
    assert missing.value.missing
    control.start_run(client, key_prefix, "c3", 4, 10, NOW)
    with pytest.raises(InputError, match="concurrency 0"):
        control.set_limits(client, key_prefix, "c3", 0, 10, "sam", NOW)
    with pytest.raises(ControlRefused, match="is running: it cannot be resumed"):
        control.set_state(client, key_prefix, "c3", RunState.RUNNING, "sam", NOW)
    paused = control.set_state(client, key_prefix, "c3", RunState.PAUSED, "sam", NOW)
    assert (paused.state, paused.by, paused.concurrency) == (RunState.PAUSED, "sam", 4)
    assert [c.campaign for c in control.list_controls(client, key_prefix)] == ["c3"]


# --- a real run ---------------------------------------------------------------------------

COPIES = 8
RING_S = 3  # each no_answer persona call holds its line this long
RUN_TIMEOUT_S = 90.0


class StreamWatch:
    """The campaign's dials and ends as the live stream carries them."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.key = events.stream_key(prefix)
        self.last = "0-0"
        self.seen: list[tuple[float, LiveEvent]] = []

    def poll(self) -> None:
        got = self.client.xread({self.key: self.last}, block=100, count=500)
        for _, entries in got or []:
            for event_id, fields in entries:
                self.last = event_id.decode()
                event = LiveEvent.decode(fields[events.EVENT_FIELD])
                if event is not None:
                    self.seen.append((time.monotonic(), event))

    def kinds(self, kind: EventKind, after: float = 0.0) -> list[LiveEvent]:
        return [e for t, e in self.seen if e.kind is kind and t >= after]

    def live_now(self) -> int:
        return len(self.kinds(EventKind.DIALING)) - len(self.kinds(EventKind.ENDED))

    def until(self, what: str, cond: Callable[[], bool], timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}; seen {[e.kind.value for _, e in self.seen]}"
                )
            self.poll()


@pytest.mark.asterisk
@pytest.mark.redis
def test_a_running_campaign_is_paused_resumed_given_new_limits_and_stopped(
    tmp_path: Path, key_prefix: str, client: redis.Redis
) -> None:
    db_url = f"sqlite:///{tmp_path / 'campaign.db'}"
    campaign = f"ctl-{uuid.uuid4().hex[:8]}"
    live_prefix = f"{key_prefix}live:"
    args = ("--concurrency", "1", "--cps", "0", "--ring-timeout", str(RING_S), "--ignore-schedule")
    cmd = campaign_cmd(campaign, db_url, key_prefix, ["no_answer"], *args, copies=COPIES)
    env = {**os.environ, **own_ari_app(), "DUNCALL_LIVE_PREFIX": live_prefix}
    watch = StreamWatch(client, live_prefix)
    run = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        watch.until("the first dial", lambda: len(watch.kinds(EventKind.DIALING)) == 1)
        control.set_state(client, live_prefix, campaign, RunState.PAUSED, "sam", NOW)
        paused_at = time.monotonic()
        watch.until("the first call to end", lambda: len(watch.kinds(EventKind.ENDED)) == 1)
        # Paused: the dialer goes on polling but places nothing, well past when it would have.
        deadline = time.monotonic() + RING_S + 1
        while time.monotonic() < deadline:
            watch.poll()
        assert len(watch.kinds(EventKind.DIALING)) == 1
        assert run.poll() is None  # a pause does not end the run

        control.set_limits(client, live_prefix, campaign, 3, 0, "sam", NOW)
        control.set_state(client, live_prefix, campaign, RunState.RUNNING, "sam", NOW)
        resumed_at = time.monotonic()
        watch.until("three dials at once", lambda: watch.live_now() == 3)
        # Nothing was dialled between the pause and the resume; then three at the new limit.
        assert len(watch.kinds(EventKind.DIALING, after=paused_at)) == 3
        assert len(watch.kinds(EventKind.DIALING, after=resumed_at)) == 3

        control.set_state(client, live_prefix, campaign, RunState.STOPPED, "sam", NOW)
        out, err = run.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, out.decode() + err.decode()
    watch.poll()
    store = read_store(db_url)
    dialled = len(watch.kinds(EventKind.DIALING))
    assert dialled == len(store.attempts) == 4  # one, then three at the new limit, then the stop
    assert len(watch.kinds(EventKind.ENDED)) == 4  # the calls in progress at the stop ended normally
    assert f"stopped from the console: {COPIES - 4} targets not dialled" in out.decode()
    final = control.read_control(client, live_prefix, campaign)
    assert final is not None and final.state is RunState.FINISHED
