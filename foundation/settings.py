"""Runtime settings read at the edge (environment, generated files), frozen inside."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import redis

from foundation import paths
from foundation.errors import ConfigError, ServiceUnavailable

ARI_CREDENTIALS_FILE = "ari.json"
DEFAULT_ARI_APP = "duncall"


@dataclass(frozen=True, slots=True)
class AriSettings:
    base_url: str  # e.g. http://127.0.0.1:8088
    username: str
    password: str
    app: str = DEFAULT_ARI_APP


def ari_settings() -> AriSettings:
    """ARI endpoint and credentials.

    Environment (``DUNCALL_ARI_URL``, ``DUNCALL_ARI_USER``, ``DUNCALL_ARI_PASSWORD``,
    ``DUNCALL_ARI_APP``) wins; otherwise the credentials the sandbox generated at
    install (``~/.cache/duncall/ari.json``; never committed).
    """
    env_url = os.environ.get("DUNCALL_ARI_URL")
    if env_url:
        user = os.environ.get("DUNCALL_ARI_USER", "")
        password = os.environ.get("DUNCALL_ARI_PASSWORD", "")
        if not user or not password:
            raise ConfigError(
                "DUNCALL_ARI_URL is set but DUNCALL_ARI_USER or DUNCALL_ARI_PASSWORD is empty",
                "set both, or unset DUNCALL_ARI_URL to use the sandbox's generated credentials",
            )
        return AriSettings(
            env_url.rstrip("/"), user, password, os.environ.get("DUNCALL_ARI_APP", DEFAULT_ARI_APP)
        )
    path = paths.home() / ARI_CREDENTIALS_FILE
    try:
        data = json.loads(path.read_text())
        return AriSettings(
            data["base_url"], data["username"], data["password"], data.get("app", DEFAULT_ARI_APP)
        )
    except FileNotFoundError:
        raise ConfigError(
            f"no ARI credentials at {path}",
            "run `duncall asterisk up` to build the sandbox, or set DUNCALL_ARI_URL/USER/PASSWORD",
        ) from None
    except (ValueError, KeyError) as exc:
        raise ConfigError(
            f"ARI credentials file {path} is malformed ({exc})",
            "delete it and run `duncall asterisk up` to regenerate",
        ) from None


def redis_url() -> str:
    return os.environ.get("DUNCALL_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_client() -> redis.Redis:
    """A client for the configured Redis, checked reachable (one-line error otherwise)."""
    client = redis.Redis.from_url(redis_url())
    try:
        client.ping()
    except redis.RedisError:
        raise ServiceUnavailable(
            f"Redis is not reachable at {redis_url()}",
            "run tools/setup.sh (it starts redis-server) or set DUNCALL_REDIS_URL",
        ) from None
    return client


def database_url() -> str:
    return os.environ.get("DUNCALL_DATABASE_URL", f"sqlite:///{paths.home() / 'duncall.db'}")
