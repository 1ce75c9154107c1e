"""Health probes for docker-compose.yml: ``python -m duncall.service.health dialer|bot|console|purge``.

Exit 0 when healthy, 1 with one line on stderr saying what is not. A probe never prints a
secret: URLs are shown redacted.

- ``dialer``: the three services a dial needs answer — Redis (PING), the store (``SELECT 1``)
  and Asterisk's ARI (``GET /ari/asterisk/info`` with the configured user).
- ``bot``: what the dialer's probe asks, and a bot worker of this host (``duncall bot serve``,
  named ``<hostname>-<pid>``) has written its heartbeat in Redis within the last seconds.
- ``console``: the console answers its log-in page on ``--url``.
- ``purge``: the store the daily purge deletes from answers (``SELECT 1``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

PROBE_TIMEOUT_S = 3.0
DEFAULT_CONSOLE_URL = "http://127.0.0.1:8080/login"


def check_dialer() -> None:
    """Raise ``RuntimeError`` naming the first dependency that does not answer."""
    import httpx
    import redis

    from foundation import settings

    try:
        redis.Redis.from_url(
            settings.redis_url(), socket_connect_timeout=PROBE_TIMEOUT_S, socket_timeout=PROBE_TIMEOUT_S
        ).ping()
    except redis.RedisError as exc:
        raise RuntimeError(
            f"redis at {settings.redact_url(settings.redis_url())}: {type(exc).__name__}"
        ) from None
    check_store()
    ari = settings.ari_settings()
    try:
        response = httpx.get(
            f"{ari.base_url}/ari/asterisk/info", auth=(ari.username, ari.password), timeout=PROBE_TIMEOUT_S
        )
    except httpx.HTTPError as exc:
        raise RuntimeError(f"ARI at {ari.base_url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise RuntimeError(f"ARI at {ari.base_url} answered {response.status_code}")


def check_bot() -> None:
    """The dialer's dependencies, and this host's bot worker alive (its heartbeat in Redis)."""
    import socket

    import redis

    from foundation import settings

    check_dialer()
    client = redis.Redis.from_url(
        settings.redis_url(), socket_connect_timeout=PROBE_TIMEOUT_S, socket_timeout=PROBE_TIMEOUT_S
    )
    pattern = f"{settings.get_settings().live_prefix}bot:worker:{socket.gethostname()}-*"
    if next(iter(client.scan_iter(match=pattern, count=1000)), None) is None:
        raise RuntimeError("no bot worker of this host has a heartbeat in Redis (is `duncall bot serve` up?)")


def check_store() -> None:
    from sqlalchemy import create_engine, text

    from foundation import settings

    engine = create_engine(settings.database_url(), pool_pre_ping=False)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise RuntimeError(
            f"database at {settings.redact_url(settings.database_url())}: {type(exc).__name__}"
        ) from None
    finally:
        engine.dispose()


def check_console(url: str) -> None:
    import httpx

    try:
        response = httpx.get(url, timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise RuntimeError(f"console at {url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise RuntimeError(f"console at {url} answered {response.status_code}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m duncall.service.health")
    parser.add_argument("service", choices=("dialer", "bot", "console", "purge"))
    parser.add_argument("--url", default=DEFAULT_CONSOLE_URL, help="console: the page to ask for")
    args = parser.parse_args(argv)
    from foundation.errors import DuncallError

    try:
        if args.service == "dialer":
            check_dialer()
        elif args.service == "bot":
            check_bot()
        elif args.service == "purge":
            check_store()
        else:
            check_console(args.url)
    except (RuntimeError, DuncallError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
