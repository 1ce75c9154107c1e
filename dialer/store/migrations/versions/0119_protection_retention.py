"""Data protection: retention of messages and audit, roles.

Revision ID: 0119_protection_retention
Revises: 0118_collectors
Create Date: 2026-12-07 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0119_protection_retention"
down_revision: str | None = "0118_collectors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
