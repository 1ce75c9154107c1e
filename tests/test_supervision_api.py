"""Supervision API without a live call: who may use it, and the clear errors for calls that are
not there, calls already taken over, unreachable Asterisk or Redis; the registry's own rules.

The calls that really carry audio are in test_supervision_calls.py."""

from __future__ import annotations

import datetime as dt
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from redis.backoff import NoBackoff
from redis.retry import Retry
from test_console_fixtures import PASSWORD, ConsoleEnv, make_env

from duncall.console.roles import Role
from duncall.console.routers.supervision import audit_sink
from duncall.sandbox import phones
from duncall.supervision.errors import EndpointRefused, SwitchRefused
from duncall.supervision.modes import TAPS, Mode, check_kind, check_switch
from duncall.supervision.service import SupervisionService
from duncall.supervision.settings import SupervisionSettings
from foundation.errors import InputError, ServiceUnavailable
from foundation.settings import AriSettings
from telephony.live.registry import CALL_TTL_S, CallKind, Claim, LiveCall, LiveCallRegistry

pytestmark = pytest.mark.redis

ATTEMPT = "00000000-0000-4000-8000-0000000000aa"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(attempt_id: str = ATTEMPT, taken_over_by: str | None = None) -> LiveCall:
    return LiveCall(
        attempt_id=attempt_id,
        debtor_channel_id=f"dc-{attempt_id}",
        media_channel_id="dm-x",
        bridge_id="db-x",
        language="en",
        started_at=dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC),
        app="duncall",
        taken_over_by=taken_over_by,
    )


@pytest.fixture
def registry(redis_url: str, key_prefix: str) -> Iterator[LiveCallRegistry]:
    client = redis.Redis.from_url(redis_url)
    yield LiveCallRegistry(client, key_prefix)
    for key in client.scan_iter(match=key_prefix + "*"):
        client.delete(key)
    client.close()


@pytest.fixture
def env(tmp_path: Path, registry: LiveCallRegistry) -> Iterator[ConsoleEnv]:
    env = make_env(tmp_path)
    # Asterisk "at" a port nobody listens on: every path that needs it must say so, cleanly.
    env.app.state.supervision = SupervisionService(
        SupervisionSettings(allowed_prefixes=("PJSIP/supervisor-", "Local/")),
        registry,
        audit=audit_sink(env.app.state.console),
        ari=AriSettings(f"http://127.0.0.1:{_closed_port()}", "duncall", "not-the-password"),
    )
    yield env
    env.close()


ENDPOINTS = [
    ("post", f"/api/live/calls/{ATTEMPT}/supervise", {"mode": "listen"}),
    ("post", "/api/live/supervision/s1", {"mode": "barge"}),
    ("delete", "/api/live/supervision/s1", None),
    ("get", "/api/live/supervision", None),
    ("get", "/api/live/supervision/calls", None),
]


def _status(client: TestClient, method: str, path: str, body: dict[str, str] | None) -> int:
    kwargs = {"json": body} if body is not None else {}
    return int(getattr(client, method)(path, **kwargs).status_code)


def test_only_admins_and_supervisors_may_supervise(env: ConsoleEnv) -> None:
    clients = {role: env.login(role) for role in Role}
    anonymous = env.client()
    for method, path, body in ENDPOINTS:
        assert _status(anonymous, method, path, body) == 401, path
        for role in (Role.QA, Role.DESIGNER):
            assert _status(clients[role], method, path, body) == 403, (role, path)
        for role in (Role.ADMIN, Role.SUPERVISOR):
            # Let through: what follows is the endpoint's own answer (no such call or session here).
            assert _status(clients[role], method, path, body) in (200, 404), (role, path)
    assert clients[Role.ADMIN].get("/api/audit", params={"action": "supervise_listen"}).json() == []


def test_unknown_call_is_404_and_nothing_is_audited(env: ConsoleEnv) -> None:
    r = env.login(Role.SUPERVISOR).post(f"/api/live/calls/{ATTEMPT}/supervise", json={"mode": "listen"})
    assert r.status_code == 404
    assert r.json()["error"] == f"no live call {ATTEMPT!r}" and r.json()["fix"]
    assert (
        env.login(Role.ADMIN).get("/api/audit", params={"user": "supervisor"}).json()[0]["action"] == "login"
    )


