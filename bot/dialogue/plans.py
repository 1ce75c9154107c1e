"""Installment plans computed from the balance: whole-unit installments, the remainder on the last."""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import ROUND_FLOOR, Decimal

from bot.dialogue.types import InstallmentPlan
from foundation.errors import InputError

_WHOLE = Decimal("1")
_CENT = Decimal("0.01")


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day of the month ``months`` later, clamped to the month's end (Jan 31 → Feb 28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def installment_plan(balance: Decimal, count: int, first_date: dt.date) -> InstallmentPlan:
    """Split ``balance`` into ``count`` monthly installments.

    Installments are rounded down to whole currency units so the debtor hears a round
    figure; what rounding leaves over goes on the last one, so the plan always adds up to
    the balance exactly.  Balances too small for whole units fall back to cents.
    """
    if count < 1:
        raise InputError(f"installment count {count} is not positive", "offer 1 or more installments")
    if balance <= 0:
        raise InputError(
            f"balance {balance} leaves nothing to split", "offer plans only on a positive balance"
        )
    balance = balance.quantize(_CENT)
    amount = (balance / count).quantize(_WHOLE, rounding=ROUND_FLOOR)
    if amount <= 0:
        amount = (balance / count).quantize(_CENT, rounding=ROUND_FLOOR)
    if amount <= 0:
        raise InputError(
            f"balance {balance} is too small for {count} installments", "offer fewer installments"
        )
    amount = amount.quantize(_CENT)
    last = balance - amount * (count - 1)
    dates = tuple(add_months(first_date, i) for i in range(count))
    return InstallmentPlan(count=count, amount=amount, last_amount=last, first_date=first_date, dates=dates)
