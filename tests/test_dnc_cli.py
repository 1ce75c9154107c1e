"""`duncall dnc` as an operator runs it: add, remove, import a list with bad rows, check."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from dialer.policy.suppression import SuppressionKind
from dialer.store.db import open_engine
from dialer.store.models.suppression import Suppression, SuppressionEvent
from dialer.store.testing import temporary_database
from dialer.suppression import importer
from dialer.suppression.importer import RowError, import_file
from dialer.suppression.lists import status
from duncall import cli
from foundation.errors import InputError


def dnc(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs the command line in this process (the console script's own entry point), as fast as a call."""
    argv = ["dnc", *args, "--db", f"sqlite:///{db}"]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(argv)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


@contextmanager
def stored(db: Path) -> Iterator[Engine]:
    """The database the commands wrote, opened the way they open it."""
    engine = open_engine(f"sqlite:///{db}")
    try:
        yield engine
    finally:
        engine.dispose()


def rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        found = conn.execute(text("SELECT * FROM suppressions ORDER BY number, list_name")).all()
    return [tuple(str(v) for v in row) for row in found]


@pytest.mark.unit
def test_add_check_remove(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    added = dnc(db, "add", "+1 (212) 555-0123", "--reason", "asked us to stop", "--by", "ops1")
    assert added.returncode == 0, added.stderr
    assert "+12125550123: added on list internal" in added.stdout

    check = dnc(db, "check", "+12125550123", "--json")
    out = json.loads(check.stdout)
    assert out["suppressed"] is True
    assert [(e["list"], e["kind"], e["reason"], e["added_by"]) for e in out["entries"]] == [
        ("internal", "dnc", "asked us to stop", "ops1")
    ]
    assert "suppressed" in dnc(db, "check", "+12125550123").stdout.splitlines()[0]

    no_reason = dnc(db, "remove", "+12125550123", "--reason", " ")
    assert no_reason.returncode != 0 and "needs a reason" in no_reason.stderr
    assert len(no_reason.stderr.strip().splitlines()) == 1
    removed = dnc(db, "remove", "+12125550123", "--reason", "consent re-verified by phone", "--by", "ops2")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(dnc(db, "check", "+12125550123", "--json").stdout)["suppressed"] is False
    again = dnc(db, "remove", "+12125550123", "--reason", "x")
    assert again.returncode != 0 and "is not suppressed" in again.stderr

    # Re-adding keeps the earlier clear on record.
    dnc(db, "add", "+12125550123", "--reason", "asked again")
    with stored(db) as engine, Session(engine) as s:
        events = [
            (e.action, e.by, e.reason)
            for e in s.scalars(select(SuppressionEvent).order_by(SuppressionEvent.id))
        ]
    assert events[:2] == [
        ("add", "ops1", "asked us to stop"),
        ("clear", "ops2", "consent re-verified by phone"),
    ]
    assert events[2][0::2] == ("add", "asked again")


@pytest.mark.unit
def test_check_human_output_says_why(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    dnc(
        db,
        "add",
        "+12125550123",
        "--reason",
        "wrong number answered",
        "--kind",
        "reassigned",
        "--list",
        "reports",
        "--date",
        "2026-11-30",
    )
    out = dnc(db, "check", "+12125550123").stdout
    assert out.splitlines()[0] == "+12125550123: suppressed"
    assert "list reports (reassigned reported 2026-11-30)" in out and "wrong number answered" in out
    assert dnc(db, "check", "+12125550199").stdout.strip() == "+12125550199: not suppressed"


@pytest.mark.unit
@pytest.mark.parametrize("number", ["12345", "+1 212", "call me", "2125550123"])
def test_a_malformed_number_is_a_one_line_error(tmp_path: Path, number: str) -> None:
    for args in (("add", number, "--reason", "x"), ("check", number), ("remove", number, "--reason", "x")):
        result = dnc(tmp_path / "d.db", *args)
        assert result.returncode != 0
        assert result.stderr.startswith("duncall: error:") and number in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.unit
def test_region_lets_national_numbers_in(tmp_path: Path) -> None:
    result = dnc(tmp_path / "d.db", "add", "(212) 555-0123", "--region", "US", "--reason", "x")
    assert result.returncode == 0 and "+12125550123" in result.stdout


@pytest.mark.unit
def test_a_list_holds_one_kind(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    dnc(db, "add", "+12125550123", "--reason", "x", "--kind", "reassigned", "--list", "rnd")
    mixed = dnc(db, "add", "+12125550124", "--reason", "x", "--list", "rnd")
    assert mixed.returncode != 0 and "holds reassigned entries" in mixed.stderr


@pytest.mark.unit
def test_import_reports_bad_rows_stores_good_ones_and_reimport_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    src = tmp_path / "extract.csv"
    src.write_text(
        "number,date\n"
        "+12125550130,2026-01-02\n"
        "not a number,2026-01-01\n"
        "+12125550131,2026-13-01\n"
        "+12125550132,\n"
        "+1 212 555 0133,2026-02-03\n"
        "+12125550130,2026-01-05\n",  # listed twice: the later date counts
        encoding="utf-8",
    )
    first = dnc(
        db, "import", str(src), "--list", "fcc-rnd", "--source", "FCC RND 2026-12", "--kind", "reassigned"
    )
    assert first.returncode == 1  # some rows were rejected
    assert "4 rows" not in first.stdout and "2 added" in first.stdout and "3 rejected" in first.stdout
    assert f"{src}:3: 'not a number' is not a phone number" in first.stderr
    assert f"{src}:4: date '2026-13-01' is not YYYY-MM-DD" in first.stderr
    assert f"{src}:5: no date" in first.stderr
    with stored(db) as engine:
        before = rows(engine)
        assert [(r[0], r[4]) for r in before] == [
            ("+12125550130", "2026-01-05"),
            ("+12125550133", "2026-02-03"),
        ]
        second = dnc(
            db, "import", str(src), "--list", "fcc-rnd", "--source", "FCC RND 2026-12", "--kind", "reassigned"
        )
        assert "0 added, 0 updated, 2 unchanged" in second.stdout
        assert rows(engine) == before


@pytest.mark.unit
def test_import_without_header_and_dates_for_a_dnc_list(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    src = tmp_path / "dnc.csv"
    src.write_text("2125550140\n(212) 555-0141\n\n2125550142,2026-03-01\n", encoding="utf-8")
    result = dnc(db, "import", str(src), "--list", "us-dnc", "--source", "registry", "--region", "US")
    assert result.returncode == 0, result.stderr
    assert "3 rows onto list us-dnc: 3 added" in result.stdout
    for n in ("+12125550140", "+12125550141", "+12125550142"):
        assert json.loads(dnc(db, "check", n, "--json").stdout)["suppressed"] is True


@pytest.mark.unit
def test_a_cleared_number_stays_cleared_on_reimport_unless_reported_later(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    src = tmp_path / "rnd.csv"
    src.write_text("+12125550150,2026-01-02\n", encoding="utf-8")
    args = ("import", str(src), "--list", "rnd", "--source", "FCC", "--kind", "reassigned")
    dnc(db, *args)
    dnc(db, "remove", "+12125550150", "--reason", "debtor re-verified the number")
    dnc(db, *args)
    assert json.loads(dnc(db, "check", "+12125550150", "--json").stdout)["suppressed"] is False
    src.write_text("+12125550150,2026-02-01\n", encoding="utf-8")
    assert "1 updated" in dnc(db, *args).stdout
    assert json.loads(dnc(db, "check", "+12125550150", "--json").stdout)["suppressed"] is True


@pytest.mark.unit
def test_an_unreadable_file_is_one_error_and_stores_nothing(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    src = tmp_path / "bad.csv"
    src.write_bytes(b"+12125550160\n\xff\xfe\x00garbage\n")
    result = dnc(db, "import", str(src), "--list", "x", "--source", "s")
    assert result.returncode != 0 and "not a UTF-8 text file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    with stored(db) as engine:
        assert rows(engine) == []
    missing = dnc(db, "import", str(tmp_path / "nope.csv"), "--list", "x", "--source", "s")
    assert missing.returncode != 0 and "no such file" in missing.stderr


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with temporary_database(request.param, tmp_path, url) as eng:
        yield eng


def test_a_failure_while_writing_leaves_nothing_half_written(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    src = tmp_path / "big.csv"
    src.write_text("".join(f"+1212{5_000_000 + i}\n" for i in range(12_000)), encoding="utf-8")
    calls = 0
    real_insert = importer.insert

    def crashing_insert(table: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second chunk
            raise RuntimeError("disk full")
        return real_insert(table)

    monkeypatch.setattr(importer, "insert", crashing_insert)
    with pytest.raises(RuntimeError):
        import_file(engine, src, list_name="big", source="s", by="t", now=now)
    assert rows(engine) == []
    monkeypatch.setattr(importer, "insert", real_insert)
    rejects: list[RowError] = []
    summary = import_file(engine, src, list_name="big", source="s", by="t", now=now, on_reject=rejects.append)
    assert (summary.added, summary.rejected, rejects) == (12_000, 0, [])
    assert status(engine, "+12125000042").suppressed
    with pytest.raises(InputError, match="holds dnc entries"):
        import_file(
            engine, src, list_name="big", source="s", by="t", now=now, kind=SuppressionKind.REASSIGNED
        )
    with Session(engine) as s:
        assert s.scalar(select(Suppression).where(Suppression.kind != "dnc")) is None
