"""Promises to pay taken on a call, and whether they were kept."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base
from dialer.store.models.accounts import MONEY


class PromiseStatus(StrEnum):
    PENDING = "pending"
    KEPT = "kept"  # paid in full by the end of the promised day + grace days, in the debtor's zone
    PARTIALLY_KEPT = "partially_kept"  # paid something, not all, by then
    BROKEN = "broken"  # paid nothing by then


class PromiseRow(Base):
    __tablename__ = "promises"

    promise_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id", ondelete="CASCADE"), index=True)
    attempt_id: Mapped[str | None] = mapped_column(ForeignKey("call_attempts.attempt_id"))
    stage: Mapped[str | None] = mapped_column(String(16))  # the stage it was made in; breaking escalates
    promised_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=PromiseStatus.PENDING.value)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    channel: Mapped[str | None] = mapped_column(String(16))  # where it was made: "call"
    # Sum of the payments matched to it (dialer.payments), whenever they were paid.
    paid_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")


class PlanStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    BROKEN = "broken"


class InstallmentPlanRow(Base):
    """An installment plan the debtor accepted; its schedule is ``InstalmentRow``s."""

    __tablename__ = "installment_plans"

    plan_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id", ondelete="CASCADE"), index=True)
    attempt_id: Mapped[str | None] = mapped_column(ForeignKey("call_attempts.attempt_id"))
    stage: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    total: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=PlanStatus.ACTIVE.value)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class InstalmentRow(Base):
    """One payment of a plan, due on a date in the debtor's time zone."""

    __tablename__ = "plan_instalments"
    __table_args__ = (UniqueConstraint("plan_id", "seq", name="uq_plan_instalments_plan_seq"),)

    instalment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("installment_plans.plan_id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, … in due order
    due_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(16), default=PromiseStatus.PENDING.value)
