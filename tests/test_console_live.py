"""Supervisor live board: calls in progress over HTTP and a WebSocket, role-checked and audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.websockets import WebSocketDisconnect
from test_console_fixtures import LIVE, NUMBERS, ConsoleEnv, make_env, seed_calls

from duncall.console.roles import Role

pytestmark = pytest.mark.unit


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ConsoleEnv]:
    env = make_env(tmp_path)
    seed_calls(env.engine)
    yield env
    env.close()


def test_board_lists_calls_in_progress_and_todays_totals(env: ConsoleEnv) -> None:
    board = env.login(Role.SUPERVISOR).get("/api/live").json()
    assert [c["attempt_id"] for c in board["active"]] == [LIVE]
    assert board["active"][0]["number"] == NUMBERS["A1"] and board["active"][0]["seconds"] == 40
    today = {t["campaign"]: t for t in board["today"]}
    assert today["spring"]["dispositions"] == {"refused": 1}
    assert today["autumn"]["ended"] == 2


def test_websocket_pushes_snapshots_to_supervisors_only(env: ConsoleEnv) -> None:
    supervisor = env.login(Role.SUPERVISOR)
    with supervisor.websocket_connect("/api/live/ws") as ws:
        first = ws.receive_json()
        second = ws.receive_json()
    assert [c["attempt_id"] for c in first["active"]] == [LIVE] == [c["attempt_id"] for c in second["active"]]
    audit = env.login(Role.ADMIN).get("/api/audit", params={"action": "live_watch"}).json()
    assert [a["user"] for a in audit] == ["supervisor"]

    for client, code in ((env.login(Role.QA), 4403), (env.client(), 4401)):
        with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/api/live/ws") as ws:
            ws.receive_json()
        assert closed.value.code == code


def test_websocket_closes_when_the_session_expires(env: ConsoleEnv) -> None:
    supervisor = env.login(Role.SUPERVISOR)
    with supervisor.websocket_connect("/api/live/ws") as ws:
        ws.receive_json()
        env.clock.advance(3601)
        with pytest.raises(WebSocketDisconnect) as closed:
            for _ in range(50):
                ws.receive_json()
    assert closed.value.code == 4401
