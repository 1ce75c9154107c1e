"""The supervisor's live board: calls in progress with their live transcript, today's totals per
campaign, and each campaign's control record.

The store says which calls are not over and counts the day; the live view (folded from the
event stream, ``telephony.live.events``) adds what the store learns only at a call's end: the
dialogue state and every turn so far.  Both are merged here, masked for roles without PII.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialer.campaign.control import Control
from dialer.store.models.accounts import Account
from dialer.store.models.attempts import AttemptState, CallAttempt
from duncall.console.masking import initials, mask_phone, mask_text
from foundation.contract import CallOutcome, Disposition
from telephony.live.events import BoardCall, EventKind, LiveView

MAX_ACTIVE = 500  # calls on one board; a floor of 500 bot lines is more than one page can show
CONNECTED = frozenset({CallOutcome.ANSWERED.value, CallOutcome.ABANDONED.value})  # a person answered
PROMISES = frozenset({Disposition.PROMISE_TO_PAY.value, Disposition.INSTALLMENT_PLAN.value})


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class Masker:
    """What a role may see of the debtor: everything, or a masked number and initials."""

    show_pii: bool
    names: dict[str, tuple[str, str]]  # account id → (first, last)

    def number(self, number: str | None) -> str:
        if not number:
            return ""
        return number if self.show_pii else mask_phone(number)

    def debtor(self, account_id: str | None) -> str:
        first, last = self.names.get(account_id or "", ("", ""))
        return " ".join(n for n in (first, last) if n) if self.show_pii else initials(first, last)

    def text(self, account_id: str | None, text: str) -> str:
        if self.show_pii or not text:
            return text
        return mask_text(text, list(self.names.get(account_id or "", ())))

    def event(self, public: dict[str, Any], account_id: str | None) -> dict[str, Any]:
        """An event as this role may see it (a turn's text, a dial's number)."""
        if self.show_pii:
            return public
        out = dict(public)
        if public.get("kind") == EventKind.TURN.value:
            out["text"] = self.text(account_id, str(public.get("text") or ""))
        if "number" in out:
            out["number"] = self.number(out["number"])
        return out


def names_of(db: Session, account_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    ids = sorted({a for a in account_ids if a})
    if not ids:
        return {}
    rows = db.execute(
        select(Account.account_id, Account.first_name, Account.last_name).where(Account.account_id.in_(ids))
    ).all()
    return {aid: (first or "", last or "") for aid, first, last in rows}


def totals(db: Session, now: dt.datetime) -> list[dict[str, Any]]:
    """Per campaign, today (UTC): dialled, connected, promises, abandoned and its rate, live calls."""
    a = CallAttempt
    day_start = dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time(), tzinfo=dt.UTC)
    rows = db.execute(
        select(a.campaign_id, a.state, a.outcome, a.disposition, func.count())
        .where(a.reserved_at >= day_start)
        .group_by(a.campaign_id, a.state, a.outcome, a.disposition)
    ).all()
    campaigns: dict[str, dict[str, Any]] = {}
    for campaign, state, outcome, disposition, count in rows:
        e = campaigns.setdefault(
            campaign or "",
            {
                "campaign": campaign,
                "dialed": 0,
                "live": 0,
                "ended": 0,
                "connected": 0,
                "promises": 0,
                "abandoned": 0,
                "dispositions": {},
            },
        )
        e["dialed"] += count
        if state != AttemptState.ENDED.value:
            e["live"] += count
            continue
        e["ended"] += count
        e["dispositions"][disposition or "none"] = e["dispositions"].get(disposition or "none", 0) + count
        e["connected"] += count if outcome in CONNECTED else 0
        e["promises"] += count if disposition in PROMISES else 0
        e["abandoned"] += count if outcome == CallOutcome.ABANDONED.value else 0
    for e in campaigns.values():
        # Abandoned as a share of the calls a person answered (the FCC / Ofcom measure).
        e["abandon_rate"] = round(e["abandoned"] / e["connected"], 4) if e["connected"] else None
    return sorted(campaigns.values(), key=lambda e: str(e["campaign"]))


def _call(
    attempt_id: str,
    row: CallAttempt | None,
    live: BoardCall | None,
    now: dt.datetime,
    mask: Masker,
) -> dict[str, Any]:
    account_id = (row.account_id if row else None) or (live.account_id if live else None)
    since = _utc(row.dialed_at or row.reserved_at) if row else None
    since = since or (live.dialing_at if live else None)
    answered = live.answered_at if live else None
    return {
        "attempt_id": attempt_id,
        "campaign": (row.campaign_id if row else None) or (live.campaign if live else None),
        "account_id": account_id,
        "debtor": mask.debtor(account_id),
        "number": mask.number((row.number if row else None) or (live.number if live else None)),
        "state": "talking" if answered else (row.state if row else "dialing"),
        "dialogue_state": live.state if live else None,
        "stage": (row.stage if row else None) or (live.stage if live else None),
        "script": (row.script if row else None) or (live.script if live else None),
        "since": since,
        "answered_at": answered,
        "seconds": round((now - since).total_seconds()) if since else 0,
        "turns": [mask.event(t, account_id) for t in (live.turns if live else [])],
    }


def snapshot(
    db: Session,
    now: dt.datetime,
    show_pii: bool,
    view: LiveView | None = None,
    controls: list[Control] | None = None,
) -> tuple[dict[str, Any], Masker]:
    """The whole board, and the masker to apply to the events that follow it."""
    a = CallAttempt
    rows = {
        r.attempt_id: r
        for r in db.scalars(
            select(a).where(a.state != AttemptState.ENDED.value).order_by(a.reserved_at).limit(MAX_ACTIVE)
        )
    }
    live_calls: dict[str, BoardCall] = {}
    if view is not None:
        # A call the store already has as ended (its end event not read yet, or a killed dialer's
        # call settled by recovery) leaves the board; a call whose row is not written yet stays.
        ended = set(
            db.scalars(
                select(a.attempt_id).where(
                    a.attempt_id.in_([k for k in view.calls if k not in rows]),
                    a.state == AttemptState.ENDED.value,
                )
            )
        )
        view.prune({k for k in view.calls if k not in ended})
        live_calls = view.calls
    order = list(rows) + [k for k in live_calls if k not in rows]
    account_ids = [r.account_id for r in rows.values()] + [c.account_id or "" for c in live_calls.values()]
    mask = Masker(show_pii, names_of(db, account_ids))
    board = {
        "at": now,
        "active": [_call(k, rows.get(k), live_calls.get(k), now, mask) for k in order[:MAX_ACTIVE]],
        "today": totals(db, now),
        "campaigns": [c.public() for c in controls or []],
    }
    return board, mask
