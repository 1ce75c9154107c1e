"""Capacity limits toward Asterisk: concurrent calls per campaign and calls per second.

These are not compliance rules — a capacity refusal says "not now", never "not
allowed" — so they have their own type and never appear among a guard decision's
reasons.  Shared by every dialer process through one Lua script: concurrent calls
are leases in a sorted set (score = lease expiry), so a dialer that dies without
releasing its calls frees them when the lease runs out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import redis

from dialer.guards.counters import to_us
from dialer.guards.guard import DEFAULT_PREFIX, redis_unavailable, utc_now

ACQUIRE_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local max_calls = tonumber(ARGV[3])
if max_calls > 0 and redis.call('ZCARD', KEYS[1]) >= max_calls then return {0, 'concurrency'} end
local cps = tonumber(ARGV[5])
if cps > 0 then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used >= cps then return {0, 'calls_per_second'} end
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], 2000)
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {1}
"""


class Refusal(StrEnum):
    CONCURRENCY = "concurrency"  # the campaign has its maximum of live calls
    CALLS_PER_SECOND = "calls_per_second"  # the originate rate toward Asterisk is used up this second


@dataclass(frozen=True, slots=True)
class CapacityLimits:
    max_concurrent: int = 30  # live calls per campaign; 0 for no limit
    calls_per_second: int = 10  # originates per second toward Asterisk; 0 for no limit
    lease: dt.timedelta = dt.timedelta(minutes=30)  # a call holds its slot at most this long unreleased

    def __post_init__(self) -> None:
        if self.max_concurrent < 0 or self.calls_per_second < 0:
            raise ValueError("capacity limits must be 0 (off) or positive")


@dataclass(frozen=True, slots=True)
class Grant:
    granted: bool
    refusal: Refusal | None = None


class CapacityLimiter:
    def __init__(
        self,
        client: redis.Redis,
        limits: CapacityLimits = CapacityLimits(),
        *,
        prefix: str = DEFAULT_PREFIX,
        trunk: str = "asterisk",
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.redis = client
        self.limits = limits
        self.prefix = prefix
        self.trunk = trunk
        self.clock = clock
        self._acquire = client.register_script(ACQUIRE_LUA)

    def _live_key(self, campaign_id: str) -> str:
        return f"{self.prefix}cap:{campaign_id}:live"

    def acquire(self, campaign_id: str, call_id: str) -> Grant:
        """Take a live-call slot for ``call_id`` and one originate of this second, or say why not."""
        now_us = to_us(self.clock())
        second = now_us // 1_000_000
        lease_us = self.limits.lease // dt.timedelta(microseconds=1)
        keys = [self._live_key(campaign_id), f"{self.prefix}cap:{self.trunk}:cps:{second}"]
        args: list[int | str] = [
            now_us,
            call_id,
            self.limits.max_concurrent,
            now_us + lease_us,
            self.limits.calls_per_second,
            lease_us // 1000 + 1000,  # the set's own expiry (ms): past the longest lease
        ]
        try:
            result = self._acquire(keys=keys, args=args)
        except redis.RedisError as exc:
            raise redis_unavailable(self.redis, exc) from None
        if int(result[0]) == 1:
            return Grant(True)
        refusal = result[1].decode() if isinstance(result[1], bytes) else str(result[1])
        return Grant(False, Refusal(refusal))

    def release(self, campaign_id: str, call_id: str) -> None:
        try:
            self.redis.zrem(self._live_key(campaign_id), call_id)
        except redis.RedisError as exc:
            raise redis_unavailable(self.redis, exc) from None

    def live_calls(self, campaign_id: str) -> int:
        now_us = to_us(self.clock())
        try:
            return int(self.redis.zcount(self._live_key(campaign_id), f"({now_us}", "+inf"))
        except redis.RedisError as exc:
            raise redis_unavailable(self.redis, exc) from None
