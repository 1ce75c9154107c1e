"""Accounts (one debt each), the phones we may call about it, and its flags."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dialer.store.base import Base
from dialer.store.models.creditors import Creditor

MONEY = Numeric(14, 2)


class FlagSource(StrEnum):
    """Who set a flag. A re-import replaces only the flags the file set, never those a call set."""

    IMPORT = "import"
    CALL = "call"
    OPERATOR = "operator"
    MESSAGE = "message"  # a debtor's written reply said so (dialer.policy.replies)


class Account(Base):
    __tablename__ = "accounts"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(200))
    last_name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    balance: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    days_past_due: Mapped[int | None] = mapped_column(Integer)
    # The file gave only days past due: ``due_date`` is the import day minus them.
    due_date_derived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    product: Mapped[str | None] = mapped_column(String(100))
    risk_segment: Mapped[str | None] = mapped_column(String(50))
    # [{"date": "YYYY-MM-DD", "amount": "12.34"}, ...] — read whole, never queried by element.
    payment_history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # None only for accounts imported before creditors existed: such an account is not dialled.
    creditor_id: Mapped[str | None] = mapped_column(ForeignKey("creditors.creditor_id"), index=True)
    creditor: Mapped[Creditor | None] = relationship(lazy="joined")

    phones: Mapped[list[Phone]] = relationship(
        back_populates="account", cascade="all, delete-orphan", order_by="Phone.position"
    )
    flags: Mapped[list[AccountFlagRow]] = relationship(cascade="all, delete-orphan")


class Phone(Base):
    """A number we may dial about an account; the natural key keeps re-imports identical."""

    __tablename__ = "phones"
    # A number's accounts: a reply's sender and an inbound call's caller ID are looked up by number.
    __table_args__ = (Index("ix_phones_number", "number"),)

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164
    position: Mapped[int] = mapped_column(Integer)  # order in the file: dial preference
    phone_type: Mapped[str] = mapped_column(String(16))  # mobile | home | work | other
    ai_voice_consent: Mapped[bool] = mapped_column(Boolean)
    consent_date: Mapped[dt.date | None] = mapped_column(Date)  # consent counts from this day on
    # What the consent covers, "+"-joined (dialer.policy.consent: voice, sms); bot calls need voice.
    consent_scope: Mapped[str] = mapped_column(String(32), default="voice", server_default="voice")
    contact_type: Mapped[str] = mapped_column(String(32))  # debtor | emergency_contact

    account: Mapped[Account] = relationship(back_populates="phones")


class AccountFlagRow(Base):
    """A flag that stops or limits collection calls (``foundation.contract.AccountFlag``)."""

    __tablename__ = "account_flags"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True
    )
    flag: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    # None for flags from an import file: the file carries no date, and a timestamp of the
    # import itself would make re-importing the same file change the database.
    set_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    attempt_id: Mapped[str | None] = mapped_column(String(36))
    set_by: Mapped[str | None] = mapped_column(String(64))  # an operator's name, or "call"
    reason: Mapped[str | None] = mapped_column(String(400))  # why, in the words of whoever set it


class PhoneStatus(StrEnum):
    """Whether a number may be dialled about an account; every status but ``active`` blocks it."""

    ACTIVE = "active"
    WRONG_NUMBER = "wrong_number"  # the person answering does not know the debtor
    DISCONNECTED = "disconnected"
    REASSIGNED = "reassigned"  # the number now belongs to someone else
    BLOCKED = "blocked"  # an operator stopped calls to it (e.g. the debtor asked, for this number)


class PhoneStatusRow(Base):
    """A number's status on one account, with who set it, when and why.

    Its own table, not a column of ``phones``: a re-import replaces an account's phone
    rows, and must not make a number the debtor's neighbour answered callable again.
    """

    __tablename__ = "phone_statuses"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164, as in phones
    status: Mapped[str] = mapped_column(String(16))  # PhoneStatus
    set_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    set_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(400))
    attempt_id: Mapped[str | None] = mapped_column(String(36))  # the call that set it, if one did
