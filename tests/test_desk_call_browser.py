"""Click-to-call at the desk page, in Chromium against the sandbox: a number the guard refuses
shows the guard's reasons on the page and nothing is dialled; a number it allows is dialled, the
page's own softphone comes up at once and hears ringback before the persona answers, then is
bridged to it and hears it, and the wrap-up with a plan, a flag and a note is stored with the
attempt."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_console_browser import login, serve, shot
from test_console_fixtures import ConsoleEnv
from test_desk_browser import CALL_TIMEOUT_MS, browser, desk_env  # noqa: F401 (fixtures)

from dialer.campaign.targets import endpoint_map
from dialer.policy.config import load_preset
from dialer.store.models import (
    AccountFlagRow,
    AccountNoteRow,
    CallAttempt,
    CaseAssignment,
    InstallmentPlanRow,
)
from duncall.console.deskcalls import DeskCalls
from duncall.personas import load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from foundation import paths

pytestmark = [pytest.mark.browser, pytest.mark.asterisk, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def calling(desk_env: tuple[ConsoleEnv, str], key_prefix: str) -> Iterator[tuple[ConsoleEnv, str, list[Any]]]:  # noqa: F811
    env, collector_id = desk_env
    personas = [p for p in load_personas(paths.personas_dir()) if p.name == "cooperative"]
    accounts = persona_accounts(personas, 2)
    import_persona_accounts(env.engine, accounts)
    now = dt.datetime.now(dt.UTC)
    with Session(env.engine) as db, db.begin():
        for a in accounts:
            db.add(
                CaseAssignment(
                    account_id=a.account_id, collector_id=collector_id, assigned_at=now, reason="new"
                )
            )
        # The second account is disputed: the guard refuses to call it.
        db.add(AccountFlagRow(account_id=accounts[1].account_id, flag="dispute", source="call", set_at=now))
    calls = DeskCalls(
        env.app.state.console,
        endpoint="PJSIP/{number}@none",
        rules=load_preset("sandbox"),
        guard_prefix=key_prefix,
    )
    # The sandbox's personas are reached by name, not by number.
    calls.endpoint_for = endpoint_map({a.account_id: a.endpoint for a in accounts})
    env.app.state.desk_calls = calls
    yield env, collector_id, accounts


def test_click_to_call_refused_shows_the_reasons_allowed_reaches_the_persona(
    browser: tuple[Any, Path],  # noqa: F811
    calling: tuple[ConsoleEnv, str, list[Any]],
) -> None:
    chromium, _ = browser
    env, _, (ok, disputed) = calling
    with serve(env.app, "desk-call-console") as base:
        context = chromium.new_context(viewport={"width": 1300, "height": 1200})
        page = context.new_page()
        login(page, base, "collector", "/desk")
        page.wait_for_function("() => window.desk.registered === true", timeout=10_000)
        page.wait_for_selector(f"button.call[data-account='{disputed.account_id}']", timeout=20_000)
        # Refused: the guard's reason on the page, nothing dialled.
        page.click(f"button.call[data-account='{disputed.account_id}']")
        page.wait_for_selector("#call-message[data-outcome='refused']", timeout=10_000)
        assert "flag:dispute" in (page.text_content("#call-message") or "")
        shot(page, "desk-call-refused")
        with Session(env.engine) as db:
            assert db.scalars(select(CallAttempt)).all() == []
        # Allowed: dialled, answered by the persona, bridged to this page's phone, which hears it.
        page.click(f"button.call[data-account='{ok.account_id}']")
        page.wait_for_selector("#call-message[data-outcome='calling']", timeout=10_000)
        page.wait_for_selector("#call[data-call='talking']", timeout=CALL_TIMEOUT_MS)
        page.wait_for_selector(f"#pop[data-account='{ok.account_id}']", timeout=5_000)
        # Up before the persona answers: it hears ringback until then (hanging up now would cancel).
        page.wait_for_selector("#state[data-state='on_call']", timeout=CALL_TIMEOUT_MS)
        first_sound_ms = page.evaluate("() => window.desk.heardAt")
        page.evaluate("() => { window.desk.maxRms = 0; }")  # from the answer on: the persona's voice
        page.wait_for_function("() => window.desk.maxRms > 0.05", timeout=CALL_TIMEOUT_MS)
        heard = page.evaluate("() => window.desk.maxRms")
        shot(page, "desk-call-talking")
        page.click("#hangup")
        page.wait_for_selector("#state[data-state='wrap_up']", timeout=10_000)
        first = (dt.date.today() + dt.timedelta(days=10)).isoformat()
        page.select_option("#wrap-form [name=disposition]", "promise_to_pay")
        page.fill("#wrap-form [name=plan_instalments]", "3")
        page.fill("#wrap-form [name=plan_first_date]", first)
        page.check("#wrap-flags input[value='attorney']")
        page.fill("#wrap-form [name=note]", "three payments agreed; has a lawyer")
        page.click("#wrap-form button[type=submit]")
        page.wait_for_selector("#state[data-state='ready']", timeout=5_000)
        deadline = time.monotonic() + 15  # the call's end is written after the wrap-up arrives
        while time.monotonic() < deadline:
            with Session(env.engine) as db:
                row = db.scalars(select(CallAttempt).where(CallAttempt.account_id == ok.account_id)).one()
                if row.state == "ended":
                    break
            time.sleep(0.2)
        context.close()
    assert heard > 0.05, heard
    with Session(env.engine) as db:
        row = db.scalars(select(CallAttempt).where(CallAttempt.account_id == ok.account_id)).one()
        assert (row.state, row.outcome, row.disposition) == ("ended", "answered", "promise_to_pay")
        # The softphone heard something (Asterisk's ringback) while the persona's phone still rang.
        assert row.answered_at is not None and first_sound_ms is not None
        answered = row.answered_at if row.answered_at.tzinfo else row.answered_at.replace(tzinfo=dt.UTC)
        assert first_sound_ms / 1000 < answered.timestamp(), (first_sound_ms / 1000, answered.timestamp())
        plan = db.scalars(
            select(InstallmentPlanRow).where(InstallmentPlanRow.account_id == ok.account_id)
        ).one()
        assert plan.attempt_id == row.attempt_id
        flag = db.get(AccountFlagRow, (ok.account_id, "attorney"))
        assert flag is not None and flag.attempt_id == row.attempt_id
        note = db.scalars(select(AccountNoteRow).where(AccountNoteRow.account_id == ok.account_id)).one()
        assert (note.text, note.attempt_id) == ("three payments agreed; has a lawyer", row.attempt_id)
