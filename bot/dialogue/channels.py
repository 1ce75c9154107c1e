"""Payment-link channels (SMS, e-mail, WhatsApp …) behind one small protocol.

The dialogue engine is pure and synchronous, so a channel's ``send`` must not
block on the network: a real channel puts the request on an outbox (a queue, a
table) that a sender drains; the in-memory channel here keeps it for tests and
``duncall flow simulate``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from foundation.log import kv_pii

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PaymentLinkRequest:
    account_id: str
    amount: Decimal
    currency: str
    channel: str  # "sms", "email" … as the script names it


class PaymentLinkChannel(Protocol):
    def send(self, request: PaymentLinkRequest) -> None: ...


class InMemoryPaymentLinkChannel:
    """Keeps every request in ``sent`` and logs it (amount as PII)."""

    def __init__(self) -> None:
        self.sent: list[PaymentLinkRequest] = []

    def send(self, request: PaymentLinkRequest) -> None:
        self.sent.append(request)
        log.info(
            "payment link queued",
            extra=kv_pii(
                {"account_id": request.account_id, "amount": str(request.amount)}, channel=request.channel
            ),
        )
