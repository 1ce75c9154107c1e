"""Analytics: attempt facts with the debtor's local time, and indexes the KPI queries read by.

Revision ID: 0117_analytics
Revises: 0116_messages
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0117_analytics"
down_revision: str | None = "0116_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One narrow row per ended attempt, local day/hour/weekday computed once (dialer.analytics.facts).
    op.create_table(
        "attempt_facts",
        sa.Column("attempt_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("creditor_id", sa.String(64), nullable=True),
        sa.Column("campaign_id", sa.String(64), nullable=True),
        sa.Column("stage", sa.String(16), nullable=True),
        sa.Column("script", sa.String(100), nullable=True),
        sa.Column("script_version", sa.Integer(), nullable=True),
        sa.Column("dialed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("local_hour", sa.SmallInteger(), nullable=False),
        sa.Column("local_weekday", sa.SmallInteger(), nullable=False),
        sa.Column("answered", sa.SmallInteger(), nullable=False),
        sa.Column("right_party", sa.SmallInteger(), nullable=False),
        sa.Column("abandoned", sa.SmallInteger(), nullable=False),
        sa.Column("handled", sa.SmallInteger(), nullable=False),
        sa.Column("handle_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["call_attempts.attempt_id"],
            name=op.f("fk_attempt_facts_attempt_id_call_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_attempt_facts")),
    )
    op.create_table(
        "promise_facts",
        sa.Column("promise_id", sa.Integer(), nullable=False),
        sa.Column("creditor_id", sa.String(64), nullable=True),
        sa.Column("campaign_id", sa.String(64), nullable=True),
        sa.Column("stage", sa.String(16), nullable=True),
        sa.Column("script", sa.String(100), nullable=True),
        sa.Column("script_version", sa.Integer(), nullable=True),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("local_hour", sa.SmallInteger(), nullable=False),
        sa.Column("local_weekday", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["promise_id"],
            ["promises.promise_id"],
            name=op.f("fk_promise_facts_promise_id_promises"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("promise_id", name=op.f("pk_promise_facts")),
    )
    op.create_index("ix_promise_facts_local_day", "promise_facts", ["local_day"])
    op.create_index("ix_attempt_facts_local_day", "attempt_facts", ["local_day"])
    op.create_index("ix_attempt_facts_dialed_at", "attempt_facts", ["dialed_at"])
    op.create_index("ix_attempt_facts_ended_at", "attempt_facts", ["ended_at"])
    # New facts are the attempts ended since the last refresh: found by their end time.
    op.create_index("ix_call_attempts_ended_at", "call_attempts", ["ended_at"])
    op.create_index("ix_payments_paid_at", "payments", ["paid_at"])
    # Promises are counted through the call that took them.
    op.create_index("ix_promises_attempt_id", "promises", ["attempt_id"])


def downgrade() -> None:
    # Tolerant: a store upgraded by this step's first version (indexes only, no facts table, an
    # index on call_attempts.dialed_at) comes down through here too, then up again.
    inspector = sa.inspect(op.get_bind())
    indexes = {
        (t, i["name"]) for t in ("promises", "payments", "call_attempts") for i in inspector.get_indexes(t)
    }
    for table, name in (
        ("promises", "ix_promises_attempt_id"),
        ("payments", "ix_payments_paid_at"),
        ("call_attempts", "ix_call_attempts_ended_at"),
        ("call_attempts", "ix_call_attempts_dialed_at"),
    ):
        if (table, name) in indexes:
            op.drop_index(name, table_name=table)
    if inspector.has_table("promise_facts"):
        op.drop_table("promise_facts")
    if inspector.has_table("attempt_facts"):
        op.drop_table("attempt_facts")
