"""Calls per second toward Asterisk, shared by every dialer through the guards' CPS limiter."""

from __future__ import annotations

import asyncio
import time
import uuid

from dialer.guards.capacity import CapacityLimiter, Refusal

CPS_RETRY_FLOOR_S = 0.01


class CpsPacer:
    """Waits for one originate slot of the current second (``CapacityLimiter``, concurrency off)."""

    def __init__(self, limiter: CapacityLimiter, campaign_id: str) -> None:
        if limiter.limits.max_concurrent != 0:
            # Live calls are the runner's semaphore: a lease left by a killed dialer would block a restart.
            raise ValueError("the pacer's limiter must have max_concurrent=0")
        self.limiter = limiter
        self.campaign_id = campaign_id

    async def wait(self) -> None:
        call_id = uuid.uuid4().hex
        while True:
            grant = await asyncio.to_thread(self.limiter.acquire, self.campaign_id, call_id)
            if grant.granted:
                # Only the per-second count matters here; drop the live-call entry it also wrote.
                await asyncio.to_thread(self.limiter.release, self.campaign_id, call_id)
                return
            assert grant.refusal is Refusal.CALLS_PER_SECOND
            # The count is per wall-clock second: try again at the start of the next one.
            await asyncio.sleep(max(CPS_RETRY_FLOOR_S, 1.0 - time.time() % 1.0))
