"""The audit log proves itself: rows are hash-chained and append-only, and `duncall audit verify`
finds a row edited, removed or added behind the application's back."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, text, update
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from dialer.store.audit_chain import AuditChainBroken, verify
from dialer.store.models.console import AuditEntry
from dialer.store.testing import temporary_database
from duncall.cli import main
from duncall.console import audit

T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


def _write_rows(engine: Engine, count: int) -> None:
    for i in range(count):
        # One transaction per row, as requests write them.
        with Session(engine) as db, db.begin():
            audit.record(
                db, T0 + dt.timedelta(seconds=i), "sam", "call_open", f"att-{i}", n=i, tags=("a", "b")
            )


def _cli(db_url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["audit", "verify", "--db", db_url])
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


@pytest.mark.unit
def test_verify_finds_a_row_edited_behind_the_applications_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with temporary_database("sqlite", tmp_path) as engine:
        _write_rows(engine, 5)
        url = str(engine.url)
    code, out, _ = _cli(url, capsys)
    assert (code, out) == (0, "ok 5 rows")
    # The application's own connection cannot change or remove a row: the triggers refuse.
    with temporary_database("sqlite", tmp_path) as engine:
        for statement in (
            update(AuditEntry).where(AuditEntry.seq == 3).values(user_name="someone-else"),
            delete(AuditEntry).where(AuditEntry.seq == 3),
        ):
            with pytest.raises(DatabaseError, match="append-only"), Session(engine) as db, db.begin():
                db.execute(statement)
    # Someone with the database file drops the trigger and edits row 3.
    raw = sqlite3.connect(tmp_path / "duncall-test.db")
    raw.execute("DROP TRIGGER console_audit_no_update")
    raw.execute("UPDATE console_audit SET target = 'att-other' WHERE seq = 3")
    raw.commit()
    raw.close()
    code, out, err = _cli(url, capsys)
    assert code != 0 and out == ""
    assert len(err.splitlines()) == 1
    assert "audit chain broken at seq 3" in err and "edited" in err


@pytest.mark.unit
def test_verify_finds_removed_and_forged_rows(tmp_path: Path) -> None:
    with temporary_database("sqlite", tmp_path) as engine:
        _write_rows(engine, 4)
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER console_audit_no_delete"))
            conn.execute(text("DELETE FROM console_audit WHERE seq = 2"))
        with Session(engine) as db, pytest.raises(AuditChainBroken, match="rows 2–2 before it are missing"):
            verify(db)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM console_audit WHERE seq >= 3"))
        # Cutting the tail leaves a consistent-looking chain; the head still knows its length.
        with Session(engine) as db, pytest.raises(AuditChainBroken, match="removed from the end"):
            verify(db)
    (tmp_path / "forged").mkdir()
    with temporary_database("sqlite", tmp_path / "forged") as engine:
        _write_rows(engine, 2)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO console_audit (at, user_name, action, target, detail) "
                    "VALUES ('2026-03-02 16:00:00', 'ghost', 'login', '', '{}')"
                )
            )
        with Session(engine) as db, pytest.raises(AuditChainBroken, match="no chain link"):
            verify(db)


@pytest.mark.unit
def test_a_recorded_purge_may_remove_only_the_oldest_rows(tmp_path: Path) -> None:
    with temporary_database("sqlite", tmp_path) as engine:
        _write_rows(engine, 5)
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO console_audit_prune (through_seq, at, by) VALUES (2, :at, 'retention')"),
                {"at": T0},
            )
            conn.execute(text("DELETE FROM console_audit WHERE seq <= 2"))
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text("DELETE FROM console_audit WHERE seq = 4"))
        with Session(engine) as db:
            assert verify(db).line() == "ok 3 rows, rows before 3 pruned by retention"


@pytest.mark.postgres
def test_postgres_refuses_changes_and_verify_finds_an_edit(tmp_path: Path, postgres_url: str) -> None:
    with temporary_database("postgres", tmp_path, postgres_url) as engine:
        _write_rows(engine, 4)
        with Session(engine) as db:
            assert verify(db).rows == 4
        for statement in (
            "UPDATE console_audit SET action = 'x'",
            "DELETE FROM console_audit",
            "TRUNCATE console_audit",
        ):
            with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        # The table's owner can still drop the trigger: the chain is what shows the edit.
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE console_audit DISABLE TRIGGER console_audit_append_only"))
            conn.execute(text("UPDATE console_audit SET detail = '{\"n\": 9}' WHERE seq = 2"))
            conn.execute(text("ALTER TABLE console_audit ENABLE TRIGGER console_audit_append_only"))
        with Session(engine) as db, pytest.raises(AuditChainBroken, match=r"at seq 2 .*edited"):
            verify(db)
