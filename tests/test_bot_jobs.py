"""The bot service's job stream on a real Redis: a job is carried by one worker at most, a job a
dead worker read is carried by another exactly once, a call whose worker died is not run again
but ended by its dialer, and a worker takes no more calls than its slots (``duncall.botservice``).
The records cross as JSON unchanged."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import cast

import pytest
import redis.asyncio as aioredis

from dialer.campaign.feed import CampaignFeed
from dialer.campaign.runner import OnAnswer
from duncall.botservice import jobs as jobs_module
from duncall.botservice.jobs import BotJob, BotJobs
from duncall.botservice.remote import WorkerLost, _record, _taken_by
from duncall.botservice.worker import BotWorker
from foundation.contract import (
    ConversationRecord,
    DialTarget,
    Disposition,
    InstallmentPlanRecord,
    InstalmentRecord,
    Turn,
    Voice,
)
from foundation.wire import record_from_json, record_json, target_from_json, target_json
from telephony.ari import AriClient

TARGET = DialTarget(
    "A-1001",
    "+12125550123",
    "Local/x@duncall-personas",
    "en",
    "early_collection_en",
    stage="early",
    timezone="America/New_York",
    flags=frozenset({"dispute"}),
    voice=Voice.BOT,
    consent=True,
    campaign_id="spring",
)


def _record_with_everything() -> ConversationRecord:
    return ConversationRecord(
        language="en",
        turns=[
            Turn("bot", "Hello, is this James?", 0.2, 1.9, stages_ms={"tts": 12.5}),
            Turn("debtor", "yes", 2.5, 2.9, 0.81, "affirm", 0.97, {"date": None}, 640.0, dtmf="1"),
        ],
        disposition=Disposition.INSTALLMENT_PLAN,
        flags=["dispute"],
        promise={"date": "2026-12-11", "amount": "150.10"},
        barge_ins=[310.0],
        hangup_by="debtor",
        script="early_collection",
        right_party=True,
        recording="call-dc-1",
        script_version=3,
        script_sha256="ab" * 32,
        path=["verify", "disclose", "plan"],
        plan=InstallmentPlanRecord(
            Decimal("300.30"),
            (
                InstalmentRecord(dt.date(2026, 12, 11), Decimal("150.10")),
                InstalmentRecord(dt.date(2027, 1, 11), Decimal("150.20")),
            ),
        ),
        callback_at=dt.date(2026, 12, 9),
        hardship=True,
        actions=["send_payment_link"],
        line="telephone",
    )


@pytest.mark.unit
def test_the_contract_crosses_as_json_unchanged() -> None:
    record = _record_with_everything()
    assert record_from_json(json.loads(json.dumps(record_json(record)))) == record
    assert target_from_json(json.loads(json.dumps(target_json(TARGET)))) == TARGET


@pytest.fixture
async def jobs(redis_url: str, key_prefix: str) -> AsyncIterator[BotJobs]:
    client = aioredis.Redis.from_url(redis_url)
    queue = BotJobs(client, key_prefix)
    await queue.join()
    try:
        yield queue
    finally:
        keys = [k async for k in client.scan_iter(match=f"{key_prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def _job(job_id: str) -> BotJob:
    return BotJob(job_id, f"dc-{job_id}", "http://127.0.0.1:8088", TARGET, "human", "HUMAN", "spring")


class HangupLog:
    """Stands for the dialer's ARI where only the hang-up of a lost call matters."""

    def __init__(self) -> None:
        self.hung_up: list[str] = []

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.hung_up.append(channel_id)


@pytest.mark.redis
async def test_a_job_is_taken_by_one_worker_and_its_record_comes_back(jobs: BotJobs) -> None:
    await jobs.submit(_job("a1"))
    first = await jobs.read("w1", 0.5)
    second = await jobs.read("w2", 0.2)
    assert first is not None and second is None
    assert first.job == _job("a1")
    assert await jobs.take("w1", first) == "taken"
    # Delivered again by any route (a claim, a retry), it is not carried a second time.
    assert await jobs.take("w2", first) == "taken:w1"
    assert await jobs.reclaim("w2") is None
    # The dialer learns who took it and cannot abandon it any more.
    assert await _taken_by(jobs, "a1", 0.5) == "w1"
    assert not await jobs.abandon("a1")
    await jobs.beat("w1", 1)
    record = _record_with_everything()
    await jobs.answer("a1", record)
    assert await _record(jobs, cast(AriClient, HangupLog()), "a1", "dc-a1", "w1") == record


