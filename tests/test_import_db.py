"""Importing into the store, on SQLite and on the real PostgreSQL: upsert, idempotence, rejects."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

from dialer.accounts import importer
from dialer.accounts.importer import Reject, import_file
from dialer.accounts.state import record_outcome
from dialer.store.models import Account, AccountFlagRow, AttemptState, CallAttempt, FlagSource, Phone
from dialer.store.testing import temporary_database
from foundation.contract import CallOutcome, Disposition

HEADER = (
    "account_id,first_name,last_name,phones,timezone,language,balance,currency,"
    "due_date,days_past_due,product,risk_segment,flags,payment_history"
)


def line(i: int, *, balance: str = "100.00", phones: str | None = None, flags: str = "") -> str:
    phones = phones or f"+1212555{i:04d}:mobile:yes:2024-01-15;+1646555{i:04d}:home:no"
    place = "America/New_York,en"
    tail = f"USD,2026-10-01,,card,low,{flags},2026-09-01=10.00"
    return f"A{i},First{i},Last{i},{phones},{place},{balance},{tail}"


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with temporary_database(request.param, tmp_path, url) as eng:
        yield eng


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with engine.connect() as conn:
        for table in ("accounts", "phones", "account_flags"):
            rows = conn.execute(text(f"SELECT * FROM {table}")).all()
            out[table] = sorted(tuple(str(v) for v in row) for row in rows)
    return out


def test_import_then_reimport_is_idempotent(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", [line(i, flags="dispute" if i == 3 else "") for i in range(1, 301)])
    first = import_file(engine, path, batch_size=64)
    assert (first.rows, first.inserted, first.updated, first.rejected) == (300, 300, 0, 0)
    assert first.batches == 5
    before = snapshot(engine)
    again = import_file(engine, path, batch_size=64)
    assert (again.inserted, again.updated, again.rejected) == (0, 300, 0)
    assert snapshot(engine) == before
    assert (
        len(before["accounts"]) == 300 and len(before["phones"]) == 600 and len(before["account_flags"]) == 1
    )


def test_reimport_applies_changes(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, write(tmp_path / "a.csv", [line(1, flags="attorney"), line(2)]))
    changed = [line(1, balance="55.10", phones="+12125559999:work:no"), line(2, flags="do_not_call")]
    summary = import_file(engine, write(tmp_path / "b.csv", changed))
    assert (summary.inserted, summary.updated) == (0, 2)
    with Session(engine) as session:
        a1 = session.get(Account, "A1")
        assert a1 is not None and a1.balance == Decimal("55.10")
        assert [p.number for p in a1.phones] == ["+12125559999"]
        assert [f.flag for f in a1.flags] == []  # the file no longer says attorney
        assert [
            f.flag for f in session.scalars(select(AccountFlagRow).where(AccountFlagRow.account_id == "A2"))
        ] == ["do_not_call"]


def test_rejects_are_reported_and_good_rows_still_go_in(engine: Engine, tmp_path: Path) -> None:
    lines = [
        line(1),
        line(2, balance="-1"),
        line(3, phones="+1212555"),
        line(1),
        line(4, flags="vip"),
        line(5),
    ]
    rejects: list[Reject] = []
    summary = import_file(engine, write(tmp_path / "a.csv", lines), on_reject=rejects.append)
    assert (summary.rows, summary.imported, summary.rejected) == (6, 2, 4)
    assert [(r.line, r.account_id) for r in rejects] == [(3, "A2"), (4, "A3"), (5, "A1"), (6, "A4")]
    assert "appears earlier in this file" in rejects[2].reason
    assert all(r.file.endswith("a.csv") for r in rejects)
    with Session(engine) as session:
        assert sorted(session.scalars(select(Account.account_id))) == ["A1", "A5"]


def test_flags_set_by_a_call_survive_reimport(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", [line(1)])
    import_file(engine, path)
    now = dt.datetime(2026, 11, 25, 15, tzinfo=dt.UTC)
    with Session(engine) as session, session.begin():
        attempt = CallAttempt(
            attempt_id="att-1",
            account_id="A1",
            number="+12125550001",
            state=AttemptState.DIALING.value,
            stage="early",
            reserved_at=now,
        )
        session.add(attempt)
        record_outcome(
            session, attempt, outcome=CallOutcome.ANSWERED, ended_at=now, disposition=Disposition.DISPUTE
        )
    import_file(engine, path)
    with Session(engine) as session:
        flags = session.scalars(select(AccountFlagRow).where(AccountFlagRow.account_id == "A1")).all()
        assert [(f.flag, f.source, f.attempt_id) for f in flags] == [
            ("dispute", FlagSource.CALL.value, "att-1")
        ]
        # The attempt outlives the re-import that replaced the phone rows.
        assert session.get(CallAttempt, "att-1") is not None


def test_a_failing_batch_leaves_no_partial_rows(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "a.csv", [line(i) for i in range(1, 11)])
    import_file(engine, path, batch_size=5)
    with engine.begin() as conn:
        conn.execute(update(Account).values(balance=Decimal("1.00")))
    # Crash the second batch after its accounts were upserted and its phones deleted.
    calls = 0
    real_insert = sqlalchemy.insert

    def crashing_insert(table: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("simulated crash in the middle of a batch")
        return real_insert(table)

    monkeypatch.setattr(importer, "insert", crashing_insert)
    with pytest.raises(RuntimeError, match="simulated crash"):
        import_file(engine, path, batch_size=5)
    monkeypatch.undo()
    with Session(engine) as session:
        balances = {
            row.account_id: row.balance
            for row in session.execute(select(Account.account_id, Account.balance))
        }
        phones = session.scalar(select(func.count()).select_from(Phone))
    # Batch one committed (balances back to 100.00); batch two rolled back whole (1.00, phones intact).
    assert {k for k, v in balances.items() if v == Decimal("100.00")} == {f"A{i}" for i in range(1, 6)}
    assert {k for k, v in balances.items() if v == Decimal("1.00")} == {f"A{i}" for i in range(6, 11)}
    assert phones == 20
