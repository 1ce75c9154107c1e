"""Dispatch rules: bounded queues, what happens when full, the watchdog, backoff."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from telephony.ari.client import backoff_delay
from telephony.ari.errors import EventsLost
from telephony.ari.events import ChannelDestroyed, ChannelStateChange, StasisStart
from telephony.ari.models import Channel
from telephony.ari.subscriptions import SLOW_CONSUMER_S, OnFull, Subscription

pytestmark = pytest.mark.unit


def _state(channel_id: str, state: str = "Up") -> ChannelStateChange:
    return ChannelStateChange(channel=Channel(channel_id, f"Local/{channel_id}", state))


async def test_events_arrive_in_order_and_the_stream_ends() -> None:
    sub = Subscription("t", None, maxsize=10, on_full=OnFull.RAISE)
    for state in ("Ring", "Up"):
        sub.offer(_state("a", state))
    sub.end()
    got = [e async for e in sub]
    assert [e.channel.state for e in got if isinstance(e, ChannelStateChange)] == ["Ring", "Up"]
    assert await sub.get() is None  # stays ended


async def test_observer_drops_newest_when_full_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    sub = Subscription("observer", None, maxsize=3, on_full=OnFull.DROP)
    with caplog.at_level(logging.WARNING, logger="telephony.ari"):
        for i in range(5):
            sub.offer(_state(f"c{i}"))
    assert sub.dropped == 2 and sub.qsize() == 3
    assert [(await sub.get(0.1)).channel.id for _ in range(3)] == ["c0", "c1", "c2"]  # type: ignore[union-attr]
    assert sum("dropping" in r.message for r in caplog.records) == 1  # rate-limited


async def test_call_subscription_overflow_raises_after_the_queued_events() -> None:
    sub = Subscription("channel:x", None, maxsize=2, on_full=OnFull.RAISE)
    for state in ("Ring", "Up", "Down"):
        sub.offer(_state("x", state))
    assert (await sub.get(0.1)) is not None
    assert (await sub.get(0.1)) is not None
    with pytest.raises(EventsLost, match="overflowed at 2 events"):
        await sub.get(0.1)
    sub.offer(_state("x"))  # nothing more is accepted after the loss
    with pytest.raises(EventsLost):
        await sub.get(0.1)


async def test_predicate_and_ends_with() -> None:
    destroyed = ChannelDestroyed(channel=Channel("a", "L", "Up"), cause=16, cause_txt="Normal Clearing")
    sub = Subscription(
        "channel:a",
        lambda e: isinstance(e, ChannelStateChange | ChannelDestroyed),
        maxsize=10,
        on_full=OnFull.RAISE,
        ends_with=lambda e: e is destroyed,
    )
    start = StasisStart(channel=Channel("a", "L", "Up"))
    for event in (start, _state("a"), destroyed, _state("a", "Down")):
        if sub.wants(event):
            sub.offer(event)
    assert [type(e).__name__ async for e in sub] == ["ChannelStateChange", "ChannelDestroyed"]


async def test_get_times_out() -> None:
    sub = Subscription("t", None, maxsize=1, on_full=OnFull.DROP)
    with pytest.raises(TimeoutError):
        await sub.get(0.05)


async def test_a_slow_consumer_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    sub = Subscription("channel:slow", None, maxsize=5, on_full=OnFull.RAISE)
    sub.offer(_state("slow"))
    await asyncio.sleep(SLOW_CONSUMER_S + 0.1)
    assert sub.stalled_for(time.monotonic()) > SLOW_CONSUMER_S
    with caplog.at_level(logging.WARNING, logger="telephony.ari"):
        await sub.get(0.1)
    record = next(r for r in caplog.records if r.message == "slow event consumer")
    assert record.fields["subscription"] == "channel:slow"  # type: ignore[attr-defined]


def test_unbounded_queues_are_refused() -> None:
    with pytest.raises(ValueError, match="bounded"):
        Subscription("t", None, maxsize=0, on_full=OnFull.DROP)


def test_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    lows = [backoff_delay(n, base_s=0.25, cap_s=8.0, rand=0.0) for n in range(1, 10)]
    highs = [backoff_delay(n, base_s=0.25, cap_s=8.0, rand=1.0) for n in range(1, 10)]
    assert highs[:6] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
    assert highs[6:] == [8.0, 8.0, 8.0]  # capped
    assert lows == [h / 2 for h in highs]  # jitter spans the upper half of each step
    assert all(0.125 <= backoff_delay(1, base_s=0.25) <= 0.25 for _ in range(100))
