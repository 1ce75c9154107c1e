"""Messages (SMS, e-mail) sent or refused for an account, what happened to them, the addresses
they go to, and each channel's opt-outs.

The guard's decision for a message is in ``guard_decisions`` (its ``channel`` column), keyed
by the message id as the attempt id, like a dial's.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base

_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_account_created", "account_id", "created_at"),)

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))  # dialer.messaging.model.Channel
    address: Mapped[str] = mapped_column(String(254))  # E.164 or an e-mail address
    stage: Mapped[str] = mapped_column(String(32))  # the template's stage, e.g. reminder
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))  # dialer.messaging.model.MessageStatus
    status_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    provider_id: Mapped[str | None] = mapped_column(String(100), index=True)
    subject: Mapped[str | None] = mapped_column(String(400))  # e-mail only; what the timeline shows
    error: Mapped[str | None] = mapped_column(String(400))


class MessageEventRow(Base):
    """What happened after the decision: sent, delivered, failed, a reply, an opt-out and its confirmation."""

    __tablename__ = "message_events"
    __table_args__ = (Index("ix_message_events_account_at", "account_id", "at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    message_id: Mapped[str | None] = mapped_column(String(36), index=True)  # None: an unsolicited reply
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(
        String(24)
    )  # sent | delivered | failed | reply | opt_out | opt_out_confirmed
    detail: Mapped[str | None] = mapped_column(Text)  # a receipt's status text, a reply's words
    # A reply's reading (kind ``reply_read``): the NLU's intent and its confidence.
    intent: Mapped[str | None] = mapped_column(String(24))
    confidence: Mapped[float | None] = mapped_column(Float)


class MessageAddressRow(Base):
    """An e-mail address (or a number for SMS other than the account's phones) we may write to."""

    __tablename__ = "message_addresses"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    address: Mapped[str] = mapped_column(String(254), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # personal | work (no e-mail to a work address)
    position: Mapped[int] = mapped_column(Integer, default=0)  # preference: lowest first


class OptOutRow(Base):
    """The debtor asked for no more messages on a channel (STOP, 退订, an unsubscribe click)."""

    __tablename__ = "message_opt_outs"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(32))  # reply | link | operator
    detail: Mapped[str | None] = mapped_column(
        String(400)
    )  # the words of the reply, or the operator's reason
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PaymentLinkRow(Base):
    """A signed payment link sent to a debtor: one live link per account (a new one revokes the last)."""

    __tablename__ = "payment_links"

    link_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str | None] = mapped_column(String(36))  # the message that carried it
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # paid through it
    revoked_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True)
    )  # a newer link replaced it
    payment_id: Mapped[str | None] = mapped_column(String(100))
