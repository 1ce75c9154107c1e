"""Reserved: analytics (filled in by its change; an empty step until then).

Revision ID: 0117_analytics
Revises: 0116_messages
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0117_analytics"
down_revision: str | None = "0116_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
