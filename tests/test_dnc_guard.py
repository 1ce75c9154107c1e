"""The guard reads number-level suppression before every dial: a suppressed number is denied
with ``dnc`` and the account's other number is not; a disconnected/reassigned report stops only
consent older than it; and for any sequence of adds, clears, dials and clock moves no dial is
allowed to a number suppressed at that moment (real Redis, the store on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from dialer.campaign.facts import store_facts
from dialer.guards import Guard, Ledger
from dialer.guards.gate import GuardGate
from dialer.policy import DEFAULT_RULES, Voice
from dialer.policy.rules import CallingCalendar, Window
from dialer.policy.suppression import SuppressionKind
from dialer.store.models import Account, Phone
from dialer.store.models.guards import GuardDecisionRow, GuardOutcomeRow
from dialer.store.models.suppression import Suppression, SuppressionEvent
from dialer.store.testing import temporary_database
from dialer.suppression import lists
from foundation.contract import DialTarget

START = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)  # Monday 09:00 in New York
ALL_DAY = Window(dt.time(0), None)
OPEN_ALL_DAY = dataclasses.replace(DEFAULT_RULES, calendar=CallingCalendar(weekday=ALL_DAY, weekend=ALL_DAY))
HOME, MOBILE, OTHER = "+12125550123", "+12125550124", "+13105550100"
CONSENT = dt.date(2026, 2, 1)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


def seed(engine: Engine) -> None:
    """Two accounts: a1 with a home and a mobile number, a2 with one; consent for each since CONSENT."""
    with Session(engine) as s, s.begin():
        for account_id, numbers in (("a1", (HOME, MOBILE)), ("a2", (OTHER,))):
            s.add(
                Account(
                    account_id=account_id,
                    first_name="Ann",
                    last_name="Lee",
                    timezone="America/New_York",
                    language="en",
                    balance=Decimal("100.00"),
                    currency="USD",
                    payment_history=[],
                )
            )
            for position, number in enumerate(numbers):
                s.add(
                    Phone(
                        account_id=account_id,
                        number=number,
                        position=position,
                        phone_type="mobile",
                        ai_voice_consent=True,
                        consent_date=CONSENT,
                        contact_type="debtor",
                    )
                )


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.redis),
        pytest.param("postgres", marks=[pytest.mark.redis, pytest.mark.postgres]),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with temporary_database(request.param, tmp_path, url) as eng:
        seed(eng)
        yield eng


@pytest.fixture
def client(redis_url: str, key_prefix: str) -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(redis_url)
    yield r
    for key in r.scan_iter(f"{key_prefix}*", count=1000):
        r.delete(key)
    r.close()


def make_gate(client: redis.Redis, engine: Engine, prefix: str, clock: Clock) -> GuardGate:
    guard = Guard(client, Ledger.on(engine), OPEN_ALL_DAY, prefix=prefix, clock=clock)
    return GuardGate(guard, store_facts(engine), voice=Voice.BOT)


def suppress(
    engine: Engine,
    number: str,
    *,
    list_name: str = "internal",
    kind: SuppressionKind = SuppressionKind.DNC,
    reported_on: dt.date | None = None,
) -> None:
    lists.add(
        engine,
        number,
        reason="test",
        by="t",
        now=START,
        list_name=list_name,
        kind=kind,
        reported_on=reported_on,
    )


async def test_a_suppressed_number_is_denied_and_the_accounts_other_number_is_not(
    engine: Engine, client: redis.Redis, key_prefix: str
) -> None:
    gate = make_gate(client, engine, key_prefix, Clock())
    suppress(engine, HOME)
    assert await gate.reserve(DialTarget("a1", HOME), "att-1", START) == ["dnc"]
    # The other number of the same account: allowed (min_gap counts only allowed attempts).
    assert await gate.reserve(DialTarget("a1", MOBILE), "att-2", START) == []
    decisions = {d.attempt_id: (d.allowed, d.reasons) for d in gate.guard.ledger.decisions()}
    assert decisions["att-1"] == (False, ("dnc",))
    assert decisions["att-2"][0] is True


async def test_a_report_stops_only_consent_given_before_it(
    engine: Engine, client: redis.Redis, key_prefix: str
) -> None:
    gate = make_gate(client, engine, key_prefix, Clock())
    kind = SuppressionKind.REASSIGNED
    suppress(engine, HOME, list_name="rnd", kind=kind, reported_on=CONSENT - dt.timedelta(days=1))
    assert await gate.reserve(DialTarget("a1", HOME), "att-1", START) == []  # consent came after
    suppress(engine, OTHER, list_name="rnd", kind=kind, reported_on=CONSENT + dt.timedelta(days=1))
    assert await gate.reserve(DialTarget("a2", OTHER), "att-2", START) == ["dnc"]
    # Cleared by an operator who re-verified the number: callable again.
    lists.clear(engine, OTHER, reason="re-verified with the debtor", by="ops", now=START)
    assert await gate.reserve(DialTarget("a2", OTHER), "att-3", START) == []


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("dnc"), st.sampled_from([HOME, MOBILE, OTHER])),
        st.tuples(st.just("report"), st.sampled_from([HOME, MOBILE, OTHER]), st.integers(-1, 1)),
        st.tuples(
            st.just("clear"), st.sampled_from([HOME, MOBILE, OTHER]), st.sampled_from(["internal", "rnd"])
        ),
        st.tuples(st.just("dial"), st.sampled_from([("a1", HOME), ("a1", MOBILE), ("a2", OTHER)])),
        st.tuples(st.just("clock"), st.integers(0, 30 * 3600)),
    ),
    min_size=8,
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_no_dial_is_ever_allowed_to_a_number_suppressed_at_that_moment(
    ops: list[tuple[object, ...]], engine: Engine, client: redis.Redis, key_prefix: str
) -> None:
    # One store for every example (migrating a fresh one each time would dominate the run): start clean.
    with Session(engine) as s, s.begin():
        for table in (Suppression, SuppressionEvent, GuardOutcomeRow, GuardDecisionRow):
            s.execute(delete(table))
    prefix = f"{key_prefix}{uuid.uuid4().hex[:8]}:"
    clock = Clock()
    gate = make_gate(client, engine, prefix, clock)
    active: dict[tuple[str, str], dt.date | None] = {}  # (number, list) -> report date (None: dnc)
    allowed = 0
    try:
        for op in ops:
            if op[0] == "dnc":
                number = str(op[1])
                suppress(engine, number)
                active[(number, "internal")] = None
            elif op[0] == "report":
                number, days = str(op[1]), int(op[2])  # type: ignore[call-overload]
                day = CONSENT + dt.timedelta(days=days)
                suppress(engine, number, list_name="rnd", kind=SuppressionKind.REASSIGNED, reported_on=day)
                # A later report wins; an earlier one leaves the stricter date.
                if (number, "rnd") not in active or (active[(number, "rnd")] or day) <= day:
                    active[(number, "rnd")] = day
            elif op[0] == "clear":
                number, name = str(op[1]), str(op[2])
                if (number, name) in active:
                    lists.clear(engine, number, reason="verified", by="t", now=clock.now, list_name=name)
                    del active[(number, name)]
            elif op[0] == "clock":
                clock.now += dt.timedelta(seconds=int(op[1]))  # type: ignore[call-overload]
            else:
                account_id, number = cast(tuple[str, str], op[1])
                suppressed_now = any(
                    n == number and (day is None or day >= CONSENT) for (n, _), day in active.items()
                )
                reasons = asyncio.run(
                    gate.reserve(DialTarget(account_id, number), uuid.uuid4().hex, clock.now)
                )
                assert ("dnc" in reasons) == suppressed_now, (number, active, reasons)
                if not reasons:
                    allowed += 1
                    assert not suppressed_now
    finally:
        for key in client.scan_iter(f"{prefix}*", count=1000):
            client.delete(key)
