"""The one writer of an account's state: what a call leaves, and what an operator sets.

A call's result (``CallResult``) becomes flags, a blocked number, a promise, a plan
with its schedule, a callback day and the attempt's own end, all in the caller's
transaction — the one that ends the attempt — so a crash leaves either the whole
result or none of it, never an ended call whose "stop calling" was lost.

Operators set and clear flags and phone statuses here too, each with who and why.
The caller commits (and adds its audit row to the same transaction).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.policy.replies import ReplyAction, ReplyDecision
from dialer.store.models import (
    Account,
    AccountFlagRow,
    AttemptState,
    CallAttempt,
    FlagSource,
    FollowUpRow,
    InstallmentPlanRow,
    InstalmentRow,
    Phone,
    PhoneStatus,
    PhoneStatusRow,
    PlanStatus,
    PromiseRow,
    PromiseStatus,
)
from dialer.strategy.policy import flag_for_disposition
from foundation.contract import (
    AccountFlag,
    CallOutcome,
    ConversationRecord,
    Disposition,
    InstallmentPlanRecord,
)
from foundation.errors import InputError

CALL_CHANNEL = "call"
BY_CALL = "call"  # who set a flag or status when no operator did: the call itself
REASON_MAX = 400


@dataclass(frozen=True, slots=True)
class CallResult:
    """What one ended attempt says about its account."""

    outcome: CallOutcome
    disposition: Disposition | None = None
    flags: frozenset[AccountFlag] = frozenset()  # flags the conversation itself set
    promise: tuple[dt.date, Decimal] | None = None  # due date (debtor's zone), amount
    plan: InstallmentPlanRecord | None = None
    callback_on: dt.date | None = None  # the day to call back, in the debtor's zone
    hardship: bool = False
    right_party: bool = False
    by: str = BY_CALL  # the supervisor who took the call over, else the call

    @classmethod
    def of(
        cls, outcome: CallOutcome, disposition: Disposition, conv: ConversationRecord | None
    ) -> CallResult:
        if conv is None:
            return cls(outcome, disposition)
        promise = None
        if conv.promise is not None:
            promise = (dt.date.fromisoformat(conv.promise["date"]), Decimal(conv.promise["amount"]))
        known = set(AccountFlag.__members__.values())
        return cls(
            outcome=outcome,
            disposition=disposition,
            flags=frozenset(AccountFlag(f) for f in conv.flags if f in known),
            promise=promise,
            plan=conv.plan,
            callback_on=conv.callback_at,
            hardship=conv.hardship,
            right_party=conv.right_party,
            by=conv.taken_over_by or BY_CALL,
        )

    def account_flags(self) -> list[AccountFlag]:
        """Flags to set: the disposition's (stop calling → cease_contact …) and the conversation's."""
        found = set(self.flags)
        flag = flag_for_disposition(self.disposition)
        if flag is not None:
            found.add(flag)
        return sorted(found)


def write_call_result(session: Session, attempt: CallAttempt, result: CallResult, now: dt.datetime) -> None:
    """End ``attempt`` and write what its call said about the account, in ``session``'s transaction."""
    attempt.state = AttemptState.ENDED.value
    attempt.outcome = result.outcome.value
    attempt.ended_at = now
    attempt.disposition = result.disposition.value if result.disposition else None
    attempt.hardship = result.hardship
    attempt.right_party = result.right_party
    account = session.get(Account, attempt.account_id)
    if account is None:
        return  # the account was deleted while the call was up: nothing left to write state on
    said = f"call ended {result.disposition.value}" if result.disposition else "call"
    for flag in result.account_flags():
        _set_call_flag(session, attempt, flag, result.by, said, now)
    if result.disposition is Disposition.WRONG_NUMBER:
        _put_phone_status(
            session,
            attempt.account_id,
            attempt.number,
            PhoneStatus.WRONG_NUMBER,
            result.by,
            "the person answering said the debtor cannot be reached on this number",
            now,
            attempt.attempt_id,
        )
    if result.promise is not None:
        due, amount = result.promise
        session.add(
            PromiseRow(
                account_id=attempt.account_id,
                attempt_id=attempt.attempt_id,
                stage=attempt.stage,
                promised_date=due,
                amount=amount,
                currency=account.currency,
                status=PromiseStatus.PENDING.value,
                channel=CALL_CHANNEL,
                created_at=now,
            )
        )
    if result.plan is not None:
        plan = InstallmentPlanRow(
            account_id=attempt.account_id,
            attempt_id=attempt.attempt_id,
            stage=attempt.stage,
            channel=CALL_CHANNEL,
            total=result.plan.total,
            currency=account.currency,
            status=PlanStatus.ACTIVE.value,
            created_at=now,
        )
        session.add(plan)
        session.flush()  # the plan's id, for its instalments
        for seq, item in enumerate(result.plan.instalments, start=1):
            session.add(
                InstalmentRow(
                    plan_id=plan.plan_id,
                    seq=seq,
                    due_date=item.due,
                    amount=item.amount,
                    status=PromiseStatus.PENDING.value,
                )
            )
    if result.callback_on is not None:
        # The start of the asked-for day where the debtor lives: the guard's calling window
        # then decides the hour.
        attempt.callback_at = dt.datetime.combine(
            result.callback_on, dt.time(0), tzinfo=_zone(account.timezone)
        ).astimezone(dt.UTC)


