"""The audit log: who did what, when. Rows are only inserted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.store.models.console import AuditEntry


def record(db: Session, at: dt.datetime, user: str, action: str, target: str = "", **detail: Any) -> None:
    """Add an audit row to ``db``'s transaction: it commits with the change it describes, or not at all."""
    db.add(AuditEntry(at=at, user_name=user, action=action, target=target[:200], detail=detail))


def recent(db: Session, limit: int, action: str | None = None, user: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    if user:
        query = query.where(AuditEntry.user_name == user)
    return list(db.scalars(query))
