"""Row validation of account files: every bad row is rejected with its line and a reason."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from dialer.accounts.sources import Row, open_rows
from foundation.errors import ConfigError

pytestmark = pytest.mark.unit

HEADER = (
    "account_id,first_name,last_name,phones,timezone,language,balance,currency,"
    "due_date,days_past_due,product,risk_segment,flags,payment_history"
)
GOOD = "A1,Ann,Lee,+12125550123:mobile:yes:2024-01-15,America/New_York,en,100.00,USD,2026-10-01,,card,low,,"


def rows_of(tmp_path: Path, *lines: str, name: str = "a.csv", region: str | None = None) -> list[Row]:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return list(open_rows(path, default_region=region))


def only_reject(rows: list[Row]) -> Row:
    assert len(rows) == 1 and rows[0].record is None, rows
    return rows[0]


def test_good_row_is_fully_parsed(tmp_path: Path) -> None:
    line = (
        "A1,Ann,Lee,+1 (212) 555-0123:mobile:yes:2024-01-15:debtor;+12125550188:home:no::emergency_contact,"
        "America/New_York,EN,1250.5,usd,2026-10-01,,card,low,Dispute;attorney,2026-09-01=150.00;2026-08-01=200"
    )
    (row,) = rows_of(tmp_path, HEADER, line)
    r = row.record
    assert r is not None and row.line == 2
    assert r.account_id == "A1" and (r.first_name, r.last_name) == ("Ann", "Lee")
    assert [p.number for p in r.phones] == ["+12125550123", "+12125550188"]
    assert r.phones[0].ai_voice_consent and r.phones[0].consent_date == dt.date(2024, 1, 15)
    assert not r.phones[1].ai_voice_consent and r.phones[1].contact_type == "emergency_contact"
    assert r.language == "en" and r.currency == "USD" and r.balance == Decimal("1250.50")
    assert r.flags == {"dispute", "attorney"}
    assert [p.date for p in r.payment_history] == [dt.date(2026, 8, 1), dt.date(2026, 9, 1)]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (GOOD.replace("+12125550123", "+1212555"), "not a valid number"),
        (GOOD.replace("+12125550123", "hello"), "not a phone number"),
        (GOOD.replace("A1,", ",", 1), "account_id is missing"),
        (GOOD.replace("2026-10-01", "2026-13-01"), "due_date '2026-13-01' is not a date"),
        (GOOD.replace("2026-10-01", "01/10/2026"), "not a date in YYYY-MM-DD"),
        (GOOD.replace("100.00", "-5.00"), "balance '-5.00' is negative"),
        (GOOD.replace("100.00", "$100"), "balance '$100' is not a number"),
        (GOOD.replace("low,,", "low,vip,"), "unknown flag vip"),
        (GOOD.rsplit(",", 3)[0], "has 11 columns, the header has 14"),
        (GOOD + ",extra", "has 15 columns"),
        (GOOD.replace("America/New_York", "Mars/Olympus"), "not an IANA time zone"),
        (GOOD.replace(",en,", ",fr,"), "language 'fr' must be en or zh"),
        (GOOD.replace("USD", "dollars"), "3-letter ISO 4217"),
        (GOOD.replace(":yes:2024-01-15", ":yes"), "consent is yes but has no consent date"),
        (GOOD.replace(":mobile:", ":pager:"), "type 'pager'"),
        (GOOD.replace("+12125550123:mobile:yes:2024-01-15", ""), "phones is empty"),
        (GOOD.replace("+12125550123:mobile:yes:2024-01-15", "+12125550123;+12125550123"), "listed twice"),
        (GOOD.replace("2026-10-01,,", ",,"), "give due_date or days_past_due"),
        (GOOD.replace("2026-10-01,,", ",-3,"), "days_past_due -3 is negative"),
        (GOOD.replace("Ann,Lee", ","), "name is missing"),
        (GOOD.replace("low,,", "low,,2026-01-01"), "must be YYYY-MM-DD=amount"),
    ],
)
def test_bad_csv_row_is_rejected_with_reason(tmp_path: Path, line: str, reason: str) -> None:
    row = only_reject(rows_of(tmp_path, HEADER, line))
    assert row.line == 2
    assert row.reason is not None and reason in row.reason


def test_bad_rows_do_not_stop_good_ones_and_lines_are_physical(tmp_path: Path) -> None:
    quoted = GOOD.replace("A1,Ann,Lee", 'A3,"Ann\nMarie",Lee')  # a quoted newline spans two lines
    rows = rows_of(
        tmp_path,
        HEADER,
        GOOD,
        GOOD.replace("A1", "A2").replace("100.00", "x"),
        "",
        quoted,
        GOOD.replace("A1", "A4"),
    )
    assert [(r.line, r.account_id, r.record is not None) for r in rows] == [
        (2, "A1", True),
        (3, "A2", False),
        (5, "A3", True),
        (7, "A4", True),
    ]


def test_numbers_without_plus_need_a_region(tmp_path: Path) -> None:
    line = GOOD.replace("+12125550123", "(212) 555-0123")
    assert "start it with + and the country code" in (
        only_reject(rows_of(tmp_path, HEADER, line)).reason or ""
    )
    (row,) = rows_of(tmp_path, HEADER, line, region="US")
    assert row.record is not None and row.record.phones[0].number == "+12125550123"


def test_non_utf8_bytes_reject_only_that_row(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(
        (HEADER + "\n" + GOOD.replace("A1", "A2") + "\n").encode()
        + GOOD.replace("Ann", "An\xe9").encode("latin-1")
        + b"\n"
    )
    rows = list(open_rows(path))
    assert rows[0].record is not None
    assert rows[1].record is None and "not UTF-8" in (rows[1].reason or "")


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (HEADER + ",nickname", "unknown columns nickname"),
        (HEADER.replace("balance,", ""), "missing columns balance"),
        (HEADER + ",flags", "repeated columns flags"),
    ],
)
def test_bad_header_fails_the_whole_file(tmp_path: Path, header: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        rows_of(tmp_path, header, GOOD)


def test_unknown_file_type_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown account file type"):
        rows_of(tmp_path, HEADER, name="a.xlsx")


GOOD_JSON = {
    "account_id": "J1",
    "first_name": "芳",
    "last_name": "李",
    "phones": [
        {"number": "+8613700137000", "type": "mobile", "ai_voice_consent": True, "consent_date": "2025-01-03"}
    ],
    "timezone": "Asia/Shanghai",
    "language": "zh",
    "balance": "3200.00",
    "currency": "CNY",
    "days_past_due": 75,
}


def test_jsonl_good_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps(GOOD_JSON, ensure_ascii=False),
        "{not json",
        json.dumps({**GOOD_JSON, "account_id": "J2", "balance": 12.5}),
        json.dumps({**GOOD_JSON, "account_id": "J3", "nickname": "x"}),
        json.dumps({**GOOD_JSON, "account_id": "J4", "flags": ["bankruptcy"]}),
        "[1, 2]",
    ]
    rows = rows_of(tmp_path, *lines, name="a.jsonl")
    assert rows[0].record is not None and rows[0].record.phones[0].number == "+8613700137000"
    assert rows[0].record.first_name == "芳" and rows[0].record.days_past_due == 75
    assert "not valid JSON" in (rows[1].reason or "")
    assert "JSON float loses cents" in (rows[2].reason or "") and rows[2].account_id == "J2"
    assert "unknown fields nickname" in (rows[3].reason or "")
    assert rows[4].record is not None and rows[4].record.flags == {"bankruptcy"}
    assert "must be a JSON object" in (rows[5].reason or "")
    assert [r.line for r in rows] == [1, 2, 3, 4, 5, 6]


def test_example_files_import_cleanly() -> None:
    root = Path(__file__).resolve().parent.parent / "examples"
    for name in ("accounts.csv", "accounts.jsonl"):
        rows = list(open_rows(root / name))
        assert rows and all(r.record is not None for r in rows), [r.reason for r in rows if r.record is None]


def _mixed_file(tmp_path: Path, count: int) -> Path:
    """Good rows with a bad one every 7th line and an unbalanced quote (multi-line CSV) near the end."""
    lines = [HEADER]
    for i in range(count):
        row = GOOD.replace("A1,", f"A{i},", 1).replace("5550123", f"555{i % 10000:04d}")
        if i % 7 == 3:
            row = row.replace("100.00", "-1.00")
        if i % 11 == 5:
            row = row + ",extra"
        lines.append(row)
    lines.append('"Z1,"broken')  # a quoted field that never closes runs to the end of the file
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_worker_processes_give_the_same_rows_in_the_same_order(tmp_path: Path) -> None:
    # Large files validate rows in worker processes: the result must not depend on it.
    path = _mixed_file(tmp_path, 2_500)  # spans several chunks
    serial = list(open_rows(path))
    parallel = list(open_rows(path, workers=2))
    assert parallel == serial
    assert sum(r.record is None for r in serial) > 500  # the bad rows are there to be compared
    assert [r.line for r in serial] == sorted(r.line for r in serial)


def test_worker_processes_with_jsonl(tmp_path: Path) -> None:
    lines = [json.dumps({**GOOD_JSON, "account_id": f"J{i}"}) if i % 5 else "{bad" for i in range(1_200)]
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert list(open_rows(path, workers=2)) == list(open_rows(path))
