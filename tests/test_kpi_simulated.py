"""A small simulated portfolio through the store: the KPIs count what the simulator wrote, on
SQLite and PostgreSQL alike, and `duncall simulate` loads it once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from dialer.analytics.load import load_portfolio
from dialer.analytics.portfolio import Portfolio, simulate
from dialer.analytics.queries import KpiQuery
from dialer.analytics.report import kpi_report
from dialer.store.testing import temporary_database
from duncall.cli import main

START = dt.date(2026, 1, 1)
FIRST, LAST = dt.date(2026, 2, 1), dt.date(2026, 2, 28)


@pytest.fixture(scope="module")
def portfolio() -> Portfolio:
    return simulate(150, start=START, days=90, seed=7)


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path, portfolio: Portfolio) -> Iterator[Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with temporary_database(request.param, tmp_path, url) as eng:
        load_portfolio(eng, portfolio, now=dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
        yield eng


def _local_day(at: object, account: str, zones: dict[str, str]) -> dt.date:
    assert isinstance(at, dt.datetime)
    return at.astimezone(ZoneInfo(zones[account])).date()


def test_the_kpis_count_what_the_simulator_wrote(engine: Engine, portfolio: Portfolio) -> None:
    zones = {a.account_id: a.timezone for a in portfolio.accounts}
    in_period = [
        a
        for a in portfolio.attempts
        if FIRST <= _local_day(a["dialed_at"], str(a["account_id"]), zones) <= LAST
    ]
    ids = {a["attempt_id"] for a in in_period}
    promised = [p for p in portfolio.promises if p["attempt_id"] in ids]
    collected = sum(
        (
            Decimal(str(p["amount"]))
            for p in portfolio.payments
            if FIRST <= _local_day(p["paid_at"], str(p["account_id"]), zones) <= LAST
        ),
        Decimal(0),
    )
    total = kpi_report(engine, KpiQuery(FIRST, LAST)).total()
    assert total["dialled"] == len(in_period) > 500
    assert total["answered"] == sum(a["outcome"] in ("answered", "abandoned") for a in in_period)
    assert total["right_party"] == sum(a["right_party"] is True for a in in_period)
    assert total["promises"] == len(promised) > 0
    assert total["promises_kept"] == sum(p["status"] == "kept" for p in promised)
    assert Decimal(total["collected"]) == collected > 0
    hours = kpi_report(engine, KpiQuery(FIRST, LAST, ("hour",))).rows()
    # The strategy dials inside 08:00-20:59 at the debtor's: every local hour is in the window.
    assert {r["hour"] for r in hours if r["dialled"]} <= set(range(8, 21))
    assert sum(r["dialled"] for r in hours) == len(in_period)


@pytest.mark.unit
def test_simulate_loads_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'sim.db'}"
    argv = ["simulate", "--accounts", "20", "--days", "30", "--db", db, "--truth", str(tmp_path / "t.csv")]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("accounts=20 attempts=")
    assert len((tmp_path / "t.csv").read_text().splitlines()) == 21
    assert main(argv) == 2
    assert "already holds a simulated portfolio" in capsys.readouterr().err
