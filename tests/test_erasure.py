"""`duncall erase ACCOUNT`: afterwards no table, file, Redis key or stream entry holds the debtor's
name or number; the ledger keeps the decisions under a pseudonym; the audit says who erased what."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from dialer.accounts.importer import import_file
from dialer.creditors.store import add_creditors, read_file
from dialer.guards.counters import Keys
from dialer.guards.ledger import DecisionEntry, Ledger
from dialer.privacy.erase import pseudonym
from dialer.store.models import Account, AttemptState, CallAttempt
from dialer.store.models.console import AuditEntry
from dialer.store.models.transcripts import CallRecording, TranscriptTurn
from dialer.store.testing import temporary_database
from duncall.cli import main
from telephony.live.events import stream_key

ROOT = Path(__file__).resolve().parent.parent
AT = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)
# A-1001 in examples/accounts.csv: Maria Lopez, +12125550123 and +12125550188.
SECRETS = ("Maria", "Lopez", "12125550123", "12125550188")


def _attempt(db: Session, attempt_id: str, account_id: str, number: str, audio: Path, name: str) -> None:
    db.add(
        CallAttempt(
            attempt_id=attempt_id,
            account_id=account_id,
            number=number,
            state=AttemptState.ENDED.value,
            reserved_at=AT,
            dialed_at=AT,
            ended_at=AT,
            outcome="answered",
        )
    )
    db.flush()
    audio.write_bytes(b"RIFF" + name.encode() + b" voice")
    db.add(
        CallRecording(
            attempt_id=attempt_id,
            language="en",
            hangup_by="bot",
            disposition="promise_to_pay",
            audio_path=str(audio),
            recorded_at=AT,
        )
    )
    db.add(
        TranscriptTurn(
            attempt_id=attempt_id, seq=0, speaker="bot", text=f"Hello, is this {name}?", started_s=0.0
        )
    )


@pytest.mark.redis
def test_erase_leaves_no_trace_of_the_debtor_and_keeps_what_the_caps_need(
    tmp_path: Path, redis_url: str, key_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client = redis.Redis.from_url(redis_url)
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    with temporary_database("sqlite", tmp_path) as engine:
        add_creditors(engine, read_file(ROOT / "examples" / "creditors.yaml"))
        assert import_file(engine, ROOT / "examples" / "accounts.csv").rejected == 0
        with Session(engine) as db, db.begin():
            _attempt(
                db, "att-erase-1", "A-1001", "+12125550123", recordings / "att-erase-1.wav", "Maria Lopez"
            )
            _attempt(
                db, "att-keep-1", "A-1002", "+13125550144", recordings / "att-keep-1.wav", "James Carter"
            )
        (recordings / "dc-att-erase-1-bridge.wav").write_bytes(b"the bridge recording")
        Ledger.on(engine).append_decisions(
            [
                DecisionEntry("att-erase-1", "A-1001", None, "+12125550123", AT, True, (), "default", None),
                DecisionEntry(
                    "att-erase-0", "A-1001", None, "+12125550188", AT, False, ("min_gap",), "default", None
                ),
                DecisionEntry("att-keep-1", "A-1002", None, "+13125550144", AT, True, (), "default", None),
            ]
        )
        keys = Keys(key_prefix)
        client.zadd(keys.account("A-1001", "att"), {"att-erase-1": 1})
        client.zadd(keys.phone("+12125550123", "att"), {"att-erase-1": 1})
        client.zadd(keys.account("A-1002", "att"), {"att-keep-1": 1})
        events = stream_key(key_prefix)
        client.xadd(
            events, {"e": json.dumps({"attempt_id": "att-erase-1", "text": "Hello, is this Maria Lopez?"})}
        )
        client.xadd(events, {"e": json.dumps({"account_id": "A-1001", "number": "+12125550123"})})
        client.xadd(events, {"e": json.dumps({"attempt_id": "att-keep-1", "text": "Hello, James"})})
        try:
            db_url = str(engine.url)
            code = main(
                [
                    "erase",
                    "A-1001",
                    "--db",
                    db_url,
                    "--recordings",
                    str(recordings),
                    "--redis-prefix",
                    key_prefix,
                ]
            )
            out = capsys.readouterr().out
            assert code == 0, out
            assert "recording files deleted: 2" in out

            # Every table, every cell.
            with engine.connect() as conn:
                for table in inspect(conn).get_table_names():
                    for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                        cells = " ".join(str(v) for v in row)
                        assert not any(s in cells for s in SECRETS), (table, cells)
            # Every file, the database's own included (its free pages too: the erase vacuums it).
            engine.dispose()
            for f in tmp_path.rglob("*"):
                if f.is_file():
                    data = f.read_bytes()
                    assert not any(s.encode() in data for s in SECRETS), f
            assert sorted(f.name for f in recordings.iterdir()) == ["att-keep-1.wav"]
            # Every Redis key and stream entry under the prefix.
            for raw in client.scan_iter(match=f"{key_prefix}*"):
                assert not any(s.encode() in raw for s in (*SECRETS, "A-1001")), raw
                if client.type(raw) == b"stream":
                    for _id, fields in client.xrange(raw):
                        assert not any(s.encode() in b"".join(fields.values()) for s in SECRETS), fields
            assert client.exists(keys.account("A-1002", "att"))
            assert client.xlen(events) == 1

            with Session(engine) as db:
                assert db.get(Account, "A-1001") is None and db.get(Account, "A-1002") is not None
                assert db.get(CallAttempt, "att-keep-1") is not None
                audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "account_erase")).one()
                assert audit.target == "A-1001" and audit.user_name.startswith("cli:")
            # The ledger keeps both decisions, under pseudonyms (the caps' counts and reasons stay).
            kept = Ledger.on(engine).decisions(pseudonym("A-1001"))
            assert [(d.attempt_id, d.allowed, d.reasons) for d in kept] == [
                ("att-erase-1", True, ()),
                ("att-erase-0", False, ("min_gap",)),
            ]
            assert {d.phone for d in kept} == {pseudonym("+12125550123"), pseudonym("+12125550188")}
        finally:
            for raw in client.scan_iter(match=f"{key_prefix}*"):
                client.delete(raw)
            client.close()


@pytest.mark.unit
def test_erasing_an_unknown_account_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["erase", "NOPE", "--db", db, "--redis-prefix", "duncall-test-none:"]) == 2
    assert "no account 'NOPE'" in capsys.readouterr().err


@pytest.mark.redis
def test_an_admin_erases_from_the_console_page_and_no_one_else_can(tmp_path: Path) -> None:
    """The admin page's erase form: typed confirmation, the same erasure and audit as the CLI."""
    from test_console_fixtures import GOOD, NO_DISCLOSURE, make_env, seed_calls

    from duncall.console.roles import Role

    env = make_env(tmp_path)
    try:
        seed_calls(env.engine)
        archived = [env.recordings_dir / f"call-{a[-4:]}.wav" for a in (GOOD, NO_DISCLOSURE)]  # A1's calls
        for path in archived:
            path.write_bytes(b"RIFF Jordan Avery's voice")
        confirm = {"confirm": "A1"}
        for role in (Role.SUPERVISOR, Role.QA, Role.DESIGNER):
            assert env.login(role).post("/api/accounts/A1/erase", json=confirm).status_code == 403
        admin = env.login(Role.ADMIN)
        page = admin.get("/admin")
        assert page.status_code == 200 and 'id="erase-account"' in page.text
        # A cookie session's change needs the pages' request header, as every other state change.
        bare = TestClient(env.app)
        bare.cookies.update(admin.cookies)
        assert bare.post("/api/accounts/A1/erase", json=confirm).status_code == 403
        bare.close()
        # The account id typed wrong (or not at all): nothing is erased.
        assert admin.post("/api/accounts/A1/erase", json={"confirm": "A2"}).status_code == 400
        assert admin.post("/api/accounts/A1/erase").status_code == 422
        with Session(env.engine) as db:
            assert db.get(Account, "A1") is not None
        r = admin.post("/api/accounts/A1/erase", json=confirm)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["rows"]["accounts"] == 1, body
        assert body["lines"][0] == "erased account A1"
        assert not any(p.exists() for p in archived)
        assert admin.post("/api/accounts/A1/erase", json=confirm).status_code == 400  # nothing left
        with Session(env.engine) as db:
            assert db.get(Account, "A1") is None and db.get(Account, "A2") is not None
            row = db.scalars(select(AuditEntry).where(AuditEntry.action == "account_erase")).one()
            assert (row.user_name, row.target) == ("admin", "A1")
            assert row.detail["rows"] == sum(body["rows"].values())
        with env.engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                for cells in conn.execute(text(f'SELECT * FROM "{table}"')):
                    assert "Jordan" not in " ".join(str(v) for v in cells), table
    finally:
        env.close()
