"""Whatever happened before — calls that ended with any disposition, payments, promises judged,
numbers put on and taken off the do-not-call list, flags and phone statuses set and cleared by
operators, months passing — the guard never allows a dial to a number suppressed at that moment,
blocked for its account, or of an account holding a deny flag, and denies none for those reasons
otherwise.  Real writers, the real store (SQLite), the real guard on the real Redis; what *should*
be denied comes from a dict model of the operations kept here, not from the code under test."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from dialer.accounts import state
from dialer.call import AttemptResult
from dialer.campaign.facts import store_facts
from dialer.dial.record import record_ended, record_reserved
from dialer.guards import Guard, Ledger
from dialer.guards.gate import GuardGate
from dialer.payments.evaluate import evaluate_promises
from dialer.payments.ledger import store_payment
from dialer.payments.records import PaymentRecord
from dialer.policy import DEFAULT_RULES, Voice
from dialer.policy.config import load_rules
from dialer.policy.rules import CallingCalendar, Window
from dialer.store.base import Base
from dialer.store.models import Account, Phone, PhoneStatus
from dialer.store.models.payments import PaymentSource
from dialer.store.testing import temporary_database
from dialer.suppression import lists
from foundation.contract import AccountFlag, CallOutcome, ConversationRecord, DialTarget, Disposition
from foundation.errors import InputError

RULES_FILE = Path(__file__).resolve().parents[1] / "dialer" / "rules" / "default.yaml"
# The model's own reading of the shipped rules: the flags that must stop every dial of an account.
DENY_FLAGS = frozenset(yaml.safe_load(RULES_FILE.read_text())["deny_flags"])
# What a call's end says about the account, as the rules of the business state it (not read from the code).
DISPOSITION_FLAG = {
    Disposition.STOP_CALLING: "cease_contact",
    Disposition.DISPUTE: "dispute",
    Disposition.ATTORNEY: "attorney",
    Disposition.BANKRUPTCY: "bankruptcy",
}

START = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)  # Monday 09:00 in New York
CONSENT = dt.date(2026, 2, 1)
ALL_DAY = Window(dt.time(0), None)
# Three accounts of two numbers each; +12125550102 belongs to both a1 and a2 (a shared household line):
# suppression follows the number, a phone status and flags follow the account.
ACCOUNTS = {
    "a1": ("+12125550101", "+12125550102"),
    "a2": ("+12125550103", "+12125550102"),
    "a3": ("+12125550105", "+12125550106"),
}
TARGETS = [(account, number) for account, numbers in ACCOUNTS.items() for number in numbers]
NUMBERS = sorted({number for _, number in TARGETS})
GUARDED = ("dnc", "phone_blocked")  # with every "flag:<name>": the reasons this test owns


def open_calendar() -> Any:
    """The shipped rules with the calling window open all day, so the clock never hides a dial."""
    rules = load_rules(RULES_FILE)
    return dataclasses.replace(rules, calendar=CallingCalendar(weekday=ALL_DAY, weekend=ALL_DAY))


def seed(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        for table in reversed(Base.metadata.sorted_tables):
            s.execute(delete(table))
    with Session(engine) as s, s.begin():
        for account_id, numbers in ACCOUNTS.items():
            s.add(
                Account(
                    account_id=account_id,
                    first_name="Ann",
                    last_name="Lee",
                    timezone="America/New_York",
                    language="en",
                    balance=Decimal("500.00"),
                    currency="USD",
                    payment_history=[],
                )
            )
            s.flush()
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


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database("sqlite", tmp_path) as eng:
        yield eng


@pytest.fixture
def client(redis_url: str, key_prefix: str) -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(redis_url)
    yield r
    for key in r.scan_iter(f"{key_prefix}*", count=1000):
        r.delete(key)
    r.close()


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@dataclasses.dataclass
class Model:
    """What the operations so far should have left: the test's own account of the world."""

    flags: dict[str, set[str]] = dataclasses.field(default_factory=lambda: {a: set() for a in ACCOUNTS})
    blocked: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    suppressed: set[str] = dataclasses.field(default_factory=set)

    def denials(self, account_id: str, number: str) -> set[str]:
        found = {f"flag:{f}" for f in self.flags[account_id] & DENY_FLAGS}
        if (account_id, number) in self.blocked:
            found.add("phone_blocked")
        if number in self.suppressed:
            found.add("dnc")
        return found


target_index = st.integers(0, len(TARGETS) - 1)
account_ids = st.sampled_from(sorted(ACCOUNTS))
flag_names = st.sampled_from([f.value for f in AccountFlag])
OPS = st.one_of(
    st.tuples(
        st.just("call"),
        target_index,
        st.sampled_from(list(Disposition)),
        st.lists(st.sampled_from([*(f.value for f in AccountFlag), "not_a_flag"]), max_size=2),
        st.booleans(),  # a conversation took place (else the call ended unanswered)
        st.integers(-3, 20),  # promise due in this many days (negative: none)
    ),
    st.tuples(st.just("pay"), account_ids, st.integers(1, 30000)),
    st.tuples(st.just("evaluate"), st.integers(0, 5)),
    st.tuples(st.just("dnc_add"), st.sampled_from(NUMBERS)),
    st.tuples(st.just("dnc_clear"), st.sampled_from(NUMBERS)),
    st.tuples(st.just("flag_set"), account_ids, flag_names),
    st.tuples(st.just("flag_clear"), account_ids, flag_names),
    st.tuples(st.just("phone"), target_index, st.sampled_from(list(PhoneStatus))),
    st.tuples(
        st.just("clock"),
        st.one_of(st.integers(3600, 3 * 86400), st.integers(3600, 200 * 86400)),
    ),
)
STEPS = st.lists(st.tuples(OPS, target_index), min_size=5, max_size=25)


