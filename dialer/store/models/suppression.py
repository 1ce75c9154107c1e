"""Number-level suppression: do-not-call lists and disconnected / reassigned reports.

A row is one number on one list.  Rows are never deleted: an operator clears one
(``cleared_*``) with a reason, and every add and clear is also written to
``suppression_events``, so re-adding a cleared number keeps the earlier clear on
record.  The dialer reads only active rows (``cleared_at IS NULL``) at dial time.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dialer.policy.suppression import SuppressionKind
from dialer.store.base import Base

_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY


INTERNAL_LIST = "internal"


class Suppression(Base):
    __tablename__ = "suppressions"
    __table_args__ = (Index("ix_suppressions_list_name", "list_name"),)  # imports read a whole list

    number: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164
    list_name: Mapped[str] = mapped_column(String(64), primary_key=True)  # internal, or an extract's name
    kind: Mapped[str] = mapped_column(String(16))  # SuppressionKind
    source: Mapped[str] = mapped_column(String(200))  # where the list came from (operator, file, registry)
    # The date the list gives: when the number was disconnected or reassigned (required for those).
    reported_on: Mapped[dt.date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    added_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    added_by: Mapped[str] = mapped_column(String(64))
    cleared_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cleared_by: Mapped[str | None] = mapped_column(String(64))
    cleared_reason: Mapped[str | None] = mapped_column(Text)


class SuppressionEvent(Base):
    """Every add and clear as it happened (an audit trail the rows' current state would overwrite)."""

    __tablename__ = "suppression_events"
    __table_args__ = (Index("ix_suppression_events_number", "number"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(20))
    list_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # add | clear | import
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)


__all__ = ["INTERNAL_LIST", "Suppression", "SuppressionEvent", "SuppressionKind"]
