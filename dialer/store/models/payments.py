"""Payments received (from a file or the payment provider's webhook) and what each was matched to."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base
from dialer.store.models.accounts import MONEY


class PaymentSource(StrEnum):
    FILE = "file"
    WEBHOOK = "webhook"


class PaymentRow(Base):
    """One payment; ``payment_id`` (the provider's id) is the idempotency key of every delivery."""

    __tablename__ = "payments"

    payment_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    paid_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))  # stored in UTC
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(16))
    promise_id: Mapped[int | None] = mapped_column(
        ForeignKey("promises.promise_id", ondelete="SET NULL"), index=True
    )
    # No foreign key: instalments belong to the plan tables, which may be absent from a store.
    instalment_id: Mapped[int | None] = mapped_column(Integer)
