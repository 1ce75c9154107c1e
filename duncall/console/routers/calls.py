"""QA: search calls, open one, export CSV. Names and numbers masked without the PII right."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from duncall.console import audit, qa
from duncall.console.auth import Principal
from duncall.console.deps import get_console, require
from duncall.console.errors import ApiError
from duncall.console.roles import Permission, can
from duncall.console.state import Console

router = APIRouter(prefix="/api/calls", tags=["qa"])
ConsoleDep = Annotated[Console, Depends(get_console)]
Reader = Annotated[Principal, Depends(require(Permission.CALLS_READ))]
Exporter = Annotated[Principal, Depends(require(Permission.CALLS_EXPORT))]
FLAG_KINDS = ("forbidden_phrase", "debt_before_verification", "missing_disclosure")


def _query(
    date_from: Annotated[dt.date | None, Query(description="first day (UTC), YYYY-MM-DD")] = None,
    date_to: Annotated[dt.date | None, Query(description="last day (UTC), inclusive")] = None,
    campaign: Annotated[str | None, Query(max_length=64)] = None,
    disposition: Annotated[str | None, Query(max_length=32)] = None,
    intent: Annotated[str | None, Query(max_length=32)] = None,
    flag: Annotated[str | None, Query(max_length=32, description=" | ".join(FLAG_KINDS))] = None,
    limit: Annotated[int, Query(ge=1, le=qa.MAX_RESULTS)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> qa.CallQuery:
    if date_from and date_to and date_to < date_from:
        raise ApiError(400, f"date_to {date_to} is before date_from {date_from}", "swap them")
    if flag is not None and flag not in FLAG_KINDS:
        raise ApiError(400, f"unknown flag {flag!r}", f"use one of: {', '.join(FLAG_KINDS)}")
    return qa.CallQuery(date_from, date_to, campaign, disposition, intent, flag, limit, offset)


QueryDep = Annotated[qa.CallQuery, Depends(_query)]


def _rules(console: Console) -> qa.FlagRules:
    return qa.FlagRules(console.settings.forbidden_phrases, console.settings.forbidden_match_score)


@router.get("")
def search(query: QueryDep, console: ConsoleDep, user: Reader) -> list[dict[str, Any]]:
    """Calls newest first, each with its automatic QA flags."""
    with console.transaction() as db:
        return qa.search(db, query, _rules(console), can(user.role, Permission.PII_READ))


@router.get("/export.csv", responses={200: {"content": {"text/csv": {}}}})
def export_csv(query: QueryDep, console: ConsoleDep, user: Exporter) -> Response:
    """The same search as CSV (masked as on screen); the export itself is audited."""
    show_pii = can(user.role, Permission.PII_READ)
    with console.transaction() as db:
        rows = qa.search(db, query, _rules(console), show_pii)
        audit.record(
            db,
            console.now(),
            user.name,
            "calls_export",
            "",
            rows=len(rows),
            pii=show_pii,
            query={k: str(v) for k, v in vars_of(query).items() if v is not None},
        )
    return Response(
        qa.to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="duncall-calls.csv"'},
    )


def vars_of(query: qa.CallQuery) -> dict[str, object]:
    return {name: getattr(query, name) for name in query.__slots__}


@router.get("/{attempt_id}", responses={404: {"description": "no such call"}})
def open_call(
    attempt_id: Annotated[str, Path(max_length=36)], console: ConsoleDep, user: Reader
) -> dict[str, Any]:
    """One call: transcript with timings, guard decisions, QA flags. Opening one with PII is audited."""
    show_pii = can(user.role, Permission.PII_READ)
    with console.transaction() as db:
        detail = qa.call_detail(db, attempt_id, _rules(console), show_pii)
        if show_pii:
            audit.record(db, console.now(), user.name, "call_open", attempt_id)
    return detail
