"""The guards' append-only ledger tables: every dial decision and every counted outcome.

They live with the store's other tables so its migrations create them without
importing the guards; ``dialer.guards.ledger`` reads and writes them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base

_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY


class GuardDecisionRow(Base):
    __tablename__ = "guard_decisions"
    __table_args__ = (
        Index("ix_guard_decisions_at", "at"),
        Index("ix_guard_decisions_account_at", "account_id", "at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    attempt_id: Mapped[str] = mapped_column(String(36), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))  # the dial time decided for (UTC)
    allowed: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[str] = mapped_column(String(400), default="")  # comma-separated reason codes
    rules: Mapped[str] = mapped_column(String(64))  # name of the rule set that decided
    epoch: Mapped[str | None] = mapped_column(String(36))  # the counters' epoch a reservation was made in
    # call, sms or email: a message is decided by the same guard; only calls feed the dial counters.
    channel: Mapped[str] = mapped_column(String(8), default="call", server_default="call")


class GuardOutcomeRow(Base):
    __tablename__ = "guard_outcomes"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    attempt_id: Mapped[str] = mapped_column(String(36), index=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    conversation: Mapped[bool] = mapped_column(Boolean, default=False)
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)
    # Allowed but never dialled: the counters were lost while it was being reserved.
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)


LEDGER_TABLES = [Base.metadata.tables["guard_decisions"], Base.metadata.tables["guard_outcomes"]]
