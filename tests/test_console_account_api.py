"""The console's account API: what each role reads, masked on the server, and who may change it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from test_console_fixtures import GOOD, NO_DISCLOSURE, NUMBERS, ConsoleEnv, make_env, seed_calls

from dialer.guards.ledger import DecisionEntry, Ledger
from dialer.store.models import AccountFlagRow, PhoneStatusRow, PromiseRow
from dialer.store.models.accounts import Phone
from dialer.store.models.console import AuditEntry
from duncall.console.auth import Principal
from duncall.console.roles import Role
from duncall.console.routers.accounts import _for

pytestmark = pytest.mark.unit

ACCOUNT = "A1"
SECOND = "+12125550177"  # A1's second number, blocked by an operator
DENIED = "00000000-0000-4000-8000-0000000000d1"
AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def seed_account(engine: Engine) -> None:
    """A1 of the calls fixture, plus what its page shows: a flag, a blocked number, a promise, a denial."""
    seed_calls(engine)
    with Session(engine) as db, db.begin():
        db.add(
            Phone(
                account_id=ACCOUNT,
                number=SECOND,
                position=1,
                phone_type="landline",
                ai_voice_consent=False,
                contact_type="debtor",
            )
        )
        db.add(
            PhoneStatusRow(
                account_id=ACCOUNT,
                number=SECOND,
                status="blocked",
                set_at=AT,
                set_by="lee",
                reason="asked by letter",
            )
        )
        db.add(
            AccountFlagRow(
                account_id=ACCOUNT,
                flag="dispute",
                source="operator",
                set_at=AT,
                set_by="lee",
                reason="disputes fee",
            )
        )
        db.add(
            PromiseRow(
                account_id=ACCOUNT,
                attempt_id=GOOD,
                stage="early",
                promised_date=dt.date(2026, 3, 6),
                amount=Decimal("120.00"),
                currency="USD",
                status="pending",
                created_at=dt.datetime(2026, 3, 1, 14, 2, tzinfo=dt.UTC),
                channel="call",
            )
        )
    Ledger.on(engine).append_decisions(
        [DecisionEntry(DENIED, ACCOUNT, "autumn", SECOND, AT, False, ("phone_blocked",), "us", None)]
    )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ConsoleEnv]:
    e = make_env(tmp_path)
    seed_account(e.engine)
    yield e
    e.close()


def _audit(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as s:
        return [
            (a.user_name, a.action)
            for a in s.scalars(
                select(AuditEntry).where(AuditEntry.action.like("account_%")).order_by(AuditEntry.id)
            )
        ]


def test_a_supervisor_reads_the_whole_account_unmasked_and_the_read_is_audited(env: ConsoleEnv) -> None:
    r = env.login(Role.SUPERVISOR).get(f"/api/accounts/{ACCOUNT}")
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["masked"] is False
    assert (page["account"]["first_name"], page["account"]["last_name"]) == ("Jordan", "Avery")
    assert [(p["number"], p["status"], p["reason"]) for p in page["phones"]] == [
        (NUMBERS[ACCOUNT], "active", None),
        (SECOND, "blocked", "asked by letter"),
    ]
    assert [(f["name"], f["by"], f["reason"]) for f in page["flags"]] == [("dispute", "lee", "disputes fee")]
    assert [(p["amount"], p["due"], p["status"]) for p in page["promises"]] == [
        ("120.00", "2026-03-06", "pending")
    ]
    kinds = [(e["kind"], e["attempt_id"], e["reasons"]) for e in page["timeline"]]
    assert ("denied", DENIED, ["phone_blocked"]) in kinds
    assert any(e["attempt_id"] == NO_DISCLOSURE and e["disposition"] == "callback" for e in page["timeline"])
    assert _audit(env.engine) == [("supervisor", "account_open")]


def test_qa_gets_no_account_page(env: ConsoleEnv) -> None:
    # QA judges calls, not debtors: flags, promises and amounts are none of its business.
    r = env.login(Role.QA).get(f"/api/accounts/{ACCOUNT}")
    assert r.status_code == 403 and "pii_read" in r.json()["error"]
    for secret in ("Jordan", "Avery", NUMBERS[ACCOUNT], SECOND, "dispute"):
        assert secret not in r.text, secret


def test_the_masked_page_hides_names_and_numbers(env: ConsoleEnv) -> None:
    # For a role given the page without pii_read (none ships so): masked on the server.
    page = env.login(Role.SUPERVISOR).get(f"/api/accounts/{ACCOUNT}").json()
    masked = _for(Principal(0, "qa", Role.QA), page)
    assert masked["masked"] is True
    assert (masked["account"]["first_name"], masked["account"]["last_name"]) == ("J.", "A.")
    assert [p["number"] for p in masked["phones"]] == ["+1********23", "+1********77"]
    assert {e["number"] for e in masked["timeline"]} == {"+1********23", "+1********77"}
    body = json.dumps(masked, default=str)
    for secret in ("Jordan", "Avery", NUMBERS[ACCOUNT], SECOND, NUMBERS[ACCOUNT][2:]):
        assert secret not in body, secret


def test_a_name_an_operator_typed_into_a_reason_is_masked_too(env: ConsoleEnv) -> None:
    sup = env.login(Role.SUPERVISOR)
    r = sup.put(
        f"/api/accounts/{ACCOUNT}/flags/attorney", json={"reason": "Jordan Avery sent a lawyer's letter"}
    )
    assert r.status_code == 200 and "Jordan Avery sent" in r.text
    page = _for(Principal(0, "qa", Role.QA), r.json())
    assert {f["name"]: f["reason"] for f in page["flags"]}["attorney"] == "J. A. sent a lawyer's letter"


def test_a_role_without_pii_read_gets_no_account(env: ConsoleEnv) -> None:
    r = env.login(Role.DESIGNER).get(f"/api/accounts/{ACCOUNT}")
    assert r.status_code == 403 and "pii_read" in r.text
    assert env.client().get(f"/api/accounts/{ACCOUNT}").status_code == 401


def test_qa_may_not_change_an_account(env: ConsoleEnv) -> None:
    qa = env.login(Role.QA)
    assert qa.put(f"/api/accounts/{ACCOUNT}/flags/attorney", json={"reason": "x"}).status_code == 403
    r = qa.put(
        f"/api/accounts/{ACCOUNT}/phones/{NUMBERS[ACCOUNT]}", json={"status": "blocked", "reason": "x"}
    )
    assert r.status_code == 403
    sup = env.login(Role.SUPERVISOR).get(f"/api/accounts/{ACCOUNT}").json()
    assert [f["name"] for f in sup["flags"]] == ["dispute"]
    assert sup["phones"][0]["status"] == "active"


def test_an_unknown_account_is_one_error_naming_it(env: ConsoleEnv) -> None:
    r = env.login(Role.SUPERVISOR).get("/api/accounts/NOPE")
    assert r.status_code in (400, 404), r.text
    assert "NOPE" in json.dumps(r.json())
