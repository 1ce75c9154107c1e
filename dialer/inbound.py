"""A debtor calling back: who is calling (by caller ID), and the call as an inbound attempt.

An inbound call is no dial: it never goes through the guard, so it takes no slot of the
frequency caps and no calling-window check (the debtor chose the time).  It is still a
contact, so it is an attempt row (``direction = inbound``) on the account's timeline, and
what the conversation said is written by the same code as an outbound call's result
(``dialer.dial.record.record_ended`` → ``dialer.accounts.state``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.accounts.records import RowError, phone, region_of
from dialer.call import AttemptResult
from dialer.dial.record import record_ended
from dialer.store.models import (
    Account,
    AccountFlagRow,
    AttemptState,
    CallAttempt,
    Creditor,
    FollowUpRow,
    Phone,
)
from foundation.contract import CallOutcome, ConversationRecord, DialTarget

INBOUND = "inbound"
DEFAULT_REGION = "US"  # for a caller ID without a country code when the dialled number has none either


@dataclass(frozen=True, slots=True)
class Caller:
    """Who the caller ID says is calling."""

    number: str | None  # the caller ID in E.164; None: withheld or not a number
    account_id: str | None  # the account to talk about; None: no account has this number
    candidates: tuple[str, ...] = ()  # every account with the number, for the log


def normalise(caller_id: str, did: str | None) -> str | None:
    """The caller ID in E.164, read in the dialled number's country when it has no ``+``."""
    region = (region_of(did) if did and did.startswith("+") else None) or DEFAULT_REGION
    try:
        return phone(caller_id, region)
    except RowError:
        return None


def find_caller(session: Session, caller_id: str, did: str | None) -> Caller:
    """The account a call from ``caller_id`` to ``did`` is about.

    Matched against the debtor's own phones only (a reference's number is not the debtor).
    Several accounts with the number: one of the creditor answering on ``did``, else the one
    created last (``account_id`` order breaks ties, so the choice is stable).
    """
    number = normalise(caller_id, did)
    if number is None:
        return Caller(None, None)
    rows = session.execute(
        select(Account.account_id, Creditor.callback_number)
        .join(Phone, Phone.account_id == Account.account_id)
        .outerjoin(Creditor, Creditor.creditor_id == Account.creditor_id)
        .where(Phone.number == number, Phone.contact_type == "debtor")
        .order_by(Account.account_id.desc())
    ).all()
    if not rows:
        return Caller(number, None)
    dialled = normalise(did, did) if did else None
    own = [a for a, callback in rows if dialled is not None and callback == dialled]
    return Caller(number, (own or [rows[0][0]])[0], tuple(a for a, _ in rows))


def open_inbound(
    engine: Engine, attempt_id: str, account_id: str, number: str, script: str, now: dt.datetime
) -> None:
    """The inbound attempt row, answered now (no reservation: nothing was dialled)."""
    with Session(engine) as s, s.begin():
        s.add(
            CallAttempt(
                attempt_id=attempt_id,
                account_id=account_id,
                campaign_id=None,
                number=number,
                state=AttemptState.DIALING.value,
                script=script,
                stage=None,
                reserved_at=now,
                dialed_at=now,
                direction=INBOUND,
            )
        )


def end_inbound(
    engine: Engine,
    attempt_id: str,
    channel_id: str,
    account_id: str,
    number: str,
    record: ConversationRecord | None,
    duration_s: float,
    now: dt.datetime,
) -> None:
    """End the inbound attempt with what the conversation said, as an outbound call's end is written."""
    target = DialTarget(account_id, number, script=(record.script if record else None) or "")
    result: AttemptResult[ConversationRecord] = AttemptResult(
        attempt_id, channel_id, CallOutcome.ANSWERED, duration_s=duration_s, conversation=record
    )
    record_ended(engine, target, result, now)


def account_flags(session: Session, account_id: str) -> list[str]:
    """The account's flags: any of them stops collection (``dialer.strategy.policy.STOP_FLAGS``)."""
    return sorted(session.scalars(select(AccountFlagRow.flag).where(AccountFlagRow.account_id == account_id)))


def follow_up(engine: Engine, account_id: str, reason: str, now: dt.datetime) -> None:
    """A call a collector has to return (``follow_ups``, shown as a callback due on the worklist)."""
    with Session(engine) as s, s.begin():
        s.add(FollowUpRow(account_id=account_id, created_at=now, channel="call", reason=reason[:200]))
