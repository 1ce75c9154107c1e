"""Console hardening without a browser: origin and request-header checks, the security headers,
`/docs` behind log-in, Secure cookies and HSTS beyond loopback, plain HTTP in the open refused."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send
from test_console_fixtures import PASSWORD, ConsoleEnv, make_env

from duncall.console.app import create_app
from duncall.console.roles import Role

pytestmark = pytest.mark.unit
SCRIPT = "/api/scripts/early_collection.en"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ConsoleEnv]:
    env = make_env(tmp_path)
    yield env
    env.close()


def _bare_login(env: ConsoleEnv, role: Role) -> TestClient:
    """A cookie session without the console pages' request header."""
    client = TestClient(env.app)
    env.clients.append(client)
    assert client.post("/api/auth/login", json={"name": role.value, "password": PASSWORD}).status_code == 200
    return client


def test_a_cookie_session_changes_state_only_with_the_pages_header(env: ConsoleEnv) -> None:
    bare = _bare_login(env, Role.DESIGNER)
    text = bare.get(SCRIPT).json()["text"]
    refused = bare.put(SCRIPT, json={"text": text})
    assert refused.status_code == 403 and "x-duncall-request" in refused.json()["error"]
    assert bare.get(SCRIPT).json()["version"] == 0  # nothing was saved
    saved = bare.put(SCRIPT, json={"text": text}, headers={"X-Duncall-Request": "1"})
    assert saved.status_code == 201, saved.text
    # A bearer token needs no header: no browser attaches one by itself.
    token = (
        env.client().post("/api/auth/token", json={"name": "designer", "password": PASSWORD}).json()["token"]
    )
    api = TestClient(env.app)
    env.clients.append(api)
    again = api.put(
        SCRIPT, json={"text": text, "base_version": 1}, headers={"Authorization": f"Bearer {token}"}
    )
    assert again.status_code == 201, again.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://127.0.0.1:9999"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/page"},
        {"Origin": "http://testserver.evil.example"},
    ],
)
def test_another_origin_cannot_change_state_even_with_the_header(
    env: ConsoleEnv, headers: dict[str, str]
) -> None:
    supervisor = env.login(Role.SUPERVISOR)
    refused = supervisor.post("/api/auth/logout", headers=headers)
    assert refused.status_code == 403 and "another origin" in refused.json()["error"]
    assert supervisor.get("/api/auth/me").status_code == 200  # still logged in
    assert supervisor.post("/api/auth/logout", headers={"Origin": "http://testserver"}).status_code == 204


def test_a_websocket_from_another_origin_is_refused(env: ConsoleEnv) -> None:
    from starlette.websockets import WebSocketDisconnect

    supervisor = env.login(Role.SUPERVISOR)
    with pytest.raises(WebSocketDisconnect) as refused:
        with supervisor.websocket_connect("/api/live/ws", headers={"Origin": "http://127.0.0.1:9999"}):
            pass
    assert refused.value.code == 4403


def test_pages_carry_a_strict_policy_and_docs_need_a_log_in(env: ConsoleEnv) -> None:
    anonymous = env.client()
    page = anonymous.get("/login")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp  # nothing from elsewhere, no inline but by hash
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in page.headers  # plain HTTP on loopback
    assert anonymous.get("/openapi.json").status_code == 401
    assert anonymous.get("/docs", follow_redirects=False).status_code == 303
    admin = env.login(Role.ADMIN)
    assert admin.get("/openapi.json").json()["info"]["title"] == "duncall console"
    assert "swagger" in admin.get("/docs").text.lower()


class _Listening:
    """The app as uvicorn calls it when listening on a public address (scheme as the proxy says)."""

    def __init__(self, app: ASGIApp, scheme: str) -> None:
        self.app, self.scheme = app, scheme

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "server": ("203.0.113.7", 8700), "scheme": self.scheme}
        await self.app(scope, receive, send)


def test_plain_http_beyond_loopback_is_refused_unless_a_tls_proxy_is_in_front(env: ConsoleEnv) -> None:
    settings = env.app.state.console.settings
    bare = TestClient(_Listening(create_app(settings, env.engine), "http"))
    refused = bare.get("/login")
    assert refused.status_code == 421 and "DUNCALL_CONSOLE_TLS_PROXY" in refused.json()["fix"]
    proxied = create_app(dataclasses.replace(settings, tls_proxy=True), env.engine)
    for scheme in ("https", "http"):
        client = TestClient(_Listening(proxied, scheme), base_url=f"{scheme}://console.example")
        login = client.post("/api/auth/login", json={"name": "qa", "password": PASSWORD})
        assert login.status_code == 200, login.text
        assert "secure" in login.headers["set-cookie"].lower()  # never in clear text beyond loopback
        assert login.headers["strict-transport-security"].startswith("max-age=")
        client.close()
    bare.close()


def test_the_policy_allows_every_inline_block_the_pages_use_and_nothing_else(env: ConsoleEnv) -> None:
    import base64
    import hashlib
    import re

    from duncall.console.app import STATIC_DIR
    from duncall.console.graph import GRAPH_STYLE

    def allowed(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    csp = env.client().get("/login").headers["content-security-policy"]
    blocks = [
        b
        for page in STATIC_DIR.glob("*.html")
        for _, b in re.findall(r"<(script|style)>(.*?)</\1>", page.read_text(), re.S)
    ]
    assert blocks  # the pages do have inline scripts
    for block in [*blocks, GRAPH_STYLE]:  # the script graph inserts its own <style>
        assert allowed(block) in csp
    assert allowed("alert(1)") not in csp
    designer = env.login(Role.DESIGNER)
    graph = designer.get("/api/scripts/early_collection.en/graph")
    assert graph.status_code == 200 and f"<style>{GRAPH_STYLE}</style>" in graph.text


def test_serving_beyond_loopback_without_tls_is_refused_before_start() -> None:
    from duncall.console.hardening import check_listen
    from foundation.errors import ConfigError

    for host in ("127.0.0.1", "::1", "localhost"):
        check_listen(host, tls_proxy=False)
    for host in ("0.0.0.0", "192.0.2.4", "console.example"):
        with pytest.raises(ConfigError) as refused:
            check_listen(host, tls_proxy=False)
        assert "DUNCALL_CONSOLE_TLS_PROXY=1" in refused.value.one_line()
        check_listen(host, tls_proxy=True)
