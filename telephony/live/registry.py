"""The live-call registry: which calls are up right now, and where their media is.

When the bot has bridged a call it lists the call here (one Redis hash per
call, ``<prefix>call:<attempt_id>``): the debtor's channel, the bot's media
channel, the call's mixing bridge.  An agent campaign lists a call it has
bridged to a collector the same way (``kind`` ``agent``): the collector's
channel stands where the bot's media channel would.  The console reads it to supervise a call
(listen, whisper, barge, take over) from another process than the dialer's.

Entries carry a TTL that the bot refreshes while the call lives, so a dialer
killed mid-call leaves nothing behind for longer than ``CALL_TTL_S``; the bot
deletes its entry when the call ends.  A take-over is claimed here atomically
(``claim_takeover``), so two supervisors can never both take the same call.

Redis trouble never breaks a call: the bot logs it and talks on, the call is
just not supervisable (``Listing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, StrEnum

import redis

from foundation.contract import attempt_of
from foundation.log import kv
from foundation.settings import get_settings, redis_url

log = logging.getLogger(__name__)

PREFIX_ENV = "DUNCALL_LIVE_PREFIX"
DEFAULT_PREFIX = "duncall:live:"
# A dead dialer's calls vanish from the registry within this; the bot refreshes well inside it.
CALL_TTL_S = 30
REFRESH_EVERY_S = 10.0
SCAN_COUNT = 500
# Set on the debtor's channel by the console taking the call over (value: the supervisor's
# name). The bot watches for it: it stops talking, leaves the bridge and keeps the call for
# the supervisor. A channel variable travels with the call in Asterisk itself, so the bot
# learns of it even when the registry (Redis) is away.
TAKEOVER_VARIABLE = "DUNCALL_TAKEN_OVER_BY"

# 0: no such call; 1: already taken over by someone; 2: claimed now.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'taken_over_by', ARGV[1]) + 1
"""


class Claim(IntEnum):
    NO_CALL = 0
    ALREADY_TAKEN = 1
    CLAIMED = 2


class CallKind(StrEnum):
    BOT = "bot"  # the debtor talks with the bot
    AGENT = "agent"  # the debtor talks with a collector (a desk or an agent's phone)


@dataclass(frozen=True, slots=True)
class LiveCall:
    """One bridged call, as its dialer listed it."""

    attempt_id: str
    debtor_channel_id: str
    media_channel_id: str  # the bot's chan_websocket channel; on an agent call, the collector's channel
    bridge_id: str  # the mixing bridge holding both
    language: str
    started_at: dt.datetime
    app: str  # the ARI application that owns the debtor's channel
    taken_over_by: str | None = None  # the supervisor who took the call over from the bot
    kind: CallKind = CallKind.BOT
    agent_id: str = ""  # on an agent call: the collector talking

    def to_hash(self) -> dict[str, str]:
        out = {
            "attempt_id": self.attempt_id,
            "debtor_channel_id": self.debtor_channel_id,
            "media_channel_id": self.media_channel_id,
            "bridge_id": self.bridge_id,
            "language": self.language,
            "started_at": self.started_at.isoformat(),
            "app": self.app,
            "kind": self.kind.value,
        }
        if self.agent_id:
            out["agent_id"] = self.agent_id
        if self.taken_over_by:
            out["taken_over_by"] = self.taken_over_by
        return out

    @classmethod
    def from_hash(cls, raw: dict[bytes, bytes]) -> LiveCall | None:
        """None for an entry that is incomplete or unreadable (it is skipped, never guessed at)."""
        data = {k.decode(): v.decode() for k, v in raw.items()}
        try:
            return cls(
                attempt_id=data["attempt_id"],
                debtor_channel_id=data["debtor_channel_id"],
                media_channel_id=data["media_channel_id"],
                bridge_id=data["bridge_id"],
                language=data["language"],
                started_at=dt.datetime.fromisoformat(data["started_at"]),
                app=data["app"],
                taken_over_by=data.get("taken_over_by") or None,
                kind=CallKind(
                    data.get("kind", CallKind.BOT.value)
                ),  # entries listed before kinds were bot calls
                agent_id=data.get("agent_id", ""),
            )
        except (KeyError, ValueError):
            return None


