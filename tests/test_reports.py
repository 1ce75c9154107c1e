"""Per-creditor reports: the PDF (read back by text extraction) and the CSV carry the numbers of
``duncall kpi --json`` for the same creditor and period (the hand-built week of test_kpi_cuts)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader
from test_kpi_cuts import seed_more

from dialer.analytics.creditor_report import HEADLINE, fmt, period_days
from dialer.store.testing import temporary_database
from duncall.cli import main

pytestmark = pytest.mark.unit


def lines_of(pdf: Path) -> list[str]:
    return [line.strip() for page in PdfReader(pdf).pages for line in page.extract_text().splitlines()]


@pytest.fixture
def db(tmp_path: Path) -> str:
    with temporary_database("sqlite", tmp_path) as eng:
        seed_more(eng)
        return str(eng.url)


def kpi_json(capsys: pytest.CaptureFixture[str], db: str, creditor: str, first: str, last: str) -> dict:  # type: ignore[type-arg]
    assert main(["kpi", "--from", first, "--to", last, "--creditor", creditor, "--json", "--db", db]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("period", "day", "first", "last", "stem"),
    [
        ("weekly", "2026-01-07", "2026-01-05", "2026-01-11", "CR-A-weekly-2026-01-05_2026-01-11"),
        ("daily", "2026-01-05", "2026-01-05", "2026-01-05", "CR-A-daily-2026-01-05"),
    ],
)
def test_the_pdf_and_csv_hold_the_kpi_numbers(
    tmp_path: Path,
    db: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    period: str,
    day: str,
    first: str,
    last: str,
    stem: str,
) -> None:
    monkeypatch.setenv("DUNCALL_COST_PER_MINUTE", "0.60")
    monkeypatch.setenv("DUNCALL_COST_PER_MESSAGE", "0.05")
    out = tmp_path / "reports"
    assert (
        main(
            ["report", "--period", period, "--date", day, "--creditor", "CR-A", "--out", str(out), "--db", db]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("CR-A: ")
    total = kpi_json(capsys, db, "CR-A", first, last)["total"]
    assert total["dialled"] > 0
    lines = lines_of(out / "CR-A" / f"{stem}.pdf")
    assert lines[0] == "Collection report: CR-A"
    for name, label in HEADLINE:
        row = next(line for line in lines if line.startswith(label + " "))
        assert row == f"{label} {fmt(name, total[name])}", name
    assert any(line.startswith("Cure rate: ") for line in lines)
    rows = list(csv.DictReader(io.StringIO((out / "CR-A" / f"{stem}.csv").read_text())))
    assert rows[-1]["day"] == "total"
    for name in ("dialled", "answered", "right_party", "promises", "collected", "placed", "cost", "messages"):
        assert rows[-1][name] == str(total[name]), name
    assert rows[-1]["contact_rate"] == f"{total['contact_rate']:.6g}"


def test_the_weekly_numbers_are_the_known_ones(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # CR-A's week: A-LA's and A-UTC's five calls, three answered, two promises, one kept; 300 from A-LA,
    # 400 through R-PAID's link and 200 from R-WEST (the 11th in Los Angeles).
    out = tmp_path / "r"
    assert main(["report", "--period", "weekly", "--date", "2026-01-11", "--out", str(out), "--db", db]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [p.split(":")[0] for p in printed] == ["CR-A", "CR-B"]
    lines = lines_of(out / "CR-A" / "CR-A-weekly-2026-01-05_2026-01-11.pdf")
    for expected in (
        "Calls dialled 5",
        "Answered (contacts) 3",
        "Promises kept 1",
        "Amount collected 900.00",
        "Contact rate 60.0%",
    ):
        assert expected in lines
    assert "Weekly report for 2026-01-05 to 2026-01-11 (CR-A); debtors' local days" in lines


def test_period_days() -> None:
    import datetime as dt

    assert period_days("weekly", dt.date(2026, 1, 11)) == (dt.date(2026, 1, 5), dt.date(2026, 1, 11))
    assert period_days("daily", dt.date(2026, 1, 11)) == (dt.date(2026, 1, 11),) * 2


def test_an_unknown_creditor_is_one_line(tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["report", "--creditor", "NOPE", "--date", "2026-01-05", "--out", str(tmp_path), "--db", db])
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no creditor 'NOPE'" in err


def test_a_chinese_creditor_name_is_printed_not_replaced(tmp_path: Path, db: str) -> None:
    from sqlalchemy import create_engine, update

    from dialer.store.models import Creditor

    engine = create_engine(db)
    with engine.begin() as conn:
        conn.execute(update(Creditor).where(Creditor.creditor_id == "CR-A").values(name="平安消费金融"))
    engine.dispose()
    out = tmp_path / "reports"
    args = ["report", "--period", "daily", "--date", "2026-01-05", "--creditor", "CR-A", "--out", str(out)]
    assert main([*args, "--db", db]) == 0
    lines = lines_of(out / "CR-A" / "CR-A-daily-2026-01-05.pdf")
    assert lines[0] == "Collection report: 平安消费金融"
    assert any(line.startswith("Cure rate: ") for line in lines)
