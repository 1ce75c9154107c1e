"""Call attempts: reservation → dialing → ended, with the telephony outcome and disposition."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base


class AttemptState(StrEnum):
    RESERVED = "reserved"  # the guards granted a slot; nothing dialled yet
    DIALING = "dialing"
    ENDED = "ended"
    # Allowed by the guard but refused by Asterisk before any channel existed (a bad endpoint):
    # nothing reached the network, so it is no attempt for the caps or the retry spacing.
    NOT_PLACED = "not_placed"


class CallAttempt(Base):
    __tablename__ = "call_attempts"
    __table_args__ = (Index("ix_call_attempts_account_reserved", "account_id", "reserved_at"),)

    attempt_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4, made by the dialer
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.account_id", ondelete="CASCADE"))
    campaign_id: Mapped[str | None] = mapped_column(ForeignKey("campaigns.campaign_id"))
    # Text, not a foreign key to phones: the attempt must outlive a re-import that drops the number.
    number: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(16), default=AttemptState.RESERVED.value)
    stage: Mapped[str | None] = mapped_column(String(16))
    script: Mapped[str | None] = mapped_column(String(100))
    reserved_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    dialed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(16))  # foundation.contract.CallOutcome
    disposition: Mapped[str | None] = mapped_column(String(32))  # foundation.contract.Disposition
    hardship: Mapped[bool] = mapped_column(default=False)  # debtor said they cannot pay as agreed
    callback_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    right_party: Mapped[bool | None] = mapped_column()  # a right-party conversation took place
    # outbound: we dialled (guarded, counted by the caps); inbound: the debtor called us back.
    direction: Mapped[str] = mapped_column(String(8), default="outbound", server_default="outbound")
    # The Asterisk node the call was placed on (DUNCALL_ASTERISK_NODES); None: the one configured ARI.
    node: Mapped[str | None] = mapped_column(String(32))
    # Written when the call is answered, not when it ends, so a dialer that dies mid-call leaves
    # what recovery needs to count the conversation: when it was answered and by whom
    # (dialer.call.AnswerKind: human | machine, answer detection's verdict).  NULL: never answered.
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[str | None] = mapped_column(String(8))
