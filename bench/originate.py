"""Sustained originates per second to the sandbox Asterisk (target ≥ 10/s).

Each call originates ``Local/busy@duncall-test`` (Busy at once) into a Stasis app,
waits for its ChannelDestroyed, and the next one starts; ``--concurrency`` loops
run side by side for ``--seconds``.  Reports originates/s (REST accepted) and
completed calls/s (ChannelDestroyed seen), with the originate round-trip p50/p95.
Needs the sandbox up (`duncall asterisk up`).

    .venv/bin/python bench/originate.py [--seconds 10] [--concurrency 8] [--endpoint Local/busy@duncall-test]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foundation.contract import ChannelPrefix
from foundation.settings import ari_settings
from telephony.ari import AriClient, ChannelDestroyed

DESTROY_TIMEOUT_S = 10.0


async def bench(seconds: float, concurrency: int, endpoint: str) -> None:
    ari = AriClient(replace(ari_settings(), app=f"bench-originate-{uuid.uuid4().hex[:6]}"))
    await ari.connect()
    rtt_ms: list[float] = []
    completed = 0
    lost = 0
    stop_at = time.monotonic() + seconds

    async def loop() -> None:
        nonlocal completed, lost
        while time.monotonic() < stop_at:
            channel_id = ChannelPrefix.DEBTOR.of(f"bench-{uuid.uuid4().hex}")
            with ari.channel_events(channel_id) as events:
                t0 = time.perf_counter()
                await ari.originate(endpoint, app=ari.app, channel_id=channel_id, timeout_s=5)
                rtt_ms.append((time.perf_counter() - t0) * 1000)
                deadline = time.monotonic() + DESTROY_TIMEOUT_S
                while True:
                    left = deadline - time.monotonic()
                    event = await events.get(timeout=left) if left > 0 else None
                    if event is None:
                        lost += 1
                        break
                    if isinstance(event, ChannelDestroyed) and event.channel.id == channel_id:
                        completed += 1
                        break

    started = time.monotonic()
    try:
        async with asyncio.TaskGroup() as tg:
            for i in range(concurrency):
                tg.create_task(loop(), name=f"originate-loop:{i}")
    finally:
        await ari.close()
    wall = time.monotonic() - started
    q = statistics.quantiles(rtt_ms, n=20) if len(rtt_ms) > 1 else [0.0] * 19
    print(f"endpoint {endpoint}, concurrency {concurrency}, {wall:.1f} s")
    print(
        f"originates: {len(rtt_ms)} ({len(rtt_ms) / wall:.1f}/s); completed calls: {completed} "
        f"({completed / wall:.1f}/s); no ChannelDestroyed: {lost}"
    )
    print(f"originate round trip ms: p50 {statistics.median(rtt_ms):.1f}, p95 {q[18]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--endpoint", default="Local/busy@duncall-test")
    args = parser.parse_args()
    asyncio.run(bench(args.seconds, args.concurrency, args.endpoint))


if __name__ == "__main__":
    main()
