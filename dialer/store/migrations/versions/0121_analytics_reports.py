"""Analytics: line seconds for call costs, champion/challenger experiments, contact-time lookups.

* ``attempt_facts.line_s``: seconds from dial to end of every dialled attempt (cost per minute),
  filled in for the facts already counted.
* ``attempt_facts`` by account: the best time to contact reads one account's history.
* ``attempt_rollup``: the facts summed per local day and cut, for the dashboard's cuts that
  need neither hour nor account; ``attempt_facts.rolled`` marks the facts already in it.
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
        "attempt_rollup",
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("utc_day", sa.Date(), nullable=False),
        sa.Column("creditor_id", sa.String(64), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("script", sa.String(100), nullable=False),
        sa.Column("script_version", sa.Integer(), nullable=False),
        sa.Column("local_weekday", sa.SmallInteger(), nullable=False),
        sa.Column("dialled", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("right_party", sa.Integer(), nullable=False),
        sa.Column("abandoned", sa.Integer(), nullable=False),
        sa.Column("handled", sa.Integer(), nullable=False),
        sa.Column("handle_s", sa.Float(), nullable=False),
        sa.Column("line_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "local_day", "utc_day", "creditor_id", "campaign_id", "stage", "script", "script_version",
            name=op.f("pk_attempt_rollup"),
        ),
    )  # fmt: skip
    with op.batch_alter_table("attempt_facts") as batch:
        batch.add_column(sa.Column("rolled", sa.SmallInteger(), nullable=False, server_default="0"))
    utc_day = (
        "date(dialed_at)"
        if op.get_bind().dialect.name == "sqlite"
        else "CAST(timezone('UTC', dialed_at) AS date)"
    )
    keys = (
        f"local_day, {utc_day}, coalesce(creditor_id, ''), coalesce(campaign_id, ''), coalesce(stage, ''), "
        "coalesce(script, ''), coalesce(script_version, -1)"
    )
    op.execute(
        "INSERT INTO attempt_rollup (local_day, utc_day, creditor_id, campaign_id, stage, script, script_version, "
        "local_weekday, dialled, answered, right_party, abandoned, handled, handle_s, line_s) "
        f"SELECT {keys}, max(local_weekday), count(*), sum(answered), sum(right_party), sum(abandoned), "
        f"sum(handled), sum(handle_s), sum(line_s) FROM attempt_facts GROUP BY {keys}"
    )
    op.execute("UPDATE attempt_facts SET rolled = 1")
    op.create_index(
        "ix_attempt_facts_unrolled",
        "attempt_facts",
        ["rolled"],
        postgresql_where=sa.text("rolled = 0"),
        sqlite_where=sa.text("rolled = 0"),
    )
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
    op.drop_index("ix_attempt_facts_unrolled", table_name="attempt_facts")
    op.drop_table("attempt_rollup")
    op.drop_index("ix_attempt_facts_account_id", table_name="attempt_facts")
    with op.batch_alter_table("attempt_facts") as batch:
        batch.drop_column("rolled")
        batch.drop_column("line_s")
