"""Number-level suppression (do-not-call) lists.

Revision ID: 0111_suppression
Revises: 0110_account_state
Create Date: 2026-12-07 13:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0111_suppression"
down_revision: str | None = "0110_account_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
