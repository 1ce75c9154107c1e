"""When a call attempt was answered and by whom, written at the answer (recovery counts it);
a recorded collector's call waiting for its transcription (call_records.transcript_due)

Revision ID: 0126_answered_at
Revises: 0125_account_notes
Create Date: 2026-12-08 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0126_answered_at"
down_revision: str | None = "0125_account_notes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("answered_by", sa.String(length=8), nullable=True))
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transcript_due", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_column("transcript_due")
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.drop_column("answered_by")
        batch_op.drop_column("answered_at")
