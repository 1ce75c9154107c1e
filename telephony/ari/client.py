"""``AriClient``: ARI REST plus the events WebSocket, with reconnect and dispatch.

    async with AriClient() as ari:               # connect() fails fast if Asterisk is down
        call_id = new_id()
        async with ari.channel_events(call_id) as events:   # subscribe *before* originating
            await ari.originate("Local/alice@duncall-personas", channel_id=call_id)
            async for event in events:           # ends after the channel's ChannelDestroyed
                ...

After the first connection, a dropped WebSocket (Asterisk restart, network)
is retried forever with capped, jittered exponential backoff until
``close()``; subscribers see ``Disconnected`` and then ``Reconnected``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import itertools
import json
import logging
import random
import time
from types import TracebackType

import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from foundation.errors import AuthError, DuncallError, ServiceUnavailable
from foundation.log import kv
from foundation.settings import AriSettings, ari_settings
from telephony.ari.errors import CREDENTIALS_FIX, AriNotFound, EventTimeout, error_for_status, unreachable
from telephony.ari.events import (
    AriEvent,
    ChannelDestroyed,
    Disconnected,
    Reconnected,
    event_channel_ids,
    parse_event,
)
from telephony.ari.rest import ARI_CONNECT_TIMEOUT_S, AriRest
from telephony.ari.subscriptions import (
    CALL_QUEUE_SIZE,
    OBSERVER_QUEUE_SIZE,
    SLOW_CONSUMER_S,
    OnFull,
    Predicate,
    Subscription,
)

log = logging.getLogger("telephony.ari")

# First retry soon (a dropped socket with Asterisk still up reconnects at once); Asterisk takes
# a few seconds to restart, so doubling reaches its start-up time in a handful of tries.
RECONNECT_BASE_S = 0.25
# Capped so calls resume within seconds of Asterisk coming back, not minutes.
RECONNECT_CAP_S = 8.0
# Asterisk answers WebSocket pings; two missed intervals mark a dead peer (a half-open TCP
# connection would otherwise look healthy forever).
WS_PING_INTERVAL_S = 10.0
WATCHDOG_PERIOD_S = 0.25
CLOSE_WAIT_S = 2.0


def _now_stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def backoff_delay(
    attempt: int,
    *,
    base_s: float = RECONNECT_BASE_S,
    cap_s: float = RECONNECT_CAP_S,
    rand: float | None = None,
) -> float:
    """Delay before reconnect ``attempt`` (1-based): exponential, capped, with "equal jitter".

    Half the delay is fixed and half random, so many clients restarted by the
    same Asterisk restart do not reconnect in lockstep, yet none retries at once.
    """
    ceiling = min(cap_s, base_s * 2.0 ** (attempt - 1))
    r: float = random.random() if rand is None else rand
    return ceiling / 2 + r * ceiling / 2


class AriClient(AriRest):
    """One ARI application: REST calls and its event stream."""

    def __init__(
        self,
        settings: AriSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        reconnect_base_s: float = RECONNECT_BASE_S,
        reconnect_cap_s: float = RECONNECT_CAP_S,
    ) -> None:
        super().__init__(settings or ari_settings(), transport=transport)
        self.reconnect_base_s = reconnect_base_s
        self.reconnect_cap_s = reconnect_cap_s
        self._subs: list[Subscription] = []
        self._sources: set[str] = set()
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._closing = False
        self._failure: BaseException | None = None
        self._names = itertools.count(1)
        self.reconnects = 0
        self.bad_messages = 0

    # --- life cycle --------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._closing

    @property
    def started(self) -> bool:
        """``connect()`` succeeded once: the client reconnects by itself from then on."""
        return self._reader is not None

    @property
    def failure(self) -> BaseException | None:
        """Why the event reader stopped, if it crashed (subscribers also receive it)."""
        return self._failure

    async def connect(self) -> None:
        """Open the events WebSocket; raises ServiceUnavailable or AuthError at once if that fails."""
        if self._reader is not None:
            return
        self._ws = await self._open_ws()
        self._reader = asyncio.create_task(self._run(self._ws), name=f"ari-events:{self.app}")
        self._watchdog = asyncio.create_task(self._watch(), name=f"ari-watchdog:{self.app}")

    async def close(self) -> None:
        self._closing = True
        for task in (self._reader, self._watchdog):
            if task is not None and not task.done():
                task.cancel()
        pending = [t for t in (self._reader, self._watchdog) if t is not None]
        if pending:
            # A task that ignores cancellation must not hang shutdown; it is logged instead.
            _, stuck = await asyncio.wait(pending, timeout=CLOSE_WAIT_S)
            for task in stuck:
                log.error("ARI task did not stop on cancel", extra=kv(task=task.get_name()))
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        for sub in list(self._subs):
            sub.end(self._failure)
        self._subs.clear()
        await self.aclose()

    async def __aenter__(self) -> AriClient:
        try:
            await self.connect()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- subscriptions -----------------------------------------------------------------

    def subscribe(
        self,
        predicate: Predicate | None = None,
        *,
        name: str | None = None,
        maxsize: int = OBSERVER_QUEUE_SIZE,
        on_full: OnFull = OnFull.DROP,
        ends_with: Predicate | None = None,
    ) -> Subscription:
        """Events matching ``predicate`` (all if None), from now on. Observers by default (drop when full)."""
        sub = Subscription(
            name or f"sub-{next(self._names)}",
            predicate,
            maxsize=maxsize,
            on_full=on_full,
            ends_with=ends_with,
            detach=self._detach,
        )
        if self._failure is not None:
            sub.end(self._failure)
        self._subs.append(sub)
        return sub

    def channel_events(self, channel_id: str, *, maxsize: int = CALL_QUEUE_SIZE) -> Subscription:
        """Every event about ``channel_id`` plus Disconnected/Reconnected; ends after its ChannelDestroyed.

        Overflow raises ``EventsLost`` rather than dropping (see ``subscriptions``).
        After ``Reconnected`` the owner must check the channel (``get_channel``):
        if Asterisk restarted, it is gone and no ChannelDestroyed will come.
        """

        def about(event: AriEvent) -> bool:
            return isinstance(event, Disconnected | Reconnected) or channel_id in event_channel_ids(event)

        def destroyed(event: AriEvent) -> bool:
            return isinstance(event, ChannelDestroyed) and event.channel.id == channel_id

        return self.subscribe(
            about, name=f"channel:{channel_id}", maxsize=maxsize, on_full=OnFull.RAISE, ends_with=destroyed
        )

    async def wait_for(self, predicate: Predicate, timeout: float) -> AriEvent:  # noqa: ASYNC109 - the API asked of us; a subscription must exist for the whole wait
        """The first event from now on matching ``predicate``; ``EventTimeout`` after ``timeout`` s.

        To avoid missing a fast event, prefer subscribing before the action that
        causes it (``subscribe``/``channel_events``) and reading from that.
        """
        with self.subscribe(predicate, name="wait_for", maxsize=CALL_QUEUE_SIZE, on_full=OnFull.RAISE) as sub:
            return await wait_in(sub, timeout)

    def _detach(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    async def subscribe_source(self, event_source: str, app: str | None = None) -> None:
        """As ``AriRest.subscribe_source``; this client also re-subscribes it after a reconnect."""
        await super().subscribe_source(event_source, app)
        if app is None or app == self.app:
            self._sources.add(event_source)

    async def unsubscribe_source(self, event_source: str, app: str | None = None) -> None:
        self._sources.discard(event_source)
        await super().unsubscribe_source(event_source, app)

    def forget_source(self, event_source: str) -> None:
        """Stop re-subscribing ``event_source`` after a reconnect, leaving Asterisk's subscription
        as it is: a channel's ends with the channel, and an unsubscribe sent while its hang-up is
        under way could lose its ChannelDestroyed."""
        self._sources.discard(event_source)

    # --- the WebSocket -------------------------------------------------------------------

    def _events_url(self) -> str:
        root = self.settings.base_url.rstrip("/")
        scheme = "wss" if root.startswith("https:") else "ws"
        query = httpx.QueryParams({"app": self.app, "subscribeAll": "false"})
        return f"{scheme}:{root.split(':', 1)[1]}/ari/events?{query}"

    async def _open_ws(self) -> ClientConnection:
        url = self._events_url()
        token = base64.b64encode(f"{self.settings.username}:{self.settings.password}".encode()).decode()
        try:
            return await websockets.connect(
                url,
                additional_headers={"Authorization": f"Basic {token}"},
                open_timeout=ARI_CONNECT_TIMEOUT_S,
                ping_interval=WS_PING_INTERVAL_S,
                ping_timeout=WS_PING_INTERVAL_S,
                proxy=None,
                compression=None,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise AuthError(
                    f"wrong ARI credentials for user {self.settings.username!r} at {url.split('?')[0]} "
                    f"(HTTP {status})",
                    CREDENTIALS_FIX,
                ) from None
            body = exc.response.body.decode(errors="replace").strip() if exc.response.body else ""
            raise error_for_status(
                "GET", "/ari/events", status, body or "WebSocket upgrade refused"
            ) from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            detail = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError):
                detail = f"no answer within {ARI_CONNECT_TIMEOUT_S:g} s"
            raise unreachable(self.settings.base_url, f"events WebSocket: {detail}") from None

    async def _run(self, ws: ClientConnection) -> None:
        try:
            while not self._closing:
                reason = await self._read(ws)
                if self._closing:
                    return
                self._ws = None
                log.warning(
                    "ARI events WebSocket dropped; reconnecting", extra=kv(app=self.app, reason=reason)
                )
                self._dispatch(Disconnected(reason=reason, application=self.app, timestamp=_now_stamp()))
                down_since = time.monotonic()
                ws, attempts = await self._reconnect()
                self._ws = ws
                self.reconnects += 1
                await self._resubscribe()
                down_s = round(time.monotonic() - down_since, 3)
                log.warning(
                    "ARI events WebSocket reconnected",
                    extra=kv(app=self.app, attempts=attempts, down_s=down_s),
                )
                self._dispatch(
                    Reconnected(
                        attempts=attempts, down_s=down_s, application=self.app, timestamp=_now_stamp()
                    )
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A bug here must reach the owners of calls, not only the log.
            log.exception("ARI event reader crashed", extra=kv(app=self.app))
            self._failure = exc
            for sub in list(self._subs):
                sub.end(exc)

    async def _read(self, ws: ClientConnection) -> str:
        """Dispatch messages until the connection ends; returns why it ended."""
        try:
            async for raw in ws:
                try:
                    event = parse_event(json.loads(raw))
                except (ValueError, DuncallError) as exc:
                    # One unreadable message must not stop the stream for every call.
                    self.bad_messages += 1
                    log.warning("unreadable ARI event skipped", extra=kv(error=str(exc)[:200]))
                    continue
                self._dispatch(event)
        except ConnectionClosed as exc:
            return f"closed: {exc}"
        except OSError as exc:
            return f"{type(exc).__name__}: {exc}"
        return "closed by Asterisk"

    async def _reconnect(self) -> tuple[ClientConnection, int]:
        for attempt in itertools.count(1):
            await asyncio.sleep(
                backoff_delay(attempt, base_s=self.reconnect_base_s, cap_s=self.reconnect_cap_s)
            )
            try:
                return await self._open_ws(), attempt
            except (ServiceUnavailable, AuthError, DuncallError) as exc:
                level = logging.WARNING if attempt == 1 or attempt % 10 == 0 else logging.DEBUG
                log.log(level, "ARI reconnect failed", extra=kv(attempt=attempt, error=exc.one_line()))
        raise AssertionError("unreachable")  # itertools.count never ends

    async def _resubscribe(self) -> None:
        for source in sorted(self._sources):
            try:
                await AriRest.subscribe_source(self, source)
            except AriNotFound:
                # The channel or bridge did not survive (Asterisk restarted): nothing to follow.
                self._sources.discard(source)
            except DuncallError as exc:
                log.warning(
                    "re-subscribing an event source failed", extra=kv(source=source, error=exc.one_line())
                )

    def _dispatch(self, event: AriEvent) -> None:
        started = time.monotonic()
        for sub in list(self._subs):
            try:
                if sub.wants(event):
                    sub.offer(event)
            except Exception as exc:
                # A consumer's predicate failed: that consumer hears about it, the others carry on.
                log.exception("event predicate failed", extra=kv(subscription=sub.name, event=event.type))
                sub.end(exc)
        took = time.monotonic() - started
        if took > SLOW_CONSUMER_S:
            log.warning("slow event dispatch (predicates)", extra=kv(event=event.type, took_s=round(took, 3)))

    async def _watch(self) -> None:
        """Watchdog: name consumers that leave events waiting longer than SLOW_CONSUMER_S."""
        while True:
            await asyncio.sleep(WATCHDOG_PERIOD_S)
            now = time.monotonic()
            for sub in list(self._subs):
                stalled = sub.stalled_for(now)
                if stalled > SLOW_CONSUMER_S and not sub.stall_warned:
                    sub.stall_warned = True
                    log.warning(
                        "event consumer is not reading",
                        extra=kv(subscription=sub.name, stalled_s=round(stalled, 3), queued=sub.qsize()),
                    )


async def wait_in(sub: Subscription, timeout: float) -> AriEvent:  # noqa: ASYNC109 - see wait_for
    """The next event of ``sub`` within ``timeout`` s, else ``EventTimeout``."""
    try:
        event = await sub.get(timeout)
    except TimeoutError:
        raise EventTimeout(f"no matching ARI event within {timeout:g} s ({sub.name})") from None
    if event is None:
        raise EventTimeout(f"the event stream ended before a matching event arrived ({sub.name})")
    return event
