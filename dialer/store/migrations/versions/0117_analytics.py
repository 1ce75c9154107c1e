"""Analytics: indexes the KPI queries read by (a period of attempts and payments, promises by call).

Revision ID: 0117_analytics
Revises: 0116_messages
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0117_analytics"
down_revision: str | None = "0116_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A period of attempts or payments is a range of the stored UTC time (dialer.analytics.queries).
    op.create_index("ix_call_attempts_dialed_at", "call_attempts", ["dialed_at"])
    op.create_index("ix_payments_paid_at", "payments", ["paid_at"])
    # Promises are counted through the call that took them.
    op.create_index("ix_promises_attempt_id", "promises", ["attempt_id"])


def downgrade() -> None:
    op.drop_index("ix_promises_attempt_id", table_name="promises")
    op.drop_index("ix_payments_paid_at", table_name="payments")
    op.drop_index("ix_call_attempts_dialed_at", table_name="call_attempts")
