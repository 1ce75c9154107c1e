"""Several Asterisk nodes: each dial goes to a node with a free channel; a lost node is left out.

A node's live calls are leases in a Redis sorted set (score = lease expiry), shared by every
dialer process: one Lua script picks, atomically, the reachable node with the most free
channels under its ``max_channels`` and takes a channel there, so two dialers never overfill
a node between them.  Each dialer renews the leases of its own calls, so a dialer killed with
calls up frees their channels within ``LEASE_S``.

Health is watched per process: a node whose events WebSocket has been down for
``DOWN_AFTER_S`` (or that never answered) is down — no new dial goes to it, and every
dialer is told through a short-lived Redis mark that is refreshed while it stays down.  The
calls that were on it end by themselves (``dialer.call``: a channel whose node stops
answering ends ``node lost``), and their attempts are written like any other.  A node that
comes back is used again once its mark expires and its WebSocket is up.

An operator drains a node before taking it away (``duncall asterisk drain NAME``): a mark with
no expiry that keeps every new dial off it while its calls end as usual; ``--undo`` lifts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import redis

from dialer.guards.guard import redis_unavailable
from foundation.errors import InputError, ServiceUnavailable
from foundation.log import kv
from foundation.settings import AsteriskNode
from telephony.ari import AriClient

log = logging.getLogger(__name__)

DOWN_AFTER_S = 2.0  # a WebSocket down this long marks its node down
DOWN_MARK_S = 3.0  # the shared down mark's lifetime, refreshed while the node stays down
WATCH_EVERY_S = 0.5
LEASE_S = 60.0  # a call's channel lease, renewed while the call lasts
RENEW_EVERY_S = 10.0
RECONNECT_EVERY_S = 3.0  # a node that never connected is tried again this often
WAIT_POLL_S = 0.2  # all nodes full (or down): how often to look again

# KEYS: n live sets, n down marks, n drain marks; ARGV: now_us, attempt id, lease end_us, n,
# n limits, the sets' own expiry (ms) → the 1-based index of the node taken, or 0 if none has room.
ACQUIRE_LUA = """
local n = tonumber(ARGV[4])
local best, best_free = 0, -1
for i = 1, n do
  if redis.call('EXISTS', KEYS[n + i]) == 0 and redis.call('EXISTS', KEYS[2 * n + i]) == 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[1])
    local limit = tonumber(ARGV[4 + i])
    local used = redis.call('ZCARD', KEYS[i])
    local free
    if limit == 0 then free = 1000000000 - used else free = limit - used end
    if free > 0 and free > best_free then best, best_free = i, free end
  end
end
if best == 0 then return 0 end
redis.call('ZADD', KEYS[best], ARGV[3], ARGV[2])
redis.call('PEXPIRE', KEYS[best], ARGV[5 + n])
return best
"""


@dataclass
class PoolNode:
    name: str
    ari: AriClient
    max_channels: int
    down_since: float | None = None  # monotonic: when its WebSocket was last seen down
    down: bool = False  # this process takes it for down


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one call goes: the node's name (stored on the attempt) and its ARI client."""

    node: str
    ari: AriClient


