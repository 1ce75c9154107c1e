"""Installment plans from the balance: whole-unit installments, remainder on the last, monthly dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.dialogue import InMemoryPaymentLinkChannel, PaymentLinkRequest, installment_plan
from bot.dialogue.plans import add_months
from foundation.errors import InputError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("balance", "count", "amount", "last"),
    [
        ("1250.00", 3, "416.00", "418.00"),
        ("1250.00", 6, "208.00", "210.00"),
        ("1250.00", 12, "104.00", "106.00"),
        ("1200.00", 12, "100.00", "100.00"),
        ("1250.37", 6, "208.00", "210.37"),
        ("10.00", 12, "0.83", "0.87"),  # too small for whole units: cents
    ],
)
def test_plan_amounts(balance: str, count: int, amount: str, last: str) -> None:
    plan = installment_plan(Decimal(balance), count, dt.date(2027, 3, 10))
    assert (plan.count, plan.amount, plan.last_amount) == (count, Decimal(amount), Decimal(last))
    assert plan.total == Decimal(balance)


def test_plan_dates_are_monthly_and_clamp_to_month_end() -> None:
    plan = installment_plan(Decimal("600"), 4, dt.date(2027, 1, 31))
    assert plan.dates == (
        dt.date(2027, 1, 31),
        dt.date(2027, 2, 28),
        dt.date(2027, 3, 31),
        dt.date(2027, 4, 30),
    )
    assert add_months(dt.date(2027, 11, 15), 3) == dt.date(2028, 2, 15)


@given(
    balance=st.decimals(min_value=Decimal("0.12"), max_value=Decimal("1000000"), places=2),
    count=st.integers(min_value=1, max_value=12),
)
def test_plans_always_add_up_and_the_last_payment_carries_the_remainder(balance: Decimal, count: int) -> None:
    plan = installment_plan(balance, count, dt.date(2027, 3, 10))
    assert plan.total == balance
    assert plan.amount > 0
    assert plan.amount <= plan.last_amount < plan.amount + count


def test_impossible_plans_are_input_errors() -> None:
    with pytest.raises(InputError, match="nothing to split"):
        installment_plan(Decimal("0"), 3, dt.date(2027, 3, 10))
    with pytest.raises(InputError, match="too small for 12 installments"):
        installment_plan(Decimal("0.05"), 12, dt.date(2027, 3, 10))
    with pytest.raises(InputError, match="not positive"):
        installment_plan(Decimal("100"), 0, dt.date(2027, 3, 10))


def test_in_memory_channel_keeps_requests() -> None:
    channel = InMemoryPaymentLinkChannel()
    request = PaymentLinkRequest("A-1", Decimal("50.00"), "USD", "sms")
    channel.send(request)
    assert channel.sent == [request]
