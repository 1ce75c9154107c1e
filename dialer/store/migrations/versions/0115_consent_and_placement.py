"""Consent with a scope (phones.consent_scope); attempts that were never placed; creditors that
may have debtors abroad (creditors.allow_international).

A number's consent now says what it covers (``voice``: the bot's calls; ``sms``: text
messages), ``+``-joined; existing consent was recorded for the bot's calls, so it becomes
``voice``.  Attempts Asterisk refused before any channel existed end in state
``not_placed`` (a value of the existing ``call_attempts.state`` column, no schema change).

Revision ID: 0115_consent_and_placement
Revises: 0114_data_protection
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0115_consent_and_placement"
down_revision: str | None = "0114_data_protection"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN with a constant default: in place on SQLite and PostgreSQL alike.
    op.add_column(
        "phones",
        sa.Column("consent_scope", sa.String(length=32), nullable=False, server_default="voice"),
    )
    op.add_column(
        "creditors",
        sa.Column("allow_international", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild of ``creditors`` would trip the accounts'
    # foreign key to it.
    op.drop_column("creditors", "allow_international")
    op.drop_column("phones", "consent_scope")
