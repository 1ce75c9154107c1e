"""Clients for the services the settings point at, checked reachable.

Apart from foundation.settings so that reading a setting (a path, a prefix) never
imports a service client: the pure policy modules read paths, and must not import redis.
"""

from __future__ import annotations

import redis

from foundation.errors import ServiceUnavailable
from foundation.settings import redact_url, redis_url

# Redis answers in well under a millisecond; a call that takes seconds means it is gone, and
# a dialer blocked on it would hold its worker thread (and the decision) for ever.
REDIS_CONNECT_TIMEOUT_S = 2.0
REDIS_SOCKET_TIMEOUT_S = 5.0  # per command; the guard's Lua script is the longest, far under this


def redis_client() -> redis.Redis:
    """A client for the configured Redis, checked reachable (one-line error otherwise)."""
    url = redis_url()
    client = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S, socket_timeout=REDIS_SOCKET_TIMEOUT_S
    )
    try:
        client.ping()
    except redis.RedisError:
        raise ServiceUnavailable(
            f"Redis is not reachable at {redact_url(url)}",
            "run tools/setup.sh (it starts redis-server) or set DUNCALL_REDIS_URL",
        ) from None
    return client