@pytest.mark.redis
@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_no_dial_is_allowed_to_a_suppressed_number_a_blocked_number_or_a_flagged_account(
    steps: list[tuple[tuple[Any, ...], int]], engine: Engine, client: redis.Redis, key_prefix: str
) -> None:
    seed(engine)  # one migrated store for every example (migrating each time would dominate): start clean
    prefix = f"{key_prefix}{uuid.uuid4().hex[:8]}:"
    clock = Clock()
    guard = Guard(client, Ledger.on(engine), open_calendar(), prefix=prefix, clock=clock)
    gate = GuardGate(guard, store_facts(engine), voice=Voice.BOT)
    model = Model()
    in_flight: list[tuple[DialTarget, str]] = []  # allowed dials whose call has not ended yet
    try:
        for op, dial in steps:
            apply(op, engine, gate, clock, model, in_flight)
            account_id, number = TARGETS[dial]
            target = DialTarget(account_id, number)
            attempt_id = uuid.uuid4().hex
            reasons = asyncio.run(gate.reserve(target, attempt_id, clock.now))
            owned = {r for r in reasons if r in GUARDED or r.startswith("flag:")}
            expected = model.denials(account_id, number)
            assert owned == expected, (account_id, number, reasons, model)
            if not reasons:
                assert not expected
                record_reserved(engine, target, attempt_id, None, clock.now)
                in_flight.append((target, attempt_id))
    finally:
        for key in client.scan_iter(f"{prefix}*", count=1000):
            client.delete(key)


def apply(
    op: tuple[Any, ...],
    engine: Engine,
    gate: GuardGate,
    clock: Clock,
    model: Model,
    in_flight: list[tuple[DialTarget, str]],
) -> None:
    now = clock.now
    kind = op[0]
    if kind == "call":
        _, index, disposition, said_flags, answered, promise_days = op
        if in_flight:
            # End a call the guard allowed; otherwise one placed elsewhere (an import of history).
            target, attempt_id = in_flight.pop(index % len(in_flight))
        else:
            account_id, number = TARGETS[index]
            target, attempt_id = DialTarget(account_id, number), uuid.uuid4().hex
            record_reserved(engine, target, attempt_id, None, now)
        conv = None
        if answered:
            due = (now + dt.timedelta(days=promise_days)).date()
            conv = ConversationRecord(
                language="en",
                disposition=disposition,
                flags=list(said_flags),
                promise={"date": due.isoformat(), "amount": "50.00"} if promise_days >= 0 else None,
                right_party=disposition is not Disposition.WRONG_NUMBER,
            )
        outcome = CallOutcome.ANSWERED if answered else CallOutcome.NO_ANSWER
        record_ended(engine, target, AttemptResult(attempt_id, "chan", outcome, conversation=conv), now)
        asyncio.run(gate.outcome(attempt_id, outcome, right_party=conv is not None and conv.right_party))
        if conv is not None:
            flags = model.flags[target.account_id]
            flags.update(f for f in said_flags if f != "not_a_flag")
            if disposition in DISPOSITION_FLAG:
                flags.add(DISPOSITION_FLAG[disposition])
            if disposition is Disposition.WRONG_NUMBER:
                model.blocked.add((target.account_id, target.number))
    elif kind == "pay":
        _, account_id, cents = op
        record = PaymentRecord(uuid.uuid4().hex, account_id, Decimal(cents) / 100, "USD", now)
        with Session(engine) as s, s.begin():
            store_payment(s, record, source=PaymentSource.WEBHOOK, received_at=now)
    elif kind == "evaluate":
        evaluate_promises(engine, grace_days=op[1], now=now)
    elif kind == "dnc_add":
        lists.add(engine, op[1], reason="asked on the phone", by="ops", now=now)
        model.suppressed.add(op[1])
    elif kind == "dnc_clear":
        if op[1] in model.suppressed:
            lists.clear(engine, op[1], reason="re-verified", by="ops", now=now)
            model.suppressed.discard(op[1])
        else:
            with pytest.raises(InputError):
                lists.clear(engine, op[1], reason="re-verified", by="ops", now=now)
    elif kind == "flag_set":
        _, account_id, flag = op
        with Session(engine) as s, s.begin():
            state.set_flag(s, account_id, AccountFlag(flag), "ops", "letter received", now)
        model.flags[account_id].add(flag)
    elif kind == "flag_clear":
        _, account_id, flag = op
        if flag in model.flags[account_id]:
            with Session(engine) as s, s.begin():
                state.clear_flag(s, account_id, AccountFlag(flag), "ops", "set in error")
            model.flags[account_id].discard(flag)
        else:
            with pytest.raises(InputError), Session(engine) as s, s.begin():
                state.clear_flag(s, account_id, AccountFlag(flag), "ops", "set in error")
    elif kind == "phone":
        _, index, status = op
        account_id, number = TARGETS[index]
        with Session(engine) as s, s.begin():
            state.set_phone_status(s, account_id, number, status, "ops", "checked the number", now)
        if status is PhoneStatus.ACTIVE:
            model.blocked.discard((account_id, number))
        else:
            model.blocked.add((account_id, number))
    else:
        clock.now += dt.timedelta(seconds=op[1])


@pytest.mark.unit
def test_the_shipped_rules_are_the_ones_the_model_reads() -> None:
    # The guard above runs the YAML's rules; the built-in defaults must deny the same flags.
    assert frozenset(DEFAULT_RULES.deny_flags) == DENY_FLAGS == frozenset(load_rules(RULES_FILE).deny_flags)
