"""One account as an operator reads it: who, what is owed, its numbers and flags, what was
promised or agreed, and every attempt with what the guard and the debtor said.

A read model (plain data, JSON-ready through ``as_json``) shared by ``duncall accounts
show`` and the console's account page; it writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from dialer.policy.messages import SMS_UNREACHABLE_AFTER, failures_in_a_row
from dialer.store.models import (
    CallAttempt,
    InstallmentPlanRow,
    InstalmentRow,
    PhoneStatus,
    PhoneStatusRow,
    PromiseRow,
)
from dialer.store.models.guards import GuardDecisionRow
from dialer.store.models.messages import MessageEventRow, MessageRow
from dialer.store.models.notes import AccountNoteRow
from dialer.store.models.payments import PaymentRow
from dialer.store.repo import get_account

CHANNEL_CALL = "call"


@dataclass(frozen=True, slots=True)
class PhoneLine:
    number: str
    status: str  # PhoneStatus
    phone_type: str
    contact_type: str
    consent: bool
    set_at: dt.datetime | None = None
    by: str | None = None
    reason: str | None = None
    sms_failures: int = 0  # SMS to this number that failed in a row (none delivered since)
    sms_unreachable: bool = False  # the message guard refuses SMS to it (SMS_UNREACHABLE_AFTER)


@dataclass(frozen=True, slots=True)
class FlagLine:
    name: str
    set_at: dt.datetime | None
    by: str | None
    reason: str | None
    source: str


@dataclass(frozen=True, slots=True)
class PromiseLine:
    amount: Decimal
    currency: str
    due: dt.date  # in the debtor's zone
    status: str
    channel: str | None
    stage: str | None
    made_at: dt.datetime


@dataclass(frozen=True, slots=True)
class InstalmentLine:
    seq: int
    due: dt.date
    amount: Decimal
    status: str


@dataclass(frozen=True, slots=True)
class PlanLine:
    total: Decimal
    currency: str
    status: str
    made_at: dt.datetime
    instalments: list[InstalmentLine]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: dt.datetime
    channel: str
    # attempt | conversation | denied (calls and messages); message; and a message's later events:
    # delivered | failed | reply | opt_out | opt_out_confirmed
    kind: str
    outcome: str | None  # CallOutcome, a message's status, a reply's words; None for a denial
    disposition: str | None = None
    reasons: list[str] = field(default_factory=list)  # the guard decision's reasons
    attempt_id: str = ""
    number: str = ""
    callback_at: dt.datetime | None = None
    direction: str = "outbound"  # a call: inbound when the debtor called us (dialer.inbound)


@dataclass(frozen=True, slots=True)
class NoteLine:
    at: dt.datetime
    author: str
    text: str
    attempt_id: str | None  # the call it is about (a wrap-up's note)


@dataclass(frozen=True, slots=True)
class AccountPage:
    account: dict[str, Any]
    creditor: str | None  # the creditor's id (None: imported before creditors existed)
    phones: list[PhoneLine]
    flags: list[FlagLine]
    promises: list[PromiseLine]
    plans: list[PlanLine]
    payments: list[dict[str, Any]]
    timeline: list[TimelineEntry]
    notes: list[NoteLine] = field(default_factory=list)  # collectors' notes, oldest first

    def as_json(self) -> dict[str, Any]:
        """Plain JSON types: money as strings (exact), times and dates ISO 8601."""
        return _plain(asdict(self))  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return _utc(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything duncall writes is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def account_page(session: Session, account_id: str) -> AccountPage:
    """The page for ``account_id``; an unknown id is an ``InputError`` naming it."""
    a = get_account(session, account_id)
    statuses = {
        r.number: r
        for r in session.scalars(select(PhoneStatusRow).where(PhoneStatusRow.account_id == account_id))
    }
    sms: dict[str, list[str]] = {}
    for number, sms_status in session.execute(
        select(MessageRow.address, MessageRow.status)
        .where(
            MessageRow.account_id == account_id,
            MessageRow.channel == "sms",
            MessageRow.status.in_(("delivered", "failed")),
        )
        .order_by(MessageRow.created_at)
    ):
        sms.setdefault(number, []).append(sms_status)
    phones = []
    for p in a.phones:
        st = statuses.get(p.number)
        failures = failures_in_a_row(sms.get(p.number, []))
        phones.append(
            PhoneLine(
                number=p.number,
                status=st.status if st else PhoneStatus.ACTIVE.value,
                phone_type=p.phone_type,
                contact_type=p.contact_type,
                consent=p.ai_voice_consent,
                set_at=_utc(st.set_at) if st else None,
                by=st.set_by if st else None,
                reason=st.reason if st else None,
                sms_failures=failures,
                sms_unreachable=failures >= SMS_UNREACHABLE_AFTER,
            )
        )
    flags = [
        FlagLine(f.flag, _utc(f.set_at) if f.set_at else None, f.set_by, f.reason, f.source)
        for f in sorted(a.flags, key=lambda f: f.flag)
    ]
    promises = [
        PromiseLine(p.amount, p.currency, p.promised_date, p.status, p.channel, p.stage, _utc(p.created_at))
        for p in session.scalars(
            select(PromiseRow).where(PromiseRow.account_id == account_id).order_by(PromiseRow.promise_id)
        )
    ]
    plans = []
    for plan in session.scalars(
        select(InstallmentPlanRow)
        .where(InstallmentPlanRow.account_id == account_id)
        .order_by(InstallmentPlanRow.plan_id)
    ):
        items = session.scalars(
            select(InstalmentRow).where(InstalmentRow.plan_id == plan.plan_id).order_by(InstalmentRow.seq)
        )
        plans.append(
            PlanLine(
                plan.total,
                plan.currency,
                plan.status,
                _utc(plan.created_at),
                [InstalmentLine(i.seq, i.due_date, i.amount, i.status) for i in items],
            )
        )
    notes = _notes(session, account_id)
    return AccountPage(
        account={
            "id": a.account_id,
            "first_name": a.first_name,
            "last_name": a.last_name,
            "language": a.language,
            "timezone": a.timezone,
            "balance": a.balance,
            "currency": a.currency,
            "due_date": a.due_date,
            "days_past_due": a.days_past_due,
            "product": a.product,
            "risk_segment": a.risk_segment,
        },
        creditor=a.creditor_id,
        phones=phones,
        flags=flags,
        promises=promises,
        plans=plans,
        payments=[
            {
                "payment_id": pay.payment_id,
                "amount": pay.amount,
                "currency": pay.currency,
                "paid_at": _utc(pay.paid_at),
                "source": pay.source,
                "promise_id": pay.promise_id,
                "instalment_id": pay.instalment_id,
            }
            for pay in session.scalars(
                select(PaymentRow).where(PaymentRow.account_id == account_id).order_by(PaymentRow.paid_at)
            )
        ],
        timeline=_timeline(session, account_id, notes),
        notes=notes,
    )


def _notes(session: Session, account_id: str) -> list[NoteLine]:
    if not inspect(session.get_bind()).has_table(AccountNoteRow.__tablename__):
        return []
    return [
        NoteLine(_utc(n.created_at), n.author, n.text, n.attempt_id)
        for n in session.scalars(
            select(AccountNoteRow)
            .where(AccountNoteRow.account_id == account_id)
            .order_by(AccountNoteRow.created_at, AccountNoteRow.id)
        )
    ]


def _timeline(session: Session, account_id: str, notes: Sequence[NoteLine] = ()) -> list[TimelineEntry]:
    """Every attempt (with its guard decision), every message and what came back, every call or
    message the guard denied, and every collector's note, oldest first."""
    decisions: dict[str, GuardDecisionRow | None] = {}
    if inspect(session.get_bind()).has_table(GuardDecisionRow.__tablename__):
        for row in session.scalars(
            select(GuardDecisionRow)
            .where(GuardDecisionRow.account_id == account_id)
            .order_by(GuardDecisionRow.id)
        ):
            decisions[row.attempt_id] = row
    entries = []
    for a in session.scalars(
        select(CallAttempt).where(CallAttempt.account_id == account_id).order_by(CallAttempt.reserved_at)
    ):
        decision = decisions.pop(a.attempt_id, None)  # what stays are denials: no attempt row
        entries.append(
            TimelineEntry(
                at=_utc(a.reserved_at),
                channel=CHANNEL_CALL,
                kind="conversation" if a.right_party else "attempt",
                outcome=a.outcome or a.state,  # an attempt still up reads as its state
                disposition=a.disposition,
                reasons=_reasons(decision),
                attempt_id=a.attempt_id,
                number=a.number,
                callback_at=_utc(a.callback_at) if a.callback_at else None,
                direction=a.direction,
            )
        )
    if inspect(session.get_bind()).has_table(MessageRow.__tablename__):
        entries += _messages(session, account_id)
    for d in decisions.values():
        if d is not None and not d.allowed:
            entries.append(
                TimelineEntry(
                    at=_utc(d.at),
                    channel=d.channel,
                    kind="denied",
                    outcome=None,
                    reasons=_reasons(d),
                    attempt_id=d.attempt_id,
                    number=d.phone,
                )
            )
    entries += [
        TimelineEntry(at=n.at, channel="note", kind="note", outcome=n.text, attempt_id=n.attempt_id or "")
        for n in notes
    ]
    return sorted(entries, key=lambda e: e.at)


def _messages(session: Session, account_id: str) -> list[TimelineEntry]:
    entries = [
        TimelineEntry(
            at=_utc(m.created_at),
            channel=m.channel,
            kind="message",
            outcome=m.status,
            disposition=m.stage,
            attempt_id=m.message_id,
            number=m.address,
        )
        for m in session.scalars(select(MessageRow).where(MessageRow.account_id == account_id))
    ]
    for e in session.scalars(
        select(MessageEventRow)
        .where(MessageEventRow.account_id == account_id, MessageEventRow.kind != "sent")
        .order_by(MessageEventRow.id)
    ):
        entries.append(
            TimelineEntry(
                at=_utc(e.at),
                channel=e.channel,
                kind=e.kind,
                outcome=e.detail,
                attempt_id=e.message_id or "",
            )
        )
    return entries


def _reasons(d: GuardDecisionRow | None) -> list[str]:
    return [r for r in d.reasons.split(",") if r] if d is not None else []
