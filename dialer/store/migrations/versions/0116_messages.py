"""Reserved: messages (filled in by its change; an empty step until then).

Revision ID: 0116_messages
Revises: 0115_consent_and_placement
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0116_messages"
down_revision: str | None = "0115_consent_and_placement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
