"""Collectors' calls recorded on both sides: who talked, and each side's own recording.

* ``call_records.agent_id``: the collector (or agent) who took the call; NULL on a bot call.
* ``call_records.leg_audio``: speaker → the stored recording of what that side said
  (``{"debtor": …, "agent": …}``), the source of the call's two-sided transcript; NULL when
  the call has no per-side recordings (every bot call).

Revision ID: 0122_agent_recordings
Revises: 0121_analytics_reports
Create Date: 2026-12-07 22:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0122_agent_recordings"
down_revision: str | None = "0121_analytics_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("agent_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("leg_audio", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("leg_audio")
        batch.drop_column("agent_id")
