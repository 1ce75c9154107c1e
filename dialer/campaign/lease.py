"""One dialer per campaign: a short Redis lease, renewed while the campaign runs.

Reconciling on start hangs up the calls of attempts left unfinished; with two
dialers on one campaign, the second would hang up the first's live calls.  The
lease expires on its own when its holder dies (SIGKILL included), so a restart
waits at most ``LEASE_TTL_S`` for a killed dialer's lease.

Losing the lease stops dialling at once (``on_lost``): another dialer may now
own the campaign and reconcile its calls.  A lease that merely expired while
Redis was unreachable is taken back only if nobody took it in between — each
acquisition bumps the campaign's lease generation, and the holder re-takes the
key only while the generation is still its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import redis

from dialer.guards.guard import redis_unavailable
from foundation.errors import ServiceUnavailable
from foundation.log import kv

log = logging.getLogger(__name__)

LEASE_TTL_S = 5.0
RENEW_EVERY_S = 1.5  # well inside the TTL, so a busy event loop does not lose the lease
WAIT_POLL_S = 0.25

# KEYS[1] the lease, KEYS[2] its generation; ARGV token, ttl ms → the generation taken, or 0.
ACQUIRE_LUA = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('INCR', KEYS[2]) end
return 0
"""
# ARGV token, ttl ms, generation → 1 renewed, 2 taken back (expired, nobody took it), 0 lost.
RENEW_LUA = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not holder and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"""
RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class CampaignBusy(ServiceUnavailable):
    """Another dialer holds this campaign."""


OnLost = Callable[[], Awaitable[None]]


@contextlib.asynccontextmanager
async def campaign_lease(
    client: redis.Redis,
    key: str,
    *,
    wait_s: float = LEASE_TTL_S + 1.0,
    on_lost: OnLost | None = None,
) -> AsyncIterator[None]:
    """Hold ``key`` for the duration of the block; wait up to ``wait_s`` for a previous holder.

    ``on_lost`` is awaited once if the lease is lost while the block runs (another dialer
    took it, or it could not be renewed within its TTL and was taken since).
    """
    token = uuid.uuid4().hex
    ttl_ms = int(LEASE_TTL_S * 1000)
    generation_key = f"{key}:generation"
    acquire = client.register_script(ACQUIRE_LUA)
    renew = client.register_script(RENEW_LUA)
    release = client.register_script(RELEASE_LUA)
    deadline = time.monotonic() + wait_s
    try:
        while not (
            generation := await asyncio.to_thread(acquire, keys=[key, generation_key], args=[token, ttl_ms])
        ):
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
                still = await asyncio.to_thread(
                    renew, keys=[key, generation_key], args=[token, ttl_ms, generation]
                )
            except redis.RedisError:
                # Unreachable: the guard refuses dials meanwhile; the next renewal tells
                # whether the lease survived the outage.
                log.warning("campaign lease not renewed; Redis is unavailable", extra=kv(key=key))
                continue
            if still == 2:
                log.warning("campaign lease expired during an outage and was taken back", extra=kv(key=key))
            elif not still:
                # Another dialer took it: it may reconcile (hang up) our calls; dial nothing more.
                log.error("campaign lease lost", extra=kv(key=key))
                if on_lost is not None:
                    await on_lost()
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
