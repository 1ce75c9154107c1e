"""Property test of the whole API from its OpenAPI document (schemathesis): whatever a
logged-in admin sends, the console answers with a clear status, never a server error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402 - after the optional import it needs
from schemathesis.checks import not_a_server_error  # noqa: E402
from test_console_fixtures import PASSWORD, ConsoleEnv, make_env, seed_calls  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleEnv]:
    env = make_env(tmp_path_factory.mktemp("console-schema"))
    seed_calls(env.engine)
    yield env
    env.close()


@pytest.fixture(scope="module")
def admin_token(env: ConsoleEnv) -> str:
    token: str = (
        env.client().post("/api/auth/token", json={"name": "admin", "password": PASSWORD}).json()["token"]
    )
    return token


def test_no_request_gets_a_server_error(env: ConsoleEnv, admin_token: str) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    # The document itself needs a log-in (app.py).
    schema = schemathesis.openapi.from_asgi("/openapi.json", env.app, headers=headers)
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in ("/api/auth/logout", "/api/users/{name}"):
            continue  # logging out or disabling the admin would turn every later example into a 401

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])
            if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
                assert response.json().get("error"), response.text

        check()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert len(checked) >= 15, checked
