"""The log-in throttle under attack: parallel guesses never pass the limit, an attacker's failures
do not keep an admin out, and argon2 runs a bounded number of times at once."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_console_fixtures import PASSWORD, ConsoleEnv, make_env

from duncall.console import auth
from duncall.console.app import create_app

WRONG = "guess-guess-guess"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ConsoleEnv]:
    env = make_env(tmp_path)
    yield env
    env.close()


def _from(env: ConsoleEnv, address: str) -> TestClient:
    client = TestClient(env.app, client=(address, 40000), headers={"X-Duncall-Request": "1"})
    env.clients.append(client)
    return client


@pytest.mark.unit
def test_twenty_parallel_wrong_passwords_never_get_past_the_limit(env: ConsoleEnv) -> None:
    limit = env.app.state.console.settings.login_max_failures
    clients = [_from(env, "192.0.2.10") for _ in range(20)]
    start = threading.Barrier(20)

    def guess(client: TestClient) -> int:
        start.wait()
        return client.post("/api/auth/login", json={"name": "admin", "password": WRONG}).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(guess, clients))
    # Exactly the free attempts had their password checked; every other one waited.
    assert statuses.count(401) == limit, statuses
    assert statuses.count(429) == 20 - limit, statuses


@pytest.mark.unit
def test_an_attackers_failures_do_not_lock_the_admin_out(env: ConsoleEnv) -> None:
    # A smaller allowance, so the attack that exhausts the name's own count stays short.
    settings = dataclasses.replace(env.app.state.console.settings, login_max_failures=2)
    env.app = create_app(settings, env.engine)
    desk = _from(env, "198.51.100.5")
    assert desk.post("/api/auth/login", json={"name": "admin", "password": PASSWORD}).status_code == 200
    # Attackers at three addresses guess the admin's password, waiting out each delay, until
    # the name's count from all of them (10 × 2 checked passwords) is spent.
    attackers = [_from(env, f"203.0.113.{n + 1}") for n in range(3)]
    checked = 0
    while checked < 20:
        for attacker in attackers:
            guess = attacker.post("/api/auth/login", json={"name": "admin", "password": WRONG})
            if guess.status_code == 401:
                checked += 1
            elif checked < 20:
                assert guess.status_code == 429
                env.clock.advance(int(guess.headers["retry-after"]))
    # A new address is held back for the name (many guessers at one name) …
    stranger = _from(env, "192.0.2.99")
    assert stranger.post("/api/auth/login", json={"name": "admin", "password": PASSWORD}).status_code == 429
    # … but the admin, from the desk they have logged in from, logs in at once.
    again = desk.post("/api/auth/login", json={"name": "admin", "password": PASSWORD})
    assert again.status_code == 200, again.text
    # Only another admin can lift the delay on an admin's name; then it may try from anywhere.
    assert desk.delete("/api/users/admin/login-delay").status_code == 403
    assert (
        desk.post("/api/users", json={"name": "root2", "role": "admin", "password": PASSWORD}).status_code
        == 201
    )
    other = _from(env, "198.51.100.6")
    assert other.post("/api/auth/login", json={"name": "root2", "password": PASSWORD}).status_code == 200
    cleared = other.delete("/api/users/admin/login-delay")
    assert cleared.status_code == 200 and cleared.json()["cleared"] >= 1
    assert stranger.post("/api/auth/login", json={"name": "admin", "password": PASSWORD}).status_code == 200


@pytest.mark.unit
def test_argon2_runs_a_bounded_number_of_times_at_once(
    env: ConsoleEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    slots = env.app.state.console.settings.login_max_concurrent_hashes
    running = 0
    peak = 0
    lock = threading.Lock()
    real = auth._hasher

    def counted(password_hash: str, password: str) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            time.sleep(0.05)
            return real.verify(password_hash, password)
        finally:
            with lock:
                running -= 1

    class Counting:
        verify = staticmethod(counted)
        check_needs_rehash = staticmethod(real.check_needs_rehash)

    monkeypatch.setattr(auth, "_hasher", Counting())
    clients = [_from(env, f"192.0.2.{n + 1}") for n in range(16)]  # one address each: none throttled
    start = threading.Barrier(16)

    def login(n: int) -> int:
        start.wait()
        name = ("admin", "qa", "supervisor", "designer")[n % 4]
        return clients[n].post("/api/auth/login", json={"name": name, "password": PASSWORD}).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(login, range(16)))
    assert statuses == [200] * 16
    assert 1 < peak <= slots, peak


@pytest.mark.postgres
def test_parallel_wrong_passwords_on_postgres_never_get_past_the_limit(
    env: ConsoleEnv, tmp_path: Path, postgres_url: str
) -> None:
    from sqlalchemy.orm import Session

    from dialer.store.models.console import ConsoleUser
    from dialer.store.testing import temporary_database

    settings = env.app.state.console.settings
    with temporary_database("postgres", tmp_path, postgres_url) as engine:
        with Session(engine) as db, db.begin():
            db.add(
                ConsoleUser(
                    name="admin",
                    role="admin",
                    password_hash=auth.hash_password(PASSWORD),
                    created_at=env.clock(),
                )
            )
        app = create_app(settings, engine)
        clients = [TestClient(app, client=("192.0.2.10", 40000)) for _ in range(20)]
        start = threading.Barrier(20)

        def guess(client: TestClient) -> int:
            start.wait()
            return client.post("/api/auth/login", json={"name": "admin", "password": WRONG}).status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(guess, clients))
        for client in clients:
            client.close()
    assert statuses.count(401) == settings.login_max_failures, statuses
    assert statuses.count(429) == 20 - settings.login_max_failures, statuses
