"""Collectors, teams and case assignment: who works which account.

``teams`` and ``collectors`` (skills as JSON lists, capacity, absence) and
``case_assignments`` (one row per assigned account, with the facts it was assigned on,
which escalation rules compare against).  New tables only: nothing existing changes.

Revision ID: 0118_collectors
Revises: 0117_analytics
Create Date: 2026-12-07 16:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0118_collectors"
down_revision: str | None = "0117_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_teams")),
    )
    op.create_table(
        "collectors",
        sa.Column("collector_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("console_user", sa.String(length=64), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("buckets", sa.JSON(), nullable=False),
        sa.Column("creditors", sa.JSON(), nullable=False),
        sa.Column("licences", sa.JSON(), nullable=False),
        sa.Column("balance_min", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("balance_max", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("hours_per_week", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("absent_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["teams.team_id"], name=op.f("fk_collectors_team_id_teams")),
        sa.PrimaryKeyConstraint("collector_id", name=op.f("pk_collectors")),
    )
    op.create_index(op.f("ix_collectors_team_id"), "collectors", ["team_id"], unique=False)
    op.create_table(
        "case_assignments",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("collector_id", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("manual", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("bucket", sa.String(length=40), nullable=True),
        sa.Column("broken_promises", sa.Integer(), server_default="0", nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_case_assignments_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["collector_id"],
            ["collectors.collector_id"],
            name=op.f("fk_case_assignments_collector_id_collectors"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_case_assignments")),
    )
    op.create_index(
        op.f("ix_case_assignments_collector_id"), "case_assignments", ["collector_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_case_assignments_collector_id"), table_name="case_assignments")
    op.drop_table("case_assignments")
    op.drop_index(op.f("ix_collectors_team_id"), table_name="collectors")
    op.drop_table("collectors")
    op.drop_table("teams")
