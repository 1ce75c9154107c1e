"""One dialer per campaign: a short Redis lease, renewed while the campaign runs.

Reconciling on start hangs up the calls of attempts left unfinished; with two
dialers on one campaign, the second would hang up the first's live calls.  The
lease expires on its own when its holder dies (SIGKILL included), so a restart
waits at most ``LEASE_TTL_S`` for a killed dialer's lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator

import redis

from dialer.guards.guard import redis_unavailable
from foundation.errors import ServiceUnavailable
from foundation.log import kv

log = logging.getLogger(__name__)

LEASE_TTL_S = 5.0
RENEW_EVERY_S = 1.5  # well inside the TTL, so a busy event loop does not lose the lease
WAIT_POLL_S = 0.25

RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class CampaignBusy(ServiceUnavailable):
    """Another dialer holds this campaign."""


@contextlib.asynccontextmanager
async def campaign_lease(
    client: redis.Redis, key: str, *, wait_s: float = LEASE_TTL_S + 1.0
) -> AsyncIterator[None]:
    """Hold ``key`` for the duration of the block; wait up to ``wait_s`` for a previous holder."""
    token = uuid.uuid4().hex
    ttl_ms = int(LEASE_TTL_S * 1000)
    renew = client.register_script(RENEW_LUA)
    release = client.register_script(RELEASE_LUA)
    deadline = time.monotonic() + wait_s
    try:
        while not await asyncio.to_thread(client.set, key, token, nx=True, px=ttl_ms):
            if time.monotonic() >= deadline:
                raise CampaignBusy(
                    "another dialer is running this campaign",
                    "wait for it to finish, or pass a different --campaign",
                )
            await asyncio.sleep(WAIT_POLL_S)
    except redis.RedisError as exc:
        raise redis_unavailable(client, exc) from None

    async def keep() -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            try:
                still = await asyncio.to_thread(renew, keys=[key], args=[token, ttl_ms])
            except redis.RedisError:
                continue  # the next renewal may succeed before the TTL runs out
            if not still:
                # Expired while this process stalled; another dialer may now reconcile our calls.
                log.error("campaign lease lost", extra=kv(key=key))
                return

    keeper = asyncio.create_task(keep(), name=f"campaign-lease:{key}")
    try:
        yield
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        with contextlib.suppress(redis.RedisError):
            await asyncio.to_thread(release, keys=[key], args=[token])
