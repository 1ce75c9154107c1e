"""``GET /metrics``: Prometheus's view of the deployment, served by the console.

Who may read it:
- with ``DUNCALL_METRICS_TOKEN`` set, whoever sends ``Authorization: Bearer <token>`` (compared in
  constant time), from anywhere — what Prometheus does (docker-compose.yml generates the token);
- without it, only a request made on this machine to a console bound to loopback, with no
  forwarding header: a request a local proxy passes on could come from anywhere.
No series carries personal data (foundation/metrics.py keeps label values to bounded sets).

What it holds:
- what every duncall process recorded (``foundation.metrics``): the dialer's calls by state,
  dials, guard decisions, abandonment windows, reply latency and its stages, barge-ins, dropped
  audio. With ``PROMETHEUS_MULTIPROC_DIR`` set, summed over the processes that share the folder;
- read at each scrape, from the services themselves, a few constant-time reads each (no key
  scan: the guard's counters make Redis's keyspace large): the live event stream's length, Redis's memory against its limit (at the limit, ``noeviction``
  refuses writes and campaigns hold), campaigns by status, and Asterisk's channels. A service
  that does not answer gives ``duncall_up{service=…} 0`` instead of failing the scrape.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from dialer.store.models import Campaign
from duncall.console.deps import get_console
from duncall.console.errors import ApiError
from duncall.console.state import Console
from foundation.settings import get_settings
from telephony.live.events import stream_key

SCRAPE_SERVICE_TIMEOUT_S = 2.0  # a service slower than this counts as down for this scrape
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")

router = APIRouter()


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _allowed(request: Request, authorization: str | None) -> None:
    secret = get_settings().metrics_token
    if secret is not None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), secret.get_secret_value().encode()
        ):
            raise ApiError(
                401,
                "/metrics needs the metrics token",
                "send `Authorization: Bearer <DUNCALL_METRICS_TOKEN>` (Prometheus: authorization.credentials_file)",
            )
        return
    server = request.scope.get("server")
    local = _loopback(request.client.host if request.client else None) and _loopback(
        server[0] if server else None
    )
    if not local or any(h in request.headers for h in FORWARDING_HEADERS):
        raise ApiError(
            403,
            "/metrics answers only this machine's loopback without a token",
            "set DUNCALL_METRICS_TOKEN and send it as `Authorization: Bearer …`",
        )


class _Snapshot(Collector):
    """Gauges read from the services at this scrape (already gathered; ``collect`` does no I/O)."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self.families


def _gauge(
    name: str, doc: str, labels: list[str], samples: dict[tuple[str, ...], float]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for values, value in sorted(samples.items()):
        family.add_metric(list(values), value)
    return family


def _redis_facts(console: Console) -> dict[str, Any]:
    # No SCAN here: the guard's counters make the keyspace large, and a scrape every 15 s must
    # stay a few constant-time commands (live calls by state come from the dialer's own gauge).
    client = console.redis()
    memory = client.info("memory")
    return {
        "stream": int(client.xlen(stream_key(console.live_prefix))),
        "used": float(memory.get("used_memory", 0)),
        "max": float(memory.get("maxmemory", 0)),
    }


def _campaigns(console: Console) -> dict[str, int]:
    with console.transaction() as db:
        rows = db.execute(select(Campaign.status, func.count()).group_by(Campaign.status)).all()
    return {str(status): int(n) for status, n in rows}


async def _asterisk_channels() -> dict[str, int]:
    """Channels up per node (``DUNCALL_ASTERISK_NODES``; else the one node ``asterisk``).

    Raises when no node answered; a node that does not answer has no sample."""
    from duncall.compose.parts import ari_client
    from foundation.settings import asterisk_nodes, get_settings
    from telephony.ari import AriClient

    if get_settings().asterisk_nodes is None:
        return {"asterisk": await _channels_of(ari_client())}
    nodes = asterisk_nodes()
    counts = await asyncio.gather(*(_within(_channels_of(AriClient(n.ari))) for n in nodes))
    answered = {n.name: c for n, c in zip(nodes, counts, strict=True) if not isinstance(c, Exception)}
    if not answered:
        raise next(c for c in counts if isinstance(c, Exception))
    return answered


async def _channels_of(ari: Any) -> int:
    try:
        return len(await ari.list_channels())
    finally:
        await ari.aclose()


async def _within(coro: Any) -> Any:
    """The value, or the exception (a service down or slow is a sample, not a failed scrape)."""
    try:
        return await asyncio.wait_for(coro, SCRAPE_SERVICE_TIMEOUT_S)
    except Exception as exc:
        return exc


async def snapshot(console: Console) -> list[GaugeMetricFamily]:
    redis_facts, campaigns, channels = await asyncio.gather(
        _within(asyncio.to_thread(_redis_facts, console)),
        _within(asyncio.to_thread(_campaigns, console)),
        _within(_asterisk_channels()),
    )
    up: dict[tuple[str, ...], float] = {
        ("redis",): float(not isinstance(redis_facts, Exception)),
        ("database",): float(not isinstance(campaigns, Exception)),
        ("asterisk",): float(not isinstance(channels, Exception)),
    }
    families = [
        _gauge("duncall_up", "Whether the service answered this scrape (1) or not (0).", ["service"], up)
    ]
    if not isinstance(redis_facts, Exception):
        families += [
            _gauge(
                "duncall_queue_depth",
                "Entries waiting in a queue: the live event stream (trimmed at about 20,000).",
                ["queue"],
                {("live_events",): float(redis_facts["stream"])},
            ),
            _gauge(
                "duncall_redis_memory_bytes",
                "Redis's memory: used, and its limit (0: none). At the limit noeviction refuses writes.",
                ["kind"],
                {("used",): redis_facts["used"], ("max",): redis_facts["max"]},
            ),
        ]
    if not isinstance(campaigns, Exception):
        families.append(
            _gauge(
                "duncall_campaigns",
                "Campaigns by status.",
                ["status"],
                {(status,): float(n) for status, n in campaigns.items()},
            )
        )
    if not isinstance(channels, Exception):
        families.append(
            _gauge(
                "duncall_asterisk_channels",
                "Channels up in Asterisk now, per node (a node that did not answer has no sample).",
                ["node"],
                {(node,): float(n) for node, n in channels.items()},
            )
        )
    return families


def recorded() -> bytes:
    """What the duncall processes recorded (summed over them in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped in prometheus_client
        return generate_latest(registry)
    return generate_latest(REGISTRY)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
    _allowed(request, authorization)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(await snapshot(get_console(request))))
    return Response(recorded() + generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
