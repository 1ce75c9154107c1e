"""Reserved: data_protection (filled in by its change; an empty step until then).

Revision ID: 0114_data_protection
Revises: 0113_creditors
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0114_data_protection"
down_revision: str | None = "0113_creditors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