class NodePool:
    """The nodes a dialer places calls on, their shared channel counts and their health."""

    def __init__(
        self,
        client: redis.Redis,
        nodes: Sequence[PoolNode],
        *,
        prefix: str,
        clock_s: Callable[[], float] = time.time,
    ) -> None:
        if not nodes:
            raise ValueError("a node pool needs at least one node")
        self.redis = client
        self.nodes = list(nodes)
        self.prefix = prefix
        self.clock_s = clock_s
        self._acquire = client.register_script(ACQUIRE_LUA)
        self._mine: dict[str, str] = {}  # attempt id → node, the calls this process placed
        self._watch: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, client: redis.Redis, nodes: Sequence[AsteriskNode], *, prefix: str) -> NodePool:
        return cls(client, [PoolNode(n.name, AriClient(n.ari), n.max_channels) for n in nodes], prefix=prefix)

    # --- keys -----------------------------------------------------------------------------

    def live_key(self, node: str) -> str:
        return f"{self.prefix}node:{node}:live"

    def down_key(self, node: str) -> str:
        return f"{self.prefix}node:{node}:down"

    def drain_key(self, node: str) -> str:
        return drain_key(self.prefix, node)

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect every node; one that does not answer starts down.  Raises if none answers."""
        for node in self.nodes:
            await self._connect(node)
        if all(n.down for n in self.nodes):
            raise ServiceUnavailable(
                f"no Asterisk node answered ({', '.join(n.name for n in self.nodes)})",
                "start Asterisk, or check DUNCALL_ASTERISK_NODES",
            )
        self._watch = asyncio.create_task(self._watch_loop(), name="asterisk-nodes")

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for node in self.nodes:
            await node.ari.close()

    async def __aenter__(self) -> NodePool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def primary(self) -> AriClient:
        """A reachable node's client, for what is not one call (checks, recovery's default)."""
        for node in self.nodes:
            if not node.down:
                return node.ari
        return self.nodes[0].ari

    def clients(self) -> Mapping[str, AriClient]:
        return {n.name: n.ari for n in self.nodes}

    def calls_on(self, node: str) -> int:
        """Live calls on ``node`` over every dialer (leases not yet expired)."""
        now_us = int(self.clock_s() * 1_000_000)
        try:
            return int(self.redis.zcount(self.live_key(node), f"({now_us}", "+inf"))
        except redis.RedisError as exc:
            raise redis_unavailable(self.redis, exc) from None

    # --- placing calls --------------------------------------------------------------------------

    async def acquire(self, attempt_id: str) -> Placement:
        """A channel on the up node with the most room; waits while every node that is up is full.

        Raises ``ServiceUnavailable`` when no node is up: the campaign is held (and shows it)
        until one answers again, as while Redis or the database is away."""
        while True:
            self.check_up()
            node = await asyncio.to_thread(self._take, attempt_id)
            if node is not None:
                self._mine[attempt_id] = node.name
                return Placement(node.name, node.ari)
            await asyncio.sleep(WAIT_POLL_S)

    def check_up(self) -> None:
        """Raises ``ServiceUnavailable`` unless some node's events WebSocket is up."""
        if all(n.down or not n.ari.connected for n in self.nodes):
            raise ServiceUnavailable(
                f"no Asterisk node answers ({', '.join(n.name for n in self.nodes)})",
                "start Asterisk, or check DUNCALL_ASTERISK_NODES; dialling resumes by itself",
            )

    def _take(self, attempt_id: str) -> PoolNode | None:
        # A node whose events WebSocket is down this instant could not follow a call: not even tried.
        up = [n for n in self.nodes if not n.down and n.ari.connected]
        if not up:
            return None
        now_us = int(self.clock_s() * 1_000_000)
        lease_us = int(LEASE_S * 1_000_000)
        keys = [self.live_key(n.name) for n in up] + [self.down_key(n.name) for n in up]
        keys += [self.drain_key(n.name) for n in up]
        args: list[int | str] = [now_us, attempt_id, now_us + lease_us, len(up)]
        args += [n.max_channels for n in up]
        args.append(int(LEASE_S * 1000) * 2)
        try:
            index = int(self._acquire(keys=keys, args=args))
        except redis.RedisError as exc:
            raise redis_unavailable(self.redis, exc) from None
        return up[index - 1] if index else None

    async def release(self, placement: Placement, attempt_id: str) -> None:
        """The call ended: its channel is free again (its lease expires anyway if this fails)."""
        self._mine.pop(attempt_id, None)
        try:
            await asyncio.to_thread(self.redis.zrem, self.live_key(placement.node), attempt_id)
        except redis.RedisError:
            log.warning("node channel not released; its lease frees it", extra=kv(node=placement.node))

    # --- health ---------------------------------------------------------------------------------

    async def _connect(self, node: PoolNode) -> None:
        try:
            await node.ari.connect()
        except ServiceUnavailable as exc:
            if not node.down:
                log.warning("Asterisk node unreachable; left out", extra=kv(node=node.name, error=exc.what))
            node.down = True
            node.down_since = node.down_since or time.monotonic()
            return
        if node.down:
            log.warning("Asterisk node back", extra=kv(node=node.name))
        node.down = False
        node.down_since = None

    async def _watch_loop(self) -> None:
        last_try = dict.fromkeys((n.name for n in self.nodes), time.monotonic())
        last_renew = [time.monotonic()]
        while True:
            await asyncio.sleep(WATCH_EVERY_S)
            try:
                await self._watch_once(last_try, last_renew)
            except Exception:
                # Watching is what keeps calls off a lost node: it must outlive any one failure.
                log.exception("Asterisk node watch failed; trying again")

    async def _watch_once(self, last_try: dict[str, float], last_renew: list[float]) -> None:
        """One look at every node: up, never connected (try again), or down (after DOWN_AFTER_S)."""
        now = time.monotonic()
        for node in self.nodes:
            if node.ari.connected:
                if node.down:
                    log.warning("Asterisk node back", extra=kv(node=node.name))
                node.down, node.down_since = False, None
                continue
            if not node.ari.started:
                # Never connected (down at start): try again now and then.
                if now - last_try[node.name] >= RECONNECT_EVERY_S:
                    last_try[node.name] = now
                    await self._connect(node)
                if not node.down:
                    continue
            node.down_since = node.down_since or now
            if now - node.down_since >= DOWN_AFTER_S:
                if not node.down:
                    log.error("Asterisk node down; no new calls go to it", extra=kv(node=node.name))
                node.down = True
        await asyncio.to_thread(self._share_marks)
        if now - last_renew[0] >= RENEW_EVERY_S:
            last_renew[0] = now
            await asyncio.to_thread(self._renew)

    def _share_marks(self) -> None:
        """Tell every dialer which nodes this one finds down (the mark lapses once nobody does)."""
        try:
            for node in self.nodes:
                if node.down:
                    self.redis.set(self.down_key(node.name), "1", px=int(DOWN_MARK_S * 1000))
        except redis.RedisError:
            log.warning("node health not shared; Redis is unavailable")

    def _renew(self) -> None:
        end_us = int((self.clock_s() + LEASE_S) * 1_000_000)
        by_node: dict[str, dict[str, int]] = {}
        for attempt_id, node in list(self._mine.items()):
            by_node.setdefault(node, {})[attempt_id] = end_us
        try:
            for node, leases in by_node.items():
                self.redis.zadd(self.live_key(node), leases, xx=True)
        except redis.RedisError:
            log.warning("node channel leases not renewed; Redis is unavailable")


