"""Data protection: retention of messages and audit, roles.

- ``console_audit_prune.through_hash``: the hash of the last audit row a retention purge
  removed, the checkpoint ``duncall audit verify`` starts the remaining chain from.
- ``recording_deletions``: Asterisk stored recordings still to delete after an erasure or a
  purge found Asterisk away (no account id or number in it).
- PostgreSQL: nobody but the owner may TRUNCATE the audit tables (PUBLIC holds no privilege on
  them); the application's own role is set up by ``duncall db grant --app-role``.

Revision ID: 0119_protection_retention
Revises: 0118_collectors
Create Date: 2026-12-07 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0119_protection_retention"
down_revision: str | None = "0118_collectors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("console_audit_prune", schema=None) as batch_op:
        batch_op.add_column(sa.Column("through_hash", sa.String(length=64), nullable=True))
    op.create_table(
        "recording_deletions",
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_recording_deletions")),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in ("console_audit", "console_audit_head", "console_audit_prune"):
            op.execute(f"REVOKE ALL ON {table} FROM PUBLIC")


def downgrade() -> None:
    op.drop_table("recording_deletions")
    if op.get_bind().dialect.name == "sqlite":
        # Not a batch copy: the audit triggers name console_audit_prune, and SQLite refuses to
        # drop and rename a table a trigger reads. SQLite 3.35+ drops a column in place.
        op.execute("ALTER TABLE console_audit_prune DROP COLUMN through_hash")
    else:
        op.drop_column("console_audit_prune", "through_hash")
