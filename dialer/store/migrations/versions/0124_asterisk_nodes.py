"""(placeholder: no schema change yet)

Revision ID: 0124_asterisk_nodes
Revises: 0123_verification_details
Create Date: 2026-12-07 22:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0124_asterisk_nodes"
down_revision: str | None = "0123_verification_details"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
