"""Consent with a scope (phones.consent_scope); attempts that were never placed; creditors that
may have debtors abroad (creditors.allow_international); accounts imported with days past due
and no due date get one (accounts.due_date_derived): the migration's day minus those days, as
the import now does on the import's day.

A number's consent now says what it covers (``voice``: the bot's calls; ``sms``: text
messages), ``+``-joined; existing consent was recorded for the bot's calls, so it becomes
``voice``.  Attempts Asterisk refused before any channel existed end in state
``not_placed`` (a value of the existing ``call_attempts.state`` column, no schema change).

Revision ID: 0115_consent_and_placement
Revises: 0114_data_protection
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

import datetime as dt
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
    op.add_column(
        "accounts",
        sa.Column("due_date_derived", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    accounts = sa.table(
        "accounts",
        sa.column("account_id", sa.String()),
        sa.column("due_date", sa.Date()),
        sa.column("days_past_due", sa.Integer()),
        sa.column("due_date_derived", sa.Boolean()),
    )
    bind = op.get_bind()
    today = dt.date.today()
    rows = bind.execute(
        sa.select(accounts.c.account_id, accounts.c.days_past_due).where(
            accounts.c.due_date.is_(None), accounts.c.days_past_due.is_not(None)
        )
    ).all()
    for account_id, days in rows:
        bind.execute(
            accounts.update()
            .where(accounts.c.account_id == account_id)
            .values(due_date=today - dt.timedelta(days=days), due_date_derived=True)
        )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild of ``creditors`` would trip the accounts'
    # foreign key to it.
    op.drop_column("accounts", "due_date_derived")
    op.drop_column("creditors", "allow_international")
    op.drop_column("phones", "consent_scope")
