"""Judge every pending promise, and every pending instalment of an active installment
plan, against the payments matched to it: the I/O around
``dialer.strategy.promises.evaluate_promise``.

An instalment is judged like a promise (its due date, its amount, the grace days, in
the debtor's zone).  A plan is completed once every instalment is kept, and broken as
soon as one instalment is broken (nothing paid by its due date and grace); a partially
paid instalment leaves the plan active (the shortfall shows on the account page).

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

from sqlalchemy import ColumnElement, Engine, select, update
from sqlalchemy.orm import Session

from dialer.store.models import (
    Account,
    InstallmentPlanRow,
    InstalmentRow,
    PaymentRow,
    PlanStatus,
    PromiseRow,
    PromiseStatus,
)
from dialer.strategy.model import PromiseState
from dialer.strategy.promises import PromiseVerdict, evaluate_promise, zone_named


@dataclass(frozen=True, slots=True)
class PromiseChange:
    promise_id: int
    account_id: str
    before: PromiseState
    after: PromiseState
    paid: Decimal
    due: dt.date
    kind: str = "promise"  # or "instalment": then ``promise_id`` is the instalment's id
    plan_id: int | None = None
    plan_status: str | None = None  # the plan's status after this change, for an instalment

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "promise_id" if self.kind == "promise" else "instalment_id": self.promise_id,
            "account_id": self.account_id,
            "from": self.before.value,
            "to": self.after.value,
            "paid": str(self.paid),
            "due": self.due.isoformat(),
        }
        if self.plan_id is not None:
            out["plan_id"] = self.plan_id
            out["plan_status"] = self.plan_status
        return out


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
        return [
            *lines,
            f"{self.evaluated} pending promises and instalments evaluated, {len(self.changes)} changed",
        ]


def evaluate_promises(engine: Engine, *, grace_days: int, now: dt.datetime) -> Evaluation:
    """Resolve every pending promise and instalment whose outcome is known at ``now``
    (kept, partially kept, broken), and settle the plans their instalments belong to."""
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
    with Session(engine) as session:
        instalments = session.execute(
            select(InstalmentRow.instalment_id, InstallmentPlanRow.account_id)
            .join(InstallmentPlanRow, InstallmentPlanRow.plan_id == InstalmentRow.plan_id)
            .where(
                InstalmentRow.status == PromiseStatus.PENDING.value,
                InstallmentPlanRow.status == PlanStatus.ACTIVE.value,
            )
            .order_by(InstalmentRow.plan_id, InstalmentRow.seq)
        ).all()
    for instalment_id, account_id in instalments:
        with Session(engine) as session, session.begin():
            change = _judge_instalment(session, instalment_id, account_id, grace_days, now, result)
        result.evaluated += 1
        if change is not None:
            result.changes.append(change)
    return result


def _lock_account(session: Session, account_id: str) -> None:
    session.execute(
        update(Account)
        .where(Account.account_id == account_id)
        .values(balance=Account.balance)  # the account's lock, as dialer.payments.ledger takes it
        .execution_options(synchronize_session=False)
    )


def _zone_of(session: Session, account_id: str, result: Evaluation) -> dt.tzinfo:
    zone_name = session.scalar(select(Account.timezone).where(Account.account_id == account_id))
    zone, known = zone_named(zone_name)
    if not known:
        result.utc_fallbacks[account_id] = zone_name
    return zone


def _judge_instalment(
    session: Session,
    instalment_id: int,
    account_id: str,
    grace_days: int,
    now: dt.datetime,
    result: Evaluation,
) -> PromiseChange | None:
    _lock_account(session, account_id)
    instalment = session.get(InstalmentRow, instalment_id)
    if instalment is None or instalment.status != PromiseStatus.PENDING.value:
        return None
    plan = session.get(InstallmentPlanRow, instalment.plan_id)
    if plan is None or plan.status != PlanStatus.ACTIVE.value:
        return None
    verdict = _verdict(
        session,
        PaymentRow.instalment_id == instalment_id,
        instalment.due_date,
        Decimal(instalment.amount),
        _zone_of(session, account_id, result),
        grace_days,
        now,
    )
    if verdict.state is PromiseState.PENDING:
        return None
    instalment.status = PromiseStatus(verdict.state.value).value
    if verdict.state is PromiseState.BROKEN:
        plan.status = PlanStatus.BROKEN.value
    else:
        others = session.scalars(
            select(InstalmentRow.status).where(
                InstalmentRow.plan_id == plan.plan_id, InstalmentRow.instalment_id != instalment_id
            )
        ).all()
        if (
            all(status == PromiseStatus.KEPT.value for status in others)
            and verdict.state is PromiseState.KEPT
        ):
            plan.status = PlanStatus.COMPLETED.value
    return PromiseChange(
        instalment_id,
        account_id,
        PromiseState.PENDING,
        verdict.state,
        verdict.paid,
        instalment.due_date,
        kind="instalment",
        plan_id=plan.plan_id,
        plan_status=plan.status,
    )


def _judge(
    session: Session, promise_id: int, account_id: str, grace_days: int, now: dt.datetime, result: Evaluation
) -> PromiseChange | None:
    _lock_account(session, account_id)
    promise = session.get(PromiseRow, promise_id)
    if promise is None or promise.status != PromiseStatus.PENDING.value:
        return None  # resolved by another evaluator meanwhile
    verdict = _verdict(
        session,
        PaymentRow.promise_id == promise_id,
        promise.promised_date,
        Decimal(promise.amount),
        _zone_of(session, account_id, result),
        grace_days,
        now,
    )
    if verdict.state is PromiseState.PENDING:
        return None
    promise.status = PromiseStatus(verdict.state.value).value
    promise.resolved_at = now
    return PromiseChange(
        promise_id, account_id, PromiseState.PENDING, verdict.state, verdict.paid, promise.promised_date
    )


def _verdict(
    session: Session,
    matched: ColumnElement[bool],
    due: dt.date,
    amount: Decimal,
    zone: dt.tzinfo,
    grace_days: int,
    now: dt.datetime,
) -> PromiseVerdict:
    """The promise's (or instalment's) state given the payments ``matched`` to it."""
    payments = session.execute(select(PaymentRow.paid_at, PaymentRow.amount).where(matched)).all()
    return evaluate_promise(
        due,
        amount,
        [(_aware(at), Decimal(value)) for at, value in payments],
        grace_days=grace_days,
        zone=zone,
        now=now,
    )


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; every paid_at is stored in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
