"""PostgreSQL privileges: the application's role may use the store but not rewrite its audit log.

The role that owns the schema (it ran the migrations) keeps everything: only a table's owner
can drop or disable a trigger, so the append-only triggers hold against every other role.
The application's role (the console, the dialer) gets, in the store's schema:

- ``SELECT, INSERT, UPDATE, DELETE`` on every table, and ``USAGE, SELECT`` on the sequences,
  so every ordinary write works;
- on ``console_audit`` only ``SELECT, INSERT``: no UPDATE, DELETE or TRUNCATE even where a
  trigger would let one through;
- on ``console_audit_prune`` and ``alembic_version`` only ``SELECT``: it cannot open a purge
  window in the audit chain, nor pretend the schema is at another revision;
- never ``TRUNCATE``, ``TRIGGER`` or ownership of anything.

Default privileges give tables a later migration creates the ordinary grants; run the grant
again after an upgrade so a new append-only rule applies too (it is idempotent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from foundation.errors import ConfigError, InputError

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Rows the application may add and read, never change or remove.
APPEND_ONLY = ("console_audit",)
# Written only by the owner: retention's purge of the audit chain, and migrations.
READ_ONLY = ("console_audit_prune", "alembic_version")
ORDINARY = "SELECT, INSERT, UPDATE, DELETE"


@dataclass(frozen=True, slots=True)
class GrantReport:
    role: str
    schema: str
    owner: str
    created: bool
    tables: int
    append_only: tuple[str, ...]
    read_only: tuple[str, ...]

    def lines(self) -> list[str]:
        made = (
            f"created role {self.role} (LOGIN, no password: set one with ALTER ROLE)\n"
            if self.created
            else ""
        )
        return [
            f"{made}role {self.role} in schema {self.schema} (owner {self.owner}): "
            f"{ORDINARY} on {self.tables} tables; "
            f"SELECT, INSERT only on {', '.join(self.append_only)}; "
            f"SELECT only on {', '.join(self.read_only)}; no TRUNCATE, no trigger changes"
        ]


def _ident(name: str) -> str:
    if not ROLE_NAME.match(name):
        raise InputError(
            f"role name {name!r} is not a plain PostgreSQL name",
            "use lower-case letters, digits and _ (e.g. duncall_app)",
        )
    return f'"{name}"'


def grant_app_role(engine: Engine, role: str, password: str | None = None) -> GrantReport:
    """Give ``role`` the application's privileges on the store's schema (as its owner);
    ``password``: the role's log-in password, set (or changed) too."""
    if engine.dialect.name != "postgresql":
        raise ConfigError(
            "database roles exist on PostgreSQL only",
            "on SQLite the triggers guard the audit log; point --db at PostgreSQL",
        )
    quoted = _ident(role)
    with engine.begin() as conn:
        schema, owner = conn.execute(text("SELECT current_schema(), current_user")).one()
        if role == owner:
            raise InputError(
                f"{role} is the role running this command, which owns the schema",
                "run it as the owner (the role that ran duncall db upgrade) and name another role",
            )
        created = _ensure_role(conn, role, quoted)
        if password:
            # Quoted by the server (format's %L), never by string building here.
            statement = conn.scalar(
                text("SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', CAST(:r AS text), CAST(:p AS text))"),
                {"r": role, "p": password},
            )
            conn.exec_driver_sql(str(statement))
        _refuse_owner_or_superuser(conn, role, schema)
        tables = [
            str(t)
            for t in conn.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"),
                {"s": schema},
            )
        ]
        qs = f'"{schema}"'
        conn.execute(text(f"GRANT USAGE ON SCHEMA {qs} TO {quoted}"))
        conn.execute(text(f"REVOKE CREATE ON SCHEMA {qs} FROM {quoted}"))
        conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {qs} FROM {quoted}"))
        conn.execute(text(f"GRANT {ORDINARY} ON ALL TABLES IN SCHEMA {qs} TO {quoted}"))
        conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {qs} TO {quoted}"))
        append_only = tuple(t for t in APPEND_ONLY if t in tables)
        read_only = tuple(t for t in READ_ONLY if t in tables)
        for table in append_only:
            conn.execute(text(f'REVOKE UPDATE, DELETE ON {qs}."{table}" FROM {quoted}'))
        for table in read_only:
            conn.execute(text(f'REVOKE INSERT, UPDATE, DELETE ON {qs}."{table}" FROM {quoted}'))
        conn.execute(text(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {qs} GRANT {ORDINARY} ON TABLES TO {quoted}"))
        conn.execute(
            text(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {qs} GRANT USAGE, SELECT ON SEQUENCES TO {quoted}")
        )
    return GrantReport(role, schema, owner, created, len(tables), append_only, read_only)


def _ensure_role(conn: Connection, role: str, quoted: str) -> bool:
    if conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
        return False
    conn.execute(text(f"CREATE ROLE {quoted} LOGIN"))
    return True


def _refuse_owner_or_superuser(conn: Connection, role: str, schema: str) -> None:
    superuser = conn.scalar(
        text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": role}
    )
    if superuser:
        raise InputError(
            f"role {role} is a superuser: no privilege or trigger binds it",
            f"use a plain role for the application (ALTER ROLE {role} NOSUPERUSER NOBYPASSRLS)",
        )
    owned = conn.scalar(
        text("SELECT count(*) FROM pg_tables WHERE schemaname = :s AND tableowner = :r"),
        {"s": schema, "r": role},
    )
    if owned:
        raise InputError(
            f"role {role} owns {owned} tables in schema {schema}, so it could drop the audit log's triggers",
            f"give them to the owner first: REASSIGN OWNED BY {role} TO <owner role>",
        )
