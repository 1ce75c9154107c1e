"""Collection KPIs on a hand-built week where every number is known, on SQLite and PostgreSQL.

The week is 2026-01-05 (Mon) .. 2026-01-11 (Sun) in each debtor's own time zone:

* A-LA (Los Angeles, UTC-8): called 2026-01-06 03:30 UTC, which is Monday 5 January 19:30 at
  home — the call belongs to the 5th; promised, kept, paid 300 on the 8th.  A call on
  3 January (local) falls before the week.
* A-UTC (no zone: UTC): promised on the 5th and broke it; a voicemail; an abandoned call on the 6th.
* A-TYO (Tokyo, UTC+9): a third party answered on Friday the 9th; a call on 2026-01-11 16:00 UTC
  is Monday the 12th at home, after the week; an unmatched payment of 250 on the 10th.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dialer.analytics.metrics import Counts, compute, parse_dimensions
from dialer.analytics.queries import KpiQuery, refresh_facts
from dialer.analytics.report import kpi_report
from dialer.store.models import Account, CallAttempt, Campaign, Creditor, PaymentRow, PromiseRow
from dialer.store.models.transcripts import CallRecording
from dialer.store.testing import temporary_database
from duncall.cli import main

FIRST, LAST = dt.date(2026, 1, 5), dt.date(2026, 1, 11)
UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# attempt id, account, campaign, stage, script, dialled (UTC), seconds to end, outcome, right party,
# disposition
ATTEMPTS = (
    ("t1", "A-LA", "early", "early", "early_collection.en", "2026-01-06 03:30", 150, "answered", True, "promise_to_pay"),
    ("t2", "A-LA", "early", "early", "early_collection.en", "2026-01-07 17:00", 30, "no_answer", None, None),
    ("t8", "A-LA", "early", "early", "early_collection.en", "2026-01-04 05:00", 40, "answered", True, "refused"),
    ("t3", "A-UTC", "early", "early", "early_collection.en", "2026-01-05 10:00", 90, "answered", True, "promise_to_pay"),
    ("t4", "A-UTC", "early", "early", "early_collection.en", "2026-01-05 14:00", 25, "voicemail", None, None),
    ("t5", "A-UTC", "early", "early", "early_collection.en", "2026-01-06 10:00", 3, "abandoned", None, "abandoned"),
    ("t6", "A-TYO", "late", "late", "late_collection.en", "2026-01-11 16:00", 80, "answered", True, "callback"),
    ("t7", "A-TYO", "late", "late", "late_collection.en", "2026-01-09 01:00", 60, "answered", False, "third_party"),
)  # fmt: skip


def seed(engine: Engine) -> None:
    with Session(engine) as db, db.begin():
        for creditor in ("CR-A", "CR-B"):
            db.add(Creditor(creditor_id=creditor, name=creditor, names={}, scripts={}))
        for campaign in ("early", "late"):
            db.add(
                Campaign(
                    campaign_id=campaign,
                    name=campaign,
                    strategy="default.yaml",
                    created_at=at("2026-01-01 00:00"),
                )
            )
        for account_id, zone, creditor, balance in (
            ("A-LA", "America/Los_Angeles", "CR-A", "700.00"),
            ("A-UTC", None, "CR-A", "500.00"),
            ("A-TYO", "Asia/Tokyo", "CR-B", "750.00"),
        ):
            db.add(
                Account(
                    account_id=account_id, first_name="T", last_name="D", timezone=zone, language="en",
                    balance=Decimal(balance), currency="USD", creditor_id=creditor, payment_history=[],
                )
            )  # fmt: skip
        db.flush()
        for aid, account, campaign, stage, script, dialled, seconds, outcome, rpc, disposition in ATTEMPTS:
            start = at(dialled)
            db.add(
                CallAttempt(
                    attempt_id=aid, account_id=account, campaign_id=campaign, number="+15550100", state="ended",
                    stage=stage, script=script, reserved_at=start, dialed_at=start,
                    ended_at=start + dt.timedelta(seconds=seconds), outcome=outcome, disposition=disposition,
                    right_party=rpc,
                )
            )  # fmt: skip
        # Never dialled (reserved, then nothing) and in flight: neither is counted.
        start = at("2026-01-11 20:00")
        db.add(
            CallAttempt(attempt_id="r1", account_id="A-UTC", number="+1", state="reserved", reserved_at=start)
        )
        db.add(
            CallAttempt(attempt_id="r2", account_id="A-UTC", number="+1", state="dialing", reserved_at=start, dialed_at=start)
        )  # fmt: skip
        db.flush()
        for aid, version in (("t1", 3), ("t3", 2)):
            db.add(
                CallRecording(
                    attempt_id=aid, language="en", script="early_collection.en", hangup_by="debtor",
                    disposition="promise_to_pay", flags=[], barge_ins_ms=[], script_version=version,
                    recorded_at=at("2026-01-06 00:00"),
                )
            )  # fmt: skip
        kept = PromiseRow(
            account_id="A-LA", attempt_id="t1", stage="early", promised_date=dt.date(2026, 1, 8),
            amount=Decimal("300.00"), currency="USD", status="kept", created_at=at("2026-01-06 03:32"),
            channel="call", paid_amount=Decimal("300.00"),
        )  # fmt: skip
        broken = PromiseRow(
            account_id="A-UTC", attempt_id="t3", stage="early", promised_date=dt.date(2026, 1, 7),
            amount=Decimal("200.00"), currency="USD", status="broken", created_at=at("2026-01-05 10:01"),
            channel="call",
        )  # fmt: skip
        db.add_all([kept, broken])
        db.flush()
        for pid, account, amount, paid, promise in (
            ("p1", "A-LA", "300.00", "2026-01-08 18:00", kept.promise_id),
            ("p2", "A-TYO", "250.00", "2026-01-10 00:30", None),
        ):
            db.add(
                PaymentRow(
                    payment_id=pid, account_id=account, amount=Decimal(amount), currency="USD", paid_at=at(paid),
                    received_at=at(paid), source="file", promise_id=promise,
                )
            )  # fmt: skip


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with temporary_database(request.param, tmp_path, url) as eng:
        seed(eng)
        yield eng


def report(engine: Engine, by: str = "", **filters: str) -> dict:  # type: ignore[type-arg]
    return kpi_report(engine, KpiQuery(FIRST, LAST, parse_dimensions(by), **filters)).as_json()


def test_the_weeks_totals(engine: Engine) -> None:
    total = report(engine)["total"]
    counts = {k: total[k] for k in ("dialled", "answered", "right_party", "abandoned", "promises", "promises_resolved", "promises_kept", "handled")}  # fmt: skip
    assert counts == {
        "dialled": 6, "answered": 4, "right_party": 2, "abandoned": 1,
        "promises": 2, "promises_resolved": 2, "promises_kept": 1, "handled": 3,
    }  # fmt: skip
    assert (total["collected"], total["placed"]) == ("550.00", "2500.00")
    assert total["contact_rate"] == pytest.approx(4 / 6)
    assert (total["rpc_rate"], total["ptp_rate"], total["ptp_kept_rate"]) == (0.5, 1.0, 0.5)
    assert total["recovery_rate"] == pytest.approx(550 / 2500)
    assert total["abandon_rate"] == 0.25
    assert total["average_handle_s"] == pytest.approx((150 + 90 + 60) / 3)
    # Windows end at the end of the last day (UTC): 30 days hold all 6 live answers (the 3rd's and
    # the 12th's too), one abandoned; the last 24 hours only the Tokyo call of the 12th, answered.
    assert total["abandon_30d"] == pytest.approx(1 / 6)
    assert total["abandon_24h"] == 0.0


def test_days_are_the_debtors_local_days(engine: Engine) -> None:
    rows = {r["day"]: r for r in report(engine, "day")["rows"]}
    assert sorted(rows) == [
        "2026-01-05",
        "2026-01-06",
        "2026-01-07",
        "2026-01-08",
        "2026-01-09",
        "2026-01-10",
    ]
    # The Los Angeles call at 03:30 UTC on the 6th is the evening of the 5th at home.
    assert (
        rows["2026-01-05"]["dialled"],
        rows["2026-01-05"]["right_party"],
        rows["2026-01-05"]["promises"],
    ) == (3, 2, 2)
    assert (rows["2026-01-06"]["dialled"], rows["2026-01-06"]["abandoned"]) == (1, 1)
    assert rows["2026-01-08"]["collected"] == "300.00" and rows["2026-01-08"]["dialled"] == 0
    assert rows["2026-01-10"]["collected"] == "250.00"
    # A day's recovery is its share of the whole book.
    assert rows["2026-01-08"]["recovery_rate"] == pytest.approx(300 / 2500)
    assert rows["2026-01-05"]["abandon_30d"] is None  # a rolling window is not a day's number


def test_local_hour_and_weekday(engine: Engine) -> None:
    rows = {
        (r["weekday"], r["hour"]): r["dialled"]
        for r in report(engine, "weekday,hour")["rows"]
        if r["dialled"]
    }
    assert rows == {(1, 19): 1, (1, 10): 1, (1, 14): 1, (2, 10): 1, (3, 9): 1, (5, 10): 1}


def test_campaign_creditor_and_script_version(engine: Engine) -> None:
    campaigns = {r["campaign"]: r for r in report(engine, "campaign")["rows"]}
    assert (
        campaigns["early"]["dialled"],
        campaigns["early"]["answered"],
        campaigns["early"]["collected"],
    ) == (5, 3, "300.00")
    assert (campaigns["late"]["dialled"], campaigns["late"]["collected"]) == (1, "0.00")
    assert campaigns[None]["collected"] == "250.00" and campaigns[None]["dialled"] == 0  # matched to no call
    assert campaigns["early"]["abandon_30d"] == pytest.approx(1 / 4)

    creditors = {r["creditor"]: r for r in report(engine, "creditor")["rows"]}
    assert (creditors["CR-A"]["placed"], creditors["CR-A"]["recovery_rate"]) == (
        "1500.00",
        pytest.approx(0.2),
    )
    assert (creditors["CR-B"]["placed"], creditors["CR-B"]["recovery_rate"]) == ("1000.00", 0.25)

    versions = {
        (r["script"], r["script_version"]): r["dialled"]
        for r in report(engine, "script,script_version")["rows"]
    }
    assert versions == {
        ("early_collection.en", 2): 1, ("early_collection.en", 3): 1, ("early_collection.en", None): 3,
        ("late_collection.en", None): 1, (None, None): 0,
    }  # fmt: skip

    late = report(engine, "", creditor="CR-B")["total"]
    assert (late["dialled"], late["collected"], late["placed"]) == (1, "250.00", "1000.00")


@pytest.mark.unit
def test_rates_are_none_when_nothing_was_counted() -> None:
    assert compute(Counts())["contact_rate"] is None
    assert compute(Counts(dialled=4, answered=1))["contact_rate"] == 0.25


@pytest.mark.unit
def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with temporary_database("sqlite", tmp_path) as eng:
        seed(eng)
        db = str(eng.url)
    assert (
        main(["kpi", "--from", "2026-01-05", "--to", "2026-01-11", "--by", "creditor", "--json", "--db", db])
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert [r["creditor"] for r in doc["rows"]] == ["CR-A", "CR-B"]
    assert "right-party" in doc["definitions"]["rpc_rate"].lower()
    assert (
        main(["kpi", "--from", "2026-01-05", "--to", "2026-01-11", "--by", "day", "--csv", "--db", db]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("day,dialled,answered") and lines[1].startswith("2026-01-05,3,2,2,")
    assert main(["kpi", "--from", "2026-01-05", "--to", "2026-01-11", "--db", db]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[-1].split()[:2] == ["6", "4"] and "66.7%" in table[-1]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--by", "colour"], "--by: unknown cut 'colour'"),
        (["--to", "2026-01-01"], "the last day 2026-01-01 is before the first 2026-01-05"),
        (["--from", "0001-01-01"], "0001-01-01 is outside 1970-2999"),
        (["--from", "5 Jan"], "--from '5 Jan' is not a date"),
    ],
)
def test_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    base = {"--from": "2026-01-05", "--to": "2026-01-11", "--db": f"sqlite:///{tmp_path / 'k.db'}"}
    args = dict(zip(argv[::2], argv[1::2], strict=True))
    line = ["kpi", *(x for k, v in {**base, **args}.items() for x in (k, v))]
    assert main(line) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err


def test_a_call_ended_after_a_report_is_counted_in_the_next(engine: Engine) -> None:
    assert report(engine)["total"]["dialled"] == 6
    with Session(engine) as db, db.begin():
        call = db.get(CallAttempt, "r2")  # in flight at the first report
        assert call is not None
        call.state, call.outcome, call.ended_at = "ended", "answered", at("2026-01-11 20:01")
    total = report(engine)["total"]
    assert (total["dialled"], total["answered"]) == (7, 5)
    # One ended long before the newest counted call (a repaired record) waits for a full recount.
    with Session(engine) as db, db.begin():
        db.add(
            CallAttempt(
                attempt_id="late", account_id="A-UTC", number="+1", state="ended", reserved_at=at("2026-01-05 09:00"),
                dialed_at=at("2026-01-05 09:00"), ended_at=at("2026-01-05 09:01"), outcome="no_answer",
            )
        )  # fmt: skip
    assert report(engine)["total"]["dialled"] == 7
    with engine.begin() as conn:
        refresh_facts(conn, full=True)
    assert report(engine)["total"]["dialled"] == 8
