"""Account state written back from calls: per-phone status, plans and instalments, callbacks, flag reasons.

Models in dialer/store/models/accounts.py (phone_statuses; who and why on account_flags),
promises.py (installment_plans, plan_instalments; a promise's channel) and attempts.py
(right_party).

Revision ID: 0110_account_state
Revises: 0102_qa_scores_script_pins
Create Date: 2026-12-07 13:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0110_account_state"
down_revision: str | None = "0102_qa_scores_script_pins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MONEY = sa.Numeric(14, 2)


def upgrade() -> None:
    op.create_table(
        "phone_statuses",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("attempt_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_phone_statuses_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "number", name=op.f("pk_phone_statuses")),
    )
    op.create_table(
        "installment_plans",
        sa.Column("plan_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("attempt_id", sa.String(length=36), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("total", _MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_installment_plans_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["call_attempts.attempt_id"],
            name=op.f("fk_installment_plans_attempt_id_call_attempts"),
        ),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_installment_plans")),
    )
    with op.batch_alter_table("installment_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_installment_plans_account_id"), ["account_id"], unique=False)
    op.create_table(
        "plan_instalments",
        sa.Column("instalment_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", _MONEY, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["installment_plans.plan_id"],
            name=op.f("fk_plan_instalments_plan_id_installment_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("instalment_id", name=op.f("pk_plan_instalments")),
        sa.UniqueConstraint("plan_id", "seq", name="uq_plan_instalments_plan_seq"),
    )
    with op.batch_alter_table("account_flags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("set_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=400), nullable=True))
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=True))
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("right_party", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.drop_column("right_party")
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.drop_column("channel")
    with op.batch_alter_table("account_flags", schema=None) as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("set_by")
    op.drop_table("plan_instalments")
    with op.batch_alter_table("installment_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_installment_plans_account_id"))
    op.drop_table("installment_plans")
    op.drop_table("phone_statuses")
