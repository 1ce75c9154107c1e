"""Collectors and their portfolios, read-only: who holds which account (``dialer.assignment``).

Supervisors and admins read every collector's; a collector reads only their own (the
collector whose ``console_user`` is their log-in).  A portfolio names debtors' accounts
and balances, so each read is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from sqlalchemy import select

from dialer.assignment.store import loads
from dialer.store.models import Account, CaseAssignment, Collector
from duncall.console import audit
from duncall.console.auth import Principal
from duncall.console.deps import get_console, require
from duncall.console.errors import ApiError
from duncall.console.roles import Permission, Role
from duncall.console.state import Console

router = APIRouter(prefix="/api/collectors", tags=["collectors"])
ConsoleDep = Annotated[Console, Depends(get_console)]
Reader = Annotated[Principal, Depends(require(Permission.PORTFOLIO_READ))]
CollectorId = Annotated[str, Path(max_length=64)]


@router.get("")
def collectors(console: ConsoleDep, who: Reader) -> list[dict[str, Any]]:
    with console.transaction() as db:
        held = loads(db)
        query = select(Collector).order_by(Collector.collector_id)
        if who.role is Role.COLLECTOR:
            query = query.where(Collector.console_user == who.name)
        return [
            {
                "collector_id": c.collector_id,
                "name": c.name,
                "team": c.team_id,
                "capacity": c.capacity,
                "open_cases": held.get(c.collector_id, 0),
                "languages": c.languages,
                "buckets": c.buckets,
                "creditors": c.creditors,
                "licences": c.licences,
            }
            for c in db.scalars(query)
        ]


@router.get("/{collector_id}/portfolio")
def portfolio(collector_id: CollectorId, console: ConsoleDep, who: Reader) -> dict[str, Any]:
    with console.transaction() as db:
        collector = db.get(Collector, collector_id)
        if collector is None:
            raise ApiError(404, f"no collector {collector_id!r}", "GET /api/collectors lists them")
        if who.role is Role.COLLECTOR and collector.console_user != who.name:
            raise ApiError(403, "a collector reads only their own portfolio", "ask a supervisor")
        rows = db.execute(
            select(
                CaseAssignment.account_id,
                CaseAssignment.assigned_at,
                CaseAssignment.reason,
                CaseAssignment.manual,
                CaseAssignment.bucket,
                Account.balance,
                Account.currency,
            )
            .join(Account, Account.account_id == CaseAssignment.account_id)
            .where(CaseAssignment.collector_id == collector_id)
            .order_by(CaseAssignment.account_id)
        ).all()
        audit.record(db, console.now(), who.name, "portfolio_read", collector_id, accounts=len(rows))
        return {
            "collector_id": collector_id,
            "capacity": collector.capacity,
            "accounts": [
                {
                    "account_id": account_id,
                    "assigned_at": at.isoformat(),
                    "reason": reason,
                    "manual": manual,
                    "bucket": bucket,
                    "balance": str(balance),
                    "currency": currency,
                }
                for account_id, at, reason, manual, bucket, balance, currency in rows
            ],
        }
