"""Inbound calls without the telephone: who a caller ID is (E.164 from national digits, the
dialled creditor's account first, a withheld number nobody), the inbound script's first words
(thanks, then the script's own verification, no debt), and an inbound call taking no slot of the
strategy's daily limit on dials."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.dialogue.loader import find_script, load_script
from dialer.inbound import find_caller, normalise
from dialer.store.models import Account, Creditor, Phone
from dialer.store.testing import temporary_database
from dialer.strategy.config import load_strategy
from dialer.strategy.model import AccountState, AttemptRecord, History
from dialer.strategy.policy import next_action
from duncall.inbound import (
    THANKS,
    caller_today,
    held_script,
    inbound_account,
    inbound_script,
    not_found_script,
)
from foundation.contract import CallOutcome, Disposition

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
SHARED = "+12125550177"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database("sqlite", tmp_path) as eng:
        with Session(eng) as db, db.begin():
            db.add(Creditor(creditor_id="acme", name="Acme", callback_number="+18005550123", scripts={}))
            db.add(Creditor(creditor_id="zeta", name="Zeta", callback_number="+18005550999", scripts={}))
            db.flush()
            for account_id, creditor in (("I-1", "acme"), ("I-2", "zeta")):
                db.add(
                    Account(
                        account_id=account_id,
                        first_name="Ann",
                        last_name="Lee",
                        timezone="America/New_York",
                        language="en",
                        balance=Decimal("100.00"),
                        currency="USD",
                        payment_history=[],
                        creditor_id=creditor,
                    )
                )
                db.flush()
                db.add(
                    Phone(
                        account_id=account_id,
                        number=SHARED,
                        position=0,
                        phone_type="mobile",
                        ai_voice_consent=False,
                        consent_date=None,
                        contact_type="debtor",
                    )
                )
        yield eng


def test_a_caller_id_is_read_in_the_dialled_numbers_country(engine: Engine) -> None:
    assert normalise("2125550177", "+18005550123") == SHARED
    assert normalise("(212) 555-0177", None) == SHARED
    assert normalise("anonymous", "+18005550123") is None
    with Session(engine) as db:
        # Both accounts have the number: the one of the creditor whose number was called.
        assert find_caller(db, "2125550177", "+18005550999").account_id == "I-2"
        assert find_caller(db, SHARED, "+18005550123").account_id == "I-1"
        assert set(find_caller(db, SHARED, None).candidates) == {"I-1", "I-2"}
        withheld = find_caller(db, "", "+18005550123")
        assert (withheld.number, withheld.account_id) == (None, None)
        nobody = find_caller(db, "+12125550100", "+18005550123")
        assert (nobody.number, nobody.account_id) == ("+12125550100", None)


def test_an_inbound_callers_today_is_their_own_date(engine: Engine) -> None:
    # 21:30 on 3 March in New York is already 4 March in UTC: a debtor calling back in the
    # evening is offered their own tomorrow, and their days past due count to their today.
    evening_in_new_york = dt.datetime(2027, 3, 4, 2, 30, tzinfo=dt.UTC)
    with Session(engine) as db, db.begin():
        account = db.scalars(select(Account).where(Account.account_id == "I-1")).one()
        account.due_date = dt.date(2027, 2, 1)
    with Session(engine) as db:
        view, today = inbound_account(db, "I-1", SHARED, evening_in_new_york)
    assert today == dt.date(2027, 3, 3)
    assert view.days_past_due == 30
    # No zone on the account: the calling number's, when it lies in one (+1 212: New York);
    # a number that spans zones (toll-free) or none known: UTC.
    assert caller_today(None, SHARED, evening_in_new_york) == dt.date(2027, 3, 3)
    assert caller_today(None, "+18005550123", evening_in_new_york) == dt.date(2027, 3, 4)
    assert caller_today(None, None, evening_in_new_york) == dt.date(2027, 3, 4)
    assert caller_today("Asia/Shanghai", SHARED, evening_in_new_york) == dt.date(2027, 3, 4)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_inbound_script_thanks_then_verifies_and_says_nothing_of_the_debt(lang: str) -> None:
    script = load_script(find_script("early_collection", lang))
    inbound = inbound_script(script)
    start = inbound.states[inbound.start]
    assert start.prompts[0].template.text.startswith(THANKS[lang])
    assert start.prompts[0].template.text.endswith(script.states[script.start].prompts[0].template.text)
    assert start.on == script.states[script.start].on  # the script's own verification transitions
    assert not any(p.template.reveals_debt() for p in start.prompts)
    for other in (not_found_script(lang), held_script(lang)):
        assert not any(p.template.reveals_debt() for p in other.states[other.start].prompts)


def test_an_inbound_call_takes_no_slot_of_the_daily_limit() -> None:
    strategy = load_strategy(ROOT / "strategies" / "default.yaml")
    now = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
    account = AccountState(
        account_id="I-1",
        language="en",
        balance=Decimal("100.00"),
        due_date=None,
        days_past_due=10,
        risk_segment=None,
        timezone="America/New_York",
        flags=frozenset(),
    )
    assert strategy.max_attempts_per_day == 2
    called_us = AttemptRecord(
        now - dt.timedelta(hours=7), CallOutcome.ANSWERED, disposition=Disposition.CALLBACK
    )
    busy = AttemptRecord(now - dt.timedelta(hours=5), CallOutcome.BUSY)  # our one dial today
    inbound = next_action(
        strategy, account, History((dataclasses.replace(called_us, inbound=True), busy)), now
    )
    outbound = next_action(strategy, account, History((called_us, busy)), now)
    assert outbound.not_before == called_us.at + dt.timedelta(days=1), outbound.reason
    assert "24 h" in outbound.reason
    assert inbound.not_before is not None and inbound.not_before < outbound.not_before, inbound.reason
    assert "24 h" not in inbound.reason
