"""The account page in a real headless Chromium shows a number the SMSC failed three times in a
row as "sms unreachable" beside its status (the message guard refuses SMS to it)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session
from test_console_account_api import ACCOUNT, SECOND, seed_account
from test_console_browser import browser, login, page, serve
from test_console_fixtures import NUMBERS, ConsoleEnv, make_env

from dialer.store.models import MessageRow

pytestmark = pytest.mark.browser
__all__ = ["browser", "page"]  # the shared fixtures, used by name


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ConsoleEnv]]:
    env = make_env(tmp_path_factory.mktemp("console-unreachable"))
    seed_account(env.engine)
    at = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)
    with Session(env.engine) as db, db.begin():
        for i, status in enumerate(("delivered", "failed", "failed", "failed")):
            db.add(
                MessageRow(
                    message_id=str(uuid.uuid4()),
                    account_id=ACCOUNT,
                    channel="sms",
                    address=NUMBERS[ACCOUNT],
                    stage="reminder",
                    created_at=at + dt.timedelta(days=i),
                    status=status,
                    status_at=at + dt.timedelta(days=i),
                    error="16 NACK/0x0000000b/Invalid Destination Address" if status == "failed" else None,
                )
            )
    with serve(env.app, "console-unreachable-server") as base:
        yield base, env
    env.close()


def test_the_account_page_marks_a_number_unreachable_for_sms(
    server: tuple[str, ConsoleEnv], page: object
) -> None:
    base, _ = server
    p = page
    login(p, base, "supervisor", f"/accounts/{ACCOUNT}")
    p.wait_for_selector("#phones tbody tr")  # type: ignore[attr-defined]
    rows: list[list[str]] = p.locator("#phones tbody tr").evaluate_all(  # type: ignore[attr-defined]
        "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))"
    )
    by_number = {r[0]: r for r in rows}
    first = next(number for number in by_number if number.endswith(NUMBERS[ACCOUNT][-4:]))
    assert by_number[first][1] == "active sms unreachable"
    second = next(number for number in by_number if number.endswith(SECOND[-4:]))
    assert by_number[second][1] == "blocked"
