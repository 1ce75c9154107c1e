"""After-call work on recorded collector calls (their transcription), with a bounded backlog.

The work is CPU-bound (speech recognition), so one worker runs the jobs one at a time.  A
job is first written to its call's record (``call_records.transcript_due``), then queued in
memory; at most ``AFTER_CALL_WAITING`` wait there.  A job that finds the queue full is not
dropped and holds no task: it stays due in the store, and the worker takes due jobs from the
store, oldest first, whenever its queue runs dry.  So a busy hour costs the dialer a fixed
amount of memory, however many recorded calls pile up, and the jobs are never lost: a dialer
that stops (or dies) before they ran leaves them due, for the campaign's next run.

Each job is cleared from the store once it ran (or failed: its call and recording are stored,
only its transcript is missing, as before).  Only the campaign's own calls are taken from
the store (one dialer holds a campaign's lease), so two dialers never transcribe one call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.agents.recording import AgentRecording
from dialer.store.models import CallAttempt
from dialer.store.models.transcripts import CallRecording
from foundation.log import kv

log = logging.getLogger(__name__)

# A recorded call's after-call step: its recordings and the call's language (transcription).
AfterCall = Callable[[AgentRecording, str], Awaitable[None]]
AFTER_CALL_WAITING = 8  # jobs waiting in memory; beyond this they wait in the store
STORE_RETRY_S = 5.0  # the store could not be read: the worker tries again after this long


@dataclass(frozen=True, slots=True)
class Job:
    recording: AgentRecording
    language: str


def job_data(recording: AgentRecording) -> dict[str, Any]:
    """What the store keeps of a job: enough to run it in another process."""
    return {
        "mixed": recording.mixed,
        "legs": dict(recording.legs),
        "started_s": recording.started_s,
        "agent_id": recording.agent_id,
    }


def job_of(attempt_id: str, data: dict[str, Any], language: str) -> Job:
    recording = AgentRecording(
        attempt_id,
        str(data.get("mixed", "")),
        {str(k): str(v) for k, v in dict(data.get("legs") or {}).items()},
        float(data.get("started_s") or 0.0),
        str(data.get("agent_id") or ""),
    )
    return Job(recording, language)


def mark_due(engine: Engine, recording: AgentRecording) -> bool:
    """Write the job on its call's record; False when the call has no record to keep it on."""
    with Session(engine) as s, s.begin():
        row = s.get(CallRecording, recording.attempt_id)
        if row is None:
            return False
        row.transcript_due = job_data(recording)
        return True


def clear_due(engine: Engine, attempt_id: str) -> None:
    with Session(engine) as s, s.begin():
        row = s.get(CallRecording, attempt_id)
        if row is not None:
            row.transcript_due = None


def due_jobs(engine: Engine, campaign_id: str | None, limit: int, skip: Iterable[str] = ()) -> list[Job]:
    """The oldest due jobs of the campaign's calls (``campaign_id`` None: calls of no campaign)."""
    r, a = CallRecording, CallAttempt
    campaign = a.campaign_id.is_(None) if campaign_id is None else a.campaign_id == campaign_id
    query = (
        select(r.attempt_id, r.transcript_due, r.language)
        .join(a, a.attempt_id == r.attempt_id)
        .where(r.transcript_due.is_not(None), campaign)
        .order_by(r.recorded_at, r.attempt_id)
    )
    skipped = set(skip)
    if skipped:
        query = query.where(r.attempt_id.not_in(skipped))
    with Session(engine) as s:
        rows = s.execute(query.limit(limit)).all()
    return [job_of(attempt_id, data, language) for attempt_id, data, language in rows if data]


