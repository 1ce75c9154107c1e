"""Account state written back from calls: per-phone status, plans and instalments, callbacks, flag reasons.

Revision ID: 0110_account_state
Revises: 0102_qa_scores_script_pins
Create Date: 2026-12-07 13:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0110_account_state"
down_revision: str | None = "0102_qa_scores_script_pins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
