"""Collection KPIs: the numbers as JSON (as ``duncall kpi --json``) and the dashboard's charts.

Filters are query parameters, so a dashboard's URL is the view: ``/dashboard?from=…&to=…&campaign=…``.
Amounts are left out for roles without the right to read them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from dialer.analytics.experiments_store import promote_if_won, summaries
from dialer.analytics.metrics import parse_dimensions
from dialer.analytics.queries import KpiQuery
from dialer.analytics.report import FIRST_YEAR, check_period, kpi_report, roll_report
from duncall.console import audit, dashboard
from duncall.console.auth import Principal
from duncall.console.deps import get_console, require
from duncall.console.errors import ApiError
from duncall.console.roles import Permission, can
from duncall.console.state import Console

router = APIRouter(prefix="/api/kpi", tags=["kpi"])
ConsoleDep = Annotated[Console, Depends(get_console)]
Reader = Annotated[Principal, Depends(require(Permission.KPI_READ))]
Controller = Annotated[Principal, Depends(require(Permission.CAMPAIGN_CONTROL))]
DEFAULT_DAYS = 30


def _query(
    console: ConsoleDep,
    first: Annotated[
        dt.date | None, Query(alias="from", description="first local day (default: 30 days ago)")
    ] = None,
    last: Annotated[
        dt.date | None, Query(alias="to", description="last local day, inclusive (default: today)")
    ] = None,
    by: Annotated[str, Query(max_length=200, description="comma-separated cuts, e.g. campaign,day")] = "",
    campaign: Annotated[str | None, Query(max_length=64)] = None,
    creditor: Annotated[str | None, Query(max_length=64)] = None,
    stage: Annotated[str | None, Query(max_length=16)] = None,
    script: Annotated[str | None, Query(max_length=100)] = None,
) -> KpiQuery:
    last = last or console.now().date()
    if first is None:
        first = last - dt.timedelta(days=DEFAULT_DAYS - 1) if last.year > FIRST_YEAR else last
    check_period(first, last)  # an InputError: 400, with what is wrong and the fix
    try:
        cuts = parse_dimensions(by)
    except ValueError as exc:
        raise ApiError(400, f"by: {exc}", "e.g. by=campaign,day") from None
    return KpiQuery(first, last, cuts, campaign or None, creditor or None, stage or None, script or None)


QueryDep = Annotated[KpiQuery, Depends(_query)]


@router.get("")
async def kpis(query: QueryDep, console: ConsoleDep, user: Reader) -> dict[str, Any]:
    """Every KPI per cut, with the total and each metric's definition (numerator / denominator)."""
    report = await run_in_threadpool(kpi_report, console.engine, query)
    return report.as_json(money=can(user.role, Permission.PII_READ))


@router.get("/rolls")
async def rolls(query: QueryDep, console: ConsoleDep, user: Reader) -> dict[str, Any]:
    """Roll rates between DPD buckets (the first day's bucket against the last's) and the cure rate."""
    matrix = await run_in_threadpool(
        roll_report,
        console.engine,
        query.first,
        query.last,
        today=console.now().date(),
        creditor=query.creditor,
    )
    return matrix.as_json()


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_fragment(query: QueryDep, console: ConsoleDep, user: Reader) -> HTMLResponse:
    """The dashboard's tiles and charts as server-drawn SVG, for the page at /dashboard."""
    money = can(user.role, Permission.PII_READ)
    board = await run_in_threadpool(
        dashboard.build, console.engine, query, money=money, today=console.now().date()
    )
    page = dashboard.render(board, promote=can(user.role, Permission.CAMPAIGN_CONTROL))
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


def _experiments(console: Console, money: bool, experiment_id: str | None = None) -> list[dict[str, Any]]:
    docs = [x.as_json() for x in summaries(console.engine, experiment_id)]
    if not money:
        for doc in docs:
            for arm in doc["arms"].values():
                arm["collected"] = arm["collected_per_account"] = None
    return docs


@router.get("/experiments")
async def experiments(console: ConsoleDep, user: Reader) -> list[dict[str, Any]]:
    """Champion/challenger experiments: each arm's numbers with 95 % intervals and the z-tests."""
    return await run_in_threadpool(_experiments, console, can(user.role, Permission.PII_READ))


class Promotion(BaseModel):
    force: bool = False  # promote without a significant win (the audit row says so)


@router.post("/experiments/{experiment_id}/promote")
async def promote_experiment(
    experiment_id: str, body: Promotion, console: ConsoleDep, user: Controller
) -> dict[str, Any]:
    """The challenger replaces the champion in the experiment's scope; audited (experiment_promote)."""

    def write(session: Any, action: str, target: str, detail: dict[str, Any]) -> None:
        audit.record(session, console.now(), user.name, action, target, **detail)

    row, forced = await run_in_threadpool(
        promote_if_won,
        console.engine,
        experiment_id,
        force=body.force,
        now=console.now(),
        by=user.name,
        audit=write,
    )
    return {"experiment_id": row.experiment_id, "status": row.status, "forced": forced}
