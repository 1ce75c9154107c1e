"""The desk: a collector works calls in the browser (``/desk``).

The collector's desk (ready / paused with a reason / on a call / wrap-up) lives in Redis
(``dialer.agents.desk``), where the campaign that rings their softphone reads and moves it.
``GET /api/desk`` hands the page the collector's own SIP credentials over their logged-in
session (never in a page's HTML, never cached); the account of the call in progress comes
with the state, for the screen pop (the page then reads ``/api/accounts/{id}``, audited).
A wrap-up goes to the campaign holding the call, which writes it with the attempt's end.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from dialer.agents.desk import NOTE_MAX, PAUSE_REASONS, WRAP_UP_DISPOSITIONS, DeskBoard, DeskState, WrapUp
from dialer.store.models import Collector
from duncall.console import audit
from duncall.console.auth import Principal
from duncall.console.deps import get_console, require
from duncall.console.errors import ApiError
from duncall.console.roles import Permission
from duncall.console.state import Console
from duncall.sandbox.phones import phone_of
from foundation.contract import Disposition

router = APIRouter(prefix="/api/desk", tags=["desk"])
ConsoleDep = Annotated[Console, Depends(get_console)]
Worker = Annotated[Principal, Depends(require(Permission.DESK_WORK))]
NO_STORE = {"Cache-Control": "no-store"}


class StateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: DeskState
    reason: str = Field(default="", max_length=32)


class WrapUpForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disposition: Disposition
    promise_amount: Decimal | None = Field(default=None, gt=0, max_digits=14, decimal_places=2)
    promise_date: dt.date | None = None
    callback_on: dt.date | None = None
    note: str = Field(default="", max_length=NOTE_MAX)
    then: DeskState = DeskState.READY  # ready or paused, after the wrap-up
    reason: str = Field(default="", max_length=32)


def _collector_of(console: Console, who: Principal) -> str:
    with console.transaction() as db:
        found = db.scalar(select(Collector.collector_id).where(Collector.console_user == who.name))
    if found is None:
        raise ApiError(
            404,
            f"console user {who.name!r} is no collector's log-in",
            "a supervisor sets it: duncall collectors add ID … --console-user NAME",
        )
    return found


def _board(console: Console) -> DeskBoard:
    return DeskBoard(console.redis(), console.live_prefix)


def _view(console: Console, collector_id: str) -> dict[str, Any]:
    board = _board(console)
    board.seen(collector_id)  # every read and move is the page polling: its desk may be rung
    current = board.desk(collector_id)
    return {
        **current.as_json(),
        # A call the bot transferred: what was said before it came to the desk.
        "transcript": board.transcript(current.attempt_id),
        "pause_reasons": list(PAUSE_REASONS),
        "dispositions": [d.value for d in WRAP_UP_DISPOSITIONS],
    }


@router.get("")
def desk(console: ConsoleDep, who: Worker, response: Response) -> dict[str, Any]:
    """The desk's state and the collector's softphone credentials (their own only)."""
    collector_id = _collector_of(console, who)
    response.headers.update(NO_STORE)
    phone = phone_of(collector_id)
    ws = console.settings.sip_ws_url
    return {
        **_view(console, collector_id),
        "phone": None
        if phone is None
        else {
            "ws_url": ws,
            "uri": f"sip:{phone.username}@{urlsplit(ws).hostname}",
            "password": phone.password,
        },
    }


@router.get("/state")
def state(console: ConsoleDep, who: Worker, response: Response) -> dict[str, Any]:
    response.headers.update(NO_STORE)
    return _view(console, _collector_of(console, who))


@router.post("/state")
def choose(body: StateChange, console: ConsoleDep, who: Worker) -> dict[str, Any]:
    """Go ready, pause (with a reason) or log off the desk; refused during a call or its wrap-up."""
    if body.state not in (DeskState.READY, DeskState.PAUSED, DeskState.OFFLINE):
        raise ApiError(
            400, f"a collector cannot choose {body.state.value}", "choose ready, paused or offline"
        )
    collector_id = _collector_of(console, who)
    _board(console).choose(collector_id, body.state, body.reason)
    return _view(console, collector_id)


@router.post("/wrapup")
def wrap_up(body: WrapUpForm, console: ConsoleDep, who: Worker) -> dict[str, Any]:
    """The call's disposition, promise, callback and note: to the campaign that stores the attempt."""
    collector_id = _collector_of(console, who)
    wrap = WrapUp(
        disposition=body.disposition,
        promise_amount=body.promise_amount,
        promise_date=body.promise_date,
        callback_on=body.callback_on,
        note=body.note.strip(),
    )
    board = _board(console)
    account_id = board.desk(collector_id).account_id
    attempt_id = board.submit_wrap_up(collector_id, wrap, body.then, body.reason)
    with console.transaction() as db:
        # The note is the collector's words about the debtor: in the audit chain, not in a log.
        audit.record(
            db,
            console.now(),
            who.name,
            "desk_wrap_up",
            account_id or attempt_id,
            attempt_id=attempt_id,
            disposition=wrap.disposition.value,
            promise=wrap.promise_amount is not None,
            note=wrap.note,
        )
    return {**_view(console, collector_id), "wrapped_up": attempt_id}
