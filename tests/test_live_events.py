"""The live event stream: bounded on both sides, resumable by id, folded into the board's view."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import redis
import redis.asyncio as aioredis

from telephony.live import events
from telephony.live.events import EventKind, LiveEvent, LivePublisher, LiveReader, LiveView

T = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


def _call(attempt: str = "a1") -> list[LiveEvent]:
    return [
        events.dialing(
            attempt, "spring", T, account_id="A1", number="+12125550123", script="s", stage="early"
        ),
        events.answered(attempt, "spring", T, answer="human", amd="HUMAN"),
        events.turn(
            attempt,
            "spring",
            T,
            seq=0,
            speaker="bot",
            text="Hello Jordan",
            intent=None,
            state="greeting",
            started_s=0.0,
        ),
        events.turn(
            attempt,
            "spring",
            T,
            seq=1,
            speaker="debtor",
            text="yes speaking",
            intent="affirm",
            state="disclosure",
            started_s=2.5,
        ),
    ]


@pytest.mark.unit
def test_the_view_follows_a_call_from_dial_to_end_and_ignores_replays() -> None:
    view = LiveView()
    stream = [(f"{i + 1}-0", e) for i, e in enumerate(_call())]
    for event_id, event in stream:
        view.apply(event_id, event)
    for event_id, event in stream:  # a reconnecting reader replays what it had: no duplicate lines
        view.apply(event_id, event)
    call = view.calls["a1"]
    assert (call.number, call.answer, call.state) == ("+12125550123", "human", "disclosure")
    assert [(t["speaker"], t["text"], t["id"]) for t in call.turns] == [
        ("bot", "Hello Jordan", "3-0"),
        ("debtor", "yes speaking", "4-0"),
    ]
    view.apply("5-0", events.ended("a1", "spring", T, outcome="answered", disposition="refused"))
    assert view.calls == {} and view.last_id == "5-0"


@pytest.mark.unit
def test_events_round_trip_and_unknown_entries_are_skipped() -> None:
    for event in _call():
        assert LiveEvent.decode(event.encode()) == event
    assert LiveEvent.decode(b'{"kind": "from_the_future", "at": "2026-03-02T15:00:00+00:00"}') is None
    assert LiveEvent.decode(b"not json") is None
    assert events.id_before("99-5", "100-0") and not events.id_before("100-0", "100-0")


@pytest.mark.redis
async def test_publishing_never_waits_and_counts_what_it_drops(redis_url: str, key_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    async with LivePublisher(client, key_prefix, queue_size=3) as publisher:
        for i in range(10):  # no await in between: the drain task cannot run, the queue fills
            publisher.publish(events.control("c", T, {"n": i}))
        assert publisher.dropped == 7
    assert publisher.written == 3
    rows = client.xrange(events.stream_key(key_prefix))
    assert [LiveEvent.decode(f[events.EVENT_FIELD]).data["n"] for _, f in rows] == [0, 1, 2]  # type: ignore[union-attr]


@pytest.mark.redis
async def test_the_stream_is_trimmed_and_a_reader_resumes_after_its_last_id(
    redis_url: str, key_prefix: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    async with LivePublisher(client, key_prefix, maxlen=100) as publisher:
        for i in range(1000):
            publisher.publish(events.control("c", T, {"n": i}))
            if i % 100 == 0:
                await asyncio.sleep(0)  # let the drain write in batches, as calls would
    assert publisher.written == 1000 and publisher.dropped == 0
    # Trimming is approximate (whole stream nodes) but bounded.
    assert 100 <= client.xlen(events.stream_key(key_prefix)) < 300

    aclient = aioredis.Redis.from_url(redis_url)
    try:
        reader = LiveReader(aclient, key_prefix)
        recent, last = await reader.recent(window_s=60)
        assert recent[-1][0] == last and recent[-1][1].data["n"] == 999
        resume_from = recent[-3][0]
        again = await reader.after(resume_from, block_ms=10)
        assert [e.data["n"] for _, e in again] == [998, 999]
        assert await reader.after(last, block_ms=10) == []  # nothing new: returns after the wait
        first = await reader.first_id()
        assert first is not None and events.id_before(first, resume_from)

        async def later() -> None:
            await asyncio.sleep(0.1)
            events.append(client, key_prefix, [events.control("c", T, {"n": "late"})])

        writer = asyncio.create_task(later())
        got = await reader.after(last, block_ms=2000)  # XREAD BLOCK wakes on the new entry
        await writer
        assert [e.data["n"] for _, e in got] == ["late"]
        assert got[0][1].kind is EventKind.CONTROL
    finally:
        await aclient.aclose()
