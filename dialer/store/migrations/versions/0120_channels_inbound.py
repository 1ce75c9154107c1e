"""Channels: inbound replies read by the NLU, follow-ups for collectors, inbound calls.

- ``message_events.intent`` and ``.confidence``: a reply's reading (event kind ``reply_read``).
- ``follow_ups``: a reply (or call) a collector has to read or answer (models/followups.py).
- ``call_attempts.direction``: ``outbound`` (we dialled) or ``inbound`` (the debtor called
  back); existing rows are outbound.
- ``ix_phones_number``: a reply's sender and an inbound caller ID are found by number (a full
  scan of the phones before: ~90 ms for a number of no account among 100,000).

Revision ID: 0120_channels_inbound
Revises: 0119_protection_retention
Create Date: 2026-12-07 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0120_channels_inbound"
down_revision: str | None = "0119_protection_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("phones", schema=None) as batch_op:
        batch_op.create_index("ix_phones_number", ["number"], unique=False)
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("intent", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("confidence", sa.Float(), nullable=True))
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("direction", sa.String(length=8), server_default="outbound", nullable=False)
        )
    op.create_table(
        "follow_ups",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_follow_ups_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
    )
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.create_index("ix_follow_ups_account_created", ["account_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index("ix_follow_ups_account_created")
    op.drop_table("follow_ups")
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.drop_column("direction")
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.drop_column("confidence")
        batch_op.drop_column("intent")
    with op.batch_alter_table("phones", schema=None) as batch_op:
        batch_op.drop_index("ix_phones_number")
