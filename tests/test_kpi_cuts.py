"""Roll rates, cure rate, cost per unit collected and the channel and collector cuts, on the
hand-built week of ``test_kpi`` (2026-01-05 .. 2026-01-11, each debtor's local days) with more
accounts, messages, a payment through a link and two collectors; SQLite and PostgreSQL.

Buckets (this test's): current (DPD ≤ 0), b1_30, b31_60, b61 (61+).  On the 5th and the 11th:

* A-LA (due 2025-12-01): 35 → 41 days, b31_60 → b31_60 (its 300 paid leaves 700 owed).
* A-UTC (due 2026-01-01): 4 → 10, b1_30 → b1_30.   A-TYO (due 2025-12-10): 26 → 32, b1_30 → b31_60.
* R-PAID (due 2025-11-01, 400 owed): 65, b61 → paid on the 9th through an e-mailed payment link.
* R-WEST (Los Angeles, due 2025-12-01, 200 owed): b31_60 → paid at 2026-01-12 03:00 UTC, which is
  the evening of the 11th at home: paid within the period.
* R-EARLY (due 2026-01-08): -3 → 3, current → b1_30.
* R-DPD (no due date, 100 days past due on 2026-01-31): 74 → 80, b61 → b61.
* R-DONE (paid in full in December) and R-NONE (no due date or DPD) are not rolled.

Cure: six delinquent on the 5th (A-LA, A-UTC, A-TYO, R-PAID, R-WEST, R-DPD), two paid by the 11th.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session
from test_kpi import FIRST, LAST, at, seed

from dialer.analytics.metrics import Counts, Prices, compute, parse_dimensions
from dialer.analytics.queries import KpiQuery
from dialer.analytics.report import kpi_report, roll_report
from dialer.assignment.model import Bucket
from dialer.store.models import (
    Account,
    CaseAssignment,
    Collector,
    MessageRow,
    PaymentLinkRow,
    PaymentRow,
)
from dialer.store.testing import temporary_database
from duncall.cli import main

BUCKETS = (
    Bucket("current", -10_000, 0),
    Bucket("b1_30", 1, 30),
    Bucket("b31_60", 31, 60),
    Bucket("b61", 61, None),
)
TODAY = dt.date(2026, 1, 31)
PRICES = Prices(Decimal("0.60"), Decimal("0.05"), Decimal("1.20"))


def seed_more(engine: Engine) -> None:
    seed(engine)
    with Session(engine) as db, db.begin():
        for account_id, due in (("A-LA", "2025-12-01"), ("A-UTC", "2026-01-01"), ("A-TYO", "2025-12-10")):
            db.execute(
                update(Account)
                .where(Account.account_id == account_id)
                .values(due_date=dt.date.fromisoformat(due))
            )
        for account_id, zone, due, dpd, balance in (
            ("R-PAID", None, "2025-11-01", None, "0.00"),
            ("R-WEST", "America/Los_Angeles", "2025-12-01", None, "0.00"),
            ("R-EARLY", None, "2026-01-08", None, "80.00"),
            ("R-DPD", None, None, 100, "90.00"),
            ("R-DONE", None, "2025-10-01", None, "0.00"),
            ("R-NONE", None, None, None, "60.00"),
        ):
            db.add(
                Account(
                    account_id=account_id, first_name="T", last_name="D", timezone=zone, language="en",
                    balance=Decimal(balance), currency="USD", creditor_id="CR-A", payment_history=[],
                    due_date=dt.date.fromisoformat(due) if due else None, days_past_due=dpd,
                )
            )  # fmt: skip
        db.flush()
        # message id, account, channel, created (UTC), status
        for mid, account, channel, created, status in (
            ("m1", "A-UTC", "sms", "2026-01-06 12:00", "delivered"),
            ("m2", "A-UTC", "email", "2026-01-07 12:00", "sent"),
            ("m3", "A-LA", "sms", "2026-01-06 12:00", "denied"),  # refused by the guard: not counted
            ("m4", "A-TYO", "letter", "2026-01-08 00:00", "queued"),
            ("m5", "A-LA", "sms", "2026-01-12 06:00", "sent"),  # 22:00 on the 11th in Los Angeles
            ("m6", "A-TYO", "sms", "2026-01-11 16:00", "sent"),  # the 12th in Tokyo: after the week
            ("m7", "R-PAID", "email", "2026-01-08 09:00", "delivered"),
        ):
            db.add(
                MessageRow(
                    message_id=mid, account_id=account, channel=channel, address="x", stage="reminder",
                    campaign_id="early", created_at=at(created), status=status, status_at=at(created),
                )
            )  # fmt: skip
        db.flush()
        for pid, account, amount, paid in (
            ("p3", "R-PAID", "400.00", "2026-01-09 10:00"),
            ("p4", "R-WEST", "200.00", "2026-01-12 03:00"),
            ("p5", "R-DONE", "100.00", "2025-12-20 10:00"),
        ):
            db.add(
                PaymentRow(
                    payment_id=pid, account_id=account, amount=Decimal(amount), currency="USD",
                    paid_at=at(paid), received_at=at(paid), source="file",
                )
            )  # fmt: skip
        db.add(
            PaymentLinkRow(
                link_id="l1", account_id="R-PAID", message_id="m7", created_at=at("2026-01-08 09:00"),
                expires_at=at("2026-01-11 09:00"), used_at=at("2026-01-09 10:00"), payment_id="p3",
            )
        )  # fmt: skip
        for collector in ("C1", "C2"):
            db.add(Collector(collector_id=collector, name=collector, capacity=10))
        db.flush()
        for account_id, collector in (("A-LA", "C1"), ("A-UTC", "C1"), ("A-TYO", "C2")):
            db.add(
                CaseAssignment(
                    account_id=account_id,
                    collector_id=collector,
                    assigned_at=at("2026-01-01 00:00"),
                    reason="new",
                )
            )


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with temporary_database(request.param, tmp_path, url) as eng:
        seed_more(eng)
        yield eng


def report(engine: Engine, by: str = "") -> dict:  # type: ignore[type-arg]
    return kpi_report(engine, KpiQuery(FIRST, LAST, parse_dimensions(by)), PRICES).as_json()


def test_roll_rates_and_cure(engine: Engine) -> None:
    m = roll_report(engine, FIRST, LAST, today=TODAY, buckets=BUCKETS)
    counts = {(i, j): n for (i, j), n in m.counts.items()}
    assert counts == {
        ("current", "b1_30"): 1,
        ("b1_30", "b1_30"): 1, ("b1_30", "b31_60"): 1,
        ("b31_60", "b31_60"): 1, ("b31_60", "paid"): 1,
        ("b61", "paid"): 1, ("b61", "b61"): 1,
    }  # fmt: skip
    assert m.rate("b1_30", "b31_60") == 0.5 and m.rate("current", "b1_30") == 1.0
    assert m.rate("b31_60", "current") == 0.0
    assert (m.delinquent, m.cured) == (6, 2) and m.cure_rate == pytest.approx(1 / 3)
    # One creditor's book: CR-B holds only A-TYO.
    tyo = roll_report(engine, FIRST, LAST, today=TODAY, creditor="CR-B", buckets=BUCKETS)
    assert tyo.counts == {("b1_30", "b31_60"): 1} and tyo.cure_rate == 0.0
    # The 12th (UTC) payment in Los Angeles is the 11th there: paid within the period; on the 10th not.
    before = roll_report(engine, FIRST, dt.date(2026, 1, 10), today=TODAY, buckets=BUCKETS)
    assert before.counts[("b31_60", "b31_60")] == 2 and ("b31_60", "paid") not in before.counts


def test_channel_cut(engine: Engine) -> None:
    rows = {r["channel"]: r for r in report(engine, "channel")["rows"]}
    assert set(rows) == {"call", "sms", "email", "letter", None}
    call = rows["call"]
    assert (call["dialled"], call["answered"], call["promises"], call["collected"]) == (6, 4, 2, "300.00")
    assert (rows["sms"]["messages"], rows["email"]["messages"], rows["letter"]["letters"]) == (2, 2, 1)
    assert rows["email"]["collected"] == "400.00"  # paid through the e-mailed link
    assert rows[None]["collected"] == "450.00"  # matched to no call and no link
    assert rows["sms"]["dialled"] == 0 and rows["sms"]["contact_rate"] is None


def test_collector_cut(engine: Engine) -> None:
    rows = {r["collector"]: r for r in report(engine, "collector")["rows"]}
    c1, c2 = rows["C1"], rows["C2"]
    assert (c1["dialled"], c1["answered"], c1["promises"], c1["messages"], c1["collected"]) == (
        5,
        3,
        2,
        3,
        "300.00",
    )
    assert (c1["placed"], c1["recovery_rate"]) == ("1500.00", 0.2)
    assert (c2["dialled"], c2["letters"], c2["collected"], c2["placed"]) == (1, 1, "250.00", "1000.00")
    assert rows[None]["collected"] == "600.00" and rows[None]["dialled"] == 0


def test_cost_per_unit_collected_and_handle_time(engine: Engine) -> None:
    total = report(engine)["total"]
    # Line seconds 150 + 30 + 90 + 25 + 3 + 60 = 358: 5.9667 min × 0.60 = 3.58; 4 messages × 0.05;
    # 1 letter × 1.20: 4.98 for 1150.00 collected.
    assert (total["line_s"], total["messages"], total["letters"]) == (358.0, 4, 1)
    assert (total["cost"], total["collected"]) == ("4.98", "1150.00")
    assert total["cost_per_collected"] == pytest.approx(4.98 / 1150)
    assert total["average_handle_s"] == pytest.approx((150 + 90 + 60) / 3)


@pytest.mark.unit
def test_cost_per_collected_is_none_without_collections() -> None:
    assert compute(Counts(line_s=60).priced(PRICES))["cost_per_collected"] is None
    assert Counts(line_s=90, messages=1, letters=1).priced(PRICES).cost == Decimal("2.15")


@pytest.mark.unit
def test_the_command_line_prints_the_same_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUNCALL_COST_PER_MINUTE", "0.60")
    monkeypatch.setenv("DUNCALL_COST_PER_MESSAGE", "0.05")
    monkeypatch.setenv("DUNCALL_COST_PER_LETTER", "1.20")
    with temporary_database("sqlite", tmp_path) as eng:
        seed_more(eng)
        db = str(eng.url)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "method: least_loaded\nbuckets:\n"
        + "".join(
            f"  - {{name: {b.name}, dpd_min: {b.dpd_min}"
            + (f", dpd_max: {b.dpd_max}}}\n" if b.dpd_max is not None else "}\n")
            for b in BUCKETS
        )
    )
    period = ["--from", "2026-01-05", "--to", "2026-01-11", "--db", db]
    assert main(["kpi", *period, "--by", "channel,collector", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["total"]["cost"] == "4.98" and "collected" in doc["definitions"]["cost_per_collected"]
    assert main(["kpi", *period, "--rolls", "--rules", str(rules), "--json"]) == 0
    rolls = json.loads(capsys.readouterr().out)
    assert rolls["rates"]["b1_30"]["b31_60"] == 0.5 and rolls["accounts"]["b31_60"] == 2
    assert main(["kpi", *period, "--rolls", "--rules", str(rules)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[-1] == "paid" and table[-1].startswith("cure rate ")


@pytest.mark.unit
def test_the_console_shows_the_same_numbers_and_the_roll_matrix(tmp_path: Path) -> None:
    from test_console_fixtures import make_env

    env = make_env(tmp_path)
    try:
        seed_more(env.engine)
        client = env.login("supervisor")
        week = "from=2026-01-05&to=2026-01-11"
        api = client.get(f"/api/kpi?{week}&by=channel").json()
        cli = kpi_report(env.engine, KpiQuery(FIRST, LAST, ("channel",))).as_json()
        assert api["rows"] == cli["rows"] and api["total"] == cli["total"]
        # The shipped buckets (pre_due, early, mid, late); the console's day is 2026-03-02, so R-DPD
        # (100 days past due then) was 44 days past due on the 5th: mid.
        rolls = client.get(f"/api/kpi/rolls?{week}").json()
        assert rolls["accounts"]["mid"] == 4 and rolls["rates"]["mid"]["paid"] == 0.5
        assert rolls["rates"]["early"]["mid"] == 0.5 and rolls["cure_rate"] == pytest.approx(2 / 6)
        html = client.get(f"/api/kpi/dashboard?{week}").text
        assert 'data-chart="rolls"' in html and "cure rate 33.3%" in html
        # Per collector: C1 (A-LA, A-UTC: 3 of 5 answered) and C2 (A-TYO: 1 of 1).
        assert 'data-chart="collectors"' in html and ">C1<" in html and "60.0%" in html
        mid, paid = rolls["buckets"].index("mid"), rolls["columns"].index("paid")
        assert f'data-cell="{mid},{paid}" data-rate="0.5000"' in html
        assert "of 4 accounts" in html
        assert client.get(f"/api/kpi/rolls?{week}&creditor=CR-B").json()["accounts"]["early"] == 1
    finally:
        env.close()


def test_the_rollup_gives_the_numbers_of_the_facts(engine: Engine) -> None:
    # Cuts without the hour read attempt_rollup; with it, the facts themselves: the same sums.
    for cut in ("campaign", "creditor", "script,script_version", "stage", "day", "week"):
        rolled = {tuple(r[d] for d in cut.split(",")): r for r in report(engine, cut)["rows"]}
        raw: dict[tuple[object, ...], list[float]] = {}
        for r in report(engine, cut + ",hour")["rows"]:
            sums = raw.setdefault(tuple(r[d] for d in cut.split(",")), [0, 0, 0, 0, 0.0])
            for i, name in enumerate(("dialled", "answered", "right_party", "abandoned", "line_s")):
                sums[i] += r[name]
        for key, sums in raw.items():
            row = rolled[key]
            assert [row[n] for n in ("dialled", "answered", "right_party", "abandoned")] == sums[:4], (
                cut,
                key,
            )
            assert row["line_s"] == pytest.approx(sums[4]), (cut, key)


def test_a_recount_rebuilds_the_rollup(engine: Engine) -> None:
    from dialer.analytics.queries import refresh_facts
    from dialer.store.models.analytics import AttemptRollup

    before = report(engine, "campaign")["rows"]
    with engine.begin() as conn:
        conn.execute(AttemptRollup.__table__.delete())  # as if lost
        refresh_facts(conn, full=True)
    assert report(engine, "campaign")["rows"] == before
