"""Clients for the services the settings point at, checked reachable.

Apart from foundation.settings so that reading a setting (a path, a prefix) never
imports a service client: the pure policy modules read paths, and must not import redis.
"""

from __future__ import annotations

import redis

from foundation.errors import ServiceUnavailable
from foundation.settings import redact_url, redis_url


def redis_client() -> redis.Redis:
    """A client for the configured Redis, checked reachable (one-line error otherwise)."""
    url = redis_url()
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError:
        raise ServiceUnavailable(
            f"Redis is not reachable at {redact_url(url)}",
            "run tools/setup.sh (it starts redis-server) or set DUNCALL_REDIS_URL",
        ) from None
    return client
