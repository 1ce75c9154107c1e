"""Creditors (the agency's clients) and the creditor of each account.

Model in dialer/store/models/creditors.py; ``accounts.creditor_id`` is nullable:
accounts imported before creditors existed keep none (and are not dialled until a
re-import names one).

Revision ID: 0113_creditors
Revises: 0112_payments
Create Date: 2026-12-07 14:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0113_creditors"
down_revision: str | None = "0112_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_accounts_creditor_id_creditors"
INDEX = "ix_accounts_creditor_id"


def upgrade() -> None:
    op.create_table(
        "creditors",
        sa.Column("creditor_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("callback_number", sa.String(length=20), nullable=True),
        sa.Column("caller_id", sa.String(length=20), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("scripts", sa.JSON(), nullable=False),
        sa.Column("rules_preset", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("creditor_id", name=op.f("pk_creditors")),
    )
    if op.get_bind().dialect.name == "sqlite":
        # A column-level REFERENCES: SQLite adds it in place.  A batch rebuild of ``accounts``
        # would drop the table under foreign_keys=ON, and with it every phone and flag (cascade).
        op.execute(
            "ALTER TABLE accounts ADD COLUMN creditor_id VARCHAR(64) "
            f"CONSTRAINT {FK} REFERENCES creditors (creditor_id)"
        )
    else:
        op.add_column("accounts", sa.Column("creditor_id", sa.String(length=64), nullable=True))
        op.create_foreign_key(FK, "accounts", "creditors", ["creditor_id"], ["creditor_id"])
    op.create_index(INDEX, "accounts", ["creditor_id"], unique=False)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="accounts")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE accounts DROP COLUMN creditor_id")  # in place, as it was added
    else:
        op.drop_constraint(FK, "accounts", type_="foreignkey")
        op.drop_column("accounts", "creditor_id")
    op.drop_table("creditors")
