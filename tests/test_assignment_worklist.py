"""A collector's worklist: most urgent first as the rules order it (a callback due, then broken
promises, then the larger balance), and per number what the guard says for a human call now —
callable, callable from the window's opening, or stopped by a flag — with a cap one attempt
from its limit named."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dialer.accounts.importer import import_file
from dialer.assignment.config import load_rules
from dialer.assignment.store import apply, case_facts, compute
from dialer.assignment.worklist import build
from dialer.guards.ledger import DecisionEntry, Ledger
from dialer.policy import DEFAULT_RULES
from dialer.store.models import AccountFlagRow, CallAttempt, Collector, PromiseRow
from dialer.store.testing import temporary_database
from dialer.strategy.config import load_strategy
from duncall.cli import main

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
RULES = load_rules(ROOT / "strategies" / "assignment.yaml")
STRATEGY = load_strategy(ROOT / "strategies" / "default.yaml")
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)  # Wednesday, 10:00 in New York, 07:00 in LA
CSV = (
    "account_id,first_name,last_name,phones,timezone,language,balance,currency,due_date,"
    "days_past_due,product,risk_segment,flags,payment_history\n"
    "W-1,A,A,+12125550101:mobile:yes:2024-01-15,America/New_York,en,300.00,USD,2026-10-01,,card,low,,\n"
    "W-2,B,B,+12125550102:mobile:yes:2024-01-15,America/New_York,en,900.00,USD,2026-10-01,,card,low,,\n"
    "W-3,C,C,+12125550103:mobile:yes:2024-01-15,America/New_York,en,100.00,USD,2026-10-01,,card,low,,\n"
    "W-4,D,D,+14155550104:mobile:yes:2024-01-15,America/Los_Angeles,en,5000.00,USD,2026-10-01,,card,high,,\n"
    "W-5,E,E,+12125550105:mobile:yes:2024-01-15,America/New_York,en,50.00,USD,2026-10-01,,card,low,,\n"
)


def _setup(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text(CSV)
    assert import_file(engine, path).rejected == 0
    with Session(engine) as db, db.begin():
        db.add(
            Collector(
                collector_id="solo",
                name="Solo",
                capacity=50,
                languages=[],
                buckets=[],
                creditors=[],
                licences=[],
            )
        )
    with Session(engine) as db, db.begin():
        result = compute(db, RULES, NOW)
        apply(db, result.plan.moves, case_facts(db, RULES, NOW.date()), NOW, "t", lambda *a: None)
    with Session(engine) as db, db.begin():
        # W-3 asked to be called back an hour ago.
        db.add(
            CallAttempt(
                attempt_id=str(uuid.uuid4()),
                account_id="W-3",
                number="+12125550103",
                state="ended",
                stage="late",
                reserved_at=NOW - dt.timedelta(days=2),
                ended_at=NOW - dt.timedelta(days=2),
                outcome="answered",
                disposition="callback",
                callback_at=NOW - dt.timedelta(hours=1),
                right_party=True,
            )
        )
        # W-1 broke a promise.
        db.add(
            PromiseRow(
                account_id="W-1",
                promised_date=dt.date(2026, 11, 10),
                amount=Decimal(100),
                currency="USD",
                status="broken",
                created_at=NOW - dt.timedelta(days=20),
            )
        )
        db.add(AccountFlagRow(account_id="W-5", flag="cease_contact", source="call", set_at=NOW))
    # W-2's number was tried twice today: one more reaches the number's 24-hour cap (3).
    Ledger.on(engine).append_decisions(
        [
            DecisionEntry(
                str(uuid.uuid4()),
                "W-2",
                None,
                "+12125550102",
                NOW - dt.timedelta(hours=h),
                True,
                (),
                "default",
                None,
            )
            for h in (5, 3)
        ]
    )


def test_worklist_orders_by_the_rules_and_says_what_may_happen_now(tmp_path: Path) -> None:
    with temporary_database("sqlite", tmp_path) as engine:
        _setup(engine, tmp_path)
        items = build(engine, "solo", RULES, STRATEGY, DEFAULT_RULES, NOW)
    # callback due, then broken promise, then balance (5000 before 900 before 50)
    assert [i.account_id for i in items] == ["W-3", "W-1", "W-4", "W-2", "W-5"]
    by_id = {i.account_id: i for i in items}
    assert by_id["W-3"].callback_due and by_id["W-1"].broken_promises == 1
    la = by_id["W-4"].numbers[0]  # 07:00 in Los Angeles: the window opens at 08:00 local
    assert not la.callable_now and la.reasons == ("outside_window",)
    assert la.next_at == dt.datetime(2026, 11, 25, 16, 0, tzinfo=dt.UTC)
    capped = by_id["W-2"].numbers[0]
    assert capped.callable_now and any("number 2 of 3" in c for c in capped.caps_near)
    stopped = by_id["W-5"]
    assert stopped.strategy.startswith("stop:") and not stopped.callable_now
    assert "flag:cease_contact" in stopped.numbers[0].reasons and stopped.numbers[0].next_at is None


def test_worklist_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with temporary_database("sqlite", tmp_path) as engine:
        _setup(engine, tmp_path)
    db = f"sqlite:///{tmp_path / 'duncall-test.db'}"
    assert main(["worklist", "solo", "--json", "--now", NOW.isoformat(), "--db", db]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [i["account_id"] for i in out][:2] == ["W-3", "W-1"]
    assert out[0]["numbers"][0]["callable_now"] is True
    assert main(["worklist", "nobody", "--db", db]) != 0
    assert "no collector 'nobody'" in capsys.readouterr().err
