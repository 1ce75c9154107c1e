"""QA review: search, a call's transcript and guard decisions, automatic flags, CSV, masking."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_console_fixtures import (
    BAD,
    GOOD,
    NO_DISCLOSURE,
    NUMBERS,
    UNANSWERED,
    ConsoleEnv,
    make_env,
    seed_calls,
)

from dialer.store.models.console import AuditEntry
from duncall.console.flags import ReviewTurn, compliance_flags, forbidden_phrase_flags
from duncall.console.masking import mask_phone, mask_text
from duncall.console.roles import Role

pytestmark = pytest.mark.unit


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ConsoleEnv]:
    env = make_env(tmp_path)
    seed_calls(env.engine)
    yield env
    env.close()


def ids(rows: list[dict[str, object]]) -> list[object]:
    return [r["attempt_id"] for r in rows]


def test_search_filters_by_date_campaign_disposition_intent_and_flag(env: ConsoleEnv) -> None:
    qa = env.login(Role.QA)
    everything = qa.get("/api/calls").json()
    assert ids(everything) == [UNANSWERED, NO_DISCLOSURE, BAD, GOOD]  # newest first; LIVE is not over
    assert ids(qa.get("/api/calls", params={"date_from": "2026-03-01", "date_to": "2026-03-01"}).json()) == [
        GOOD
    ]
    assert ids(qa.get("/api/calls", params={"campaign": "autumn"}).json()) == [UNANSWERED, NO_DISCLOSURE]
    assert ids(qa.get("/api/calls", params={"disposition": "refused"}).json()) == [BAD]
    assert ids(qa.get("/api/calls", params={"intent": "promise_to_pay"}).json()) == [GOOD]
    assert ids(qa.get("/api/calls", params={"flag": "missing_disclosure"}).json()) == [NO_DISCLOSURE, BAD]
    assert ids(qa.get("/api/calls", params={"flag": "forbidden_phrase"}).json()) == [BAD]
    assert ids(qa.get("/api/calls", params={"limit": 2, "offset": 1}).json()) == [NO_DISCLOSURE, BAD]


def test_bad_search_input_gets_a_clear_400_or_422(env: ConsoleEnv) -> None:
    qa = env.login(Role.QA)
    swapped = qa.get("/api/calls", params={"date_from": "2026-03-02", "date_to": "2026-03-01"})
    assert swapped.status_code == 400 and "before" in swapped.json()["error"]
    not_a_date = qa.get("/api/calls", params={"date_from": "yesterday"})
    assert not_a_date.status_code == 422 and "date_from" in not_a_date.json()["error"]
    assert qa.get("/api/calls", params={"flag": "rude"}).status_code == 400
    assert qa.get("/api/calls", params={"limit": 100000}).status_code == 422
    missing = qa.get("/api/calls/no-such-call")
    assert missing.status_code == 404 and "no call 'no-such-call'" in missing.json()["error"]


def test_a_call_shows_its_transcript_with_timings_and_the_guard_decision(env: ConsoleEnv) -> None:
    call = env.login(Role.SUPERVISOR).get(f"/api/calls/{GOOD}").json()
    transcript = call["transcript"]
    assert [t["speaker"] for t in transcript] == ["bot", "debtor", "bot", "bot", "debtor", "bot"]
    assert all(t["ended_s"] > t["started_s"] for t in transcript)
    assert transcript[1]["intent"] == "affirm" and transcript[2]["latency_ms"] == 420.0
    assert call["guard_decisions"] == [
        {
            "at": "2026-03-01T14:00:00Z",
            "allowed": True,
            "reasons": [],
            "rules": "us",
            "phone": NUMBERS["A1"],
            "campaign": "spring",
        }
    ]
    assert call["qa_flags"] == [] and call["record"]["recording"].startswith("call-")


def test_automatic_flags_point_at_the_turn(env: ConsoleEnv) -> None:
    qa = env.login(Role.QA)
    bad = {(f["kind"], f["seq"]) for f in qa.get(f"/api/calls/{BAD}").json()["qa_flags"]}
    assert bad == {("debt_before_verification", 0), ("missing_disclosure", 0), ("forbidden_phrase", 2)}
    no_disclosure = qa.get(f"/api/calls/{NO_DISCLOSURE}").json()["qa_flags"]
    assert [(f["kind"], f["seq"]) for f in no_disclosure] == [("missing_disclosure", 2)]
    assert qa.get(f"/api/calls/{UNANSWERED}").json()["transcript"] == []


def test_forbidden_phrases_match_fuzzily_but_not_loosely() -> None:
    phrases = ["we will sue you", "take you to court"]

    def flagged(text: str) -> bool:
        return bool(forbidden_phrase_flags([ReviewTurn(0, "bot", text)], phrases, 90.0))

    assert flagged("Pay now or We Will Sue You.")
    assert flagged("otherwise we wil sue you")  # an ASR or template slip still counts
    assert flagged("we may take you to court over this")
    assert not flagged("We will send you a payment link.")
    assert not flagged("You can sue us?")
    assert not forbidden_phrase_flags([ReviewTurn(0, "debtor", "I will sue you")], phrases, 90.0)
    # A collector's words (their side's transcript) are held to the same list.
    (said,) = forbidden_phrase_flags([ReviewTurn(3, "agent", "or we will sue you today")], phrases, 90.0)
    assert (said.seq, said.message.split(" said")[0]) == (3, "collector")


def test_compliance_flags_follow_verification_and_disclosure() -> None:
    def kinds(*turns: tuple[str, str, str | None]) -> list[tuple[str, int | None]]:
        review = [ReviewTurn(i, s, t, intent) for i, (s, t, intent) in enumerate(turns)]
        return [(f.kind, f.seq) for f in compliance_flags(review, "en")]

    disclosure = "This is an attempt to collect a debt by a debt collector."
    assert (
        kinds(
            ("bot", "May I speak with Jo?", None),
            ("debtor", "yes", "affirm"),
            ("bot", disclosure, None),
            ("bot", "Your balance is $5.", None),
        )
        == []
    )
    assert kinds(
        ("bot", "May I speak with Jo?", None),
        ("debtor", "no", "deny"),
        ("bot", "Tell her she owes us money.", None),
    ) == [("debt_before_verification", 2), ("missing_disclosure", 2)]
    assert kinds(
        ("bot", "Hello?", None), ("debtor", "yes", "affirm"), ("bot", "Your balance is $5.", None)
    ) == [("missing_disclosure", 2)]
    assert kinds(("bot", "你好，请问是王先生吗？", None), ("debtor", "是", "affirm")) == []


def test_qa_sees_masked_numbers_names_and_transcripts_supervisors_do_not(env: ConsoleEnv) -> None:
    qa_rows = env.login(Role.QA).get("/api/calls", params={"campaign": "spring"}).json()
    sup_rows = env.login(Role.SUPERVISOR).get("/api/calls", params={"campaign": "spring"}).json()
    qa_bad = next(r for r in qa_rows if r["attempt_id"] == BAD)
    sup_bad = next(r for r in sup_rows if r["attempt_id"] == BAD)
    assert qa_bad["number"] == "+1********88" and qa_bad["debtor"] == "C. M."
    assert sup_bad["number"] == NUMBERS["A2"] and sup_bad["debtor"] == "Casey Morgan"
    qa_call = env.login(Role.QA).get(f"/api/calls/{GOOD}").json()
    text = " ".join(t["text"] for t in qa_call["transcript"])
    assert "Jordan" not in text and "Avery" not in text and "J. A." in text
    assert NUMBERS["A1"] not in str(qa_call)
    assert "Jordan Avery" in str(env.login(Role.SUPERVISOR).get(f"/api/calls/{GOOD}").json())


def test_csv_export_is_masked_for_qa_and_audited(env: ConsoleEnv) -> None:
    response = env.login(Role.QA).get("/api/calls/export.csv", params={"campaign": "spring"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["attempt_id"] for r in rows] == [BAD, GOOD]
    bad = rows[0]
    # A leading + is escaped like any formula start (foundation/spreadsheet.py).
    assert bad["number"] == "'+1********88" and bad["debtor"] == "C. M."
    assert bad["flags"] == "debt_before_verification;forbidden_phrase;missing_disclosure"
    assert bad["disposition"] == "refused" and float(bad["duration_s"]) > 0
    for raw in NUMBERS.values():
        assert raw not in response.text
    with Session(env.engine) as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "calls_export")).one()
    assert entry.user_name == "qa" and entry.detail["rows"] == 2 and entry.detail["pii"] is False
    assert entry.detail["query"]["campaign"] == "spring"


def test_a_supervisor_opening_a_call_is_audited(env: ConsoleEnv) -> None:
    env.login(Role.SUPERVISOR).get(f"/api/calls/{BAD}")
    audit = env.login(Role.ADMIN).get("/api/audit", params={"action": "call_open"}).json()
    assert [(a["user"], a["target"]) for a in audit] == [("supervisor", BAD)]


def test_masking_helpers() -> None:
    assert mask_phone("+12125550123") == "+1********23"
    assert mask_phone("(212) 555-0123") == "(***) ***-**23"
    assert mask_phone("+8613812345678") == "+86*********78"
    assert mask_text("Hello JORDAN Avery, Jordanna", ["Jordan", "Avery"]) == "Hello J. A., Jordanna"
    assert mask_text("请问是王伟吗", ["伟", "王", "王伟"]) == "请问是**吗"