def _set_call_flag(
    session: Session, attempt: CallAttempt, flag: AccountFlag, by: str, reason: str, now: dt.datetime
) -> None:
    _set_contact_flag(session, attempt.account_id, attempt.attempt_id, flag, FlagSource.CALL, by, reason, now)


def _set_contact_flag(
    session: Session,
    account_id: str,
    attempt_id: str | None,
    flag: AccountFlag,
    source: FlagSource,
    by: str,
    reason: str,
    now: dt.datetime,
) -> None:
    existing = session.get(AccountFlagRow, (account_id, flag.value))
    if existing is None:
        session.add(
            AccountFlagRow(
                account_id=account_id,
                flag=flag.value,
                source=source.value,
                set_at=now,
                attempt_id=attempt_id,
                set_by=by,
                reason=reason,
            )
        )
    elif existing.source == FlagSource.IMPORT.value:
        # The debtor confirmed it: keep it past the next re-import, which replaces only import flags.
        existing.source = source.value
        existing.set_at, existing.attempt_id = now, attempt_id
        existing.set_by, existing.reason = by, reason


# --- written replies ---------------------------------------------------------------------

BY_REPLY = "reply"  # who set a flag or status when the debtor's written reply did


def write_reply_result(
    session: Session,
    account_id: str,
    number: str,
    decision: ReplyDecision,
    words: str,
    now: dt.datetime,
    *,
    channel: str = "sms",
) -> None:
    """Write what a debtor's reply from ``number`` decided (``dialer.policy.replies``) on the account.

    The same rows a call's result writes — a flag, a blocked number, a pending promise —
    with the reply as their source; and a follow-up when a collector has to read it.
    Opting the channel out is the messaging module's (its opt-out and confirmation).
    """
    account = session.get(Account, account_id)
    if account is None:
        return
    said = f"{channel} reply"
    if decision.flag is not None:
        _set_contact_flag(session, account_id, None, decision.flag, FlagSource.MESSAGE, BY_REPLY, said, now)
    if decision.action is ReplyAction.WRONG_NUMBER and session.get(Phone, (account_id, number)) is not None:
        _put_phone_status(
            session,
            account_id,
            number,
            PhoneStatus.WRONG_NUMBER,
            BY_REPLY,
            "the reply said the debtor cannot be reached on this number",
            now,
            None,
        )
    if decision.promise is not None:
        due, amount = decision.promise
        session.add(
            PromiseRow(
                account_id=account_id,
                attempt_id=None,
                stage=None,
                promised_date=due,
                amount=amount,
                currency=account.currency,
                status=PromiseStatus.PENDING.value,
                channel=channel,
                created_at=now,
            )
        )
    if decision.follow_up is not None:
        session.add(
            FollowUpRow(
                account_id=account_id,
                created_at=now,
                channel=channel,
                reason=decision.follow_up[:200],
                detail=words[:REASON_MAX],
            )
        )


def _zone(name: str | None) -> dt.tzinfo:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return dt.UTC


# --- operators -----------------------------------------------------------------------


