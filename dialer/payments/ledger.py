"""Store one payment and match it: the balance goes down, the oldest open promise is paid into.

Every payment is one transaction (the caller's session): the payment row, the
account's balance and the promise's paid amount change together or not at all.
The account row is written first, which takes its lock (a row lock on PostgreSQL,
the write lock on SQLite) before anything is read: two deliveries for one account
— the same payment twice, or two payments racing for the same promise — run one
after the other, never interleaved.

``payment_id`` is the idempotency key: the same id with the same content is a no-op
(a webhook retried, a file imported twice); the same id with different content is
refused, since one of the two must be wrong and the stored one may already have
been matched.

A payment pays into the account's oldest pending promise not yet paid in full; with
none, into the oldest pending instalment (by due date) of an active installment plan
not yet paid in full (what an instalment has received is the sum of the payments
matched to it); with neither, it only lowers the balance.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dialer.payments.records import PaymentError, PaymentRecord
from dialer.store.models import (
    Account,
    InstallmentPlanRow,
    InstalmentRow,
    PaymentRow,
    PaymentSource,
    PlanStatus,
    PromiseRow,
    PromiseStatus,
)


class Stored(StrEnum):
    NEW = "stored"
    DUPLICATE = "duplicate"  # already stored with the same content: nothing changed


@dataclass(frozen=True, slots=True)
class StoreResult:
    outcome: Stored
    promise_id: int | None = None
    instalment_id: int | None = None


def store_payment(
    session: Session, record: PaymentRecord, *, source: PaymentSource, received_at: dt.datetime
) -> StoreResult:
    """Store and match ``record`` in ``session``'s transaction (the caller commits); ``PaymentError``
    when it cannot be stored (nothing was changed by it)."""
    locked = session.execute(
        update(Account)
        .where(Account.account_id == record.account_id)
        .values(balance=Account.balance)  # a no-op write: the account's lock, taken first
        .execution_options(synchronize_session=False)
    )
    if locked.rowcount == 0:  # type: ignore[attr-defined]
        raise PaymentError(
            f"no account {record.account_id!r}", "import the account first, or correct account_id"
        )
    existing = session.get(PaymentRow, record.payment_id)
    if existing is not None:
        if _as_record(existing).same_as(record):
            return StoreResult(Stored.DUPLICATE, existing.promise_id, existing.instalment_id)
        raise PaymentError(
            f"payment_id {record.payment_id!r} is already stored with a different "
            f"{_differences(_as_record(existing), record)}",
            "a corrected payment needs a new payment_id; resend the original unchanged",
        )
    account = session.get(Account, record.account_id)
    assert account is not None  # locked above
    if record.currency != account.currency:
        raise PaymentError(
            f"currency {record.currency} differs from the account's {account.currency}",
            f"convert the payment to {account.currency} before sending it",
        )
    promise = session.scalar(
        select(PromiseRow)
        .where(
            PromiseRow.account_id == record.account_id,
            PromiseRow.status == PromiseStatus.PENDING.value,
            PromiseRow.paid_amount < PromiseRow.amount,
        )
        .order_by(PromiseRow.created_at, PromiseRow.promise_id)
        .limit(1)
    )
    instalment_id = _open_instalment(session, record.account_id) if promise is None else None
    session.add(
        PaymentRow(
            payment_id=record.payment_id,
            account_id=record.account_id,
            amount=record.amount,
            currency=record.currency,
            paid_at=record.paid_at.astimezone(dt.UTC),
            received_at=received_at,
            source=source.value,
            promise_id=promise.promise_id if promise is not None else None,
            instalment_id=instalment_id,
        )
    )
    account.balance = account.balance - record.amount
    if promise is not None:
        promise.paid_amount = promise.paid_amount + record.amount
    session.flush()
    return StoreResult(Stored.NEW, promise.promise_id if promise is not None else None, instalment_id)


def _open_instalment(session: Session, account_id: str) -> int | None:
    """The oldest pending instalment of the account's active plans that is not yet paid in full."""
    paid = (
        select(func.coalesce(func.sum(PaymentRow.amount), 0))
        .where(PaymentRow.instalment_id == InstalmentRow.instalment_id)
        .scalar_subquery()
    )
    return session.scalar(
        select(InstalmentRow.instalment_id)
        .join(InstallmentPlanRow, InstallmentPlanRow.plan_id == InstalmentRow.plan_id)
        .where(
            InstallmentPlanRow.account_id == account_id,
            InstallmentPlanRow.status == PlanStatus.ACTIVE.value,
            InstalmentRow.status == PromiseStatus.PENDING.value,
            paid < InstalmentRow.amount,
        )
        .order_by(InstalmentRow.due_date, InstalmentRow.seq, InstalmentRow.instalment_id)
        .limit(1)
    )


def _as_record(row: PaymentRow) -> PaymentRecord:
    paid_at = row.paid_at if row.paid_at.tzinfo is not None else row.paid_at.replace(tzinfo=dt.UTC)
    return PaymentRecord(row.payment_id, row.account_id, row.amount, row.currency, paid_at)


def _differences(stored: PaymentRecord, new: PaymentRecord) -> str:
    names = [
        name
        for name, a, b in (
            ("account_id", stored.account_id, new.account_id),
            ("amount", stored.amount, new.amount),
            ("currency", stored.currency, new.currency),
            ("paid_at", stored.paid_at, new.paid_at),
        )
        if a != b
    ]
    return ", ".join(names)
