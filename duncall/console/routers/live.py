"""Live board: a snapshot over HTTP, and a WebSocket that pushes one every few seconds."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder

from duncall.console import audit, live
from duncall.console.auth import Principal
from duncall.console.deps import SESSION_COOKIE, get_console, identify, require
from duncall.console.errors import ApiError
from duncall.console.roles import Permission, can
from duncall.console.state import Console

router = APIRouter(prefix="/api/live", tags=["live"])
ConsoleDep = Annotated[Console, Depends(get_console)]
Watcher = Annotated[Principal, Depends(require(Permission.LIVE_READ))]
WS_UNAUTHORIZED = 4401  # private-use close codes: the HTTP status plus 4000
WS_FORBIDDEN = 4403


def _snapshot(console: Console, show_pii: bool) -> dict[str, Any]:
    with console.transaction() as db:
        return live.snapshot(db, console.now(), show_pii)


@router.get("")
def board(console: ConsoleDep, user: Watcher) -> dict[str, Any]:
    return _snapshot(console, can(user.role, Permission.PII_READ))


@router.websocket("/ws")
async def board_ws(websocket: WebSocket) -> None:
    console: Console = websocket.app.state.console
    try:
        principal = await run_in_threadpool(identify, console, websocket.cookies.get(SESSION_COOKIE))
    except ApiError:
        await websocket.close(code=WS_UNAUTHORIZED)
        return
    if not can(principal.role, Permission.LIVE_READ):
        await websocket.close(code=WS_FORBIDDEN)
        return
    await websocket.accept()

    def watched() -> None:
        with console.transaction() as db:
            audit.record(db, console.now(), principal.name, "live_watch")

    await run_in_threadpool(watched)
    show_pii = can(principal.role, Permission.PII_READ)
    token = websocket.cookies.get(SESSION_COOKIE)
    try:
        while True:
            try:
                # A session that expires or is closed while watching ends the board too.
                await run_in_threadpool(identify, console, token)
            except ApiError:
                await websocket.close(code=WS_UNAUTHORIZED)
                return
            snap = await run_in_threadpool(_snapshot, console, show_pii)
            await websocket.send_text(json.dumps(jsonable_encoder(snap)))
            await asyncio.sleep(console.settings.live_interval_s)
    except WebSocketDisconnect:
        return
