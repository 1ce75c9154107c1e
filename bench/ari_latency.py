"""Numbers for the ARI client: REST round trip, originate→StasisStart, parse rate."""

import asyncio
import json
import statistics
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

from foundation.settings import ari_settings
from telephony.ari import AriClient, StasisStart, new_id, parse_event

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_ari_events import CAPTURED


async def main() -> None:
    s = replace(ari_settings(), app="bench-" + uuid.uuid4().hex[:6])
    async with AriClient(s) as ari:
        rt = []
        for _ in range(200):
            t = time.perf_counter()
            await ari.asterisk_info()
            rt.append(time.perf_counter() - t)
        print(
            f"GET /asterisk/info: p50 {statistics.median(rt) * 1e3:.2f} ms, p95 {sorted(rt)[189] * 1e3:.2f} ms (200 calls)"
        )
        lat = []
        for _ in range(20):
            cid = new_id()
            async with ari.channel_events(cid) as ev:
                t = time.perf_counter()
                await ari.originate("Local/echo@duncall-test", channel_id=cid)
                async for e in ev:
                    if isinstance(e, StasisStart):
                        lat.append(time.perf_counter() - t)
                        break
                await ari.hangup(cid)
        print(
            f"originate -> StasisStart (Local/echo): p50 {statistics.median(lat) * 1e3:.1f} ms, max {max(lat) * 1e3:.1f} ms (20 calls, sequential)"
        )
    raw = [json.dumps(c) for c in CAPTURED] * 2000
    t = time.perf_counter()
    for r in raw:
        parse_event(json.loads(r))
    dt = time.perf_counter() - t
    print(f"json.loads+parse_event: {len(raw) / dt:,.0f} events/s ({len(raw)} captured events)")


asyncio.run(main())
