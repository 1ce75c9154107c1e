"""Console accounts: argon2 passwords, expiring sessions and tokens, role checks, audit, the CLI."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_console_fixtures import PASSWORD, ConsoleEnv, make_env

from dialer.store.models.console import AuditEntry, ConsoleSession, ConsoleUser
from duncall import cli
from duncall.cli import main
from duncall.console.roles import Role

pytestmark = pytest.mark.unit


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ConsoleEnv]:
    env = make_env(tmp_path, session_ttl_s=3600)
    yield env
    env.close()


def audit_actions(env: ConsoleEnv) -> list[tuple[str, str, str]]:
    with Session(env.engine) as db:
        return [
            (a.user_name, a.action, a.target) for a in db.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def test_login_sets_a_strict_httponly_cookie_and_me_answers(env: ConsoleEnv) -> None:
    client = env.client()
    response = client.post("/api/auth/login", json={"name": "qa", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["role"] == "qa"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert client.get("/api/auth/me").json()["name"] == "qa"
    assert ("qa", "login", "") in audit_actions(env)


def test_wrong_password_and_unknown_user_get_the_same_401(env: ConsoleEnv) -> None:
    client = env.client()
    wrong = client.post("/api/auth/login", json={"name": "qa", "password": "not the password"})
    unknown = client.post("/api/auth/login", json={"name": "nobody", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"] == unknown.json()["error"] == "wrong user name or password"
    assert "set-cookie" not in wrong.headers


def test_repeated_wrong_passwords_delay_the_name_longer_each_time_but_never_lock_it(env: ConsoleEnv) -> None:
    client = env.client()
    wrong = {"name": "supervisor", "password": "guess-guess-guess"}
    good = {"name": "supervisor", "password": PASSWORD}
    for _ in range(4):
        env.clock.advance(60)
        assert client.post("/api/auth/login", json=wrong).status_code == 401
    # A good password before the fifth refusal still opens, and starts the count again.
    assert client.post("/api/auth/login", json=good).status_code == 200
    for _ in range(5):
        env.clock.advance(10)
        assert client.post("/api/auth/token", json=wrong).status_code == 401
    # Past the free attempts each one waits twice as long as the last: 1 s, 2 s, 4 s …
    for wait_s in (1, 2, 4):
        paused = client.post("/api/auth/login", json=good)
        assert paused.status_code == 429 and paused.headers["retry-after"] == str(wait_s)
        assert "try again in" in paused.json()["error"] and "set-cookie" not in paused.headers
        env.clock.advance(wait_s)
        assert client.post("/api/auth/login", json=wrong).status_code == 401
    # Other names are not held back by this one's delay.
    assert client.post("/api/auth/login", json={"name": "qa", "password": PASSWORD}).status_code == 200
    # The same answer for a name that does not exist: a delay tells nobody which names are real.
    for _ in range(5):
        client.post("/api/auth/login", json={"name": "nobody", "password": "guess-guess-guess"})
    assert client.post("/api/auth/login", json={"name": "nobody", "password": PASSWORD}).status_code == 429
    env.clock.advance(8)
    assert client.post("/api/auth/login", json=good).status_code == 200
    actions = audit_actions(env)
    assert actions.count(("supervisor", "login_failed", "")) == 12


def test_passwords_and_tokens_are_not_stored_as_given(env: ConsoleEnv) -> None:
    client = env.client()
    token = client.post("/api/auth/token", json={"name": "admin", "password": PASSWORD}).json()["token"]
    with Session(env.engine) as db:
        user = db.scalars(select(ConsoleUser).where(ConsoleUser.name == "admin")).one()
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        assert token not in {s.token_sha256 for s in db.scalars(select(ConsoleSession))}


def test_a_session_expires_server_side(env: ConsoleEnv) -> None:
    client = env.login(Role.SUPERVISOR)
    env.clock.advance(3599)
    assert client.get("/api/auth/me").status_code == 200
    env.clock.advance(2)
    response = client.get("/api/auth/me")
    assert response.status_code == 401
    assert "expired" in response.json()["error"]


def test_logout_ends_the_session(env: ConsoleEnv) -> None:
    client = env.login(Role.QA)
    cookie = client.cookies.get("duncall_session")
    assert client.post("/api/auth/logout").status_code == 204
    other = env.client()
    other.cookies.set("duncall_session", cookie or "")
    assert other.get("/api/auth/me").status_code == 401


def test_bearer_tokens_work_and_expire(env: ConsoleEnv) -> None:
    client = env.client()
    issued = client.post("/api/auth/token", json={"name": "designer", "password": PASSWORD, "ttl_s": 600})
    assert issued.status_code == 200
    headers = {"Authorization": f"Bearer {issued.json()['token']}"}
    assert client.get("/api/scripts", headers=headers).status_code == 200
    assert client.get("/api/scripts", headers={"Authorization": "Basic abc"}).status_code == 401
    env.clock.advance(601)
    assert client.get("/api/scripts", headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        (Role.QA, "GET", "/api/calls", True),
        (Role.QA, "PUT", "/api/scripts/early_collection.en", False),
        (Role.QA, "GET", "/api/users", False),
        (Role.QA, "GET", "/api/live", False),
        (Role.DESIGNER, "GET", "/api/calls", False),
        (Role.DESIGNER, "GET", "/api/calls/export.csv", False),
        (Role.DESIGNER, "POST", "/api/scripts/early_collection.en/publish", True),
        (Role.SUPERVISOR, "PUT", "/api/scripts/early_collection.en", False),
        (Role.SUPERVISOR, "GET", "/api/live", True),
        (Role.SUPERVISOR, "GET", "/api/audit", True),
        (Role.SUPERVISOR, "GET", "/api/users", False),
        (Role.ADMIN, "GET", "/api/users", True),
    ],
)
def test_every_endpoint_checks_the_role(
    env: ConsoleEnv, role: Role, method: str, path: str, allowed: bool
) -> None:
    client = env.login(role)
    body = {"text": "x"} if method == "PUT" else {"version": 99} if method == "POST" else None
    response = client.request(method, path, json=body)
    if allowed:
        assert response.status_code != 403, response.text
    else:
        assert response.status_code == 403
        assert role.value in response.json()["error"]


def test_every_api_route_refuses_an_anonymous_caller(env: ConsoleEnv) -> None:
    client = env.client()
    open_routes = {"/api/auth/login", "/api/auth/token", "/api/auth/logout"}
    checked = 0
    # The API's own map is for logged-in users only.
    assert client.get("/openapi.json").status_code == 401
    docs = client.get("/docs", follow_redirects=False)
    assert docs.status_code == 303 and docs.headers["location"].startswith("/login")
    for path, operations in env.app.openapi()["paths"].items():
        if path in open_routes:
            continue
        concrete = path.replace("{name}", "early_collection.en").replace("{attempt_id}", "x")
        for method in operations:
            response = client.request(method.upper(), concrete, json={})
            assert response.status_code == 401, (method, path, response.status_code)
            checked += 1
    assert checked >= 12


def test_admin_adds_users_and_a_disabled_users_session_stops(env: ConsoleEnv) -> None:
    admin = env.login(Role.ADMIN)
    created = admin.post("/api/users", json={"name": "lee", "role": "qa", "password": "short"})
    assert created.status_code == 400 and "at least" in created.json()["error"]
    assert (
        admin.post("/api/users", json={"name": "lee", "role": "qa", "password": PASSWORD}).status_code == 201
    )
    assert (
        admin.post("/api/users", json={"name": "lee", "role": "qa", "password": PASSWORD}).status_code == 400
    )
    lee = env.login("lee")
    assert lee.get("/api/calls").status_code == 200
    assert admin.patch("/api/users/lee", json={"disabled": True}).status_code == 200
    assert lee.get("/api/calls").status_code == 401
    assert admin.patch("/api/users/admin", json={"disabled": True}).status_code == 400
    actions = audit_actions(env)
    assert ("admin", "user_add", "lee") in actions and ("admin", "user_change", "lee") in actions


def test_no_user_ships_and_the_cli_adds_the_first_admin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'fresh.db'}"
    # Until duncall/cli/__init__.py lists the "serve" area, register it for this run.
    monkeypatch.setattr(cli, "AREAS", tuple(dict.fromkeys((*cli.AREAS, "serve"))))
    assert main(["users", "list", "--db", db]) == 0
    assert "no users yet" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO("tiny\n"))
    assert main(["users", "add", "root", "--role", "admin", "--db", db]) == 2
    assert "at least" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("x\n"))
    assert main(["users", "add", "root", "--role", "owner", "--db", db]) == 2
    assert "unknown role 'owner'" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", "root", "--role", "admin", "--db", db]) == 0
    assert main(["users", "list", "--db", db]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "root\tadmin"
    from fastapi.testclient import TestClient

    from duncall.console.app import create_app
    from duncall.console.settings import ConsoleSettings

    with TestClient(create_app(ConsoleSettings(database_url=db))) as client:
        assert client.post("/api/auth/login", json={"name": "root", "password": PASSWORD}).status_code == 200
        assert client.get("/api/users").json()[0]["role"] == "admin"
