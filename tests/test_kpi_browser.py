"""The KPI dashboard in a real headless Chromium: filters in the URL, charts drawn, amounts masked
for QA. Screenshots land in tests/artifacts/ (docs/kpi.md shows them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_console_browser import browser, login, page, serve, shot
from test_console_fixtures import ConsoleEnv, make_env
from test_kpi import seed

from dialer.analytics.experiments_store import create
from dialer.analytics.load import load_portfolio
from dialer.analytics.portfolio import simulate
from dialer.analytics.report import default_buckets
from dialer.store.models.console import AuditEntry

pytestmark = pytest.mark.browser
__all__ = ["browser", "page"]  # the shared fixtures, used by name
WEEK = "from=2026-01-05&to=2026-01-11"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ConsoleEnv]]:
    env = make_env(tmp_path_factory.mktemp("kpi-browser"))
    seed(env.engine)
    with serve(env.app, "kpi-server") as base:
        yield base, env
    env.close()


def test_a_supervisor_reads_the_week_and_narrows_it_to_a_creditor(
    server: tuple[str, ConsoleEnv], page: object
) -> None:
    base, _ = server
    p = page
    login(p, base, "supervisor", "/dashboard")
    p.goto(f"{base}/dashboard?{WEEK}")  # type: ignore[attr-defined]
    p.wait_for_selector("body[data-ready='1']")  # type: ignore[attr-defined]
    assert p.input_value("#filters input[name=from]") == "2026-01-05"  # type: ignore[attr-defined]
    assert p.locator("svg[data-chart]").count() == 5  # type: ignore[attr-defined]
    assert p.locator("svg[data-chart=rolls]").count() == 1  # type: ignore[attr-defined]
    assert p.inner_text(".tile[data-kpi=contact_rate] strong") == "66.7%"  # type: ignore[attr-defined]
    assert p.inner_text(".tile[data-kpi=collected] strong") == "550.00"  # type: ignore[attr-defined]
    box = p.locator("svg[data-chart=funnel]").bounding_box()  # type: ignore[attr-defined]
    assert box["width"] > 300 and box["height"] > 100  # drawn, not an empty element
    shot(p, "kpi-dashboard")

    p.fill("#filters input[name=creditor]", "CR-B")  # type: ignore[attr-defined]
    p.click("#filters button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_url("**creditor=CR-B**")  # type: ignore[attr-defined]
    p.wait_for_selector("body[data-ready='1']")  # type: ignore[attr-defined]
    assert p.inner_text(".tile[data-kpi=dialled] strong") == "1"  # type: ignore[attr-defined]
    assert p.inner_text(".tile[data-kpi=recovery_rate] strong") == "25.0%"  # type: ignore[attr-defined]


def test_qa_sees_rates_but_no_amounts(server: tuple[str, ConsoleEnv], page: object) -> None:
    base, _ = server
    p = page
    login(p, base, "qa", "/dashboard")
    p.goto(f"{base}/dashboard?{WEEK}")  # type: ignore[attr-defined]
    p.wait_for_selector("body[data-ready='1']")  # type: ignore[attr-defined]
    assert p.inner_text(".tile[data-kpi=collected] strong") == "masked"  # type: ignore[attr-defined]
    assert "550" not in p.inner_text("main")  # type: ignore[attr-defined]
    assert p.inner_text(".tile[data-kpi=rpc_rate] strong") == "50.0%"  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ConsoleEnv]]:
    env = make_env(tmp_path_factory.mktemp("kpi-browser-sim"))
    portfolio = simulate(250, start=dt.date(2026, 3, 1), days=60, seed=5)
    load_portfolio(env.engine, portfolio, now=dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    # A champion/challenger test started with the portfolio, so the board shows its arms.
    with Session(env.engine) as db, db.begin():
        create(
            db, experiment_id="early-v2", champion="early_collection_en", challenger="mid_collection_en",
            share=0.5, seed=1, creditor=None, buckets=default_buckets(),
            now=dt.datetime(2026, 3, 1, tzinfo=dt.UTC), by="supervisor",
            audit=lambda session, action, target, detail: None,
        )  # fmt: skip
    with serve(env.app, "kpi-sim-server") as base:
        yield base, env
    env.close()


def test_a_simulated_portfolio_reads_at_a_glance(simulated: tuple[str, ConsoleEnv], page: object) -> None:
    base, env = simulated
    p = page
    login(p, base, "supervisor", "/dashboard")
    p.goto(f"{base}/dashboard?from=2026-03-01&to=2026-04-29")  # type: ignore[attr-defined]
    p.wait_for_selector("body[data-ready='1']")  # type: ignore[attr-defined]
    # Calls go out 08:00-20:59 in each debtor's zone: only those heat-map columns hold calls.
    hours = p.locator("svg[data-chart=heatmap] rect[data-rate]:not([data-rate=''])").evaluate_all(  # type: ignore[attr-defined]
        "cells => cells.map(c => Number(c.dataset.cell.split(',')[1]))"
    )
    assert hours and set(hours) <= set(range(8, 21))
    assert int(p.inner_text(".tile[data-kpi=dialled] strong")) > 1000  # type: ignore[attr-defined]
    # The roll-rate matrix and the experiment's two arms with their intervals.
    assert p.locator("svg[data-chart=rolls] rect[data-rate]:not([data-rate=''])").count() > 0  # type: ignore[attr-defined]
    assert p.locator("section[data-experiment=early-v2] tr[data-arm]").count() == 2  # type: ignore[attr-defined]
    shot(p, "kpi-dashboard-simulated")

    # Promoting: not a significant win, so the page asks twice; both accepted, it is forced.
    asked: list[str] = []

    def accept(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    p.on("dialog", accept)  # type: ignore[attr-defined]
    p.click("button[data-promote=early-v2]")  # type: ignore[attr-defined]
    p.wait_for_selector("body[data-ready='1']")  # type: ignore[attr-defined]
    p.wait_for_function("() => !document.querySelector('section[data-experiment]')")  # type: ignore[attr-defined]
    assert len(asked) == 2 and "Promote anyway?" in asked[1]
    with Session(env.engine) as db:
        row = db.scalars(select(AuditEntry).where(AuditEntry.action == "experiment_promote")).one()
        assert (row.user_name, row.target, row.detail["forced"]) == ("supervisor", "early-v2", True)