class AfterCallQueue:
    """One worker over a bounded queue of after-call jobs, backed by the store.

    ``async with`` starts the worker (which first takes what an earlier run left due) and, on
    a clean exit, waits until every due job of the campaign has run; on an error it stops the
    worker and the jobs left stay due."""

    def __init__(
        self,
        run: AfterCall,
        engine: Engine,
        *,
        campaign_id: str | None,
        waiting: int = AFTER_CALL_WAITING,
    ) -> None:
        if waiting < 1:
            raise ValueError("at least one job must be able to wait")
        self.run = run
        self.engine = engine
        self.campaign_id = campaign_id
        self.kept = 0  # jobs that found the queue full and waited in the store
        self.ran = 0
        self._queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=waiting)
        self._pending: set[str] = set()  # queued or running: not to be taken from the store again
        self._in_store = True  # due jobs may wait in the store (an earlier run's, or overflow)
        self._wake = asyncio.Event()
        self._closing = False
        self._worker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AfterCallQueue:
        self._worker = asyncio.create_task(self._work(), name=f"after-call-worker:{self.campaign_id}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        if exc_type is not None:
            worker.cancel()  # what did not run stays due in the store
            await asyncio.gather(worker, return_exceptions=True)
            return
        self._closing = True
        self._wake.set()
        await worker  # its failure reaches the campaign

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    async def submit(self, recording: AgentRecording, language: str) -> None:
        """Keep the job in the store, then queue it; a full queue leaves it there for later."""
        attempt_id = recording.attempt_id
        self._pending.add(attempt_id)
        try:
            stored = await asyncio.to_thread(mark_due, self.engine, recording)
        except Exception as exc:
            stored = False
            log.warning(
                "after-call job not kept in the store",
                extra=kv(attempt_id=attempt_id, error=type(exc).__name__),
            )
        try:
            self._queue.put_nowait(Job(recording, language))
        except asyncio.QueueFull:
            self._pending.discard(attempt_id)
            if stored:
                self.kept += 1
                self._in_store = True
                log.info("after-call queue full; the job waits in the store", extra=kv(attempt_id=attempt_id))
            else:
                # No record to keep it on: the call was not stored with a conversation, so its
                # transcript would have nowhere to go either.
                log.warning("after-call job dropped: its call has no record", extra=kv(attempt_id=attempt_id))
        self._wake.set()

    async def _work(self) -> None:
        while True:
            if self._queue.empty() and self._in_store:
                await self._refill()
            if self._queue.empty():
                if self._closing and not self._in_store:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._run(self._queue.get_nowait())

    async def _refill(self) -> None:
        self._in_store = False
        room = self._queue.maxsize - self._queue.qsize()
        try:
            jobs = await asyncio.to_thread(
                due_jobs, self.engine, self.campaign_id, room, frozenset(self._pending)
            )
        except Exception as exc:
            log.warning("due after-call jobs not read; trying again", extra=kv(error=type(exc).__name__))
            self._in_store = True
            if self._closing:
                self._in_store = False  # they stay due for the campaign's next run
                return
            await asyncio.sleep(STORE_RETRY_S)
            return
        if len(jobs) >= room:
            self._in_store = True  # there may be more
        for job in jobs:
            if job.recording.attempt_id in self._pending:
                continue  # submitted while the store was read
            try:
                self._queue.put_nowait(job)
            except asyncio.QueueFull:
                self._in_store = True  # submitted meanwhile; the rest wait in the store
                return
            self._pending.add(job.recording.attempt_id)

    async def _run(self, job: Job) -> None:
        attempt_id = job.recording.attempt_id
        try:
            await self.run(job.recording, job.language)
            self.ran += 1
        except Exception:
            # The call and its recording are stored; only its transcript is missing.
            log.exception("after-call step failed", extra=kv(attempt_id=attempt_id))
        finally:
            self._pending.discard(attempt_id)
        try:
            await asyncio.to_thread(clear_due, self.engine, attempt_id)
        except Exception as exc:
            # Left due: it runs again at the campaign's next start (a transcript written twice
            # is the cost, not a lost one).
            log.warning(
                "after-call job not cleared", extra=kv(attempt_id=attempt_id, error=type(exc).__name__)
            )