def test_a_taken_over_call_is_409(env: ConsoleEnv, registry: LiveCallRegistry) -> None:
    registry.publish(_call(taken_over_by="alice"))
    r = env.login(Role.SUPERVISOR).post(f"/api/live/calls/{ATTEMPT}/supervise", json={"mode": "barge"})
    assert r.status_code == 409
    assert "taken over by alice" in r.json()["error"]
    listed = env.login(Role.SUPERVISOR).get("/api/live/supervision/calls").json()
    assert [(c["attempt_id"], c["taken_over_by"]) for c in listed] == [(ATTEMPT, "alice")]


def test_a_collectors_call_is_listed_as_such_and_cannot_be_taken_over(
    env: ConsoleEnv, registry: LiveCallRegistry
) -> None:
    registry.publish(replace(_call(), media_channel_id="ag-x", kind=CallKind.AGENT, agent_id="c7"))
    client = env.login(Role.SUPERVISOR)
    listed = client.get("/api/live/supervision/calls").json()
    assert [(c["attempt_id"], c["kind"], c["agent_id"]) for c in listed] == [(ATTEMPT, "agent", "c7")]
    r = client.post(f"/api/live/calls/{ATTEMPT}/supervise", json={"mode": "takeover"})
    assert r.status_code == 409 and "cannot be taken over" in r.json()["error"] and r.json()["fix"]
    # Refused before anything is rung or audited.
    assert env.app.state.supervision.sessions() == []
    assert env.login(Role.ADMIN).get("/api/audit", params={"action": "supervise_takeover"}).json() == []


