"""The typed units that move through messaging: channels, rendered messages, statuses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class MessageStatus(StrEnum):
    """A message's life: decided → handed to the gateway → delivered or failed."""

    DENIED = "denied"  # the guard said no; nothing was sent
    QUEUED = "queued"  # allowed and written, not yet handed over
    SENT = "sent"  # the SMTP server or SMSC accepted it
    DELIVERED = "delivered"  # a delivery receipt said so
    FAILED = "failed"  # refused by the gateway, or a receipt said undeliverable


# A receipt may not move a message backwards (a late "accepted" after "delivered").
STATUS_RANK = {
    MessageStatus.DENIED: 0,
    MessageStatus.QUEUED: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.FAILED: 3,
}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A template's output for one account: what the debtor will read."""

    channel: Channel
    text: str
    subject: str | None = None  # e-mail only
    html: str | None = None  # e-mail only


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message ready for its adapter."""

    message_id: str
    account_id: str
    channel: Channel
    address: str  # E.164 for SMS, an e-mail address for e-mail
    rendered: Rendered
    unsubscribe_url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    message_id: str
    status: MessageStatus
    provider_id: str | None = None  # the gateway's own id, if it gave one
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery receipt from a gateway, already translated from its wire format."""

    message_id: str
    status: MessageStatus
    at: dt.datetime
    detail: str = ""
