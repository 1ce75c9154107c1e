"""`duncall db grant --app-role`: on PostgreSQL the application's role writes audit rows and reads
them, but cannot change, delete, truncate or unguard them; the chain still verifies."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from dialer.privacy.retention import AUDIT_NOT_OURS, Retention, purge
from dialer.store.audit_chain import verify
from dialer.store.db import open_engine
from dialer.store.roles import grant_app_role
from dialer.store.testing import temporary_database
from duncall.cli import main
from duncall.console import audit
from foundation.errors import InputError

T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
RETENTION = Retention(1096, 1096, 1096, 1096, 1096, 1096)


@pytest.fixture
def app_role(postgres_url: str) -> Iterator[str]:
    role = f"duncall_app_{uuid.uuid4().hex[:8]}"
    yield role
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
    admin.dispose()


def _as_role(owner: Engine, role: str) -> Engine:
    """The application's engine: the same database and schema, logged in as ``role``."""
    url = make_url(str(owner.url.render_as_string(hide_password=False))).set(username=role, password=None)
    with owner.connect() as conn:
        schema = conn.scalar(text("SELECT current_schema()"))
    return open_engine(url.render_as_string(hide_password=False), schema=schema)


@pytest.mark.postgres
def test_the_application_role_cannot_rewrite_the_audit_log(
    tmp_path: Path, postgres_url: str, app_role: str
) -> None:
    with temporary_database("postgres", tmp_path, postgres_url) as owner:
        with Session(owner) as db, db.begin():
            audit.record(db, T0, "owner", "setup", "x")
        report = grant_app_role(owner, app_role)
        assert report.created and report.append_only == ("console_audit",)
        assert "console_audit_prune" in report.read_only
        # Idempotent: run again after an upgrade.
        assert not grant_app_role(owner, app_role).created
        app = _as_role(owner, app_role)
        try:
            # What the application does works: audit rows are added (the head moves) and read,
            # ordinary tables are written and cleared.
            for i in range(3):
                with Session(app) as db, db.begin():
                    audit.record(db, T0 + dt.timedelta(seconds=i + 1), "sam", "call_open", f"att-{i}")
            with app.begin() as conn:
                assert conn.scalar(text("SELECT count(*) FROM console_audit")) == 4
                conn.execute(text("DELETE FROM console_login_throttle"))
            for statement in (
                "UPDATE console_audit SET action = 'x' WHERE seq = 2",
                "DELETE FROM console_audit WHERE seq = 2",
                "TRUNCATE console_audit",
                "ALTER TABLE console_audit DISABLE TRIGGER console_audit_append_only",
                "DROP TRIGGER console_audit_append_only ON console_audit",
                "INSERT INTO console_audit_prune (through_seq, at, by) VALUES (9, now(), 'x')",
                "UPDATE alembic_version SET version_num = 'x'",
            ):
                with (
                    pytest.raises(DatabaseError, match=r"permission denied|must be owner"),
                    app.begin() as conn,
                ):
                    conn.execute(text(statement))
            with Session(app) as db:
                assert verify(db).line() == "ok 4 rows"
            # Old audit rows are pruned by the owner's purge only: the application's role may not
            # write the checkpoint, and says so.
            later = T0 + dt.timedelta(days=2000)
            with Session(app) as db, db.begin():
                report = purge(db, RETENTION, later)
            assert report.notes == [AUDIT_NOT_OURS] and report.counts["audit"] == 0
            with Session(owner) as db, db.begin():
                assert purge(db, RETENTION, later).counts["audit"] == 4
            with Session(app) as db, db.begin():
                audit.record(db, later, "sam", "call_open", "att-9")
            with Session(app) as db:
                assert verify(db).line() == "ok 1 rows, rows before 5 pruned by retention"
        finally:
            app.dispose()


@pytest.mark.postgres
def test_a_role_that_owns_tables_or_is_superuser_is_refused(
    tmp_path: Path, postgres_url: str, app_role: str
) -> None:
    with temporary_database("postgres", tmp_path, postgres_url) as owner:
        with owner.begin() as conn:
            conn.execute(text(f'CREATE ROLE "{app_role}" SUPERUSER'))
        with pytest.raises(InputError, match="superuser: no privilege or trigger binds it"):
            grant_app_role(owner, app_role)
        with owner.begin() as conn:
            conn.execute(text(f'ALTER ROLE "{app_role}" NOSUPERUSER'))
            conn.execute(text(f'ALTER TABLE console_audit OWNER TO "{app_role}"'))
        with pytest.raises(InputError, match=r"owns 1 tables .* could drop the audit log's triggers"):
            grant_app_role(owner, app_role)
        with owner.begin() as conn:
            conn.execute(text("ALTER TABLE console_audit OWNER TO current_user"))
        with pytest.raises(InputError, match="not a plain PostgreSQL name"):
            grant_app_role(owner, 'x"; DROP TABLE accounts; --')


@pytest.mark.unit
def test_grant_on_sqlite_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["db", "grant", "--app-role", "duncall_app", "--db", f"sqlite:///{tmp_path / 'd.db'}"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "PostgreSQL only" in err


@pytest.mark.postgres
def test_grant_sets_the_roles_password_from_a_file(tmp_path: Path, postgres_url: str, app_role: str) -> None:
    """As the compose file's migrate service runs it, with a generated secret (quotes and all)."""
    secret = tmp_path / "duncall_app_password"
    secret.write_text("it's-a-secret\n", encoding="utf-8")
    with temporary_database("postgres", tmp_path, postgres_url) as owner:
        report = grant_app_role(owner, app_role, secret.read_text(encoding="utf-8").strip())
        assert report.created
        with owner.connect() as conn:
            stored = conn.scalar(
                text("SELECT rolpassword FROM pg_authid WHERE rolname = :r"), {"r": app_role}
            )
            can_login = conn.scalar(
                text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :r"), {"r": app_role}
            )
        assert stored and stored.startswith("SCRAM-SHA-256$") and can_login
