"""Supervisor live board: calls in progress over HTTP and a WebSocket, role-checked and audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import REDIS_URL
from starlette.websockets import WebSocketDisconnect
from test_console_fixtures import LIVE, NUMBERS, T0, ConsoleEnv, make_env, seed_calls

from dialer.campaign import control
from dialer.campaign.control import RunState
from duncall.console.live import Masker
from duncall.console.roles import Role
from telephony.live import events
from telephony.live.events import EventKind, LiveEvent


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ConsoleEnv]:
    env = make_env(tmp_path)
    seed_calls(env.engine)
    yield env
    env.close()


@pytest.mark.unit
def test_board_lists_calls_in_progress_and_todays_totals(env: ConsoleEnv) -> None:
    board = env.login(Role.SUPERVISOR).get("/api/live").json()
    assert [c["attempt_id"] for c in board["active"]] == [LIVE]
    assert board["active"][0]["number"] == NUMBERS["A1"] and board["active"][0]["seconds"] == 40
    today = {t["campaign"]: t for t in board["today"]}
    assert today["spring"]["dispositions"] == {"refused": 1}
    assert today["autumn"]["ended"] == 2


@pytest.mark.unit
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


@pytest.mark.unit
def test_websocket_closes_when_the_session_expires(env: ConsoleEnv) -> None:
    supervisor = env.login(Role.SUPERVISOR)
    with supervisor.websocket_connect("/api/live/ws") as ws:
        ws.receive_json()
        env.clock.advance(3601)
        with pytest.raises(WebSocketDisconnect) as closed:
            for _ in range(50):
                ws.receive_json()
    assert closed.value.code == 4401


# --- live events and campaign control (real Redis) ----------------------------------------

NEW = "00000000-0000-4000-8000-0000000000aa"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL)


def _publish(env: ConsoleEnv, *batch: LiveEvent) -> list[str]:
    client = _redis()
    events.append(client, env.live_prefix, list(batch))
    rows = client.xrevrange(events.stream_key(env.live_prefix), count=len(batch))
    return [r[0].decode() for r in reversed(rows)]


def _dial_and_greet(at: dt.datetime) -> list[LiveEvent]:
    return [
        events.dialing(NEW, "spring", at, account_id="A2", number=NUMBERS["A2"], script="s", stage="early"),
        events.answered(NEW, "spring", at, answer="human", amd="HUMAN"),
        events.turn(
            NEW,
            "spring",
            at,
            seq=0,
            speaker="bot",
            text="Hello, is this Casey Morgan?",
            intent=None,
            state="greeting",
            started_s=0.0,
        ),
    ]


def _until(ws: Any, pred: Callable[[dict[str, Any]], bool], limit: int = 200) -> dict[str, Any]:
    for _ in range(limit):
        message: dict[str, Any] = ws.receive_json()
        if pred(message):
            return message
    raise AssertionError("the expected message never came")


@pytest.mark.redis
def test_websocket_streams_each_turn_as_it_is_published_and_totals(env: ConsoleEnv) -> None:
    supervisor = env.login(Role.SUPERVISOR)
    with supervisor.websocket_connect("/api/live/ws") as ws:
        first = _until(ws, lambda m: m["type"] == "board")
        assert first["live"] is True
        totals = {t["campaign"]: t for t in first["today"]}
        assert totals["spring"] | {"dispositions": None} == {
            "campaign": "spring",
            "dialed": 2,
            "live": 1,
            "ended": 1,
            "connected": 1,
            "promises": 0,
            "abandoned": 0,
            "abandon_rate": 0.0,
            "dispositions": None,
        }
        ids = _publish(env, *_dial_and_greet(env.clock.now))
        turn = _until(ws, lambda m: m["type"] == "event" and m["kind"] == "turn")
        assert (turn["id"], turn["attempt_id"], turn["text"], turn["state"]) == (
            ids[2],
            NEW,
            "Hello, is this Casey Morgan?",
            "greeting",
        )
        board = _until(
            ws, lambda m: m["type"] == "board" and any(c["attempt_id"] == NEW for c in m["active"])
        )
        call = next(c for c in board["active"] if c["attempt_id"] == NEW)
        assert (call["state"], call["dialogue_state"], call["debtor"], call["number"]) == (
            "talking",
            "greeting",
            "Casey Morgan",
            NUMBERS["A2"],
        )
        assert [t["text"] for t in call["turns"]] == ["Hello, is this Casey Morgan?"]

        # A page that lost its socket comes back with the last id it saw and gets what followed.
        _publish(
            env,
            events.turn(
                NEW,
                "spring",
                env.clock.now,
                seq=1,
                speaker="debtor",
                text="yes",
                intent="affirm",
                state="disclosure",
                started_s=3.0,
            ),
        )
    with supervisor.websocket_connect(f"/api/live/ws?since={ids[2]}") as ws:
        board = _until(ws, lambda m: m["type"] == "board")
        assert board["gap"] is False
        call = next(c for c in board["active"] if c["attempt_id"] == NEW)
        assert [t["text"] for t in call["turns"]] == ["Hello, is this Casey Morgan?", "yes"]
        replay = _until(ws, lambda m: m["type"] == "event")
        assert (replay["kind"], replay["text"]) == ("turn", "yes")
        _publish(env, events.ended(NEW, "spring", env.clock.now, outcome="answered", disposition="refused"))
        gone = _until(
            ws, lambda m: m["type"] == "board" and not any(c["attempt_id"] == NEW for c in m["active"])
        )
        assert [c["attempt_id"] for c in gone["active"]] == [LIVE]
    with supervisor.websocket_connect("/api/live/ws?since=1-0") as ws:
        assert _until(ws, lambda m: m["type"] == "board")["gap"] is True  # trimmed past it: said so
    with pytest.raises(WebSocketDisconnect), supervisor.websocket_connect("/api/live/ws?since=bogus") as ws:
        ws.receive_json()


@pytest.mark.unit
def test_live_text_and_numbers_are_masked_for_roles_without_pii() -> None:
    mask = Masker(False, {"A2": ("Casey", "Morgan")})
    turn = _dial_and_greet(T0)[2].public("3-0")
    assert mask.event(turn, "A2")["text"] == "Hello, is this C. M.?"
    dial = _dial_and_greet(T0)[0].public("1-0")
    assert mask.event(dial, "A2")["number"] == "+1********88"
    assert mask.debtor("A2") == "C. M." and mask.number(NUMBERS["A2"]) == "+1********88"
    assert Masker(True, {"A2": ("Casey", "Morgan")}).event(turn, "A2") == turn


@pytest.mark.redis
def test_campaign_control_by_role_audited_and_checked(env: ConsoleEnv) -> None:
    control.start_run(_redis(), env.live_prefix, "spring", 4, 10, T0)
    supervisor = env.login(Role.SUPERVISOR)
    for client, status in ((env.login(Role.QA), 403), (env.login(Role.DESIGNER), 403), (env.client(), 401)):
        assert client.post("/api/live/campaigns/spring/pause").status_code == status
        assert (
            client.put("/api/live/campaigns/spring/limits", json={"concurrency": 2, "cps": 1}).status_code
            == status
        )
    assert control.read_control(_redis(), env.live_prefix, "spring").state is RunState.RUNNING  # type: ignore[union-attr]

    paused = supervisor.post("/api/live/campaigns/spring/pause")
    assert (
        paused.status_code == 200
        and paused.json()["state"] == "paused"
        and paused.json()["by"] == "supervisor"
    )
    again = supervisor.post("/api/live/campaigns/spring/pause")
    assert again.status_code == 409 and "is paused" in again.json()["error"]
    bad = supervisor.put("/api/live/campaigns/spring/limits", json={"concurrency": 0, "cps": 1})
    assert bad.status_code == 422 and "concurrency" in bad.json()["error"]
    limits = supervisor.put("/api/live/campaigns/spring/limits", json={"concurrency": 2, "cps": 1})
    assert limits.status_code == 200 and (limits.json()["concurrency"], limits.json()["cps"]) == (2, 1)
    admin = env.login(Role.ADMIN)
    assert admin.post("/api/live/campaigns/spring/resume").json()["state"] == "running"
    assert admin.post("/api/live/campaigns/spring/stop").json()["state"] == "stopped"
    late = supervisor.post("/api/live/campaigns/spring/resume")
    assert late.status_code == 409 and "duncall campaign run" in late.json()["fix"]
    missing = supervisor.post("/api/live/campaigns/never-run/pause")
    assert missing.status_code == 404 and "never been run" in missing.json()["error"]

    listed = supervisor.get("/api/live/campaigns").json()
    assert [(c["campaign"], c["state"], c["concurrency"]) for c in listed] == [("spring", "stopped", 2)]
    assert supervisor.get("/api/live").json()["campaigns"] == listed
    audit = admin.get("/api/audit", params={"limit": 50}).json()
    trail = [(a["user"], a["action"], a["target"]) for a in audit if a["action"].startswith("campaign_")]
    # Each request is audited before Redis changes; a refused one says so in a row of its own.
    assert trail == [
        ("supervisor", "campaign_pause_refused", "never-run"),
        ("supervisor", "campaign_pause", "never-run"),
        ("supervisor", "campaign_resume_refused", "spring"),
        ("supervisor", "campaign_resume", "spring"),
        ("admin", "campaign_stop", "spring"),
        ("admin", "campaign_resume", "spring"),
        ("supervisor", "campaign_limits", "spring"),
        ("supervisor", "campaign_pause_refused", "spring"),
        ("supervisor", "campaign_pause", "spring"),
        ("supervisor", "campaign_pause", "spring"),
    ]
    kinds = [e.kind for _, e in _stream(env)]
    assert kinds.count(EventKind.CONTROL) == 4  # open boards heard of each change at once


def _stream(env: ConsoleEnv) -> list[tuple[str, LiveEvent]]:
    rows = _redis().xrange(events.stream_key(env.live_prefix))
    out = []
    for raw_id, fields in rows:
        event = LiveEvent.decode(fields[events.EVENT_FIELD])
        assert event is not None
        out.append((raw_id.decode(), event))
    return out


@pytest.mark.redis
@pytest.mark.parametrize(
    ("role", "board", "control_status"),
    [(Role.ADMIN, 200, 404), (Role.SUPERVISOR, 200, 404), (Role.QA, 403, 403), (Role.DESIGNER, 403, 403)],
)
def test_role_matrix_of_the_live_endpoints(
    env: ConsoleEnv, role: Role, board: int, control_status: int
) -> None:
    client = env.login(role)
    assert client.get("/api/live").status_code == board
    assert client.get("/api/live/campaigns").status_code == board
    # 404 (never run) for the roles that may control; the others are refused before looking.
    assert client.post("/api/live/campaigns/nobody/stop").status_code == control_status
