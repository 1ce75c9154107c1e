"""Case assignment against the store (SQLite and PostgreSQL): a roster imported with its bad rows
named, a run placing every account once, the moves in the audit log (whose chain still holds),
a broken promise and a dispute moving only their accounts, an absent collector's accounts
redistributed, a supervisor's reassignment checked against skills, and the CLI's dry run
writing nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from dialer.accounts.importer import import_file
from dialer.assignment.config import load_rules
from dialer.assignment.roster import import_roster
from dialer.assignment.store import apply, case_facts, compute, reassign
from dialer.store.audit_chain import verify
from dialer.store.models import AccountFlagRow, CaseAssignment, Collector, PromiseRow
from dialer.store.models.console import AuditEntry
from dialer.store.testing import temporary_database
from duncall.cli import main
from duncall.console import audit
from foundation.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
RULES = load_rules(ROOT / "strategies" / "assignment.yaml")
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
HEADER = (
    "account_id,first_name,last_name,phones,timezone,language,balance,currency,due_date,"
    "days_past_due,product,risk_segment,flags,payment_history\n"
)
ROSTER = """\
teams:
  - {team_id: general, name: General}
  - {team_id: senior, name: Senior collectors}
  - {team_id: disputes, name: Disputes desk}
collectors:
  - {collector_id: en1, name: Ann, team: general, languages: [en], capacity: 40}
  - {collector_id: en2, name: Ben, team: general, languages: [en], capacity: 40}
  - {collector_id: zh1, name: Chen, team: general, languages: [zh, en], capacity: 40}
  - {collector_id: sr1, name: Sam, team: senior, capacity: 40}
  - {collector_id: dp1, name: Dee, team: disputes, capacity: 40}
  - {collector_id: bad, name: Ed, team: general, languages: [fr], capacity: 10}
