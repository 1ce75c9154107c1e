"""The supervisor's live board: calls in progress and today's totals per campaign, from the store."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialer.store.models.attempts import AttemptState, CallAttempt
from duncall.console.masking import mask_phone


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def snapshot(db: Session, now: dt.datetime, show_pii: bool) -> dict[str, Any]:
    a = CallAttempt
    active = db.scalars(
        select(a).where(a.state != AttemptState.ENDED.value).order_by(a.reserved_at).limit(500)
    ).all()
    day_start = dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time(), tzinfo=dt.UTC)
    totals = db.execute(
        select(a.campaign_id, a.disposition, func.count())
        .where(a.reserved_at >= day_start, a.state == AttemptState.ENDED.value)
        .group_by(a.campaign_id, a.disposition)
    ).all()
    campaigns: dict[str, dict[str, Any]] = {}
    for campaign, disposition, count in totals:
        entry = campaigns.setdefault(campaign or "", {"campaign": campaign, "ended": 0, "dispositions": {}})
        entry["ended"] += count
        entry["dispositions"][disposition or "none"] = count
    return {
        "at": now,
        "active": [
            {
                "attempt_id": c.attempt_id,
                "campaign": c.campaign_id,
                "number": c.number if show_pii else mask_phone(c.number),
                "state": c.state,
                "stage": c.stage,
                "script": c.script,
                "since": _utc(c.dialed_at or c.reserved_at),
                "seconds": round((now - (_utc(c.dialed_at or c.reserved_at) or now)).total_seconds()),
            }
            for c in active
        ],
        "today": sorted(campaigns.values(), key=lambda e: str(e["campaign"])),
    }
