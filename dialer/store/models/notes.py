"""Notes on an account: what a collector wrote about it (a call's wrap-up), shown on its page.

A note is the collector's words about the debtor: it lives here, with the account (and goes
with it), never in a log.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base

_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY


class AccountNoteRow(Base):
    __tablename__ = "account_notes"
    __table_args__ = (Index("ix_account_notes_account_created", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    author: Mapped[str] = mapped_column(String(64))  # the console user who wrote it
    # The call it is about (a wrap-up's note); None: a note written outside a call.
    attempt_id: Mapped[str | None] = mapped_column(String(36))
    text: Mapped[str] = mapped_column(Text)
