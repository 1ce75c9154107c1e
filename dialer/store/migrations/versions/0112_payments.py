"""Payments received and what they were matched to; promises resolve as kept, partially kept or broken.

Models in dialer/store/models/payments.py and promises.py (``paid_amount``; the status
column already holds any of pending, kept, partially_kept, broken).

Revision ID: 0112_payments
Revises: 0111_suppression
Create Date: 2026-12-07 13:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0112_payments"
down_revision: str | None = "0111_suppression"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(precision=14, scale=2)


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("promise_id", sa.Integer(), nullable=True),
        sa.Column("instalment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_payments_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["promise_id"],
            ["promises.promise_id"],
            name=op.f("fk_payments_promise_id_promises"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payments")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payments_promise_id"), ["promise_id"], unique=False)
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paid_amount", MONEY, server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.drop_column("paid_amount")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_promise_id"))
        batch_op.drop_index(batch_op.f("ix_payments_account_id"))
    op.drop_table("payments")
