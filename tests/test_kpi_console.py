"""The console's KPI API and dashboard: the same numbers as ``duncall kpi``, amounts masked per role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_console_fixtures import ConsoleEnv, make_env
from test_kpi import seed

pytestmark = pytest.mark.unit
WEEK = "from=2026-01-05&to=2026-01-11"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleEnv]:
    env = make_env(Path(tmp_path_factory.mktemp("kpi-console")))
    seed(env.engine)
    yield env
    env.close()


def test_the_api_gives_the_cli_numbers_and_masks_amounts_for_qa(env: ConsoleEnv) -> None:
    supervisor = env.login("supervisor").get(f"/api/kpi?{WEEK}&by=creditor")
    assert supervisor.status_code == 200
    rows = {r["creditor"]: r for r in supervisor.json()["rows"]}
    assert (rows["CR-B"]["collected"], rows["CR-B"]["recovery_rate"]) == ("250.00", 0.25)
    qa = env.login("qa").get(f"/api/kpi?{WEEK}&by=creditor").json()
    masked = {r["creditor"]: r for r in qa["rows"]}["CR-B"]
    assert (masked["collected"], masked["placed"], masked["recovery_rate"]) == (None, None, None)
    assert masked["dialled"] == 1 and masked["contact_rate"] == 1.0
    assert env.login("designer").get(f"/api/kpi?{WEEK}").status_code == 403


def test_bad_filters_say_what_is_wrong(env: ConsoleEnv) -> None:
    client = env.login("supervisor")
    wrong = client.get("/api/kpi?from=2026-01-11&to=2026-01-05")
    assert wrong.status_code == 400 and "before" in wrong.json()["error"]
    assert "unknown cut 'colour'" in client.get(f"/api/kpi?{WEEK}&by=colour").json()["error"]


def test_the_dashboard_draws_the_funnel_heat_map_trend_and_scripts(env: ConsoleEnv) -> None:
    html = env.login("supervisor").get(f"/api/kpi/dashboard?{WEEK}").text
    assert re.findall(r'data-chart="(\w+)"', html) == ["trend", "funnel", "heatmap", "bars", "rolls"]
    funnel = dict(re.findall(r'data-stage="([^"]+)">(\d+)', html))
    assert funnel == {"dialled": "6", "answered": "4", "right party": "2", "promised": "2", "kept": "1"}
    # Los Angeles' Monday-evening call: weekday row 0 (Mon), hour 19, one dialled, answered.
    assert 'data-cell="0,19" data-rate="1.0000"' in html
    assert 'data-cell="2,9" data-rate="0.0000"' in html  # Wednesday 09:00 there: no answer
    assert "550.00" in html and "early_collection.en v3" in html
    qa = env.login("qa").get(f"/api/kpi/dashboard?{WEEK}").text
    assert "550.00" not in qa and qa.count(">masked<") == 3
    assert "<script" not in html and "http" not in html.replace("http://www.w3.org/2000/svg", "")


def test_a_date_at_the_calendars_end_is_refused_not_a_server_error(env: ConsoleEnv) -> None:
    response = env.login("supervisor").get("/api/kpi?from=9999-12-31&to=9999-12-31")
    assert response.status_code == 400 and "outside 1970-2999" in response.json()["error"]
