"""The account page in a real headless Chromium: a supervisor reads and changes an account,
QA reads it masked. Screenshots land in tests/artifacts/ (docs/console.md refers to them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_console_account_api import ACCOUNT, DENIED, SECOND, seed_account
from test_console_browser import browser, login, page, serve, shot
from test_console_fixtures import GOOD, NUMBERS, ConsoleEnv, make_env

pytestmark = pytest.mark.browser
__all__ = ["browser", "page"]  # the shared fixtures, used by name


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ConsoleEnv]]:
    env = make_env(tmp_path_factory.mktemp("console-account-browser"))
    seed_account(env.engine)
    with serve(env.app, "console-account-server") as base:
        yield base, env
    env.close()


def _cells(p: object, table: str) -> list[list[str]]:
    rows: list[list[str]] = p.locator(f"{table} tbody tr").evaluate_all(  # type: ignore[attr-defined]
        "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))"
    )
    return rows


def test_a_supervisor_opens_an_account_from_the_calls_list_and_sets_a_flag(
    server: tuple[str, ConsoleEnv], page: object
) -> None:
    base, _ = server
    p = page
    login(p, base, "supervisor", "/calls")
    p.wait_for_selector(f"#calls tr[data-call='{GOOD}']")  # type: ignore[attr-defined]
    p.locator(f"#calls tr[data-call='{GOOD}'] a.account").click()  # type: ignore[attr-defined]
    p.wait_for_url(f"{base}/accounts/{ACCOUNT}")  # type: ignore[attr-defined]
    p.wait_for_selector("#timeline tbody tr")  # type: ignore[attr-defined]
    assert "Jordan Avery" in p.inner_text("#identity")  # type: ignore[attr-defined]
    phones = {r[0]: r for r in _cells(p, "#phones")}
    assert phones[NUMBERS[ACCOUNT]][1] == "active"
    assert phones[SECOND][1] == "blocked" and phones[SECOND][7] == "asked by letter"
    assert [(r[0], r[2], r[3]) for r in _cells(p, "#flags")] == [("dispute", "lee", "disputes fee")]
    assert [(r[1], r[2], r[3]) for r in _cells(p, "#promises")] == [("120.00 USD", "2026-03-06", "pending")]
    timeline = _cells(p, "#timeline")
    denied = [r for r in timeline if r[2] == "denied"]
    assert len(denied) == 1 and denied[0][6] == "phone_blocked" and denied[0][3] == SECOND
    assert p.locator(f"#timeline a[href='/calls/{GOOD}']").count() == 1  # type: ignore[attr-defined]
    assert p.locator(f"#timeline a[href='/calls/{DENIED}']").count() == 0  # type: ignore[attr-defined]

    p.select_option("#flag-form select[name=flag]", "attorney")  # type: ignore[attr-defined]
    p.fill("#flag-form input[name=reason]", "represented by counsel, letter of 2 March")  # type: ignore[attr-defined]
    p.click("#flag-form button[value=set]")  # type: ignore[attr-defined]
    p.wait_for_selector("#edit-message.ok")  # type: ignore[attr-defined]
    flags = {r[0]: r for r in _cells(p, "#flags")}
    assert flags["attorney"][2:4] == ["supervisor", "represented by counsel, letter of 2 March"]
    shot(p, "account-supervisor")
    p.reload()  # type: ignore[attr-defined]
    p.wait_for_selector("#flags tbody tr")  # type: ignore[attr-defined]
    assert {r[0] for r in _cells(p, "#flags")} == {"attorney", "dispute"}

    # A reason is required: the browser will not send the form without one, and nothing changes.
    p.select_option("#flag-form select[name=flag]", "deceased")  # type: ignore[attr-defined]
    p.click("#flag-form button[value=set]")  # type: ignore[attr-defined]
    assert {r[0] for r in _cells(p, "#flags")} == {"attorney", "dispute"}

    p.select_option("#phone-form select[name=number]", NUMBERS[ACCOUNT])  # type: ignore[attr-defined]
    p.select_option("#phone-form select[name=status]", "wrong_number")  # type: ignore[attr-defined]
    p.fill("#phone-form input[name=reason]", "a neighbour answered")  # type: ignore[attr-defined]
    p.click("#phone-form button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_function(  # type: ignore[attr-defined]
        "() => document.querySelector('#phones tbody tr').cells[1].innerText.trim() === 'wrong_number'"
    )
    first = {r[0]: r for r in _cells(p, "#phones")}[NUMBERS[ACCOUNT]]
    assert (first[6], first[7]) == ("supervisor", "a neighbour answered")

    p.click(f"#timeline a[href='/calls/{GOOD}']")  # type: ignore[attr-defined]
    p.wait_for_selector("#transcript tbody tr")  # type: ignore[attr-defined]


def test_qa_gets_no_account_page(server: tuple[str, ConsoleEnv], page: object) -> None:
    # QA judges calls, not debtors (flags, promises, amounts): the page says so and shows nothing.
    base, _ = server
    p = page
    login(p, base, "qa", f"/accounts/{ACCOUNT}")
    p.wait_for_selector("#message.error")  # type: ignore[attr-defined]
    assert "pii_read" in p.inner_text("#message")  # type: ignore[attr-defined]
    assert p.locator("#page").is_hidden()  # type: ignore[attr-defined]
    text = p.inner_text("body")  # type: ignore[attr-defined]
    for secret in ("Jordan", "Avery", "J. A.", NUMBERS[ACCOUNT], SECOND, "phone_blocked"):
        assert secret not in text


def test_an_unknown_account_says_so(server: tuple[str, ConsoleEnv], page: object) -> None:
    base, _ = server
    p = page
    login(p, base, "supervisor", "/accounts/NOPE")
    p.wait_for_selector("#message.error")  # type: ignore[attr-defined]
    assert "NOPE" in p.inner_text("#message")  # type: ignore[attr-defined]
    assert p.locator("#page").is_hidden()  # type: ignore[attr-defined]
