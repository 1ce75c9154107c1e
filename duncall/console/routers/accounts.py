"""An account's page and the operator changes to it (supervisors and admins).

Reading the page needs ``pii_read`` (QA judges calls, not debtors, and does not read it);
the masking below stays for any role granted the page without it; every read is audited. Setting or clearing a flag and setting a
number's status need ``accounts_edit`` and a reason, and each change commits with its
audit row or not at all.
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
from duncall.console.masking import initials, mask_phone, mask_text
from duncall.console.roles import Permission, can
from duncall.console.state import Console

router = APIRouter(prefix="/api/accounts", tags=["accounts"])
ConsoleDep = Annotated[Console, Depends(get_console)]
# An account page is about the debtor (flags, promises, amounts), not a call's quality: QA,
# which has no pii_read, does not read it.
Reader = Annotated[Principal, Depends(require(Permission.PII_READ))]
Editor = Annotated[Principal, Depends(require(Permission.ACCOUNTS_EDIT))]
AccountId = Annotated[str, Path(max_length=64)]


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=state.REASON_MAX)


class PhoneChange(Change):
    status: str = Field(max_length=16)


def _for(who: Principal, page: dict[str, Any]) -> dict[str, Any]:
    """The page as ``who`` may see it: without ``pii_read`` names become initials, numbers masked."""
    if can(who.role, Permission.PII_READ):
        return {**page, "masked": False}
    account = dict(page["account"])
    first, last = account.get("first_name") or "", account.get("last_name") or ""
    names = [f"{first} {last}", first, last]
    account["first_name"], account["last_name"] = initials(first), initials(last)

    def said(reason: str | None) -> str | None:
        # Reasons are free text an operator typed; "Jordan asked by letter" must not name Jordan.
        return mask_text(reason, names) if reason else reason

    phones = [{**p, "number": mask_phone(p["number"]), "reason": said(p["reason"])} for p in page["phones"]]
    flags = [{**f, "reason": said(f["reason"])} for f in page["flags"]]
    timeline = [
        {
            **e,
            "number": _mask_address(e["number"]) if e["number"] else "",
            # A reply's words are the debtor's own: they may name people, places, amounts.
            "outcome": "(reply)" if e["kind"] == "reply" else e["outcome"],
        }
        for e in page["timeline"]
    ]
    return {
        **page,
        "account": account,
        "phones": phones,
        "flags": flags,
        "timeline": timeline,
        "masked": True,
    }


def _mask_address(address: str) -> str:
    """A number as ``mask_phone``; an e-mail address as ``a***@home.test`` (the domain says little)."""
    if "@" not in address:
        return mask_phone(address)
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


@router.get("/{account_id}")
def show(account_id: AccountId, console: ConsoleDep, who: Reader) -> dict[str, Any]:
    with console.transaction() as db:
        page = _for(who, account_page(db, account_id).as_json())
        # Masked or not, an account page is a read of one debtor's data: audited either way.
        audit.record(db, console.now(), who.name, "account_open", account_id, pii=not page["masked"])
        return page


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
        return _for(who, account_page(db, account_id).as_json())


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
        return _for(who, account_page(db, account_id).as_json())


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
        return _for(who, account_page(db, account_id).as_json())
