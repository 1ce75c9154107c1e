"""Messages: SMS and e-mail sent or refused per account, their events (receipts, replies, opt-outs),
the addresses they go to, the opt-outs per channel, the payment links sent; and the channel of
every guard decision.

Models in dialer/store/models/messages.py; ``guard_decisions.channel`` in models/guards.py
(existing rows are calls).

Revision ID: 0116_messages
Revises: 0115_consent_and_placement
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0116_messages"
down_revision: str | None = "0115_consent_and_placement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"],
        ["accounts.account_id"],
        name=op.f(f"fk_{table}_account_id_accounts"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider_id", sa.String(length=100), nullable=True),
        sa.Column("subject", sa.String(length=400), nullable=True),
        sa.Column("error", sa.String(length=400), nullable=True),
        _account_fk("messages"),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_messages")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_account_created", ["account_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_messages_provider_id"), ["provider_id"], unique=False)
    op.create_table(
        "message_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        _account_fk("message_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_events")),
    )
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.create_index("ix_message_events_account_at", ["account_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_events_message_id"), ["message_id"], unique=False)
    op.create_table(
        "message_addresses",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _account_fk("message_addresses"),
        sa.PrimaryKeyConstraint("account_id", "channel", "address", name=op.f("pk_message_addresses")),
    )
    op.create_table(
        "message_opt_outs",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=400), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        _account_fk("message_opt_outs"),
        sa.PrimaryKeyConstraint("account_id", "channel", name=op.f("pk_message_opt_outs")),
    )
    op.create_table(
        "payment_links",
        sa.Column("link_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_id", sa.String(length=100), nullable=True),
        _account_fk("payment_links"),
        sa.PrimaryKeyConstraint("link_id", name=op.f("pk_payment_links")),
    )
    with op.batch_alter_table("payment_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_links_account_id"), ["account_id"], unique=False)
    # 0101 creates the ledger from the current model, so a fresh store has the column already.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("guard_decisions")}
    if "channel" not in columns:
        with op.batch_alter_table("guard_decisions", schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("channel", sa.String(length=8), server_default="call", nullable=False)
            )


def downgrade() -> None:
    with op.batch_alter_table("guard_decisions", schema=None) as batch_op:
        batch_op.drop_column("channel")
    with op.batch_alter_table("payment_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_links_account_id"))
    op.drop_table("payment_links")
    op.drop_table("message_opt_outs")
    op.drop_table("message_addresses")
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_events_message_id"))
        batch_op.drop_index("ix_message_events_account_at")
    op.drop_table("message_events")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_provider_id"))
        batch_op.drop_index("ix_messages_account_created")
    op.drop_table("messages")