def attempt_id_for(channel_id: str) -> str:
    """The attempt a dialled channel belongs to: the dialer names it ``dc-<attempt_id>``."""
    return attempt_of(channel_id)


def default_prefix() -> str:
    return get_settings().live_prefix


class LiveCallRegistry:
    """Synchronous (redis-py); async callers go through ``asyncio.to_thread``."""

    def __init__(self, client: redis.Redis, prefix: str | None = None) -> None:
        self.client = client
        self.prefix = default_prefix() if prefix is None else prefix
        self._claim = client.register_script(_CLAIM)

    @classmethod
    def from_env(cls, url: str | None = None, prefix: str | None = None) -> LiveCallRegistry:
        """A registry on the configured Redis; connects on first use, not here."""
        return cls(redis.Redis.from_url(url or redis_url()), prefix)

    def key(self, attempt_id: str) -> str:
        return f"{self.prefix}call:{attempt_id}"

    def publish(self, call: LiveCall) -> None:
        key = self.key(call.attempt_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping=call.to_hash())  # type: ignore[arg-type]  # redis-py's mapping type is too narrow
        pipe.expire(key, CALL_TTL_S)
        pipe.execute()

    def refresh(self, attempt_id: str) -> None:
        self.client.expire(self.key(attempt_id), CALL_TTL_S)

    def remove(self, attempt_id: str) -> None:
        self.client.delete(self.key(attempt_id))

    def get(self, attempt_id: str) -> LiveCall | None:
        raw = self.client.hgetall(self.key(attempt_id))
        return LiveCall.from_hash(raw) if raw else None  # type: ignore[arg-type]  # bytes from a sync client

    def calls(self) -> list[LiveCall]:
        """Every listed call, oldest first."""
        out: list[LiveCall] = []
        for key in self.client.scan_iter(match=f"{self.prefix}call:*", count=SCAN_COUNT):
            raw = self.client.hgetall(key)
            call = LiveCall.from_hash(raw) if raw else None  # type: ignore[arg-type]
            if call is not None:
                out.append(call)
        return sorted(out, key=lambda c: c.started_at)

    def claim_takeover(self, attempt_id: str, supervisor: str) -> Claim:
        return Claim(int(self._claim(keys=[self.key(attempt_id)], args=[supervisor])))

    def release_takeover(self, attempt_id: str, supervisor: str) -> None:
        """Undo a claim whose take-over could not be carried out (only the claimant's own)."""
        key = self.key(attempt_id)
        if self.client.hget(key, "taken_over_by") == supervisor.encode():
            self.client.hdel(key, "taken_over_by")


class Listing:
    """A call's entry held for as long as the call lives: published, refreshed, removed.

    Owned by the call's task; ``close()`` ends the refresher and removes the entry.
    """

    def __init__(self, registry: LiveCallRegistry, call: LiveCall) -> None:
        self.registry = registry
        self.call = call
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, registry: LiveCallRegistry, call: LiveCall) -> Listing:
        listing = cls(registry, call)
        if await listing._try("publish", registry.publish, call):
            listing._task = asyncio.create_task(listing._refresh(), name=f"live-listing:{call.attempt_id}")
        return listing

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_EVERY_S)
            await self._try("refresh", self.registry.refresh, self.call.attempt_id)

    async def _try(self, what: str, fn: Callable[..., object], *args: object) -> bool:
        try:
            await asyncio.to_thread(fn, *args)
        except redis.RedisError as exc:
            # The call goes on; it is only not visible to supervisors while Redis is away.
            log.warning(
                "live-call registry unavailable",
                extra=kv(action=what, attempt_id=self.call.attempt_id, error=type(exc).__name__),
            )
            return False
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._try("remove", self.registry.remove, self.call.attempt_id)
