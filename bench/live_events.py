"""The live board's event path: what a turn costs the call, and how soon a board sees it.

- publish cost: ``LivePublisher.publish`` as the bot calls it on each turn (the call's
  event loop pays this and nothing else), per call, over ``--events`` events published as
  one burst far beyond any call load (yielding every 50): the bounded queue drops the excess
  and counts it rather than grow;
- stream latency: from ``publish`` to a reader blocked in ``XREAD`` (as the console's
  WebSocket is) receiving the event, p50/p95 over ``--samples`` events 20 ms apart.

Needs Redis (DUNCALL_REDIS_URL, default 127.0.0.1:6379); uses a key prefix of its own.

    .venv/bin/python bench/live_events.py [--events 20000] [--samples 200]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
import redis.asyncio as aioredis

from foundation.settings import redis_url
from telephony.live import events
from telephony.live.events import LivePublisher, LiveReader

NOW = dt.datetime.now(dt.UTC)


def _turn(i: int) -> events.LiveEvent:
    return events.turn(
        "bench-call",
        "bench",
        NOW,
        seq=i,
        speaker="debtor",
        text="yes I can pay two hundred on friday",
        intent="promise_to_pay",
        state="promise",
        started_s=i * 3.0,
    )


async def main(n_events: int, samples: int) -> None:
    prefix = f"duncall-bench:{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(redis_url())
    aclient = aioredis.Redis.from_url(redis_url())
    try:
        async with LivePublisher(client, prefix) as publisher:
            costs = []
            for i in range(n_events):
                t0 = time.perf_counter_ns()
                publisher.publish(_turn(i))
                costs.append(time.perf_counter_ns() - t0)
                if i % 50 == 0:
                    await asyncio.sleep(0)  # calls yield to the loop between turns; the drain runs
            await asyncio.sleep(0.5)
            print(
                f"publish: median {statistics.median(costs) / 1000:.2f} µs, "
                f"p99 {sorted(costs)[int(len(costs) * 0.99)] / 1000:.2f} µs per turn over {n_events} "
                f"(dropped {publisher.dropped}, written {publisher.written})"
            )

            reader = LiveReader(aclient, prefix)
            _, last = await reader.recent(60)
            sent: dict[int, float] = {}
            lat: list[float] = []

            async def read() -> None:
                nonlocal last
                while len(lat) < samples:
                    for event_id, event in await reader.after(last, 1000):
                        last = event_id
                        seq = int(event.data["seq"])
                        if seq in sent:
                            lat.append((time.perf_counter() - sent[seq]) * 1000)

            task = asyncio.create_task(read(), name="bench-reader")
            for i in range(samples):
                sent[n_events + i] = time.perf_counter()
                publisher.publish(_turn(n_events + i))
                await asyncio.sleep(0.02)
            await asyncio.wait_for(task, 10)
        lat.sort()
        print(
            f"publish → XREAD reader: p50 {statistics.median(lat):.2f} ms, "
            f"p95 {lat[int(len(lat) * 0.95)]:.2f} ms over {samples} events"
        )
    finally:
        client.delete(events.stream_key(prefix))
        await aclient.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.samples))
