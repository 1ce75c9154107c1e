"""The console in a real headless Chromium (Debian's), driven by Playwright.

Screenshots land in tests/artifacts/ (gitignored); docs/console.md refers to them.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_console_fixtures import BAD, PASSWORD, ConsoleEnv, make_env, seed_calls

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
NAME = "early_collection.en"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(app: object, name: str) -> Iterator[str]:
    """The console app on a free loopback port, in a thread, for a browser; its base URL."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the console server did not start within 10 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ConsoleEnv]]:
    env = make_env(tmp_path_factory.mktemp("console-browser"))
    seed_calls(env.engine)
    with serve(env.app, "console-server") as base:
        yield base, env
    env.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    yield page
    context.close()


def login(page: object, base: str, name: str, path: str = "") -> None:
    page.goto(f"{base}/login" + (f"?next={path}" if path else ""))  # type: ignore[attr-defined]
    page.fill("input[name=name]", name)  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_selector(f"nav .who[data-role='{name}']")  # type: ignore[attr-defined]


def shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("role", "landing", "links"),
    [
        ("qa", "/calls", ["Calls", "Scripts", "KPIs"]),
        ("designer", "/scripts", ["Scripts"]),
        ("supervisor", "/live", ["Calls", "Scripts", "Live", "KPIs", "Desk", "Admin"]),
        ("admin", "/calls", ["Calls", "Scripts", "Live", "KPIs", "Desk", "Admin"]),
    ],
)
def test_each_role_logs_in_to_its_own_pages(
    server: tuple[str, ConsoleEnv], page: object, role: str, landing: str, links: list[str]
) -> None:
    base, _ = server
    p = page
    p.goto(f"{base}{landing}")  # type: ignore[attr-defined]
    p.wait_for_url(re.compile(r"/login\?next="))  # type: ignore[attr-defined]
    p.fill("input[name=name]", role)  # type: ignore[attr-defined]
    p.fill("input[name=password]", "wrong password")  # type: ignore[attr-defined]
    p.click("button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_selector("#message.error")  # type: ignore[attr-defined]
    assert "wrong user name or password" in p.text_content("#message")  # type: ignore[attr-defined]
    login(p, base, role)
    assert p.url == f"{base}{landing}"  # type: ignore[attr-defined]
    assert p.locator("nav a:not(#logout)").all_inner_texts() == links  # type: ignore[attr-defined]
    if role == "supervisor":
        p.wait_for_selector("#active tbody tr")  # type: ignore[attr-defined]
        assert "updated" in p.text_content("#status")  # type: ignore[attr-defined]
    shot(p, f"{role}-home")
    if role == "designer":
        p.goto(f"{base}/calls")  # type: ignore[attr-defined]
        p.wait_for_selector("#message.error")  # type: ignore[attr-defined]
        assert "may not" in p.text_content("#message")  # type: ignore[attr-defined]
    p.click("#logout")  # type: ignore[attr-defined]
    p.wait_for_url(f"{base}/login")  # type: ignore[attr-defined]


def test_designer_sees_a_validation_error_at_its_line_then_fixes_and_saves(
    server: tuple[str, ConsoleEnv], page: object
) -> None:
    base, env = server
    p = page
    login(p, base, "designer", f"/scripts/{NAME}")
    p.wait_for_selector("#graph svg [data-state='greeting']")  # type: ignore[attr-defined]
    p.wait_for_selector("#sim-steps li")  # type: ignore[attr-defined]
    text = p.input_value("#text")  # type: ignore[attr-defined]
    broken = text.replace("    next: balance\n", "    next: nowhere\n", 1)
    line = next(i for i, t in enumerate(broken.splitlines(), 1) if "next: nowhere" in t)
    p.fill("#text", broken)  # type: ignore[attr-defined]
    p.click("#save")  # type: ignore[attr-defined]
    note = p.wait_for_selector(f"#notes .note[data-line='{line}']")  # type: ignore[attr-defined]
    assert "unknown target state 'nowhere'" in note.inner_text()
    assert "not saved" in p.text_content("#status")  # type: ignore[attr-defined]
    p.click(f"#problems li[data-line='{line}'] a")  # type: ignore[attr-defined]
    shot(p, "editor-error")

    p.fill("#text", text.replace("Hello, this is {agent_name}.", "Hello, this is {agent_name} from Acme.", 1))  # type: ignore[attr-defined]
    p.click("#save")  # type: ignore[attr-defined]
    p.wait_for_selector("#status.ok")  # type: ignore[attr-defined]
    assert p.text_content("#status") == "saved as version 1"  # type: ignore[attr-defined]
    assert p.locator("#notes .note").count() == 0  # type: ignore[attr-defined]
    p.fill("#sim-input", "yes speaking")  # type: ignore[attr-defined]
    p.click("#sim-form button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_function("() => document.querySelectorAll('#sim-steps li.debtor').length === 1")  # type: ignore[attr-defined]
    sim = p.inner_text("#sim-steps")  # type: ignore[attr-defined]
    assert "from Acme" in sim and "attempt to collect a debt" in sim
    shot(p, "editor-saved")
    assert "from Acme" not in (env.scripts_dir / f"{NAME}.yaml").read_text(encoding="utf-8")


def test_qa_reviews_a_flagged_call_with_masked_debtor(server: tuple[str, ConsoleEnv], page: object) -> None:
    base, _ = server
    p = page
    login(p, base, "qa")
    p.select_option("select[name=flag]", "forbidden_phrase")  # type: ignore[attr-defined]
    p.click("#search button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_function("() => document.querySelectorAll('#calls tbody tr').length === 1")  # type: ignore[attr-defined]
    row = p.locator(f"#calls tr[data-call='{BAD}']")  # type: ignore[attr-defined]
    assert "C. M." in row.inner_text() and "+1********88" in row.inner_text()
    assert "export.csv?flag=forbidden_phrase" in p.get_attribute("#export", "href")  # type: ignore[attr-defined]
    shot(p, "qa-search")
    row.locator("a[href^='/calls/']").click()
    p.wait_for_selector("#transcript tbody tr")  # type: ignore[attr-defined]
    kinds = p.locator("#flags li").evaluate_all("els => els.map(e => e.dataset.kind)")  # type: ignore[attr-defined]
    assert set(kinds) == {"debt_before_verification", "forbidden_phrase", "missing_disclosure"}
    assert "we will sue you" in p.inner_text("#transcript tbody tr[data-seq='2']")  # type: ignore[attr-defined]
    assert "Casey" not in p.inner_text("main")  # type: ignore[attr-defined]
    assert p.locator("#guards tbody tr").count() == 1  # type: ignore[attr-defined]
    shot(p, "qa-call")


def test_an_admin_erases_a_debtor_from_the_admin_page(tmp_path: Path, browser: object) -> None:
    """The page's own script under its Content-Security-Policy: confirmation typed, erasure done,
    the audit log on the same page says so; a supervisor does not see the form."""
    env = make_env(tmp_path)
    seed_calls(env.engine)
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    p = context.new_page()
    try:
        with serve(env.app, "console-erase") as base:
            login(p, base, "supervisor", "/admin")
            p.wait_for_selector("#audit tbody tr")
            assert p.is_hidden("#erase-section")
            p.click("#logout")
            p.wait_for_url(f"{base}/login")
            login(p, base, "admin", "/admin")
            p.wait_for_selector("#erase-section:not([hidden])")
            p.fill("#erase-account input[name=account_id]", "A1")
            p.fill("#erase-account input[name=confirm]", "A2")
            p.click("#erase-account button[type=submit]")
            p.wait_for_selector("#erase-result:has-text('nothing was erased')")
            p.fill("#erase-account input[name=confirm]", "A1")
            p.click("#erase-account button[type=submit]")
            p.wait_for_selector("#erase-result:has-text('erased account A1')")
            p.wait_for_selector("#audit td:has-text('account_erase')")
            shot(p, "admin-erase")
    finally:
        context.close()
        env.close()
    from sqlalchemy.orm import Session

    from dialer.store.models import Account

    with Session(env.engine) as db:
        assert db.get(Account, "A1") is None and db.get(Account, "A2") is not None
