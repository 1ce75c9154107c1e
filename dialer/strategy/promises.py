"""Whether a promise to pay was kept, in the debtor's own time zone. Pure: no I/O, the clock is an argument.

A promise is judged at the end of its promised day plus the strategy's grace days,
on the debtor's local calendar (a payment at 23:30 in Los Angeles on the promised
day is on time, though it is already the next day in UTC):

- kept: the payments matched to it add up to the promised amount by then (it is
  kept as soon as they do, even before the date);
- partially kept: they add up to something, but less, by then;
- broken: nothing was paid by then.

A payment after the deadline does not count toward the promise (it still reduces
the balance).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.strategy.model import PromiseState


@dataclass(frozen=True, slots=True)
class PromiseVerdict:
    state: PromiseState
    paid: Decimal  # what counts toward the promise: paid before its deadline
    deadline: dt.datetime  # local midnight after the last grace day, timezone-aware


def zone_named(name: str | None) -> tuple[dt.tzinfo, bool]:
    """The zone ``name`` and True, or UTC and False when it is missing or unknown."""
    if name:
        try:
            return ZoneInfo(name), True
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return dt.UTC, False


def promise_deadline(promised_date: dt.date, grace_days: int, zone: dt.tzinfo) -> dt.datetime:
    """The first instant after the promised day and its grace days, on the debtor's calendar."""
    day = promised_date + dt.timedelta(days=grace_days + 1)
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone)


def evaluate_promise(
    promised_date: dt.date,
    amount: Decimal,
    payments: Iterable[tuple[dt.datetime, Decimal]],
    *,
    grace_days: int,
    zone: dt.tzinfo,
    now: dt.datetime,
) -> PromiseVerdict:
    """The state of a pending promise at ``now`` given the payments matched to it (paid_at, amount)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    deadline = promise_deadline(promised_date, grace_days, zone)
    paid = Decimal(0)
    for paid_at, value in payments:
        if paid_at.tzinfo is None:
            raise ValueError("a payment's paid_at must be timezone-aware")
        if paid_at < deadline and paid_at <= now:
            paid += value
    if paid >= amount:
        return PromiseVerdict(PromiseState.KEPT, paid, deadline)
    if now < deadline:
        return PromiseVerdict(PromiseState.PENDING, paid, deadline)
    state = PromiseState.PARTIALLY_KEPT if paid > 0 else PromiseState.BROKEN
    return PromiseVerdict(state, paid, deadline)
