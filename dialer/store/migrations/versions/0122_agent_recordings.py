"""(placeholder: no schema change yet)

Revision ID: 0122_agent_recordings
Revises: 0121_analytics_reports
Create Date: 2026-12-07 22:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0122_agent_recordings"
down_revision: str | None = "0121_analytics_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
