"""An account's page and the operator changes to it (supervisors and admins).

Reading the page shows names and numbers (``pii_read``); setting or clearing a flag
and setting a number's status need ``accounts_edit`` and a reason, and each change
commits with its audit row or not at all.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from dialer.accounts import state
from dialer.accounts.page import account_page
from duncall.console import audit
from duncall.console.auth import Principal
from duncall.console.deps import get_console, require
from duncall.console.roles import Permission
from duncall.console.state import Console

router = APIRouter(prefix="/api/accounts", tags=["accounts"])
ConsoleDep = Annotated[Console, Depends(get_console)]
Reader = Annotated[Principal, Depends(require(Permission.PII_READ))]
Editor = Annotated[Principal, Depends(require(Permission.ACCOUNTS_EDIT))]
AccountId = Annotated[str, Path(max_length=64)]


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=state.REASON_MAX)


class PhoneChange(Change):
    status: str = Field(max_length=16)


@router.get("/{account_id}")
def show(account_id: AccountId, console: ConsoleDep, _: Reader) -> dict[str, Any]:
    with console.transaction() as db:
        return account_page(db, account_id).as_json()


@router.put("/{account_id}/flags/{flag}")
def set_flag(
    account_id: AccountId,
    flag: Annotated[str, Path(max_length=32)],
    body: Change,
    console: ConsoleDep,
    who: Editor,
) -> dict[str, Any]:
    name, now = state.parse_flag(flag), console.now()
    with console.transaction() as db:
        state.set_flag(db, account_id, name, who.name, body.reason, now)
        audit.record(db, now, who.name, "account_flag_set", account_id, flag=name.value, reason=body.reason)
        return account_page(db, account_id).as_json()


@router.delete("/{account_id}/flags/{flag}")
def clear_flag(
    account_id: AccountId,
    flag: Annotated[str, Path(max_length=32)],
    body: Change,
    console: ConsoleDep,
    who: Editor,
) -> dict[str, Any]:
    name, now = state.parse_flag(flag), console.now()
    with console.transaction() as db:
        state.clear_flag(db, account_id, name, who.name, body.reason)
        audit.record(db, now, who.name, "account_flag_clear", account_id, flag=name.value, reason=body.reason)
        return account_page(db, account_id).as_json()


@router.put("/{account_id}/phones/{number}")
def set_phone(
    account_id: AccountId,
    number: Annotated[str, Path(max_length=20)],
    body: PhoneChange,
    console: ConsoleDep,
    who: Editor,
) -> dict[str, Any]:
    status, now = state.parse_phone_status(body.status), console.now()
    with console.transaction() as db:
        state.set_phone_status(db, account_id, number, status, who.name, body.reason, now)
        audit.record(
            db,
            now,
            who.name,
            "account_phone_status",
            account_id,
            number=number,
            status=status.value,
            reason=body.reason,
        )
        return account_page(db, account_id).as_json()
