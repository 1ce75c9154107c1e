"""Analytics: line seconds for call costs, champion/challenger experiments, contact-time lookups.

* ``attempt_facts.line_s``: seconds from dial to end of every dialled attempt (cost per minute),
  filled in for the facts already counted.
* ``attempt_facts`` by account: the best time to contact reads one account's history.
* ``experiments`` and ``experiment_assignments``: a challenger strategy or script given to a
  seeded, stratified share of accounts; promoting it is audited.

Revision ID: 0121_analytics_reports
Revises: 0120_channels_inbound
Create Date: 2026-12-07 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0121_analytics_reports"
down_revision: str | None = "0120_channels_inbound"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attempt_facts") as batch:
        batch.add_column(sa.Column("line_s", sa.Float(), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE attempt_facts SET line_s = (julianday(ended_at) - julianday(dialed_at)) * 86400.0")
    else:
        op.execute("UPDATE attempt_facts SET line_s = extract(epoch from ended_at - dialed_at)")
    op.create_index("ix_attempt_facts_account_id", "attempt_facts", ["account_id"])
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),  # strategy | script
        sa.Column("champion", sa.String(200), nullable=False),
        sa.Column("challenger", sa.String(200), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),  # of accounts given the challenger
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("creditor_id", sa.String(64), nullable=True),  # None: every creditor's accounts
        sa.Column("status", sa.String(16), nullable=False),  # running | promoted | stopped
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("experiment_id", name=op.f("pk_experiments")),
    )
    op.create_table(
        "experiment_assignments",
        sa.Column("experiment_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("arm", sa.String(16), nullable=False),  # champion | challenger
        sa.Column("stratum", sa.String(40), nullable=True),  # the DPD bucket on assignment
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name=op.f("fk_experiment_assignments_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_experiment_assignments_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "account_id", name=op.f("pk_experiment_assignments")),
    )
    op.create_index("ix_experiment_assignments_account_id", "experiment_assignments", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_experiment_assignments_account_id", table_name="experiment_assignments")
    op.drop_table("experiment_assignments")
    op.drop_table("experiments")
    op.drop_index("ix_attempt_facts_account_id", table_name="attempt_facts")
    with op.batch_alter_table("attempt_facts") as batch:
        batch.drop_column("line_s")
