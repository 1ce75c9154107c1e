"""The Asterisk node each call attempt was placed on

Revision ID: 0124_asterisk_nodes
Revises: 0122_agent_recordings
Create Date: 2026-12-07 22:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0124_asterisk_nodes"
down_revision: str | None = "0122_agent_recordings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.drop_column("node")
