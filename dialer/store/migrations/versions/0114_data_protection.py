"""Data protection: a hash-chained, append-only audit log and the log-in throttle.

- ``console_audit`` gains ``seq``, ``prev_hash`` and ``row_hash`` (dialer/store/audit_hash.py);
  rows already there are linked in id order, then triggers refuse every UPDATE and DELETE
  (and TRUNCATE on PostgreSQL), except deleting the oldest rows a retention purge recorded
  in ``console_audit_prune``.
- ``console_audit_head`` holds the chain's last link; every audit insert locks it.
- ``console_login_throttle``: refused log-ins per user name and per client address.

Revision ID: 0114_data_protection
Revises: 0113_creditors
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dialer.store.audit_hash import GENESIS, link_hash, normal_detail

revision: str = "0114_data_protection"
down_revision: str | None = "0113_creditors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSED = "console_audit is append-only: audit rows cannot be changed or deleted"

SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER console_audit_no_update BEFORE UPDATE ON console_audit
    BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""",
    f"""CREATE TRIGGER console_audit_no_delete BEFORE DELETE ON console_audit
    WHEN OLD.seq IS NULL OR OLD.seq > (SELECT COALESCE(MAX(through_seq), 0) FROM console_audit_prune)
    BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END""",
)
PG_FUNCTION = f"""CREATE OR REPLACE FUNCTION console_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.seq IS NOT NULL
       AND OLD.seq <= (SELECT COALESCE(MAX(through_seq), 0) FROM console_audit_prune) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '{REFUSED}';
END $$"""
PG_TRIGGERS = (
    PG_FUNCTION,
    """CREATE TRIGGER console_audit_append_only BEFORE UPDATE OR DELETE ON console_audit
    FOR EACH ROW EXECUTE FUNCTION console_audit_append_only()""",
    """CREATE TRIGGER console_audit_no_truncate BEFORE TRUNCATE ON console_audit
    FOR EACH STATEMENT EXECUTE FUNCTION console_audit_append_only()""",
)


def upgrade() -> None:
    with op.batch_alter_table("console_audit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
    op.create_table(
        "console_audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_audit_head")),
    )
    op.create_table(
        "console_audit_prune",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("through_seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_audit_prune")),
    )
    op.create_table(
        "console_login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_console_login_throttle")),
    )
    _link_existing_rows()
    with op.batch_alter_table("console_audit", schema=None) as batch_op:
        batch_op.create_index("ix_console_audit_seq", ["seq"], unique=True)
    triggers = SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else PG_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def _link_existing_rows() -> None:
    bind = op.get_bind()
    audit = sa.table(
        "console_audit",
        sa.column("id", sa.BigInteger()),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("user_name", sa.String()),
        sa.column("action", sa.String()),
        sa.column("target", sa.String()),
        sa.column("detail", sa.JSON()),
        sa.column("seq", sa.BigInteger()),
        sa.column("prev_hash", sa.String()),
        sa.column("row_hash", sa.String()),
    )
    prev, seq = GENESIS, 0
    rows = bind.execute(
        sa.select(
            audit.c.id, audit.c.at, audit.c.user_name, audit.c.action, audit.c.target, audit.c.detail
        ).order_by(audit.c.id)
    ).all()
    for row_id, at, user_name, action, target, detail in rows:
        seq += 1
        row_hash = link_hash(prev, seq, at, user_name, action, target or "", normal_detail(detail))
        bind.execute(
            sa.update(audit)
            .where(audit.c.id == row_id)
            .values(seq=seq, prev_hash=prev, row_hash=row_hash, target=target or "")
        )
        prev = row_hash
    head = sa.table(
        "console_audit_head",
        sa.column("id", sa.Integer()),
        sa.column("seq", sa.BigInteger()),
        sa.column("row_hash", sa.String()),
    )
    bind.execute(sa.insert(head).values(id=1, seq=seq, row_hash=prev))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS console_audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS console_audit_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS console_audit_append_only ON console_audit")
        op.execute("DROP TRIGGER IF EXISTS console_audit_no_truncate ON console_audit")
        op.execute("DROP FUNCTION IF EXISTS console_audit_append_only()")
    op.drop_table("console_login_throttle")
    op.drop_table("console_audit_prune")
    op.drop_table("console_audit_head")
    with op.batch_alter_table("console_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_console_audit_seq")
        batch_op.drop_column("row_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
