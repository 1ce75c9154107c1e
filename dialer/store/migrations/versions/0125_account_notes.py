"""Notes on accounts (a collector's wrap-up note), shown on the account's page

Revision ID: 0125_account_notes
Revises: 0124_asterisk_nodes
Create Date: 2026-12-07 23:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0125_account_notes"
down_revision: str | None = "0124_asterisk_nodes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_notes",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("attempt_id", sa.String(length=36), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_account_notes_account_created", "account_notes", ["account_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_account_notes_account_created", table_name="account_notes")
    op.drop_table("account_notes")
