"""The after-call queue (a recorded collector call's transcription): one job at a time, a bounded
backlog in memory, every job kept in the store until it ran — overflow waits there, and a dialer
that stops leaves its jobs for the campaign's next run, never to another campaign's."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.agents.after_call import AfterCallQueue
from dialer.agents.campaign import AgentCampaignOptions, run_agent_campaign
from dialer.agents.pool import AgentPool, AgentSpec
from dialer.agents.recording import AgentRecording
from dialer.pacing import PacingMode
from dialer.store.db import open_engine
from dialer.store.models import Account, AttemptState, CallAttempt, Campaign
from dialer.store.models.transcripts import CallRecording

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = open_engine(f"sqlite:///{tmp_path / 'after_call.db'}")
    with Session(engine) as s, s.begin():
        s.add(
            Account(
                account_id="A-1",
                first_name="F",
                last_name="L",
                timezone="America/New_York",
                language="en",
                balance=Decimal("10.00"),
                currency="USD",
            )
        )
        for campaign_id in ("c1", "c2"):
            s.add(Campaign(campaign_id=campaign_id, name=campaign_id, strategy="", created_at=NOW))
    return engine


def _recorded_call(engine: Engine, n: int, campaign_id: str = "c1") -> AgentRecording:
    """A recorded collector call whose attempt is stored, as the dial pipeline leaves it."""
    attempt_id = f"{campaign_id}-call-{n}"
    with Session(engine) as s, s.begin():
        s.add(
            CallAttempt(
                attempt_id=attempt_id,
                account_id="A-1",
                campaign_id=campaign_id,
                number="+12125550100",
                state=AttemptState.ENDED.value,
                reserved_at=NOW,
                outcome="answered",
            )
        )
        s.flush()
        s.add(
            CallRecording(
                attempt_id=attempt_id,
                language="en",
                hangup_by="debtor",
                disposition="transferred",
                audio_path=f"call-dc-{attempt_id}",
                recorded_at=NOW + dt.timedelta(seconds=n),
            )
        )
    legs = {"debtor": f"call-dc-{attempt_id}-debtor", "agent": f"call-dc-{attempt_id}-agent"}
    return AgentRecording(attempt_id, f"call-dc-{attempt_id}", legs, started_s=4.5, agent_id="agent1")


def _due(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return list(
            s.scalars(
                select(CallRecording.attempt_id)
                .where(CallRecording.transcript_due.is_not(None))
                .order_by(CallRecording.attempt_id)
            )
        )


class Transcriber:
    """Stands in for the recognizer (not what is tested here): notes each job, held on demand."""

    def __init__(self) -> None:
        self.ran: list[AgentRecording] = []
        self.started = asyncio.Event()
        self.go = asyncio.Event()

    async def __call__(self, recording: AgentRecording, language: str) -> None:
        self.started.set()
        await self.go.wait()
        self.ran.append(recording)


async def test_a_full_queue_keeps_the_job_in_the_store_and_every_job_runs_once(engine: Engine) -> None:
    transcribe = Transcriber()
    calls = [_recorded_call(engine, n) for n in range(6)]
    async with AfterCallQueue(transcribe, engine, campaign_id="c1", waiting=2) as queue:
        await queue.submit(calls[0], "en")
        await asyncio.wait_for(transcribe.started.wait(), 5)  # the first one runs, held
        for call in calls[1:]:
            await queue.submit(call, "en")
        # Two wait in memory, three in the store only; none is dropped.
        assert (queue.waiting, queue.kept) == (2, 3)
        assert _due(engine) == sorted(c.attempt_id for c in calls)
        transcribe.go.set()
    # The campaign returns once every job ran: each once, the stored ones too, oldest first.
    assert [r.attempt_id for r in transcribe.ran] == [c.attempt_id for c in calls]
    assert transcribe.ran[3] == calls[3]  # a job from the store runs as it was submitted
    assert queue.ran == 6 and _due(engine) == []


async def test_jobs_a_stopped_dialer_left_run_on_the_campaigns_next_start_only(engine: Engine) -> None:
    transcribe = Transcriber()
    calls = [_recorded_call(engine, n) for n in range(3)]
    other = _recorded_call(engine, 9, campaign_id="c2")
    with pytest.raises(RuntimeError):
        async with AfterCallQueue(transcribe, engine, campaign_id="c1", waiting=1) as queue:
            for call in calls:
                await queue.submit(call, "en")
            await AfterCallQueue(Transcriber(), engine, campaign_id="c2").submit(other, "en")
            raise RuntimeError("the dialer stops before any transcription ran")
    assert transcribe.ran == [] and _due(engine) == sorted([*(c.attempt_id for c in calls), other.attempt_id])
    again = Transcriber()
    again.go.set()
    async with AfterCallQueue(again, engine, campaign_id="c1", waiting=1):
        pass  # nothing new: the next run takes what the last one left
    assert [r.attempt_id for r in again.ran] == [c.attempt_id for c in calls]
    assert _due(engine) == [other.attempt_id]  # another campaign's job waits for that campaign


async def test_a_failing_job_is_logged_and_cleared_and_the_next_one_runs(engine: Engine) -> None:
    calls = [_recorded_call(engine, n) for n in range(2)]
    ran: list[str] = []

    async def transcribe(recording: AgentRecording, language: str) -> None:
        if recording.attempt_id == calls[0].attempt_id:
            raise RuntimeError("the recognizer failed")
        ran.append(recording.attempt_id)

    async with AfterCallQueue(transcribe, engine, campaign_id="c1") as queue:
        for call in calls:
            await queue.submit(call, "en")
    assert ran == [calls[1].attempt_id] and _due(engine) == []


async def test_an_agent_campaign_runs_what_its_last_run_left_before_it_returns(engine: Engine) -> None:
    left = _recorded_call(engine, 0)
    with pytest.raises(RuntimeError):
        async with AfterCallQueue(Transcriber(), engine, campaign_id="c1") as queue:
            await queue.submit(left, "en")
            raise RuntimeError("the dialer stops")
    transcribe = Transcriber()
    transcribe.go.set()
    await run_agent_campaign(
        None,  # type: ignore[arg-type]  # no targets: nothing is dialled
        engine,
        [],
        None,  # type: ignore[arg-type]
        AgentPool([AgentSpec("a1", "PJSIP/a1")], now_s=0.0),
        AgentCampaignOptions(PacingMode.PROGRESSIVE),
        campaign_id="c1",
        after_call=transcribe,
    )
    assert transcribe.ran == [left] and _due(engine) == []
