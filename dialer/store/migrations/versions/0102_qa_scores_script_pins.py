"""QA scores, campaign script pins, and the script version and path a call ran.

Models in dialer/store/models/qa.py, pins.py and transcripts.py (call_records).

Revision ID: 0102_qa_scores_script_pins
Revises: 0101_guard_ledger
Create Date: 2026-12-01 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0102_qa_scores_script_pins"
down_revision: str | None = "0101_guard_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "qa_scores",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("attempt_id", sa.String(length=36), nullable=False),
        sa.Column("reviewer", sa.String(length=64), nullable=False),
        sa.Column("form", sa.String(length=64), nullable=False),
        sa.Column("form_version", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("failed_items", sa.JSON(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["call_attempts.attempt_id"],
            name=op.f("fk_qa_scores_attempt_id_call_attempts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_scores")),
        sa.UniqueConstraint("attempt_id", "reviewer", name="uq_qa_scores_attempt_reviewer"),
    )
    with op.batch_alter_table("qa_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_scores_attempt_id"), ["attempt_id"], unique=False)
    op.create_table(
        "campaign_script_pins",
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("script", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pinned_by", sa.String(length=64), nullable=False),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "script", name=op.f("pk_campaign_script_pins")),
    )
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("script_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("script_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("path", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_column("path")
        batch_op.drop_column("script_sha256")
        batch_op.drop_column("script_version")
    op.drop_table("campaign_script_pins")
    with op.batch_alter_table("qa_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_scores_attempt_id"))
    op.drop_table("qa_scores")
