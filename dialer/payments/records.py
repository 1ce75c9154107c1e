"""One payment as a file row or a webhook body carries it, validated. Pure: no I/O.

Fields: ``payment_id`` (the provider's id; the idempotency key), ``account_id``,
``amount`` (positive, at most 2 decimal places), ``currency`` (ISO 4217) and
``paid_at`` (ISO 8601 WITH a UTC offset: a time without one cannot be placed on the
debtor's calendar, so it is refused rather than guessed).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from foundation.currencies import is_currency
from foundation.errors import InputError

FIELDS = ("payment_id", "account_id", "amount", "currency", "paid_at")
MAX_AMOUNT = Decimal("999999999999.99")  # what the store's NUMERIC(14, 2) holds


class PaymentError(InputError):
    """A payment that cannot be stored as given; ``what`` says why, ``fix`` how to correct it."""


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    payment_id: str
    account_id: str
    amount: Decimal
    currency: str
    paid_at: dt.datetime  # timezone-aware, in the offset it was given with

    def same_as(self, other: PaymentRecord) -> bool:
        """The same payment: equal fields, ``paid_at`` the same instant whatever its offset."""
        return (
            self.payment_id == other.payment_id
            and self.account_id == other.account_id
            and self.amount == other.amount
            and self.currency == other.currency
            and self.paid_at == other.paid_at
        )


def parse_payment(fields: Mapping[str, object]) -> PaymentRecord:
    """A validated payment from a row or a JSON object; ``PaymentError`` names the first problem."""
    unknown = sorted(str(k) for k in fields if k not in FIELDS)
    if unknown:
        raise PaymentError(f"unknown field {', '.join(unknown)}", f"use only {', '.join(FIELDS)}")
    return PaymentRecord(
        payment_id=_text(fields, "payment_id", 100),
        account_id=_text(fields, "account_id", 64),
        amount=_amount(fields.get("amount")),
        currency=_currency(fields.get("currency")),
        paid_at=_paid_at(fields.get("paid_at")),
    )


def _text(fields: Mapping[str, object], name: str, limit: int) -> str:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise PaymentError(f"{name} is missing", f"give every payment its {name}")
    if not isinstance(value, str):
        raise PaymentError(f"{name} {value!r} is not text", f'write {name} as a string, e.g. "P-1001"')
    value = value.strip()
    if len(value) > limit:
        raise PaymentError(f"{name} is longer than {limit} characters", f"shorten {name}")
    return value


def _amount(value: object) -> Decimal:
    if value is None or value == "":
        raise PaymentError("amount is missing", "give the amount paid, e.g. 120.50")
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise PaymentError(f"amount {value!r} is not a number", "write it as 120.50")
    try:
        # str() first: a JSON float such as 0.1 means the decimal it was written as.
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise PaymentError(
            f"amount {value!r} is not a number", "write it as 120.50, no currency sign"
        ) from None
    if not amount.is_finite():
        raise PaymentError(f"amount {value!r} is not a number", "write it as 120.50")
    if amount <= 0:
        raise PaymentError(
            f"amount {value} is not positive", "a payment moves money to the account; send refunds separately"
        )
    if amount != amount.quantize(Decimal("0.01")):
        raise PaymentError(f"amount {value} has more than 2 decimal places", "round it to cents")
    if amount > MAX_AMOUNT:
        raise PaymentError(f"amount {value} is too large", "check the amount")
    return amount


def _currency(value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise PaymentError(f"currency {value!r} is not a 3-letter ISO 4217 code", "use e.g. USD or CNY")
    code = value.strip().upper()
    if not is_currency(code):
        raise PaymentError(f"currency {value!r} is not an ISO 4217 code", "use e.g. USD or CNY (RMB is CNY)")
    return code


def _paid_at(value: object) -> dt.datetime:
    example = "e.g. 2026-12-07T23:30:00-08:00 or 2026-12-08T07:30:00Z"
    if value is None or value == "":
        raise PaymentError(
            "paid_at is missing", f"give when it was paid, ISO 8601 with its offset, {example}"
        )
    if not isinstance(value, str):
        raise PaymentError(f"paid_at {value!r} is not text", f"write it as an ISO 8601 string, {example}")
    try:
        at = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise PaymentError(f"paid_at {value!r} is not an ISO 8601 time", f"use {example}") from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise PaymentError(
            f"paid_at {value!r} has no UTC offset, so its day on the debtor's calendar is unknown",
            f"add the offset it was paid at, {example}",
        )
    return at
