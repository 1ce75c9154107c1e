"""Work for a person: a debtor's reply or call a collector has to read or answer.

Written when an SMS reply asks something the dialer does not act on by itself (a
question, hardship, a reply the intent model was unsure of) or when what it did act on
needs a person's follow-up (a dispute in writing).  Open until a collector marks it done.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base

_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY


class FollowUpRow(Base):
    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_account_created", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    channel: Mapped[str] = mapped_column(String(8))  # where it came from: sms | call
    reason: Mapped[str] = mapped_column(String(200))  # what a collector should do, in words
    detail: Mapped[str | None] = mapped_column(Text)  # the reply's words
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    done_by: Mapped[str | None] = mapped_column(String(64))