"""


def _accounts_csv(n: int) -> str:
    rows = []
    for i in range(n):
        language = "zh" if i % 5 == 0 else "en"
        phone = f"+1212555{i:04d}"
        rows.append(
            f"G-{i:03d},F{i},L{i},{phone}:mobile:yes:2024-01-15,America/New_York,{language},"
            f"{100 + i}.00,USD,2026-10-01,,credit_card,medium,,\n"
        )
    return HEADER + "".join(rows)


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with temporary_database(request.param, tmp_path, url) as eng:
        path = tmp_path / "accounts.csv"
        path.write_text(_accounts_csv(60))
        assert import_file(eng, path).rejected == 0
        roster = tmp_path / "roster.yaml"
        roster.write_text(ROSTER)
        with Session(eng) as db, db.begin():
            summary = import_roster(db, roster)
        assert (summary.collectors, summary.teams) == (5, 3)
        assert [r.one_line() for r in summary.rejects] == [
            f"{roster}:11: collector bad languages: unknown language fr (use en, zh)"
        ]
        yield eng


def _writer(db: Session, action: str, target: str, detail: dict[str, object]) -> None:
    audit.record(db, NOW, "tester", action, target, **detail)


def _run(engine: Engine, now: dt.datetime = NOW) -> dict[str, tuple[str, str]]:
    """One assignment run written; returns account -> (from, to) of the moves."""
    with Session(engine) as db, db.begin():
        result = compute(db, RULES, now)
        apply(db, result.plan.moves, case_facts(db, RULES, now.date()), now, "tester", _writer)
    return {m.account_id: (m.from_collector or "-", m.to_collector or "-") for m in result.plan.moves}


def _held(engine: Engine) -> dict[str, str]:
    with Session(engine) as db:
        rows = db.execute(select(CaseAssignment.account_id, CaseAssignment.collector_id))
        return {account_id: collector_id for account_id, collector_id in rows}


def test_every_account_is_placed_once_with_the_moves_audited(engine: Engine) -> None:
    moves = _run(engine)
    held = _held(engine)
    assert len(moves) == 60 and set(held) == {f"G-{i:03d}" for i in range(60)}
    for account, collector in held.items():
        if int(account[2:]) % 5 == 0:  # a Chinese speaker: only zh1, sr1, dp1 speak zh (no language = any)
            assert collector in {"zh1", "sr1", "dp1"}
    loads = sorted(sum(1 for c in held.values() if c == cid) for cid in ("en1", "en2", "zh1", "sr1", "dp1"))
    assert loads[-1] - loads[0] <= RULES.tolerance
    with Session(engine) as db:
        rows = db.scalars(select(AuditEntry).where(AuditEntry.action == "case_assign")).all()
        audited = [a for row in rows for a in row.detail["accounts"]]
        assert sorted(audited) == sorted(held)
        assert all(row.detail["reason"] == "new" for row in rows)
        verify(db)  # the audit chain holds with the assignment rows in it
        # Rows written by the driver's executemany read back as the ORM writes them.
        stamps = {
            r.assigned_at.replace(tzinfo=r.assigned_at.tzinfo or dt.UTC)
            for r in db.scalars(select(CaseAssignment))
        }
        assert stamps == {NOW}
        assert db.execute(select(func.count()).where(CaseAssignment.assigned_at == NOW)).scalar() == 60
    assert _run(engine) == {}  # a second run moves nothing: stickiness


def test_escalations_and_absence_move_only_their_accounts(engine: Engine) -> None:
    _run(engine)
    before = _held(engine)
    broken = next(a for a, c in before.items() if c == "en1")
    disputed = next(a for a, c in before.items() if c == "en2")
    with Session(engine) as db, db.begin():
        db.add(
            PromiseRow(
                account_id=broken,
                promised_date=dt.date(2026, 11, 10),
                amount=Decimal(50),
                currency="USD",
                status="broken",
                created_at=NOW - dt.timedelta(days=20),
            )
        )
        db.add(AccountFlagRow(account_id=disputed, flag="dispute", source="call", set_at=NOW))
    moves = _run(engine)
    assert moves == {broken: ("en1", "sr1"), disputed: ("en2", "dp1")}
    with Session(engine) as db:
        reasons = {r.account_id: r.reason for r in db.scalars(select(CaseAssignment))}
    assert (reasons[broken], reasons[disputed]) == ("broken_promise", "dispute")
    # zh1 is absent: their accounts go to colleagues who speak Chinese, nobody else's move.
    with Session(engine) as db, db.begin():
        db.get_one(Collector, "zh1").absent_until = NOW + dt.timedelta(days=3)
    held = _held(engine)
    moves = _run(engine)
    assert set(moves) == {a for a, c in held.items() if c == "zh1"}
    assert all(frm == "zh1" and to in {"sr1", "dp1", "en1", "en2"} for frm, to in moves.values())
    for account, (_, to) in moves.items():
        if int(account[2:]) % 5 == 0:
            assert to in {"sr1", "dp1"}


def test_a_supervisor_reassigns_within_the_skills(engine: Engine) -> None:
    _run(engine)
    zh_account = "G-000"
    with Session(engine) as db, db.begin(), pytest.raises(InputError, match=r"lacks .* language zh"):
        reassign(db, RULES, zh_account, "en1", NOW, "sup", "test", _writer)
    with Session(engine) as db, db.begin():
        current = db.get_one(CaseAssignment, zh_account).collector_id
        target = "sr1" if current != "sr1" else "dp1"
        reassign(db, RULES, zh_account, target, NOW, "sup", "customer asked for Sam", _writer)
    with Session(engine) as db:
        row = db.get_one(CaseAssignment, zh_account)
        assert (row.collector_id, row.manual, row.reason) == (target, True, "manual")
        assert db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.target == f"{current} -> {target}")
        )


@pytest.mark.unit
def test_cli_dry_run_writes_nothing_and_run_reports_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(_accounts_csv(12))
    assert main(["accounts", "import", "--db", db, "--no-progress", str(accounts)]) == 0
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "collector_id,name,team,languages,capacity\nen1,Ann,general,en,20\nzh1,Chen,general,zh;en,20\nx,X,,en,zero\n"
    )
    assert main(["collectors", "import", "--db", db, str(roster)]) == 1  # a bad row: exit 1, the rest stored
    err = capsys.readouterr().err
    assert f"{roster}:4: collector x capacity:" in err
    assert main(["assign", "run", "--dry-run", "--db", db, "--by", "sup"]) == 0
    out = capsys.readouterr().out
    assert "would move 12 (12 new)" in out
    assert main(["assign", "show", "en1", "--json", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["assign", "run", "--json", "--db", db, "--by", "sup"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["moved"] == 12 and report["by_reason"] == {"new": 12} and report["unplaced"] == []
    assert all(m["to"] in {"en1", "zh1"} and m["why"] for m in report["moves"])
    assert main(["audit", "verify", "--db", db]) == 0
