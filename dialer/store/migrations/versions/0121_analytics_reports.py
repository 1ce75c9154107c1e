"""Analytics: reports, experiments and contact-time models.

Revision ID: 0121_analytics_reports
Revises: 0120_channels_inbound
Create Date: 2026-12-07 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0121_analytics_reports"
down_revision: str | None = "0120_channels_inbound"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
