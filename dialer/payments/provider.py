"""Payment providers behind one interface: take a payment, confirm it as a ``PaymentRecord``.

The confirmation is what a provider's webhook delivers; it is stored by the same path as the
webhook's (``dialer.payments.ledger.store_payment``), so a payment through a link is matched to
the promise or instalment it settles and judged by the promise evaluation like any other.
``RecordOnlyProvider`` moves no money: the sandbox's provider, and a way to record a payment
taken elsewhere.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Protocol

from dialer.payments.records import PaymentRecord


class PaymentProvider(Protocol):
    name: str

    async def charge(
        self, account_id: str, amount: Decimal, currency: str, reference: str, now: dt.datetime
    ) -> PaymentRecord: ...


class RecordOnlyProvider:
    """Confirms every payment at once with a fresh id; nothing leaves the machine."""

    name = "record-only"

    async def charge(
        self, account_id: str, amount: Decimal, currency: str, reference: str, now: dt.datetime
    ) -> PaymentRecord:
        return PaymentRecord(
            payment_id=f"rec-{reference[:8]}-{uuid.uuid4().hex[:12]}",
            account_id=account_id,
            amount=amount,
            currency=currency,
            paid_at=now,
        )
