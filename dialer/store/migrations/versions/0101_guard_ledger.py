"""Guard ledger: every dial decision and outcome (models in dialer/store/models/guards.py).

The ledger tables were first created by ``Ledger.on()`` itself, so a store may
already hold them: create each only where it is missing.

Revision ID: 0101_guard_ledger
Revises: 0100_console
Create Date: 2026-11-25 15:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from dialer.store.models.guards import LEDGER_TABLES

revision: str = "0101_guard_ledger"
down_revision: str | None = "0100_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    for table in LEDGER_TABLES:
        table.create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(LEDGER_TABLES):
        table.drop(bind, checkfirst=True)
