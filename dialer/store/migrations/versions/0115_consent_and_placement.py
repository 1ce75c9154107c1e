"""Reserved: consent_and_placement (filled in by its change; an empty step until then).

Revision ID: 0115_consent_and_placement
Revises: 0114_data_protection
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0115_consent_and_placement"
down_revision: str | None = "0114_data_protection"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
