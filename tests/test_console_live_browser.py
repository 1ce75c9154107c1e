"""The live board in a real headless Chromium: transcripts appear as they are spoken, totals
update, a supervisor pauses a campaign, sets its limits and barges into a live persona call.

The first test feeds the board from the live stream directly (Redis only); the second runs
``duncall campaign run`` over a sandbox persona with the real bot through the real Asterisk.
Screenshots land in tests/artifacts/ (docs/console.md refers to them).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import REDIS_URL
from sqlalchemy.orm import Session
from test_campaign_support import DUNCALL, own_ari_app
from test_console_browser import CHROMIUM, CHROMIUM_ARGS, login, serve, shot
from test_console_fixtures import ConsoleEnv, WallClock, make_env

from dialer.campaign import control
from dialer.store.models.accounts import Account
from duncall.console.routers.supervision import audit_sink
from duncall.supervision.service import SupervisionService
from duncall.supervision.settings import SupervisionSettings
from telephony.live import events
from telephony.live.registry import LiveCallRegistry

pytestmark = [pytest.mark.browser, pytest.mark.redis]
playwright_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")

CALL = "00000000-0000-4000-8000-0000000000b1"
PERSONA = "already_paid"  # Mary Jones, early stage: verifies, then says she has paid
CALL_TIMEOUT_MS = 120_000  # the bot loads its models, rings, talks: a minute and more under load


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ConsoleEnv]]:
    env = make_env(tmp_path_factory.mktemp("console-live-browser"), clock=WallClock())
    with Session(env.engine) as db, db.begin():
        db.add(
            Account(
                account_id="L1",
                first_name="Jordan",
                last_name="Avery",
                timezone="America/New_York",
                language="en",
                balance=Decimal("420.50"),
                currency="USD",
                payment_history=[],
            )
        )
    # Supervisors are rung on the sandbox's stand-in phone (it answers, records, plays a tone).
    env.app.state.supervision = SupervisionService(
        SupervisionSettings(endpoint_template="Local/{user}@duncall-supervisor", answer_timeout_s=15),
        LiveCallRegistry(redis.Redis.from_url(REDIS_URL), env.live_prefix),
        audit=audit_sink(env.app.state.console),
        clock=env.clock,
    )
    with serve(env.app, "console-live-server") as base:
        yield base, env
    env.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


def test_supervisor_watches_lines_arrive_and_controls_a_campaign(
    server: tuple[str, ConsoleEnv], page: Any
) -> None:
    base, env = server
    client = redis.Redis.from_url(REDIS_URL)
    control.start_run(client, env.live_prefix, "spring", 4, 10, env.clock())
    login(page, base, "supervisor", "/live")
    page.wait_for_selector("#campaigns tr[data-campaign='spring'] button[data-action='pause']")

    now = env.clock()
    events.append(
        client,
        env.live_prefix,
        [
            events.dialing(
                CALL, "spring", now, account_id="L1", number="+12125550123", script="s", stage="early"
            ),
            events.answered(CALL, "spring", now, answer="human", amd="HUMAN"),
        ],
    )
    row = f"#active tr[data-call='{CALL}']"
    page.wait_for_selector(f"{row} td.debtor:text('Jordan Avery')")
    lines = f"#active ol[data-transcript='{CALL}'] li"
    for seq, (speaker, text, state) in enumerate(
        [
            ("bot", "Hello, may I speak with Jordan Avery?", "greeting"),
            ("debtor", "yes speaking", "disclosure"),
            ("bot", "This is an attempt to collect a debt.", "disclosure"),
        ]
    ):
        events.append(
            client,
            env.live_prefix,
            [
                events.turn(
                    CALL,
                    "spring",
                    env.clock(),
                    seq=seq,
                    speaker=speaker,
                    text=text,
                    intent="affirm" if speaker == "debtor" else None,
                    state=state,
                    started_s=seq * 3.0,
                )
            ],
        )
        # Each line shows up on its own, as it is spoken, not at the next board refresh.
        page.wait_for_function(f'() => document.querySelectorAll("{lines}").length === {seq + 1}')
        assert page.locator(lines).nth(seq).inner_text().startswith("Bot" if speaker == "bot" else "Debtor")
        assert text in page.locator(lines).nth(seq).inner_text()
    assert page.text_content(f"{row} td.dialogue-state") == "disclosure"
    assert page.text_content(f"{row} td.state") == "talking"

    # The socket drops; what is said meanwhile arrives once the page has reconnected (resume by id).
    page.evaluate("live.ws.close()")
    events.append(
        client,
        env.live_prefix,
        [
            events.turn(
                CALL,
                "spring",
                env.clock(),
                seq=3,
                speaker="debtor",
                text="okay go on",
                intent="affirm",
                state="balance",
                started_s=9.0,
            )
        ],
    )
    page.wait_for_function("() => live.connects === 2")
    page.wait_for_function(f'() => document.querySelectorAll("{lines}").length === 4')
    assert "okay go on" in page.locator(lines).nth(3).inner_text()

    # Barge into a call the bot has not listed for supervision: the error is shown, nothing breaks.
    page.click(f"{row} button[data-mode='barge']")
    error = page.wait_for_selector(f"{row} .call-error.error")
    assert "no" in error.inner_text().lower()

    page.click("#campaigns tr[data-campaign='spring'] button[data-action='pause']")
    page.wait_for_selector("#campaigns tr[data-campaign='spring'] td.run-state:text('paused')")
    page.fill("#campaigns tr[data-campaign='spring'] input[name=concurrency]", "2")
    page.fill("#campaigns tr[data-campaign='spring'] input[name=cps]", "3")
    page.click("#campaigns tr[data-campaign='spring'] form.limits button")
    page.wait_for_selector("#campaigns tr[data-campaign='spring'] .control-message:text('limits 2 calls')")
    record = control.read_control(client, env.live_prefix, "spring")
    assert record is not None and (record.state.value, record.concurrency, record.cps) == ("paused", 2, 3)
    page.fill("#campaigns tr[data-campaign='spring'] input[name=concurrency]", "0")
    page.click("#campaigns tr[data-campaign='spring'] form.limits button")
    message = page.wait_for_selector("#campaigns tr[data-campaign='spring'] .control-message.error")
    assert "concurrency" in message.inner_text()
    shot(page, "live-board")

    events.append(
        client,
        env.live_prefix,
        [events.ended(CALL, "spring", env.clock(), outcome="answered", disposition="refused")],
    )
    page.wait_for_selector(row, state="detached")


@pytest.mark.asterisk
@pytest.mark.audio
@pytest.mark.slow
def test_supervisor_sees_a_persona_call_live_and_barges_in(
    server: tuple[str, ConsoleEnv], page: Any, tmp_path: Path
) -> None:
    base, env = server
    campaign = f"live-{uuid.uuid4().hex[:8]}"
    db_url = str(env.engine.url)
    cmd = [
        DUNCALL,
        "campaign",
        "run",
        "--campaign",
        campaign,
        "--personas",
        PERSONA,
        "--db",
        db_url,
        "--guard-prefix",
        f"{env.live_prefix}guard:",
        "--ignore-schedule",
        "--concurrency",
        "1",
    ]
    login(page, base, "supervisor", "/live")
    page.wait_for_selector("#status:text('updated')")
    log = (tmp_path / "campaign.log").open("wb")
    run = subprocess.Popen(
        cmd,
        env={**os.environ, **own_ari_app(), "DUNCALL_LIVE_PREFIX": env.live_prefix},
        stdout=log,
        stderr=log,
    )
    try:
        row = "#active tr.call"
        page.wait_for_selector(f"{row} td.debtor:text('Mary Jones')", timeout=CALL_TIMEOUT_MS)
        lines = "#active ol.transcript li"
        page.wait_for_selector(f"{lines}[data-speaker='bot']", timeout=CALL_TIMEOUT_MS)
        page.wait_for_selector(f"{lines}[data-speaker='debtor']", timeout=CALL_TIMEOUT_MS)
        first = page.locator(lines).all_inner_texts()
        # The recording notice, then the greeting that names the debtor, each as the bot's line.
        assert first[0] == "BotThis call is recorded.", first
        assert first[1].startswith("Bot") and "Mary" in first[1], first
        assert page.text_content(f"{row} td.state") == "talking"
        assert page.text_content(f"{row} td.dialogue-state")
        page.wait_for_selector(f"#campaigns tr[data-campaign='{campaign}'] td.live:text('1')")

        page.click(f"{row} button[data-mode='barge']")
        page.wait_for_selector(f"{row} button.on[data-mode='barge']", timeout=30_000)
        assert page.text_content(f"{row} .supervision") == "barge"
        shot(page, "live-call-barge")
        page.click(f"{row} button[data-mode='hangup']")
        page.wait_for_selector(f"{row} button[data-mode='hangup'][disabled]")

        # The call ends: it leaves the board and the day's totals count it.
        page.wait_for_selector(f"{row}", state="detached", timeout=CALL_TIMEOUT_MS)
        totals = f"#campaigns tr[data-campaign='{campaign}']"
        page.wait_for_selector(f"{totals} td.dialed:text('1')")
        page.wait_for_selector(f"{totals} td.connected:text('1')")
        assert page.text_content(f"{totals} td.live") == "0"
        shot(page, "live-call-ended")
        assert run.wait(timeout=60) == 0
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        log.close()
    audit = env.login("admin").get("/api/audit", params={"user": "supervisor", "limit": 20}).json()
    assert {"live_watch", "supervise_barge", "supervise_end"} <= {a["action"] for a in audit}, audit
