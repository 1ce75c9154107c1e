"""`duncall purge`: with the clock moved past a retention period, exactly what expired goes."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from dialer.accounts.importer import import_file
from dialer.creditors.store import add_creditors, read_file
from dialer.guards.ledger import DecisionEntry, Ledger
from dialer.privacy.schedule import next_daily
from dialer.store.models import AttemptState, CallAttempt
from dialer.store.models.console import AuditEntry
from dialer.store.models.guards import GuardDecisionRow
from dialer.store.models.messages import MessageEventRow, MessageRow
from dialer.store.models.transcripts import CallRecording, TranscriptTurn
from dialer.store.testing import temporary_database
from duncall.cli import main
from duncall.cli.privacy import run_daily
from duncall.console import audit

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
OLD = dt.datetime(2022, 1, 10, 15, 0, tzinfo=dt.UTC)  # three years (1,096 days) later: 2025-01-10
RECENT = dt.datetime(2025, 6, 1, 15, 0, tzinfo=dt.UTC)


def _call(db: Session, attempt_id: str, account_id: str, at: dt.datetime, audio: Path) -> None:
    db.add(
        CallAttempt(
            attempt_id=attempt_id,
            account_id=account_id,
            number="+10000000000",
            state=AttemptState.ENDED.value,
            reserved_at=at,
            ended_at=at,
            outcome="answered",
        )
    )
    db.flush()
    audio.write_bytes(b"RIFF")
    db.add(
        CallRecording(
            attempt_id=attempt_id,
            language="en",
            hangup_by="bot",
            disposition="x",
            audio_path=str(audio),
            recorded_at=at,
        )
    )
    db.add(TranscriptTurn(attempt_id=attempt_id, seq=0, speaker="bot", text="hello", started_s=0.0))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    audio = tmp_path / "audio"
    audio.mkdir()
    with temporary_database("sqlite", tmp_path) as engine:
        add_creditors(engine, read_file(ROOT / "examples" / "creditors.yaml"))
        assert import_file(engine, ROOT / "examples" / "accounts.csv").rejected == 0
        with Session(engine) as db, db.begin():
            _call(db, "a1-old", "A-1001", OLD, audio / "a1-old.wav")  # A-1001's last activity: OLD
            _call(db, "a2-old", "A-1002", OLD, audio / "a2-old.wav")  # A-1002 was called again since
            _call(db, "a2-new", "A-1002", RECENT, audio / "a2-new.wav")
        Ledger.on(engine).append_decisions(
            [
                DecisionEntry(i, acct, None, "+10000000000", at, True, (), "default", None)
                for i, acct, at in (
                    ("a1-old", "A-1001", OLD),
                    ("a2-old", "A-1002", OLD),
                    ("a2-new", "A-1002", RECENT),
                )
            ]
            + [
                DecisionEntry(
                    "denied-old", "A-1003", None, "+10000000001", OLD, False, ("min_gap",), "default", None
                )
            ]
        )
        yield engine, audio


def _left(engine: Engine) -> dict[str, list[str]]:
    with Session(engine) as db:
        return {
            "attempts": sorted(db.scalars(select(CallAttempt.attempt_id))),
            "recordings": sorted(db.scalars(select(CallRecording.attempt_id))),
            "transcripts": sorted(db.scalars(select(TranscriptTurn.attempt_id))),
            "ledger": sorted(db.scalars(select(GuardDecisionRow.attempt_id))),
        }


ALL = {
    "attempts": ["a1-old", "a2-new", "a2-old"],
    "recordings": ["a1-old", "a2-new", "a2-old"],
    "transcripts": ["a1-old", "a2-new", "a2-old"],
    "ledger": ["a1-old", "a2-new", "a2-old", "denied-old"],
}


def test_purge_removes_exactly_what_expired(
    store: tuple[Engine, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, audio = store
    db = str(engine.url)
    # A day before the three years are up: nothing has expired.
    assert main(["purge", "--db", db, "--at", "2025-01-09T00:00:00+00:00"]) == 0
    assert (
        "deleted 0 recordings' audio, 0 transcript turns, 0 call attempts, 0 ledger decisions"
        in capsys.readouterr().out
    )
    assert _left(engine) == ALL
    # Past them, a dry run says what would go and deletes nothing.
    assert main(["purge", "--db", db, "--at", "2025-01-12T00:00:00+00:00", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (
        "would delete 1 recordings' audio, 1 transcript turns, 1 call attempts, 2 ledger decisions, 1 audio files"
        in out
    )
    assert _left(engine) == ALL
    # The purge: A-1001's call (last active three years ago) and the old denial go; A-1002's old
    # call stays, since the account was active since.
    assert main(["purge", "--db", db, "--at", "2025-01-12T00:00:00+00:00"]) == 0
    assert (
        "deleted 1 recordings' audio, 1 transcript turns, 1 call attempts, 2 ledger decisions, 1 audio files"
        in capsys.readouterr().out
    )
    left = {k: [i for i in v if i not in ("a1-old", "denied-old")] for k, v in ALL.items()}
    assert _left(engine) == left
    assert sorted(f.name for f in audio.iterdir()) == ["a2-new.wav", "a2-old.wav"]


def test_each_kind_has_its_own_period(
    store: tuple[Engine, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine, audio = store
    monkeypatch.setenv("DUNCALL_RETENTION_RECORDINGS_DAYS", "365")
    assert main(["purge", "--db", str(engine.url), "--at", "2026-07-01T00:00:00+00:00"]) == 0
    capsys.readouterr()
    left = _left(engine)
    assert left["recordings"] == ["a2-new", "a2-old"]  # the rows stay with their transcripts…
    with Session(engine) as s:  # …without their audio: every account was last active over a year ago
        assert (
            s.scalars(select(CallRecording.audio_path).where(CallRecording.audio_path.is_not(None))).all()
            == []
        )
    assert left["transcripts"] == ["a2-new", "a2-old"]  # three years for transcripts
    assert sorted(f.name for f in audio.iterdir()) == []
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(CallAttempt)) == 2  # A-1001's went (3 years)


def test_a_ledger_shorter_than_the_caps_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DUNCALL_RETENTION_LEDGER_DAYS", "3")
    assert main(["purge", "--dry-run", "--db", "sqlite:///:memory:"]) == 2
    assert "DUNCALL_RETENTION_LEDGER_DAYS" in capsys.readouterr().err


def _message(db: Session, message_id: str, account_id: str, at: dt.datetime) -> None:
    db.add(
        MessageRow(
            message_id=message_id,
            account_id=account_id,
            channel="sms",
            address="+10000000000",
            stage="reminder",
            created_at=at,
            status="delivered",
            status_at=at,
        )
    )
    db.add(MessageEventRow(message_id=message_id, account_id=account_id, channel="sms", at=at, kind="sent"))


def test_messages_and_audit_rows_expire_and_the_chain_still_verifies(
    store: tuple[Engine, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine, _ = store
    db_url = str(engine.url)
    with Session(engine) as db, db.begin():
        _message(db, "m1-old", "A-1001", OLD)  # A-1001 last active three years ago: goes
        _message(db, "m2-old", "A-1002", OLD)  # A-1002 was called since: stays
        _message(db, "m4-old", "A-1004", OLD)  # A-1004 only ever had this message: goes
    for i, at in enumerate((OLD, OLD, OLD, RECENT, RECENT)):
        with Session(engine) as db, db.begin():
            audit.record(db, at + dt.timedelta(seconds=i), "sam", "call_open", f"att-{i}")
    assert main(["purge", "--db", db_url, "--at", "2025-01-12T00:00:00+00:00", "--dry-run"]) == 0
    assert "2 messages, 2 message events, 3 audit rows" in capsys.readouterr().out
    assert main(["purge", "--db", db_url, "--at", "2025-01-12T00:00:00+00:00"]) == 0
    assert "2 messages, 2 message events, 3 audit rows" in capsys.readouterr().out
    with Session(engine) as db:
        assert db.scalars(select(MessageRow.message_id)).all() == ["m2-old"]
        assert db.scalars(select(MessageEventRow.message_id)).all() == ["m2-old"]
        actions = db.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
        assert actions == ["call_open", "call_open", "retention_purge"]  # the purge says what it did
    # The chain verifies from the purge's checkpoint; nothing more has expired.
    assert main(["audit", "verify", "--db", db_url]) == 0
    assert capsys.readouterr().out.strip() == "ok 3 rows, rows before 4 pruned by retention"
    assert main(["purge", "--db", db_url, "--at", "2025-01-12T00:00:00+00:00"]) == 0
    assert "0 messages, 0 message events, 0 audit rows" in capsys.readouterr().out
    # A first kept row relinked behind the application's back no longer meets the checkpoint.
    raw = sqlite3.connect(tmp_path / "duncall-test.db")
    raw.execute("DROP TRIGGER console_audit_no_update")
    raw.execute("UPDATE console_audit SET prev_hash = '" + "f" * 64 + "' WHERE seq = 4")
    raw.commit()
    raw.close()
    assert main(["audit", "verify", "--db", db_url]) == 1
    assert "does not link to the checkpoint of the purge through seq 3" in capsys.readouterr().err


def test_the_daily_purge_runs_at_its_hour_each_day_and_says_what_it_did() -> None:
    """The clock is moved by the waits: two days pass, each purged once at 03:30 local time."""
    zone = ZoneInfo("America/New_York")
    now = [dt.datetime(2026, 3, 7, 12, 0, tzinfo=zone)]  # the night after next changes to summer time
    purged: list[dt.datetime] = []
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        now[0] = (now[0].astimezone(dt.UTC) + dt.timedelta(seconds=seconds)).astimezone(zone)
        return len(waits) > 2  # stop (SIGTERM) during the third wait

    def purge_at(at: dt.datetime) -> list[str]:
        purged.append(at)
        return [f"purge as of {at.isoformat()}: deleted 1 call attempts"]

    out = io.StringIO()
    assert run_daily(purge_at, "03:30", clock=lambda: now[0], wait=wait, out=out) == 0
    assert [p.isoformat() for p in purged] == ["2026-03-08T03:30:00-04:00", "2026-03-09T03:30:00-04:00"]
    lines = out.getvalue().splitlines()
    assert lines[0] == "next purge at 2026-03-08T03:30-04:00"
    assert lines[1] == "purge as of 2026-03-08T03:30:00-04:00: deleted 1 call attempts"
    assert lines[2] == "next purge at 2026-03-09T03:30-04:00"
    assert waits[0] == 14.5 * 3600  # 12:00 EST to 03:30 EDT: the clocks went forward an hour
    assert next_daily(dt.datetime(2026, 3, 8, 3, 30, tzinfo=zone), dt.time(3, 30)).day == 9


def test_daily_refuses_a_moved_clock(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["purge", "--daily", "--at", "2025-01-12T00:00:00+00:00"]) == 2
    assert "--daily runs at the real time" in capsys.readouterr().err
