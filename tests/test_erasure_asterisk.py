"""Erasure reaches the recordings Asterisk stores: deleted over ARI when Asterisk answers; when it
does not, the erasure says so in one line and a later purge finishes the job."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.accounts.importer import import_file
from dialer.creditors.store import add_creditors, read_file
from dialer.store.models import AttemptState, CallAttempt
from dialer.store.models.transcripts import CallRecording, RecordingDeletion
from dialer.store.testing import temporary_database
from duncall.cli import main
from duncall.sandbox import runtime
from foundation.settings import AriSettings, ari_settings
from telephony.ari.errors import AriNotFound
from telephony.ari.rest import AriRest

pytestmark = pytest.mark.asterisk

ROOT = Path(__file__).resolve().parent.parent
AT = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def stored() -> Iterator[tuple[Path, list[str]]]:
    """Two recordings as Asterisk stores them (its spool), named like a call's."""
    if not runtime.ari_ready():
        pytest.skip("the Asterisk sandbox is not running (duncall asterisk up)")
    spool = runtime.sandbox().root / "var/spool/asterisk/recording"
    names = [f"call-duncall-test-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    for name in names:
        with wave.open(str(spool / f"{name}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\x10\x00" * 8000)
    yield spool, names
    for name in names:
        (spool / f"{name}.wav").unlink(missing_ok=True)


async def _exists(name: str, settings: AriSettings) -> bool:
    rest = AriRest(settings)
    try:
        await rest.get_stored_recording(name)
        return True
    except AriNotFound:
        return False
    finally:
        await rest.aclose()


def test_erase_deletes_the_recordings_asterisk_stores_or_says_what_is_left(
    stored: tuple[Path, list[str]],
    tmp_path: Path,
    redis_url: str,
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spool, (first, second) = stored
    sandbox = ari_settings()
    assert asyncio.run(_exists(first, sandbox)) and asyncio.run(_exists(second, sandbox))
    with temporary_database("sqlite", tmp_path) as engine:
        add_creditors(engine, read_file(ROOT / "examples" / "creditors.yaml"))
        assert import_file(engine, ROOT / "examples" / "accounts.csv").rejected == 0
        with Session(engine) as db, db.begin():
            for attempt_id, account_id, name in (("att-1", "A-1001", first), ("att-2", "A-1002", second)):
                db.add(
                    CallAttempt(
                        attempt_id=attempt_id,
                        account_id=account_id,
                        number="+10000000000",
                        state=AttemptState.ENDED.value,
                        reserved_at=AT,
                        ended_at=AT,
                        outcome="answered",
                    )
                )
                db.flush()
                db.add(
                    CallRecording(
                        attempt_id=attempt_id,
                        language="en",
                        hangup_by="bot",
                        disposition="x",
                        audio_path=name,
                        recorded_at=AT,
                    )
                )
        db_url = str(engine.url)
        args = ["--db", db_url, "--redis-prefix", key_prefix]
        # Asterisk answers: the account's stored recording is gone from Asterisk and its disk.
        assert main(["erase", "A-1001", *args]) == 0
        assert "Asterisk stored recordings deleted: 1" in capsys.readouterr().out
        assert not asyncio.run(_exists(first, sandbox)) and not (spool / f"{first}.wav").exists()
        assert asyncio.run(_exists(second, sandbox))  # the other debtor's stays
        # Asterisk away: the erasure of the rows goes on, one line says what is left, and it is queued.
        monkeypatch.setenv("DUNCALL_ARI_URL", "http://127.0.0.1:9")
        monkeypatch.setenv("DUNCALL_ARI_USER", "duncall")
        monkeypatch.setenv("DUNCALL_ARI_PASSWORD", "x")
        assert main(["erase", "A-1002", *args]) == 0
        out = capsys.readouterr().out
        left = [line for line in out.splitlines() if "still to delete" in line]
        assert len(left) == 1 and "1 still to delete (Asterisk not reachable" in left[0], out
        assert asyncio.run(_exists(second, sandbox))
        with Session(engine) as db:
            assert db.scalars(select(RecordingDeletion.name)).all() == [second]
        # Asterisk back: the next purge (nothing else expired) finishes the erasure.
        monkeypatch.delenv("DUNCALL_ARI_URL")
        monkeypatch.delenv("DUNCALL_ARI_USER")
        monkeypatch.delenv("DUNCALL_ARI_PASSWORD")
        assert main(["purge", "--db", db_url]) == 0
        assert "Asterisk stored recordings deleted: 1" in capsys.readouterr().out
        assert not asyncio.run(_exists(second, sandbox)) and not (spool / f"{second}.wav").exists()
        with Session(engine) as db:
            assert db.scalars(select(RecordingDeletion.name)).all() == []
