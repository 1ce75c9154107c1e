"""Supervision sessions on live calls (the bot's, or a collector's), through ARI (the console's side).

A session is one supervisor on one call.  Starting it rings the supervisor's
endpoint into the console's own Stasis app (``<app>-supervision``) and, once
answered, connects it as its mode says (``modes.TAPS``): a snoop channel on the
debtor or the bot in a bridge of the session's own, or the call's own bridge.
Switching mode tears the old connection down and builds the new one; the
supervisor's channel stays up throughout.

Take-over is claimed in the live-call registry (one per call), then the
supervisor joins the call's bridge and the debtor's channel gets
``TAKEOVER_VARIABLE``; the bot sees it, stops talking and leaves, and its
dialer keeps the call (and its bridge) until it ends.  Should the bot not
leave within ``BOT_LEAVE_S`` its media channel is removed here.

A session ends when the supervisor ends it, hangs up, or the call ends; its
snoop channel, its bridge (bridges outlive their channels) and the
supervisor's channel go with it.  Ending a taken-over call's session ends the
call: nobody else is on it.

Every action is audited through ``AuditSink`` before it is carried out.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import redis

from duncall.supervision.errors import (
    CallNotLive,
    CallTakenOver,
    SessionNotFound,
    SupervisorUnreachable,
)
from duncall.supervision.modes import TAPS, Mode, check_kind, check_switch
from duncall.supervision.settings import APP_SUFFIX, SupervisionSettings
from foundation.contract import ChannelPrefix
from foundation.errors import DuncallError, ServiceUnavailable
from foundation.log import kv
from foundation.settings import AriSettings, ari_settings
from telephony.ari import (
    AriClient,
    AriEvent,
    ChannelDestroyed,
    ChannelHangupRequest,
    Reconnected,
    StasisStart,
    new_id,
)
from telephony.ari.errors import AriError, AriNotFound, EventsLost
from telephony.ari.events import event_channel_ids
from telephony.ari.subscriptions import CALL_QUEUE_SIZE, OnFull
from telephony.live.registry import TAKEOVER_VARIABLE, Claim, LiveCall, LiveCallRegistry

log = logging.getLogger(__name__)

SNOOP_START_TIMEOUT_S = 5.0
POLL_S = 2.0  # how often a session that lost events checks on the call itself
BOT_LEAVE_S = 3.0  # the bot stops within a frame or two of seeing the take-over; this is its margin
_T = TypeVar("_T")
AuditSink = Callable[[str, str, str, dict[str, Any]], None]  # (user, action, target, detail)


@dataclass(frozen=True, slots=True)
class SessionView:
    session_id: str
    attempt_id: str
    mode: Mode
    user: str
    endpoint: str
    started_at: dt.datetime


@dataclass
class _Session:
    view: SessionView
    call: LiveCall
    supervisor_id: str
    bridge_id: str  # the session's own bridge (listen, whisper)
    snoop_id: str | None = None
    in_call_bridge: bool = False
    owns_call: bool = False  # taken over: the session's end is the call's end
    ended: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    media_gone: asyncio.Event = field(default_factory=asyncio.Event)
    watcher: asyncio.Task[None] | None = None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _no_audit(user: str, action: str, target: str, detail: dict[str, Any]) -> None:
    return None


class SupervisionService:
    """All supervision sessions of one console process. Lives on the server's event loop."""

    def __init__(
        self,
        settings: SupervisionSettings,
        registry: LiveCallRegistry,
        *,
        audit: AuditSink = _no_audit,
        ari: AriSettings | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.audit = audit
        self._ari_settings = ari
        self.clock = clock
        self._ari: AriClient | None = None
        self._connect_lock = asyncio.Lock()
        self._sessions: dict[str, _Session] = {}

    # --- the ARI connection -----------------------------------------------------------

    async def _client(self) -> AriClient:
        async with self._connect_lock:
            if self._ari is None:
                base = self._ari_settings or ari_settings()
                # An app of this process's own: Asterisk sends an app's events to one connection,
                # so two consoles (or a console and a test) on one Asterisk must not share one.
                client = AriClient(replace(base, app=f"{base.app}{APP_SUFFIX}-{new_id()[:8]}"))
                try:
                    await client.connect()
                except BaseException:
                    await client.aclose()
                    raise
                self._ari = client
                await self._sweep(client)
            return self._ari

    async def _sweep(self, ari: AriClient) -> None:
        """Destroy session bridges left empty by a console that died (bridges outlive channels).

        Only empty ones: a session bridge with a channel in it belongs to a live console.
        """
        with contextlib.suppress(DuncallError):
            for bridge in await ari.list_bridges():
                if ChannelPrefix.SESSION_BRIDGE.owns(bridge.id) and not bridge.channels:
                    with contextlib.suppress(DuncallError):
                        await ari.destroy_bridge(bridge.id)

    async def close(self) -> None:
        """End every session that is not a take-over; taken-over calls stay bridged in Asterisk."""
        for session in list(self._sessions.values()):
            if session.owns_call:
                if session.watcher is not None:
                    session.watcher.cancel()
                continue
            await self._finish(session, "console stopped", by=session.view.user)
        if self._ari is not None:
            await self._ari.close()
            self._ari = None

    # --- the API ------------------------------------------------------------------------

    def sessions(self) -> list[SessionView]:
        return sorted((s.view for s in self._sessions.values()), key=lambda v: v.started_at)

    async def supervise(
        self, attempt_id: str, user: str, mode: Mode, endpoint: str | None = None
    ) -> SessionView:
        dial = self.settings.endpoint_for(user, endpoint)
        call = await self._live_call(attempt_id)
        check_kind(call.kind, mode)
        ari = await self._client()
        try:
            await ari.get_channel(call.debtor_channel_id)
        except AriNotFound:
            raise CallNotLive(f"call {attempt_id} has ended", "pick a call from the live board") from None
        sid = new_id()
        view = SessionView(sid, attempt_id, mode, user, dial, self.clock())
        session = _Session(
            view,
            call,
            supervisor_id=ChannelPrefix.SUPERVISOR.of(sid),
            bridge_id=ChannelPrefix.SESSION_BRIDGE.of(sid),
        )
        await self._audit(
            user,
            f"supervise_{mode.value}",
            attempt_id,
            session=sid,
            endpoint=dial,
            call=call.kind.value,
            **({"agent_id": call.agent_id} if call.agent_id else {}),
        )
        try:
            # Held while connecting, so the call ending meanwhile is handled after, not during.
            async with session.lock:
                await self._ring(ari, session)
                self._sessions[sid] = session
                session.watcher = asyncio.create_task(self._watch(ari, session), name=f"supervision:{sid}")
                await self._connect(ari, session, mode)
        except BaseException as exc:
            await self._audit(user, "supervise_failed", attempt_id, session=sid, error=_why(exc))
            await self._finish(session, "could not connect", by=user, audited=False)
            if isinstance(exc, AriError):
                raise await self._refused(ari, session, exc) from None
            raise
        log.info("supervision started", extra=kv(session=sid, attempt_id=attempt_id, mode=mode.value))
        return session.view

    async def switch(self, session_id: str, user: str, mode: Mode) -> SessionView:
        session = self._get(session_id)
        async with session.lock:
            if session.ended:
                raise SessionNotFound(f"supervision {session_id} has ended", "start a new one")
            check_switch(session.view.mode, mode)
            check_kind(session.call.kind, mode)
            if mode is session.view.mode:
                return session.view
            ari = await self._client()
            await self._audit(
                user,
                f"supervise_{mode.value}",
                session.view.attempt_id,
                session=session_id,
                previous=session.view.mode.value,
            )
            try:
                await self._disconnect(ari, session)
                await self._connect(ari, session, mode)
            except AriError as exc:
                raise await self._refused(ari, session, exc) from None
            return session.view

    async def end(self, session_id: str, user: str) -> None:
        session = self._get(session_id)
        await self._finish(session, "ended by supervisor", by=user)

    # --- connecting -----------------------------------------------------------------------

    async def _refused(self, ari: AriClient, s: _Session, exc: AriError) -> DuncallError:
        """What to tell the supervisor when Asterisk refused a step: the call ended, or try again."""
        try:
            await ari.get_channel(s.call.debtor_channel_id)
        except AriNotFound:
            return CallNotLive(f"call {s.view.attempt_id} has ended", "pick a call from the live board")
        except DuncallError:
            pass
        return ServiceUnavailable(
            f"Asterisk refused to connect the supervisor ({exc.what})", "try again; see Asterisk's log"
        )

    async def live_calls(self) -> list[LiveCall]:
        """The calls that can be supervised now."""
        return await self._registry(self.registry.calls)

    async def _registry(self, fn: Callable[..., _T], *args: Any) -> _T:
        try:
            return await asyncio.to_thread(fn, *args)
        except redis.RedisError as exc:
            # The registry is where live calls are found: without it nothing can be supervised.
            raise ServiceUnavailable(
                f"the live-call registry (Redis) is not reachable ({type(exc).__name__})",
                "check that Redis runs (DUNCALL_REDIS_URL)",
            ) from None

    async def _live_call(self, attempt_id: str) -> LiveCall:
        call = await self._registry(self.registry.get, attempt_id)
        if call is None:
            raise CallNotLive(f"no live call {attempt_id!r}", "pick a call from the live board")
        if call.taken_over_by:
            raise CallTakenOver(
                f"call {attempt_id} was taken over by {call.taken_over_by}", "only they can end it"
            )
        return call

    async def _ring(self, ari: AriClient, s: _Session) -> None:
        """Ring the supervisor's endpoint into our app; return once answered."""
        timeout = self.settings.answer_timeout_s
        with ari.channel_events(s.supervisor_id) as events:
            try:
                await ari.originate(
                    s.view.endpoint,
                    app=ari.app,
                    app_args=("supervisor", s.view.session_id),
                    channel_id=s.supervisor_id,
                    timeout_s=timeout,
                )
            except AriError as exc:
                raise SupervisorUnreachable(
                    f"the supervisor endpoint {s.view.endpoint} cannot be dialled ({exc.what})",
                    "check the endpoint name and that it is registered (asterisk-config/pjsip.conf)",
                ) from None
            try:
                async with asyncio.timeout(timeout + 5):
                    async for ev in events:
                        if isinstance(ev, StasisStart) and ev.channel.id == s.supervisor_id:
                            return
                        if isinstance(ev, ChannelDestroyed) and ev.channel.id == s.supervisor_id:
                            break
            except TimeoutError:
                pass
        raise SupervisorUnreachable(
            f"the supervisor endpoint {s.view.endpoint} did not answer within {timeout} s",
            "answer the phone when it rings, or check that it is registered",
        )

    async def _connect(self, ari: AriClient, s: _Session, mode: Mode) -> None:
        tap = TAPS[mode]
        if mode is Mode.TAKEOVER:
            claim = await self._registry(self.registry.claim_takeover, s.view.attempt_id, s.view.user)
            if claim is Claim.NO_CALL:
                raise CallNotLive(f"call {s.view.attempt_id} has ended", "pick a call from the live board")
            if claim is Claim.ALREADY_TAKEN:
                raise CallTakenOver(
                    f"call {s.view.attempt_id} was already taken over", "only they can end it"
                )
        try:
            if tap.in_call_bridge:
                await ari.add_to_bridge(s.call.bridge_id, s.supervisor_id)
                s.in_call_bridge = True
            else:
                await self._snoop(ari, s, tap.snoop_on, tap.spy, tap.whisper)
            if mode is Mode.TAKEOVER:
                await self._take_over(ari, s)
            s.view = replace(s.view, mode=mode)
        except BaseException:
            if mode is Mode.TAKEOVER:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.registry.release_takeover, s.view.attempt_id, s.view.user)
            raise

    async def _snoop(self, ari: AriClient, s: _Session, on: str | None, spy: Any, whisper: Any) -> None:
        target = s.call.debtor_channel_id if on == "debtor" else s.call.media_channel_id
        snoop_id = ChannelPrefix.SNOOP.of(new_id())
        with ari.channel_events(snoop_id) as events:
            await ari.snoop(target, spy=spy, whisper=whisper, app=ari.app, snoop_id=snoop_id)
            s.snoop_id = snoop_id
            try:
                async with asyncio.timeout(SNOOP_START_TIMEOUT_S):
                    async for ev in events:
                        if isinstance(ev, StasisStart) and ev.channel.id == snoop_id:
                            break
            except TimeoutError:
                raise ServiceUnavailable(
                    "Asterisk did not start the snoop channel", "check Asterisk's log (res_stasis_snoop)"
                ) from None
        # The session's bridge is made on first use and kept until the session ends.
        with contextlib.suppress(AriError):
            await ari.create_bridge(bridge_type="mixing", bridge_id=s.bridge_id)
        await ari.add_to_bridge(s.bridge_id, [s.supervisor_id, snoop_id])

    async def _disconnect(self, ari: AriClient, s: _Session) -> None:
        if s.snoop_id is not None:
            with contextlib.suppress(AriError):
                await ari.hangup(s.snoop_id)
            s.snoop_id = None
        with contextlib.suppress(AriError):
            await ari.remove_from_bridge(
                s.call.bridge_id if s.in_call_bridge else s.bridge_id, s.supervisor_id
            )
        s.in_call_bridge = False

    async def _take_over(self, ari: AriClient, s: _Session) -> None:
        await ari.set_variable(s.call.debtor_channel_id, TAKEOVER_VARIABLE, s.view.user)
        # From here the bot is leaving: whatever happens next, the call is this session's.
        s.owns_call = True
        s.call = replace(s.call, taken_over_by=s.view.user)
        try:
            await asyncio.wait_for(s.media_gone.wait(), BOT_LEAVE_S)
        except TimeoutError:
            # The bot's process may be stuck or gone: the debtor must not hear it any more.
            log.warning(
                "bot did not leave a taken-over call; removing it", extra=kv(session=s.view.session_id)
            )
            with contextlib.suppress(AriError):
                await ari.remove_from_bridge(s.call.bridge_id, s.call.media_channel_id)
            with contextlib.suppress(AriError):
                await ari.hangup(s.call.media_channel_id)
        for other in list(self._sessions.values()):
            if other is not s and other.view.attempt_id == s.view.attempt_id:
                await self._finish(other, f"call taken over by {s.view.user}", by=s.view.user)

    # --- events ---------------------------------------------------------------------------

    async def _watch(self, ari: AriClient, s: _Session) -> None:
        """End the session with the call or the supervisor's phone; note when the bot leaves."""
        ids = {s.call.debtor_channel_id, s.call.media_channel_id, s.supervisor_id}

        def about(ev: AriEvent) -> bool:
            return isinstance(ev, Reconnected) or bool(event_channel_ids(ev) & ids)

        reason = ""
        with ari.subscribe(
            about, name=f"supervision:{s.view.session_id}", maxsize=CALL_QUEUE_SIZE, on_full=OnFull.RAISE
        ) as events:
            for source in (s.call.debtor_channel_id, s.call.media_channel_id):
                with contextlib.suppress(AriError):
                    await ari.subscribe_source(f"channel:{source}")
            # Anything that ended before the subscriptions took hold would otherwise go unseen.
            reason = await self._still_up(ari, s)
            while not reason:
                try:
                    ev = await events.get()
                except EventsLost:
                    # Our view of the call has a gap: fall back to asking Asterisk.
                    log.warning("supervision events lost; polling", extra=kv(session=s.view.session_id))
                    reason = await self._poll_until_gone(ari, s)
                    break
                if ev is None:
                    break
                if isinstance(ev, Reconnected):
                    reason = await self._still_up(ari, s)
                elif isinstance(ev, ChannelDestroyed | ChannelHangupRequest):
                    if ev.channel.id == s.call.media_channel_id and isinstance(ev, ChannelDestroyed):
                        s.media_gone.set()
                    elif ev.channel.id == s.call.debtor_channel_id:
                        reason = "call ended"
                    elif ev.channel.id == s.supervisor_id:
                        reason = "supervisor hung up"
        if reason and not s.ended:
            await self._finish(s, reason, by=s.view.user, from_watcher=True)

    async def _poll_until_gone(self, ari: AriClient, s: _Session) -> str:
        while True:
            await asyncio.sleep(POLL_S)
            if not await self._exists(ari, s.call.media_channel_id):
                s.media_gone.set()
            reason = await self._still_up(ari, s)
            if reason:
                return reason

    async def _exists(self, ari: AriClient, channel_id: str) -> bool:
        try:
            await ari.get_channel(channel_id)
        except AriNotFound:
            return False
        except DuncallError:
            return True  # unknown: assume up, look again later
        return True

    async def _still_up(self, ari: AriClient, s: _Session) -> str:
        for channel, why in (
            (s.call.debtor_channel_id, "call ended"),
            (s.supervisor_id, "supervisor hung up"),
        ):
            try:
                await ari.get_channel(channel)
            except AriNotFound:
                return why
            except DuncallError:
                return ""
        return ""

    # --- ending ---------------------------------------------------------------------------

    async def _finish(
        self, s: _Session, reason: str, *, by: str, audited: bool = True, from_watcher: bool = False
    ) -> None:
        async with s.lock:
            if s.ended:
                return
            s.ended = True
        self._sessions.pop(s.view.session_id, None)
        if audited:
            with contextlib.suppress(DuncallError):
                await self._audit(
                    by, "supervise_end", s.view.attempt_id, session=s.view.session_id, reason=reason
                )
        if s.watcher is not None and not from_watcher:
            s.watcher.cancel()
        ari = self._ari
        if ari is None:
            return
        # Best effort, every step: the call or the phone may already be gone.
        if s.owns_call:
            # Nobody else is on a taken-over call: the supervisor leaving ends it. Its dialer
            # destroys the call's bridge too; this covers a dialer that died meanwhile.
            with contextlib.suppress(DuncallError):
                await ari.hangup(s.call.debtor_channel_id)
            with contextlib.suppress(DuncallError):
                await ari.destroy_bridge(s.call.bridge_id)
        if s.snoop_id is not None:
            with contextlib.suppress(DuncallError):
                await ari.hangup(s.snoop_id)
        with contextlib.suppress(DuncallError):
            await ari.hangup(s.supervisor_id)
        with contextlib.suppress(DuncallError):
            await ari.destroy_bridge(s.bridge_id)
        if not any(o.view.attempt_id == s.view.attempt_id for o in self._sessions.values()):
            for source in (s.call.debtor_channel_id, s.call.media_channel_id):
                with contextlib.suppress(DuncallError):
                    await ari.unsubscribe_source(f"channel:{source}")
        log.info("supervision ended", extra=kv(session=s.view.session_id, reason=reason))

    # --- helpers ----------------------------------------------------------------------------

    def _get(self, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise SessionNotFound(
                f"no active supervision {session_id!r}", "list them with GET /api/live/supervision"
            )
        return session

    async def _audit(self, user: str, action: str, target: str, **detail: Any) -> None:
        await asyncio.to_thread(self.audit, user, action, target, detail)


def _why(exc: BaseException) -> str:
    return exc.one_line()[:200] if isinstance(exc, DuncallError) else type(exc).__name__
