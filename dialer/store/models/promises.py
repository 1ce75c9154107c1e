"""Promises to pay taken on a call, and whether they were kept."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String
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
    # Sum of the payments matched to it (dialer.payments), whenever they were paid.
    paid_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
