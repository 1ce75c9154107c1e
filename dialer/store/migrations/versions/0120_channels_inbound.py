"""Channels: inbound replies, callbacks and channel steps.

Revision ID: 0120_channels_inbound
Revises: 0119_protection_retention
Create Date: 2026-12-07 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0120_channels_inbound"
down_revision: str | None = "0119_protection_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
