"""The desk: a collector works calls in the browser (``/desk``).

The collector's desk (ready / paused with a reason / on a call / wrap-up) lives in Redis
(``dialer.agents.desk``), where the campaign that rings their softphone reads and moves it.
``GET /api/desk`` hands the page the collector's own SIP credentials over their logged-in
session (never in a page's HTML, never cached); the account of the call in progress comes
with the state, for the screen pop (the page then reads ``/api/accounts/{id}``, audited).
A wrap-up goes to the campaign holding the call, which writes it with the attempt's end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from bot.dialogue.plans import installment_plan
from dialer.agents.desk import (
    NOTE_MAX,
    PAUSE_REASONS,
    PLAN_MAX_INSTALMENTS,
    WRAP_UP_DISPOSITIONS,
    WRAP_UP_FLAGS,
    DeskBoard,
    DeskState,
    WrapUp,
)
from dialer.assignment.config import load_rules as load_assignment_rules
from dialer.assignment.worklist import build
from dialer.store.models import Account, CaseAssignment, Collector
from dialer.store.models.notes import AccountNoteRow
from duncall.compose import parts
from duncall.console import audit
from duncall.console.auth import Principal
from duncall.console.deps import get_console, require
from duncall.console.deskcalls import DeskCalls
from duncall.console.errors import ApiError
from duncall.console.roles import Permission, Role
from duncall.console.state import Console
from duncall.sandbox.phones import phone_of
from foundation import paths
from foundation.contract import AccountFlag, Disposition, InstallmentPlanRecord, InstalmentRecord
from foundation.settings import get_settings

router = APIRouter(prefix="/api/desk", tags=["desk"])
ConsoleDep = Annotated[Console, Depends(get_console)]
Worker = Annotated[Principal, Depends(require(Permission.DESK_WORK))]
NO_STORE = {"Cache-Control": "no-store"}


class StateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: DeskState
    reason: str = Field(default="", max_length=32)


class CallForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, max_length=64)
    number: str = Field(min_length=2, max_length=20, pattern=r"^\+[0-9]+$")


class WrapUpForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disposition: Disposition
    promise_amount: Decimal | None = Field(default=None, gt=0, max_digits=14, decimal_places=2)
    promise_date: dt.date | None = None
    callback_on: dt.date | None = None
    note: str = Field(default="", max_length=NOTE_MAX)
    # An instalment plan: the balance split as the bot's plans split it (whole units, the rest last).
    plan_instalments: int | None = Field(default=None, ge=2, le=PLAN_MAX_INSTALMENTS)
    plan_first_date: dt.date | None = None
    flags: list[AccountFlag] = Field(default_factory=list, max_length=len(WRAP_UP_FLAGS))
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
        "flags": [f.value for f in WRAP_UP_FLAGS],
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
    board = _board(console)
    account_id = board.desk(collector_id).account_id
    wrap = WrapUp(
        disposition=body.disposition,
        promise_amount=body.promise_amount,
        promise_date=body.promise_date,
        callback_on=body.callback_on,
        note=body.note.strip(),
        plan=_plan(console, account_id, body),
        flags=tuple(dict.fromkeys(body.flags)),
    )
    attempt_id = board.submit_wrap_up(collector_id, wrap, body.then, body.reason)
    with console.transaction() as db:
        # On the account's page (an account removed during the call keeps it in the audit only).
        if wrap.note and account_id and db.get(Account, account_id) is not None:
            db.add(
                AccountNoteRow(
                    account_id=account_id,
                    created_at=console.now(),
                    author=who.name,
                    attempt_id=attempt_id,
                    text=wrap.note,
                )
            )
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
            plan=len(wrap.plan.instalments) if wrap.plan is not None else 0,
            flags=[f.value for f in wrap.flags],
            note=wrap.note,
        )
    return {**_view(console, collector_id), "wrapped_up": attempt_id}


def _plan(console: Console, account_id: str, body: WrapUpForm) -> InstallmentPlanRecord | None:
    """The plan the debtor agreed to: the account's balance in ``plan_instalments`` monthly parts."""
    if body.plan_instalments is None and body.plan_first_date is None:
        return None
    if body.plan_instalments is None or body.plan_first_date is None:
        raise ApiError(
            400, "a plan needs its number of instalments and its first date", "give both, or neither"
        )
    if not account_id:
        raise ApiError(409, "the desk has no account on its call", "take a call first")
    with console.transaction() as db:
        account = db.get(Account, account_id)
        balance = account.balance if account is not None else None
    if balance is None:
        raise ApiError(404, f"no account {account_id!r}", "the account was removed during the call")
    plan = installment_plan(balance, body.plan_instalments, body.plan_first_date)
    amounts = [plan.amount] * (plan.count - 1) + [plan.last_amount]
    return InstallmentPlanRecord(
        total=plan.total,
        instalments=tuple(
            InstalmentRecord(due, amount) for due, amount in zip(plan.dates, amounts, strict=True)
        ),
    )