def _reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text:
        raise InputError("a reason is required", "say why, e.g. --reason 'debtor wrote on 2026-12-01'")
    if len(text) > REASON_MAX:
        raise InputError(f"the reason is {len(text)} characters long", f"keep it under {REASON_MAX}")
    return text


def _who(by: str) -> str:
    name = by.strip()
    if not name or len(name) > 64:
        raise InputError(f"operator name {by!r} is empty or too long", "give a user name of 1-64 characters")
    return name


def _account(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise InputError(f"no account {account_id!r} in the database", "check the id")
    return account


def parse_flag(name: str) -> AccountFlag:
    try:
        return AccountFlag(name)
    except ValueError:
        choices = ", ".join(f.value for f in AccountFlag)
        raise InputError(f"unknown flag {name!r}", f"choose one of {choices}") from None


def parse_phone_status(name: str) -> PhoneStatus:
    try:
        return PhoneStatus(name)
    except ValueError:
        choices = ", ".join(s.value for s in PhoneStatus)
        raise InputError(f"unknown phone status {name!r}", f"choose one of {choices}") from None


def set_flag(
    session: Session, account_id: str, flag: AccountFlag, by: str, reason: str, now: dt.datetime
) -> AccountFlagRow:
    """Set ``flag`` on the account as an operator; an existing flag takes the operator's who and why."""
    _account(session, account_id)
    by, reason = _who(by), _reason(reason)
    row = session.get(AccountFlagRow, (account_id, flag.value))
    if row is None:
        row = AccountFlagRow(account_id=account_id, flag=flag.value)
        session.add(row)
    row.source, row.set_at, row.attempt_id = FlagSource.OPERATOR.value, now, None
    row.set_by, row.reason = by, reason
    return row


def clear_flag(session: Session, account_id: str, flag: AccountFlag, by: str, reason: str) -> AccountFlagRow:
    """Remove ``flag`` from the account; the caller's audit row keeps who cleared it and why."""
    _account(session, account_id)
    _who(by), _reason(reason)
    row = session.get(AccountFlagRow, (account_id, flag.value))
    if row is None:
        raise InputError(
            f"account {account_id!r} has no flag {flag.value!r}", "see its flags with duncall accounts show"
        )
    session.delete(row)
    return row


def set_phone_status(
    session: Session,
    account_id: str,
    number: str,
    status: PhoneStatus,
    by: str,
    reason: str,
    now: dt.datetime,
) -> PhoneStatusRow:
    """Set a number's status on the account as an operator (``active`` makes it callable again)."""
    _account(session, account_id)
    by, reason = _who(by), _reason(reason)
    if session.get(Phone, (account_id, number)) is None:
        numbers = ", ".join(session.scalars(select(Phone.number).where(Phone.account_id == account_id)))
        raise InputError(
            f"account {account_id!r} has no phone {number!r}",
            f"give one of its numbers in E.164: {numbers or '(none)'}",
        )
    return _put_phone_status(session, account_id, number, status, by, reason, now, None)


def _put_phone_status(
    session: Session,
    account_id: str,
    number: str,
    status: PhoneStatus,
    by: str,
    reason: str,
    now: dt.datetime,
    attempt_id: str | None,
) -> PhoneStatusRow:
    row = session.get(PhoneStatusRow, (account_id, number))
    if row is None:
        row = PhoneStatusRow(account_id=account_id, number=number)
        session.add(row)
    row.status, row.set_at, row.set_by, row.reason, row.attempt_id = (
        status.value,
        now,
        by,
        reason,
        attempt_id,
    )
    return row


def phone_status(session: Session, account_id: str, number: str) -> PhoneStatus:
    row = session.get(PhoneStatusRow, (account_id, number))
    return PhoneStatus(row.status) if row is not None else PhoneStatus.ACTIVE


def record_outcome(
    session: Session,
    attempt: CallAttempt,
    *,
    outcome: CallOutcome,
    ended_at: dt.datetime,
    disposition: Disposition | None = None,
    promise: tuple[dt.date, Decimal] | None = None,
    hardship: bool = False,
) -> None:
    """``write_call_result`` with the result given field by field (imports of call history, tests)."""
    write_call_result(
        session,
        attempt,
        CallResult(outcome, disposition, promise=promise, hardship=hardship),
        ended_at,
    )
