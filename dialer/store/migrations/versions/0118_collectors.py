"""Reserved: collectors (filled in by its change; an empty step until then).

Revision ID: 0118_collectors
Revises: 0117_analytics
Create Date: 2026-12-07 16:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0118_collectors"
down_revision: str | None = "0117_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
