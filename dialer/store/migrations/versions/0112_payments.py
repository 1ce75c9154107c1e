"""Payments received and what they were matched to.

Revision ID: 0112_payments
Revises: 0111_suppression
Create Date: 2026-12-07 13:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0112_payments"
down_revision: str | None = "0111_suppression"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