def test_the_live_board_gets_the_supervisors_own_browser_phone_only(
    env: ConsoleEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DUNCALL_HOME", str(tmp_path / "home"))  # the phones file, not the machine's
    client = env.login(Role.SUPERVISOR)
    r = client.get("/api/live/phone")
    assert r.status_code == 404 and "duncall supervisors phone supervisor" in r.json()["fix"]
    phone, new = phones.make_supervisor_phone("supervisor")
    assert new and phones.make_supervisor_phone("supervisor") == (phone, False)
    r = client.get("/api/live/phone")
    assert r.headers["cache-control"] == "no-store"
    assert r.json() == {
        "ws_url": "ws://127.0.0.1:8088/ws",
        "uri": "sip:supervisor-supervisor@127.0.0.1",
        "password": phone.password,
        # What the console rings by default (PJSIP/supervisor-{user}): this page's phone.
        "endpoint": "PJSIP/supervisor-supervisor",
    }
    assert env.login(Role.ADMIN).get("/api/live/phone").status_code == 404  # another user's is not theirs
    assert env.login(Role.QA).get("/api/live/phone").status_code == 403
    # The endpoint is a WebRTC one in the supervisors' context (a call it places goes nowhere).
    include = phones.pjsip_include({}, {"supervisor": phone})
    assert "[supervisor-supervisor](desk-endpoint)" in include
    assert "context = duncall-supervisor-inbound" in include
    assert f"password = {phone.password}" in include
    with pytest.raises(InputError):
        phones.make_supervisor_phone("a b")


def test_unreachable_asterisk_is_503_with_one_line(env: ConsoleEnv, registry: LiveCallRegistry) -> None:
    registry.publish(_call())
    r = env.login(Role.SUPERVISOR).post(f"/api/live/calls/{ATTEMPT}/supervise", json={"mode": "listen"})
    assert r.status_code == 503
    body = r.json()
    assert "Asterisk" in body["error"] and "\n" not in body["error"] and body["fix"]
    assert env.app.state.supervision.sessions() == []


def test_unreachable_redis_is_503(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    try:
        dead = LiveCallRegistry(redis.Redis(port=_closed_port(), retry=Retry(NoBackoff(), 0)), "x:")
        env.app.state.supervision = SupervisionService(SupervisionSettings(), dead)
        client = env.login(Role.SUPERVISOR)
        r = client.post(f"/api/live/calls/{ATTEMPT}/supervise", json={"mode": "listen"})
        assert r.status_code == 503 and "Redis" in r.json()["error"]
        assert client.get("/api/live/supervision/calls").status_code == 503
    finally:
        env.close()


def test_bad_requests_are_refused_before_anything_is_dialled(
    env: ConsoleEnv, registry: LiveCallRegistry
) -> None:
    registry.publish(_call())
    client = env.login(Role.SUPERVISOR)
    url = f"/api/live/calls/{ATTEMPT}/supervise"
    # A console user must not dial out through the trunks.
    r = client.post(url, json={"mode": "listen", "endpoint": "PJSIP/+12125550100@carrier"})
    assert r.status_code == 400 and "not a" in r.json()["error"]
    assert client.post(url, json={"mode": "spy"}).status_code == 422
    assert client.post(url, json={"mode": "listen", "extra": 1}).status_code == 422
    assert client.post("/api/live/calls/a%20b/supervise", json={"mode": "listen"}).status_code == 422
    assert client.post("/api/live/supervision/nope", json={"mode": "listen"}).status_code == 404
    assert client.delete("/api/live/supervision/nope").status_code == 404


def test_openapi_documents_the_supervision_contract(env: ConsoleEnv) -> None:
    paths = env.login(Role.SUPERVISOR).get("/openapi.json").json()["paths"]  # behind log-in
    assert set(paths["/api/live/calls/{attempt_id}/supervise"]) == {"post"}
    assert set(paths["/api/live/supervision/{session_id}"]) == {"post", "delete"}
    assert "201" in paths["/api/live/calls/{attempt_id}/supervise"]["post"]["responses"]
    assert "get" in paths["/api/live/supervision"]


# --- the pieces under the API ---------------------------------------------------------


@pytest.mark.unit
def test_a_takeover_is_final() -> None:
    for mode in (Mode.LISTEN, Mode.WHISPER, Mode.BARGE):
        check_switch(mode, Mode.TAKEOVER)
        with pytest.raises(SwitchRefused):
            check_switch(Mode.TAKEOVER, mode)
    check_switch(Mode.TAKEOVER, Mode.TAKEOVER)


@pytest.mark.unit
def test_a_collectors_call_has_every_mode_but_takeover_and_its_entry_says_whose_it_is() -> None:
    for mode in Mode:
        check_kind(CallKind.BOT, mode)
        if mode is Mode.TAKEOVER:
            with pytest.raises(SwitchRefused):
                check_kind(CallKind.AGENT, mode)
        else:
            check_kind(CallKind.AGENT, mode)
    agent = replace(_call(), kind=CallKind.AGENT, agent_id="c7")
    raw = {k.encode(): v.encode() for k, v in agent.to_hash().items()}
    assert LiveCall.from_hash(raw) == agent
    # An entry written before calls had kinds is a bot call's.
    old = {k: v for k, v in raw.items() if k not in (b"kind", b"agent_id")}
    assert LiveCall.from_hash(old) == _call()


@pytest.mark.unit
def test_only_whisper_speaks_to_the_bot_and_only_barge_and_takeover_join_the_call() -> None:
    assert TAPS[Mode.LISTEN].snoop_on == "debtor" and TAPS[Mode.LISTEN].whisper == "none"
    assert TAPS[Mode.WHISPER].snoop_on == "bot" and TAPS[Mode.WHISPER].whisper == "out"
    assert [m for m, t in TAPS.items() if t.in_call_bridge] == [Mode.BARGE, Mode.TAKEOVER]


@pytest.mark.unit
def test_supervisor_endpoints() -> None:
    settings = SupervisionSettings()
    assert settings.endpoint_for("alice", None) == "PJSIP/supervisor-alice"
    assert settings.endpoint_for("alice", "PJSIP/supervisor-desk2") == "PJSIP/supervisor-desk2"
    for bad in (
        "PJSIP/+12125550100@carrier",
        "Local/x@duncall-personas",
        "PJSIP/supervisor-a,b",
        "x",
        "PJSIP/supervisor-x@trunk",  # a supervisor prefix, and still out through a carrier
        "PJSIP/supervisor-a&PJSIP/+12125550100@carrier",
    ):
        with pytest.raises(EndpointRefused):
            settings.endpoint_for("alice", bad)
    with pytest.raises(EndpointRefused, match="cannot name a phone endpoint"):
        settings.endpoint_for("x@trunk", None)  # a user name cannot add a route to the template
    local = SupervisionSettings(endpoint_template="Local/{user}@duncall-supervisor")
    assert local.endpoint_for("alice", None) == "Local/alice@duncall-supervisor"


def test_registry_lists_claims_once_and_expires(registry: LiveCallRegistry) -> None:
    registry.publish(_call())
    assert registry.get(ATTEMPT) == _call()
    assert 0 < registry.client.ttl(registry.key(ATTEMPT)) <= CALL_TTL_S
    assert registry.claim_takeover(ATTEMPT, "alice") is Claim.CLAIMED
    assert registry.claim_takeover(ATTEMPT, "bob") is Claim.ALREADY_TAKEN
    registry.release_takeover(ATTEMPT, "bob")  # not bob's to release
    assert registry.get(ATTEMPT) == _call(taken_over_by="alice")
    registry.release_takeover(ATTEMPT, "alice")
    assert registry.get(ATTEMPT) == _call()
    assert registry.claim_takeover("no-such-call", "alice") is Claim.NO_CALL
    assert registry.get("no-such-call") is None  # a claim never creates an entry
    registry.client.pexpire(registry.key(ATTEMPT), 1)
    time.sleep(0.01)
    assert registry.calls() == []


def test_registry_skips_unreadable_entries(registry: LiveCallRegistry) -> None:
    registry.client.hset(registry.key("broken"), mapping={"attempt_id": "broken"})
    registry.publish(_call())
    assert [c.attempt_id for c in registry.calls()] == [ATTEMPT]


@pytest.mark.unit
def test_service_reports_unreachable_asterisk_as_retryable() -> None:
    import asyncio

    registry = LiveCallRegistry(redis.Redis(port=_closed_port()), f"x{uuid.uuid4().hex}:")
    service = SupervisionService(
        SupervisionSettings(), registry, ari=AriSettings(f"http://127.0.0.1:{_closed_port()}", "u", "p")
    )
    with pytest.raises(ServiceUnavailable) as err:
        asyncio.run(service._client())
    assert err.value.retryable


# --- who may change a session ----------------------------------------------------------------


class _OneSession:
    """The supervision service's face to the router, holding one session of the supervisor's
    (a real one needs a live call through Asterisk: test_supervision_calls.py)."""

    def __init__(self, owner: str) -> None:
        from duncall.supervision.service import SessionView

        self.view = SessionView(
            "s-1", ATTEMPT, Mode.LISTEN, owner, "PJSIP/supervisor-x", dt.datetime.now(dt.UTC)
        )
        self.done: list[tuple[str, str]] = []

    def sessions(self) -> list[object]:
        return [self.view]

    async def switch(self, session_id: str, user: str, mode: Mode) -> object:
        self.done.append(("switch", user))
        return self.view

    async def end(self, session_id: str, user: str) -> None:
        self.done.append(("end", user))

    async def close(self) -> None:
        pass


@pytest.mark.unit
def test_only_the_sessions_supervisor_or_an_admin_may_switch_or_end_it(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    try:
        service = _OneSession("supervisor")
        env.app.state.supervision = service
        admin = env.login(Role.ADMIN)
        created = admin.post(
            "/api/users", json={"name": "colleague", "role": "supervisor", "password": PASSWORD}
        )
        assert created.status_code == 201
        colleague = env.login("colleague")
        taken = colleague.post("/api/live/supervision/s-1", json={"mode": "takeover"})
        assert taken.status_code == 403 and "belongs to supervisor" in taken.json()["error"]
        assert colleague.delete("/api/live/supervision/s-1").status_code == 403
        assert service.done == []  # nothing was switched or ended
        owner = env.login(Role.SUPERVISOR)
        assert owner.post("/api/live/supervision/s-1", json={"mode": "whisper"}).status_code == 200
        assert admin.delete("/api/live/supervision/s-1").status_code == 204
        assert service.done == [("switch", "supervisor"), ("end", "admin")]  # each under their own name
    finally:
        env.close()
