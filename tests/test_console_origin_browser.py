"""Another origin on the same host cannot use a logged-in console (real Chromium, two loopback origins).

SameSite=Strict does not separate ports: a page on 127.0.0.1:<other port> is the same site as the
console, so the browser attaches the session cookie to its requests. The console's origin check and
its custom request header (duncall/console/hardening.py) are what stop that page.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import REDIS_URL
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_console_browser import CHROMIUM, CHROMIUM_ARGS, _free_port, login, serve
from test_console_fixtures import ConsoleEnv, WallClock, make_env

from dialer.campaign import control
from dialer.campaign.control import RunState
from dialer.store.models.console import AuditEntry

pytestmark = [pytest.mark.browser, pytest.mark.redis]
playwright_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("uvicorn")

# What a hostile page on another port tries as soon as it loads: watch the live board, pause a
# campaign with a fetch (the cookie rides along), and pause it again with a plain form post.
EVIL_PAGE = """<!doctype html><html><body>
<form id="f" method="post" action="{console}/api/live/campaigns/spring/stop" target="sink"></form>
<iframe name="sink"></iframe>
<script>
window.results = {{ws: "pending", fetch: "pending"}};
const ws = new WebSocket("{ws}/api/live/ws");
ws.onmessage = (e) => {{ window.results.ws = "got: " + e.data.slice(0, 40); }};
ws.onclose = (e) => {{ if (window.results.ws === "pending") window.results.ws = "closed " + e.code; }};
fetch("{console}/api/live/campaigns/spring/pause", {{method: "POST", credentials: "include", mode: "no-cors"}})
  .then(() => {{ window.results.fetch = "sent"; }}, (e) => {{ window.results.fetch = "failed"; }});
fetch("{console}/api/live/campaigns/spring/pause", {{method: "POST", credentials: "include",
  headers: {{"X-Duncall-Request": "1"}}}})
  .then(() => {{ window.results.header = "sent"; }}, (e) => {{ window.results.header = "blocked"; }});
document.getElementById("f").submit();
</script></body></html>"""


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ConsoleEnv]]:
    env = make_env(tmp_path_factory.mktemp("console-origin"), clock=WallClock())
    with serve(env.app, "console-origin-server") as base:
        yield base, env
    env.close()


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory, console: tuple[str, ConsoleEnv]) -> Iterator[str]:
    base, _ = console
    root = tmp_path_factory.mktemp("evil")
    (root / "index.html").write_text(
        EVIL_PAGE.format(console=base, ws=base.replace("http://", "ws://")), encoding="utf-8"
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    port = _free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, name="evil-origin", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    httpd.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _actions(env: ConsoleEnv) -> list[str]:
    with Session(env.engine) as db:
        return list(db.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def test_a_page_from_another_origin_cannot_watch_the_board_or_change_a_campaign(
    console: tuple[str, ConsoleEnv], evil: str, browser: Any, tmp_path: Path
) -> None:
    base, env = console
    client = redis.Redis.from_url(REDIS_URL)
    control.start_run(client, env.live_prefix, "spring", 4, 10, env.clock())
    context = browser.new_context()
    page = context.new_page()
    try:
        login(page, base, "supervisor", "/live")
        # The console's own page does open the board: the session works.
        page.wait_for_selector("#campaigns tr[data-campaign='spring']")
        assert "live_watch" in _actions(env)
        before = _actions(env)
        cookies = {c["name"] for c in context.cookies(base)}
        assert "duncall_session" in cookies

        hostile = context.new_page()
        hostile.goto(evil)
        hostile.wait_for_function(
            "window.results && window.results.ws !== 'pending' && window.results.fetch !== 'pending'"
            " && window.results.header !== undefined",
            timeout=15_000,
        )
        results = hostile.evaluate("window.results")
        hostile.wait_for_timeout(500)  # the form post lands in the iframe
        assert results["ws"].startswith("closed"), results  # never a board
        assert results["header"] == "blocked", results  # CORS pre-flight: the console grants none
        state = control.read_control(client, env.live_prefix, "spring")
        assert state is not None and state.state is RunState.RUNNING
        assert _actions(env) == before  # no watch, no pause, no stop happened

        # The console's own page can still pause it, with the same cookie.
        # (Through the page's own api(), as its Pause button does; the board redraws too often to click.)
        page.evaluate("api('/api/live/campaigns/spring/pause', {method: 'POST'})")
        state = control.read_control(client, env.live_prefix, "spring")
        assert state is not None and state.state is RunState.PAUSED
    finally:
        context.close()
