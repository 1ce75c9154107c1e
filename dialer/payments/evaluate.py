"""Judge every pending promise against the payments matched to it: the I/O around
``dialer.strategy.promises.evaluate_promise``.

Each promise is judged in a transaction of its own that first takes its account's
lock (as storing a payment does), so a payment being stored for that account is
either counted or not yet there, never half-seen; a promise another evaluator
resolved meanwhile is left as that one set it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from dialer.store.models import Account, PaymentRow, PromiseRow, PromiseStatus
from dialer.strategy.model import PromiseState
from dialer.strategy.promises import evaluate_promise, zone_named


@dataclass(frozen=True, slots=True)
class PromiseChange:
    promise_id: int
    account_id: str
    before: PromiseState
    after: PromiseState
    paid: Decimal
    due: dt.date

    def as_json(self) -> dict[str, Any]:
        return {
            "promise_id": self.promise_id,
            "account_id": self.account_id,
            "from": self.before.value,
            "to": self.after.value,
            "paid": str(self.paid),
            "due": self.due.isoformat(),
        }


@dataclass(slots=True)
class Evaluation:
    evaluated: int = 0
    changes: list[PromiseChange] = field(default_factory=list)
    # account id → the zone it names (None: none given) for accounts judged in UTC instead
    utc_fallbacks: dict[str, str | None] = field(default_factory=dict)

    def notes(self) -> list[str]:
        lines = [
            f"account {account_id}: time zone {zone!r} is unknown, its promises were judged in UTC"
            if zone
            else f"account {account_id}: no time zone, its promises were judged in UTC"
            for account_id, zone in sorted(self.utc_fallbacks.items())
        ]
        return [*lines, f"{self.evaluated} pending promises evaluated, {len(self.changes)} changed"]


def evaluate_promises(engine: Engine, *, grace_days: int, now: dt.datetime) -> Evaluation:
    """Resolve every pending promise whose outcome is known at ``now`` (kept, partially kept, broken)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    result = Evaluation()
    with Session(engine) as session:
        pending = session.execute(
            select(PromiseRow.promise_id, PromiseRow.account_id)
            .where(PromiseRow.status == PromiseStatus.PENDING.value)
            .order_by(PromiseRow.promise_id)
        ).all()
    for promise_id, account_id in pending:
        with Session(engine) as session, session.begin():
            change = _judge(session, promise_id, account_id, grace_days, now, result)
        result.evaluated += 1
        if change is not None:
            result.changes.append(change)
    return result


def _judge(
    session: Session, promise_id: int, account_id: str, grace_days: int, now: dt.datetime, result: Evaluation
) -> PromiseChange | None:
    session.execute(
        update(Account)
        .where(Account.account_id == account_id)
        .values(balance=Account.balance)  # the account's lock, as dialer.payments.ledger takes it
        .execution_options(synchronize_session=False)
    )
    promise = session.get(PromiseRow, promise_id)
    if promise is None or promise.status != PromiseStatus.PENDING.value:
        return None  # resolved by another evaluator meanwhile
    zone_name = session.scalar(select(Account.timezone).where(Account.account_id == account_id))
    zone, known = zone_named(zone_name)
    if not known:
        result.utc_fallbacks[account_id] = zone_name
    payments = session.execute(
        select(PaymentRow.paid_at, PaymentRow.amount).where(PaymentRow.promise_id == promise_id)
    ).all()
    verdict = evaluate_promise(
        promise.promised_date,
        Decimal(promise.amount),
        [(_aware(at), Decimal(amount)) for at, amount in payments],
        grace_days=grace_days,
        zone=zone,
        now=now,
    )
    if verdict.state is PromiseState.PENDING:
        return None
    promise.status = PromiseStatus(verdict.state.value).value
    promise.resolved_at = now
    return PromiseChange(
        promise_id, account_id, PromiseState.PENDING, verdict.state, verdict.paid, promise.promised_date
    )


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; every paid_at is stored in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
