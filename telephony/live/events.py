"""Live call events in a Redis Stream: what the supervisor's board shows as it happens.

One stream per deployment (``<live prefix>events``, by default ``duncall:live:events``,
the prefix the live-call registry uses too: ``DUNCALL_LIVE_PREFIX``), trimmed to
about ``STREAM_MAXLEN`` entries, so it stays bounded whatever the traffic; the store
stays the record of every call, the stream only carries what is happening now.

Publishing never waits on Redis: ``LivePublisher.publish`` puts the event into a
bounded queue that one named task drains in batches.  When the queue is full the
event is dropped and counted — a board missing a line is better than a debtor
hearing the bot stall.  Readers resume from the last stream id they saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any

import redis
import redis.asyncio as aioredis

from foundation.errors import ServiceUnavailable
from foundation.log import kv
from foundation.settings import get_settings

log = logging.getLogger(__name__)

PREFIX_ENV = "DUNCALL_LIVE_PREFIX"
DEFAULT_PREFIX = "duncall:live:"
STREAM_MAXLEN = 20_000  # ~ a busy hour of turns; trimmed approximately (cheap) by XADD
PUBLISH_QUEUE = 2_000  # events waiting for Redis; full → drop the new one, count it
DRAIN_BATCH = 200  # events per pipelined write
FLUSH_TIMEOUT_S = 2.0  # on close, how long queued events may take to reach Redis
READ_COUNT = 500  # events per read
MAX_TURNS_PER_CALL = 400  # a view keeps at most this many lines of one call
EVENT_FIELD = b"e"


class EventKind(StrEnum):
    DIALING = "call_dialing"  # the guard allowed it; the originate goes out now
    ANSWERED = "call_answered"  # answered (person or machine); the bot takes it
    TURN = "turn"  # the bot or the debtor said something
    ENDED = "call_ended"  # the attempt is over, with its outcome and disposition
    CONTROL = "campaign_control"  # a campaign was paused, resumed, stopped, or its limits changed


def live_prefix() -> str:
    """The Redis prefix of everything live (``DUNCALL_LIVE_PREFIX``, as the live-call registry reads it)."""
    return get_settings().live_prefix


def stream_key(prefix: str) -> str:
    return f"{prefix}events"


def _iso(at: dt.datetime) -> str:
    return (at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)).isoformat()


@dataclass(frozen=True, slots=True)
class LiveEvent:
    kind: EventKind
    attempt_id: str  # "" for campaign events
    campaign: str | None
    at: dt.datetime
    data: Mapping[str, Any] = field(default_factory=dict)  # the kind's own fields, JSON values

    def encode(self) -> bytes:
        return json.dumps(
            {
                "kind": self.kind.value,
                "attempt_id": self.attempt_id,
                "campaign": self.campaign,
                "at": _iso(self.at),
                "data": dict(self.data),
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> LiveEvent | None:
        """The event, or None for an entry this version does not understand (skipped, not fatal)."""
        try:
            d = json.loads(raw)
            return cls(
                EventKind(d["kind"]),
                str(d.get("attempt_id") or ""),
                d.get("campaign"),
                dt.datetime.fromisoformat(d["at"]),
                d.get("data") or {},
            )
        except (ValueError, KeyError, TypeError):
            return None

    def public(self, event_id: str) -> dict[str, Any]:
        """The wire form the console sends to a page."""
        return {
            "id": event_id,
            "kind": self.kind.value,
            "attempt_id": self.attempt_id,
            "campaign": self.campaign,
            "at": _iso(self.at),
            **self.data,
        }


# --- the events ------------------------------------------------------------------------


def dialing(
    attempt_id: str,
    campaign: str | None,
    at: dt.datetime,
    *,
    account_id: str,
    number: str,
    script: str,
    stage: str | None,
) -> LiveEvent:
    data = {"account_id": account_id, "number": number, "script": script, "stage": stage}
    return LiveEvent(EventKind.DIALING, attempt_id, campaign, at, data)


def answered(attempt_id: str, campaign: str | None, at: dt.datetime, *, answer: str, amd: str) -> LiveEvent:
    return LiveEvent(EventKind.ANSWERED, attempt_id, campaign, at, {"answer": answer, "amd": amd})


def turn(
    attempt_id: str,
    campaign: str | None,
    at: dt.datetime,
    *,
    seq: int,
    speaker: str,
    text: str,
    intent: str | None,
    state: str | None,
    started_s: float,
    interrupted: bool = False,
    dtmf: str | None = None,
) -> LiveEvent:
    data = {
        "seq": seq,
        "speaker": speaker,
        "text": text,
        "intent": intent,
        "state": state,
        "started_s": round(started_s, 2),
        "interrupted": interrupted,
        "dtmf": dtmf,
    }
    return LiveEvent(EventKind.TURN, attempt_id, campaign, at, data)


def ended(
    attempt_id: str, campaign: str | None, at: dt.datetime, *, outcome: str, disposition: str | None
) -> LiveEvent:
    return LiveEvent(
        EventKind.ENDED, attempt_id, campaign, at, {"outcome": outcome, "disposition": disposition}
    )


def control(campaign: str, at: dt.datetime, record: Mapping[str, Any]) -> LiveEvent:
    return LiveEvent(EventKind.CONTROL, "", campaign, at, dict(record))


# --- publishing --------------------------------------------------------------------------


def append(client: redis.Redis, prefix: str, events: list[LiveEvent], maxlen: int = STREAM_MAXLEN) -> None:
    """Write ``events`` to the stream now (blocking; the console's control actions use it)."""
    pipe = client.pipeline(transaction=False)
    for event in events:
        pipe.xadd(stream_key(prefix), {EVENT_FIELD: event.encode()}, maxlen=maxlen, approximate=True)
    try:
        pipe.execute()
    except redis.RedisError as exc:
        raise ServiceUnavailable(
            f"Redis refused the live events ({type(exc).__name__})", "check redis-server; retrying helps"
        ) from None


class LivePublisher:
    """Events from the call loop to the stream without ever making the loop wait.

    ``publish`` must be called on the event loop the publisher was entered on.  Redis
    errors are counted and logged, never raised into a call: the board is a view, the
    store keeps the record.
    """

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        *,
        maxlen: int = STREAM_MAXLEN,
        queue_size: int = PUBLISH_QUEUE,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.maxlen = maxlen
        self._queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0  # queue full
        self.failed = 0  # Redis refused the write
        self.written = 0

    def publish(self, event: LiveEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1

    async def __aenter__(self) -> LivePublisher:
        self._task = asyncio.create_task(self._drain(), name="live-events")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._task is not None
        if not self._task.done():
            with contextlib.suppress(TimeoutError):
                # What the last calls said still reaches the board, within a bound.
                await asyncio.wait_for(self._queue.join(), FLUSH_TIMEOUT_S)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task  # a failure of the drain itself surfaces here, to the owner
        if self.dropped or self.failed:
            log.warning("live events lost", extra=kv(dropped=self.dropped, failed=self.failed))

    async def _drain(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < DRAIN_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await asyncio.to_thread(append, self.client, self.prefix, batch, self.maxlen)
                self.written += len(batch)
            except ServiceUnavailable:
                if not self.failed:
                    log.warning("live events not written: Redis unavailable", extra=kv(events=len(batch)))
                self.failed += len(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()


# --- reading -----------------------------------------------------------------------------


def _id(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _entries(rows: list[Any]) -> list[tuple[str, LiveEvent]]:
    out = []
    for raw_id, fields in rows:
        event = LiveEvent.decode(fields.get(EVENT_FIELD, b""))
        if event is not None:
            out.append((_id(raw_id), event))
    return out


class LiveReader:
    """The console's side: what happened recently, then each event as it comes (XREAD BLOCK)."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.key = stream_key(prefix)

    async def recent(self, window_s: float) -> tuple[list[tuple[str, LiveEvent]], str]:
        """Events of the last ``window_s`` seconds (by Redis's clock) and the id to read on from."""
        now: Any = await self.client.time()
        seconds, micros = now
        since_ms = int(seconds) * 1000 + int(micros) // 1000 - int(window_s * 1000)
        rows: Any = await self.client.xrange(self.key, min=f"{max(since_ms, 0)}-0", max="+")
        entries = _entries(rows)
        last: Any = await self.client.xrevrange(self.key, max="+", min="-", count=1)
        return entries, _id(last[0][0]) if last else "0-0"

    async def first_id(self) -> str | None:
        rows: Any = await self.client.xrange(self.key, min="-", max="+", count=1)
        return _id(rows[0][0]) if rows else None

    async def after(
        self, last_id: str, block_ms: int, count: int = READ_COUNT
    ) -> list[tuple[str, LiveEvent]]:
        """Events after ``last_id``, waiting up to ``block_ms`` for the first one."""
        got: Any = await self.client.xread({self.key: last_id}, count=count, block=max(block_ms, 1))
        return _entries(got[0][1]) if got else []


def id_before(a: str, b: str) -> bool:
    """Stream ids compare as (milliseconds, sequence)."""

    def parts(x: str) -> tuple[int, int]:
        ms, _, seq = x.partition("-")
        return int(ms), int(seq or 0)

    return parts(a) < parts(b)


# --- the board's view: a pure fold of the events ------------------------------------------


@dataclass
class BoardCall:
    attempt_id: str
    campaign: str | None
    dialing_at: dt.datetime | None = None
    account_id: str | None = None
    number: str | None = None
    script: str | None = None
    stage: str | None = None
    answered_at: dt.datetime | None = None
    answer: str | None = None  # human | machine | unsure
    state: str | None = None  # the dialogue state
    turns: list[dict[str, Any]] = field(default_factory=list)  # public event forms, oldest first


@dataclass
class LiveView:
    """Calls in progress as the events describe them; an ended call leaves the view."""

    calls: dict[str, BoardCall] = field(default_factory=dict)
    last_id: str = "0-0"

    def apply(self, event_id: str, event: LiveEvent) -> None:
        """Fold one event in; an event at or before the last one folded is ignored (replays)."""
        if not id_before(self.last_id, event_id):
            return
        self.last_id = event_id
        if event.kind is EventKind.CONTROL or not event.attempt_id:
            return
        if event.kind is EventKind.ENDED:
            self.calls.pop(event.attempt_id, None)
            return
        call = self.calls.setdefault(event.attempt_id, BoardCall(event.attempt_id, event.campaign))
        d = event.data
        if event.kind is EventKind.DIALING:
            call.dialing_at = event.at
            call.account_id = d.get("account_id")
            call.number = d.get("number")
            call.script = d.get("script")
            call.stage = d.get("stage")
        elif event.kind is EventKind.ANSWERED:
            call.answered_at = event.at
            call.answer = d.get("answer")
        elif event.kind is EventKind.TURN:
            call.state = d.get("state") or call.state
            if len(call.turns) < MAX_TURNS_PER_CALL:
                call.turns.append(event.public(event_id))

    def prune(self, keep: set[str]) -> None:
        """Drop calls the store says are over (a dialer killed mid-call published no end)."""
        for attempt_id in [a for a in self.calls if a not in keep]:
            del self.calls[attempt_id]
