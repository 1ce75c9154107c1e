"""The console's collector portfolios: a supervisor reads any collector's, a collector only their
own (by their log-in), QA none; each portfolio read is audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_console_fixtures import ConsoleEnv, make_env

from dialer.accounts.importer import import_file
from dialer.assignment.config import load_rules
from dialer.assignment.store import apply, case_facts, compute
from dialer.store.models import Collector
from dialer.store.models.console import AuditEntry
from duncall.console.roles import Role

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
CSV = (
    "account_id,first_name,last_name,phones,timezone,language,balance,currency,due_date,"
    "days_past_due,product,risk_segment,flags,payment_history\n"
    + "".join(
        f"P-{i},A,B,+1212555{i:04d}:mobile:yes:2024-01-15,America/New_York,en,{100 + i}.00,USD,2026-10-01,,card,low,,\n"
        for i in range(6)
    )
)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ConsoleEnv]:
    env = make_env(tmp_path)
    path = tmp_path / "p.csv"
    path.write_text(CSV)
    assert import_file(env.engine, path).rejected == 0
    with Session(env.engine) as db, db.begin():
        for cid, user in (("mine", "collector"), ("theirs", "someone")):
            db.add(
                Collector(
                    collector_id=cid,
                    name=cid,
                    console_user=user,
                    capacity=3,
                    languages=[],
                    buckets=[],
                    creditors=[],
                    licences=[],
                )
            )
    rules = load_rules(ROOT / "strategies" / "assignment.yaml")
    with Session(env.engine) as db, db.begin():
        result = compute(db, rules, NOW)
        apply(db, result.plan.moves, case_facts(db, rules, NOW.date()), NOW, "t", lambda *a: None)
    yield env
    env.close()


def test_portfolios_by_role(env: ConsoleEnv) -> None:
    supervisor = env.login(Role.SUPERVISOR)
    everyone = supervisor.get("/api/collectors").json()
    assert [(c["collector_id"], c["open_cases"]) for c in everyone] == [("mine", 3), ("theirs", 3)]
    theirs = supervisor.get("/api/collectors/theirs/portfolio").json()
    assert len(theirs["accounts"]) == 3 and all(a["balance"] for a in theirs["accounts"])
    collector = env.login(Role.COLLECTOR)
    assert [c["collector_id"] for c in collector.get("/api/collectors").json()] == ["mine"]
    assert len(collector.get("/api/collectors/mine/portfolio").json()["accounts"]) == 3
    assert collector.get("/api/collectors/theirs/portfolio").status_code == 403
    assert env.login(Role.QA).get("/api/collectors").status_code == 403
    assert supervisor.get("/api/collectors/nobody/portfolio").status_code == 404
    with Session(env.engine) as db:
        rows = db.scalars(
            select(AuditEntry).where(AuditEntry.action == "portfolio_read").order_by(AuditEntry.id)
        )
        reads = [(a.user_name, a.action, a.target) for a in rows]
    assert reads == [("supervisor", "portfolio_read", "theirs"), ("collector", "portfolio_read", "mine")]
