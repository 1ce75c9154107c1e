"""Live board: a snapshot over HTTP, a WebSocket streaming every event as it happens, and
campaign control (pause, resume, stop, pacing limits).

The WebSocket (``/api/live/ws[?since=<event id>]``) first sends the whole board
(``{"type": "board", …, "last_id"}``), then each event (``{"type": "event", "id", "kind", …}``)
as the dialer and the bot publish it, and a fresh board every ``live_interval_s`` or at
once when a call starts, is answered or ends, or a campaign's control changes (totals).
A page that lost its socket reconnects with ``since`` = the last id it saw and receives
the events it missed (each carries its id, so a page drops the ones it has); if the
stream was trimmed past that id, the board says ``"gap": true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Annotated, Any

import redis
from fastapi import APIRouter, Depends, Path, Query, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from dialer.campaign import control as campaign_control
from dialer.campaign.control import Control, ControlRefused, RunState
from duncall.console import audit, live
from duncall.console.auth import Principal
from duncall.console.deps import SESSION_COOKIE, get_console, identify, require
from duncall.console.errors import ApiError
from duncall.console.roles import Permission, can
from duncall.console.state import Console
from foundation.errors import ServiceUnavailable
from foundation.log import kv
from telephony.live import events
from telephony.live.events import EventKind, LiveReader, LiveView, id_before

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/live", tags=["live"])
ConsoleDep = Annotated[Console, Depends(get_console)]
Watcher = Annotated[Principal, Depends(require(Permission.LIVE_READ))]
Controller = Annotated[Principal, Depends(require(Permission.CAMPAIGN_CONTROL))]
CampaignId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
EVENT_ID = r"^\d{1,15}-\d{1,10}$"
WS_UNAUTHORIZED = 4401  # private-use close codes: the HTTP status plus 4000
WS_FORBIDDEN = 4403
# Events this far back rebuild the calls in progress (no call lasts longer: MAX_CALL_S + ringing).
VIEW_WINDOW_S = 900.0
MAX_BLOCK_MS = 1000
# These change the totals or the list of calls: the board is pushed again at once.
BOARD_EVENTS = frozenset({EventKind.DIALING, EventKind.ANSWERED, EventKind.ENDED, EventKind.CONTROL})
CONTROL_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "the campaign has never been run"},
    409: {"description": "the campaign's state does not allow it (already stopped or finished)"},
    503: {"description": "Redis is unreachable"},
}


def _controls(console: Console) -> list[Control]:
    try:
        return campaign_control.list_controls(console.redis(), console.live_prefix)
    except ServiceUnavailable:
        return []


def _snapshot(console: Console, show_pii: bool, view: LiveView | None) -> tuple[dict[str, Any], live.Masker]:
    controls = _controls(console)
    with console.transaction() as db:
        return live.snapshot(db, console.now(), show_pii, view, controls)


@router.get("")
async def board(console: ConsoleDep, user: Watcher) -> dict[str, Any]:
    """Calls in progress (with their transcript so far), today's totals, each campaign's control."""
    view: LiveView | None = None
    client = console.redis_async()
    try:
        entries, _ = await LiveReader(client, console.live_prefix).recent(VIEW_WINDOW_S)
        view = LiveView()
        for event_id, event in entries:
            view.apply(event_id, event)
    except redis.RedisError:
        pass  # the store's calls only, without live transcripts
    finally:
        await client.aclose()
    show_pii = can(user.role, Permission.PII_READ)

    def watched() -> None:
        with console.transaction() as db:
            audit.record(db, console.now(), user.name, "live_board", pii=show_pii)

    await run_in_threadpool(watched)
    snap, _ = await run_in_threadpool(_snapshot, console, show_pii, view)
    snap["live"] = view is not None
    return snap


@router.websocket("/ws")
async def board_ws(
    websocket: WebSocket, since: Annotated[str | None, Query(pattern=EVENT_ID)] = None
) -> None:
    console: Console = websocket.app.state.console
    token = websocket.cookies.get(SESSION_COOKIE)
    try:
        principal = await run_in_threadpool(identify, console, token)
    except ApiError:
        await websocket.close(code=WS_UNAUTHORIZED)
        return
    if not can(principal.role, Permission.LIVE_READ):
        await websocket.close(code=WS_FORBIDDEN)
        return
    await websocket.accept()

    def watched() -> None:
        with console.transaction() as db:
            audit.record(db, console.now(), principal.name, "live_watch", resumed=since is not None)

    await run_in_threadpool(watched)
    client = console.redis_async()
    try:
        await _stream_board(
            websocket, console, token, can(principal.role, Permission.PII_READ), client, since
        )
    except WebSocketDisconnect:
        return
    finally:
        await client.aclose()


async def _stream_board(
    websocket: WebSocket,
    console: Console,
    token: str | None,
    show_pii: bool,
    client: Any,
    since: str | None,
) -> None:
    view = LiveView()
    stream = LiveReader(client, console.live_prefix)
    reader: LiveReader | None = stream  # None once Redis failed: the store's board only
    read_from = "0-0"
    gap = False
    try:
        entries, read_from = await stream.recent(VIEW_WINDOW_S)
        for event_id, event in entries:
            view.apply(event_id, event)
        if since is not None:
            first = await stream.first_id()
            gap = first is not None and id_before(since, first)
            if not gap and id_before(since, read_from):
                read_from = since  # the page gets what it missed; it drops ids it already has
    except redis.RedisError as exc:
        log.warning("live events unavailable", extra=kv(error=type(exc).__name__))
        reader = None
    interval = console.settings.live_interval_s
    next_board = 0.0  # monotonic time the next full board is due
    mask: live.Masker | None = None
    while True:
        if time.monotonic() >= next_board:
            try:
                # A session that expires or is closed while watching ends the board too.
                await run_in_threadpool(identify, console, token)
            except ApiError:
                await websocket.close(code=WS_UNAUTHORIZED)
                return
            snap, mask = await run_in_threadpool(_snapshot, console, show_pii, view)
            snap.update(type="board", last_id=view.last_id, live=reader is not None, gap=gap)
            gap = False
            await websocket.send_text(json.dumps(jsonable_encoder(snap)))
            next_board = time.monotonic() + interval
        if reader is None:
            await asyncio.sleep(max(0.0, next_board - time.monotonic()))
            continue
        wait_ms = int(min(MAX_BLOCK_MS, max(1.0, (next_board - time.monotonic()) * 1000)))
        try:
            got = await reader.after(read_from, wait_ms)
        except redis.RedisError as exc:
            log.warning("live events unavailable", extra=kv(error=type(exc).__name__))
            reader = None
            continue
        for event_id, event in got:
            read_from = event_id
            view.apply(event_id, event)
            assert mask is not None
            account = view.calls[event.attempt_id].account_id if event.attempt_id in view.calls else None
            message = {"type": "event", **mask.event(event.public(event_id), account)}
            await websocket.send_text(json.dumps(message))
            if event.kind in BOARD_EVENTS:
                next_board = 0.0  # totals and the list of calls changed: push the board now


# --- campaign control ----------------------------------------------------------------------


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    concurrency: int = Field(ge=1, le=campaign_control.MAX_CONCURRENCY, description="live calls at once")
    cps: int = Field(ge=0, le=campaign_control.MAX_CPS, description="originates per second; 0: no limit")


@router.get("/campaigns")
def campaigns(console: ConsoleDep, user: Watcher) -> list[dict[str, Any]]:
    """Every campaign that has been run, with its control state and limits."""
    return [c.public() for c in campaign_control.list_controls(console.redis(), console.live_prefix)]


def _act(
    console: Console, user: Principal, campaign: str, action: str, asked: dict[str, Any], change: Any
) -> dict[str, Any]:
    # The audit row commits before Redis is touched: no change is ever made that the audit
    # does not hold (a database that cannot write refuses the change). A refusal adds a row.
    with console.transaction() as db:
        audit.record(db, console.now(), user.name, f"campaign_{action}", campaign, **asked)
    try:
        result: Control = change()
    except ControlRefused as exc:
        with console.transaction() as db:
            audit.record(
                db, console.now(), user.name, f"campaign_{action}_refused", campaign, why=exc.what[:200]
            )
        raise ApiError(404 if exc.missing else 409, exc.what, exc.fix) from None
    with contextlib.suppress(ServiceUnavailable):
        # The dialer acts on the record itself; the event only tells open boards at once.
        events.append(
            console.redis(), console.live_prefix, [events.control(campaign, console.now(), result.public())]
        )
    return result.public()


def _state_action(action: str, state: RunState) -> Any:
    def endpoint(campaign: CampaignId, console: ConsoleDep, user: Controller) -> dict[str, Any]:
        return _act(
            console,
            user,
            campaign,
            action,
            {"state": state.value},
            lambda: campaign_control.set_state(
                console.redis(), console.live_prefix, campaign, state, user.name, console.now()
            ),
        )

    endpoint.__doc__ = {
        "pause": "Dial nothing new; calls in progress go on to their end.",
        "resume": "Dial again after a pause.",
        "stop": "Dial nothing new; the run ends once its calls in progress have.",
    }[action]
    return endpoint


for _action, _state in (("pause", RunState.PAUSED), ("resume", RunState.RUNNING), ("stop", RunState.STOPPED)):
    router.add_api_route(
        f"/campaigns/{{campaign}}/{_action}",
        _state_action(_action, _state),
        methods=["POST"],
        name=f"campaign_{_action}",
        responses=CONTROL_ERRORS,
    )


@router.put("/campaigns/{campaign}/limits", responses=CONTROL_ERRORS)
def campaign_limits(
    campaign: CampaignId, limits: Limits, console: ConsoleDep, user: Controller
) -> dict[str, Any]:
    """New pacing limits for a running or paused campaign; the dialer applies them to its next dial."""
    return _act(
        console,
        user,
        campaign,
        "limits",
        {"concurrency": limits.concurrency, "cps": limits.cps},
        lambda: campaign_control.set_limits(
            console.redis(),
            console.live_prefix,
            campaign,
            limits.concurrency,
            limits.cps,
            user.name,
            console.now(),
        ),
    )