@pytest.mark.redis
async def test_a_job_read_by_a_worker_that_died_is_carried_once_by_another(
    jobs: BotJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs_module, "RECLAIM_IDLE_S", 0.05)
    await jobs.submit(_job("b1"), take_s=5.0)
    read = await jobs.read("dead", 0.5)  # read, then the worker died before taking it
    assert read is not None
    await asyncio.sleep(0.1)
    claims = await asyncio.gather(jobs.reclaim("w1"), jobs.reclaim("w2"))
    claimed = [c for c in claims if c is not None]
    assert len(claimed) == 1 and claimed[0].job == _job("b1")
    answers = await asyncio.gather(jobs.take("w1", claimed[0]), jobs.take("w2", claimed[0]))
    assert sorted(answers) == ["taken", "taken:w1"] or sorted(answers) == ["taken", "taken:w2"]
    assert await jobs.reclaim("w1") is None and await jobs.read("w1", 0.1) is None


@pytest.mark.redis
async def test_a_call_whose_worker_died_is_ended_by_its_dialer_not_run_again(
    jobs: BotJobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs_module, "RECLAIM_IDLE_S", 0.05)
    await jobs.submit(_job("c1"))
    read = await jobs.read("w1", 0.5)
    assert read is not None and await jobs.take("w1", read) == "taken"
    await jobs.beat("w1", 1)
    await jobs.client.delete(jobs.worker_key("w1"))  # its heartbeat expired: w1 is gone
    await asyncio.sleep(0.1)
    # No other worker gets the call.
    assert await jobs.reclaim("w2") is None and await jobs.read("w2", 0.1) is None
    assert await jobs.take("w2", read) == "taken:w1"
    # Its dialer ends the call and says the worker was lost.
    ari = HangupLog()
    with pytest.raises(WorkerLost):
        await _record(jobs, cast(AriClient, ari), "c1", "dc-c1", "w1")
    assert ari.hung_up == ["dc-c1"]


@pytest.mark.redis
async def test_a_job_nobody_took_in_time_is_abandoned_and_never_taken(jobs: BotJobs) -> None:
    await jobs.submit(_job("d1"), take_s=0.2)
    assert await _taken_by(jobs, "d1", 0.2) is None  # no worker: the dialer abandoned it
    late = await jobs.read("w1", 0.5)
    assert late is not None and await jobs.take("w1", late) == "abandoned"
    # Past its deadline and never abandoned (its dialer died): no worker takes it either.
    await jobs.submit(_job("d2"), take_s=0.0)
    await asyncio.sleep(0.01)
    stale = await jobs.read("w1", 0.5)
    assert stale is not None and await jobs.take("w1", stale) == "late"


class HeldCalls(BotWorker):
    """A worker whose calls last until the test lets them end (no Asterisk: the slots are the point)."""

    def __init__(self, name: str, jobs: BotJobs) -> None:
        super().__init__(name, 1, jobs, {}, _no_answerer)
        self.started: asyncio.Queue[str] = asyncio.Queue()
        self.hang_up = asyncio.Event()

    async def _converse(self, job: BotJob) -> ConversationRecord:
        await self.started.put(job.job_id)
        await self.hang_up.wait()
        return ConversationRecord(language="en", disposition=Disposition.CALLBACK)


def _no_answerer(campaign_id: str | None) -> tuple[OnAnswer, CampaignFeed | None]:
    raise AssertionError("HeldCalls never answers through the bot")


@pytest.mark.redis
async def test_a_worker_takes_no_more_calls_than_its_slots(jobs: BotJobs) -> None:
    w1, w2 = HeldCalls("w1", jobs), HeldCalls("w2", jobs)
    serving = [asyncio.create_task(w1.serve(), name="w1")]
    try:
        await jobs.submit(_job("e1"), take_s=10.0)
        await jobs.submit(_job("e2"), take_s=10.0)
        first = await asyncio.wait_for(w1.started.get(), 5)
        await asyncio.sleep(1.5)  # w1 reads again only once its one call ended
        second = "e2" if first == "e1" else "e1"
        assert w1.started.empty() and await jobs.state(second) is None
        assert await jobs.state(first) == "taken:w1" and await jobs.worker_alive("w1")
        serving.append(asyncio.create_task(w2.serve(), name="w2"))
        assert await asyncio.wait_for(w2.started.get(), 5) == second
        w1.hang_up.set()
        w2.hang_up.set()
        for job_id in (first, second):
            reply = await jobs.reply(job_id, 5)
            assert isinstance(reply, ConversationRecord) and reply.disposition is Disposition.CALLBACK
    finally:
        w1.stop.set()
        w2.stop.set()
        await asyncio.wait_for(asyncio.gather(*serving), 10)
    assert not await jobs.worker_alive("w1")  # a worker that stopped says so at once