def drain_key(prefix: str, node: str) -> str:
    return f"{prefix}node:{node}:drain"


@dataclass(frozen=True, slots=True)
class NodeState:
    name: str
    url: str
    max_channels: int
    calls: int  # live calls over every dialer
    down: bool  # a dialer finds it unreachable now
    drained: bool


def node_states(client: redis.Redis, nodes: Sequence[AsteriskNode], *, prefix: str) -> list[NodeState]:
    """What every dialer sees of each node: its calls, whether it is down or drained."""
    now_us = int(time.time() * 1_000_000)
    try:
        return [
            NodeState(
                n.name,
                n.ari.base_url,
                n.max_channels,
                int(client.zcount(f"{prefix}node:{n.name}:live", f"({now_us}", "+inf")),
                bool(client.exists(f"{prefix}node:{n.name}:down")),
                bool(client.exists(drain_key(prefix, n.name))),
            )
            for n in nodes
        ]
    except redis.RedisError as exc:
        raise redis_unavailable(client, exc) from None


def set_drained(
    client: redis.Redis, nodes: Sequence[AsteriskNode], name: str, drained: bool, *, prefix: str
) -> None:
    """Keep new dials off ``name`` (its calls go on), or let them go there again."""
    if name not in {n.name for n in nodes}:
        raise InputError(
            f"no Asterisk node named {name!r}",
            f"name one of DUNCALL_ASTERISK_NODES: {', '.join(n.name for n in nodes)}",
        )
    try:
        if drained:
            client.set(drain_key(prefix, name), "1")
        else:
            client.delete(drain_key(prefix, name))
    except redis.RedisError as exc:
        raise redis_unavailable(client, exc) from None