# --- the worklist and the collector's own calls ------------------------------------------------

ASSIGNMENT_RULES = paths.strategies_dir() / "assignment.yaml"


@router.get("/worklist")
def worklist(console: ConsoleDep, who: Worker, response: Response) -> dict[str, Any]:
    """The collector's accounts, most urgent first, with what the guard allows on each number now
    (the queue ``duncall worklist`` prints; nothing reserved, nothing dialled)."""
    collector_id = _collector_of(console, who)
    response.headers.update(NO_STORE)
    now = console.now()
    items = build(
        console.engine,
        collector_id,
        load_assignment_rules(ASSIGNMENT_RULES),
        parts.strategy(),
        parts.guard_rules(get_settings().desk_guard_rules),
        now,
    )
    with console.transaction() as db:
        audit.record(db, now, who.name, "worklist_read", collector_id, accounts=len(items))
    return {"collector_id": collector_id, "at": now.isoformat(), "items": [i.as_json() for i in items]}


def get_desk_calls(request: Request) -> DeskCalls:
    """The app's one click-to-call service, made on first use."""
    calls: DeskCalls | None = getattr(request.app.state, "desk_calls", None)
    if calls is None:
        calls = DeskCalls(get_console(request))
        request.app.state.desk_calls = calls
    return calls


# Who may place a call from a desk, and on which accounts (the desk_work permission lets them
# reach the desk at all; this says who dials): a collector their own portfolio, the rest any.
CALLERS_OF_ANY_ACCOUNT = frozenset({Role.SUPERVISOR, Role.ADMIN})


def _may_call(console: Console, who: Principal, collector_id: str, account_id: str) -> None:
    """A collector calls the accounts of their own portfolio; supervisors and admins any account;
    no other role dials, whatever permissions it is given."""
    if who.role in CALLERS_OF_ANY_ACCOUNT:
        return
    if who.role is not Role.COLLECTOR:
        raise ApiError(
            403, f"role {who.role.value} does not place calls", "a collector, supervisor or admin calls"
        )
    with console.transaction() as db:
        holder = db.scalar(select(CaseAssignment.collector_id).where(CaseAssignment.account_id == account_id))
    if holder != collector_id:
        raise ApiError(
            403, f"account {account_id} is not in your portfolio", "call the accounts of your worklist"
        )


@router.post("/call")
async def call(body: CallForm, request: Request, who: Worker) -> dict[str, Any]:
    """Call a number of an account: the guard decides it like any dialer call (a human call); when
    allowed the desk's softphone comes up hearing ringback while the debtor is dialled, and
    whatever answers is bridged to it (no answer detection: the collector is on the line).
    ``voicemail_message``: the limited-content message the collector may leave on a voicemail
    (null: the creditor has no callback number, so none).  Refused: 409 with the guard's
    reasons, and nothing is dialled."""
    console = get_console(request)
    collector_id = await asyncio.to_thread(_collector_of, console, who)
    phone = phone_of(collector_id)
    if phone is None:
        raise ApiError(
            409,
            f"collector {collector_id} has no desk phone",
            "a supervisor makes it: duncall collectors phone ID",
        )
    await asyncio.to_thread(_may_call, console, who, collector_id, body.account_id)
    service = get_desk_calls(request)
    target = await asyncio.to_thread(service.target, body.account_id, body.number)
    decision = await service.call(target, collector_id, phone.endpoint)

    def audited() -> None:
        with console.transaction() as db:
            audit.record(
                db,
                console.now(),
                who.name,
                "desk_call" if decision.allowed else "desk_call_refused",
                body.account_id,
                attempt_id=decision.attempt_id,
                reasons=list(decision.reasons),
            )

    await asyncio.to_thread(audited)
    if not decision.allowed:
        raise ApiError(
            409,
            "the guard refused the call: " + "; ".join(decision.reasons),
            "nothing was dialled; the worklist says when the number may be called",
            reasons=list(decision.reasons),
            attempt_id=decision.attempt_id,
        )
    # No answer detection on a collector's call: if a voicemail answers, this is all they may leave.
    voicemail = await asyncio.to_thread(service.voicemail, body.account_id, collector_id)
    return {**_view(console, collector_id), "calling": decision.attempt_id, "voicemail_message": voicemail}
