"""Shared pieces of the console tests (no tests here): an app on a throw-away SQLite store
and a copy of the shipped scripts, a clock the tests move, users of every role, and a few
finished calls with transcripts and guard decisions."""

from __future__ import annotations

import datetime as dt
import math
import shutil
import struct
import uuid
import wave
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

from fakes.classifier import KeywordClassifier
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dialer.guards.ledger import DecisionEntry, Ledger
from dialer.store.db import open_engine
from dialer.store.models.accounts import Account, Phone
from dialer.store.models.attempts import AttemptState, CallAttempt
from dialer.store.models.campaigns import Campaign
from dialer.store.models.console import ConsoleUser
from dialer.store.models.transcripts import CallRecording, TranscriptTurn
from duncall.console.app import create_app
from duncall.console.auth import hash_password
from duncall.console.recordings import DirectoryRecordings, RecordingSource
from duncall.console.roles import Role
from duncall.console.settings import ConsoleSettings, load_forbidden_phrases
from foundation import paths

PASSWORD = "correct horse battery"
WEBHOOK_SECRET = "test-payments-webhook-secret"
MESSAGES_TOKEN = "test-messages-callback-token"
T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


@dataclass
class Clock:
    now: dt.datetime = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class WallClock(Clock):
    """The real time, for tests where the dialer's calls (stamped with real time) meet the console."""

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


@dataclass
class ConsoleEnv:
    app: FastAPI
    engine: Engine
    scripts_dir: Path
    clock: Clock
    recordings_dir: Path
    clients: list[TestClient] = field(default_factory=list)
    live_prefix: str = ""  # this env's own Redis prefix for live events and campaign control

    def client(self) -> TestClient:
        # As the console's own pages do: a cookie session's state changes carry this header.
        client = TestClient(self.app, headers={"X-Duncall-Request": "1"})
        self.clients.append(client)
        return client

    def login(self, role: Role | str) -> TestClient:
        name = role.value if isinstance(role, Role) else role
        client = self.client()
        response = client.post("/api/auth/login", json={"name": name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.engine.dispose()


def make_env(
    tmp_path: Path,
    *,
    session_ttl_s: int = 3600,
    max_body_bytes: int = 512 * 1024,
    recordings: RecordingSource | None = None,
    live_prefix: str | None = None,
    clock: Clock | None = None,
    qa_transcript_only: bool = True,
) -> ConsoleEnv:
    """``recordings``: where call recordings come from; by default an archive directory of WAVs."""
    recordings_dir = tmp_path / "recordings"
    recordings_dir.mkdir()
    scripts_dir = tmp_path / "scripts"
    scripts_dir.mkdir()
    for path in paths.scripts_dir().glob("*.yaml"):
        shutil.copy(path, scripts_dir / path.name)
    engine = open_engine(f"sqlite:///{tmp_path / 'console.db'}")
    clock = clock or Clock()
    # Never the deployment's live stream: other runs' calls would show on the test's board.
    live_prefix = live_prefix or f"duncall-test:{uuid.uuid4().hex[:12]}:live:"
    settings = ConsoleSettings(
        scripts_dir=scripts_dir,
        session_ttl_s=session_ttl_s,
        token_ttl_s=2 * 3600,
        max_body_bytes=max_body_bytes,
        forbidden_phrases=load_forbidden_phrases(),
        live_interval_s=0.05,
        clock=clock,
        classifier_factory=KeywordClassifier,
        live_prefix=live_prefix,
        recordings=recordings or DirectoryRecordings(recordings_dir),
        # The payment webhook's credential is this secret's signature, not a log-in (test_payments.py).
        payments_webhook_secret=WEBHOOK_SECRET,
        # Kannel's callbacks carry this token in their query; without it they are refused (401).
        messages_callback_token=MESSAGES_TOKEN,
        qa_transcript_only=qa_transcript_only,
    )
    with Session(engine) as db, db.begin():
        for role in Role:
            db.add(
                ConsoleUser(name=role.value, role=role.value, password_hash=_password_hash(), created_at=T0)
            )
    return ConsoleEnv(
        create_app(settings, engine), engine, scripts_dir, clock, recordings_dir, live_prefix=live_prefix
    )


def write_wav(path: Path, seconds: float, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV of a quiet 440 Hz tone, as a bridge recording is laid out; returns its bytes."""
    frames = b"".join(
        struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path.read_bytes()


@cache
def _password_hash() -> str:
    # One argon2 hash (~0.2 s here) shared by every test user, instead of four per test.
    return hash_password(PASSWORD)


# --- finished calls -------------------------------------------------------------------

GOOD = "00000000-0000-4000-8000-000000000001"
BAD = "00000000-0000-4000-8000-000000000002"
NO_DISCLOSURE = "00000000-0000-4000-8000-000000000003"
UNANSWERED = "00000000-0000-4000-8000-000000000004"
LIVE = "00000000-0000-4000-8000-000000000005"
NUMBERS = {"A1": "+12125550123", "A2": "+13105550188"}


def _turns(attempt_id: str, turns: list[tuple[str, str, str | None]]) -> list[TranscriptTurn]:
    out = []
    t = 0.0
    for seq, (speaker, text, intent) in enumerate(turns):
        length = 1.5 + len(text) / 20
        out.append(
            TranscriptTurn(
                attempt_id=attempt_id,
                seq=seq,
                speaker=speaker,
                text=text,
                started_s=round(t, 2),
                ended_s=round(t + length, 2),
                asr_confidence=0.9 if speaker == "debtor" else None,
                intent=intent,
                intent_confidence=0.95 if intent else None,
                slots={},
                latency_ms=420.0 if speaker == "bot" and seq else None,
                interrupted=False,
                dtmf=None,
            )
        )
        t += length + 0.4
    return out


def seed_calls(engine: Engine) -> None:
    day1 = dt.datetime(2026, 3, 1, 14, 0, tzinfo=dt.UTC)
    day2 = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
    with Session(engine) as db, db.begin():
        for cid in ("spring", "autumn"):
            db.add(Campaign(campaign_id=cid, name=cid, strategy="default.yaml", created_at=day1))
        for aid, first, last in (("A1", "Jordan", "Avery"), ("A2", "Casey", "Morgan")):
            account = Account(
                account_id=aid,
                first_name=first,
                last_name=last,
                timezone="America/New_York",
                language="en",
                balance=Decimal("420.50"),
                currency="USD",
                payment_history=[],
            )
            account.phones = [
                Phone(
                    number=NUMBERS[aid],
                    position=0,
                    phone_type="mobile",
                    ai_voice_consent=True,
                    contact_type="debtor",
                )
            ]
            db.add(account)
        db.flush()

        def attempt(
            attempt_id: str,
            account: str,
            campaign: str,
            at: dt.datetime,
            outcome: str,
            disposition: str,
            state: str = AttemptState.ENDED.value,
        ) -> None:
            db.add(
                CallAttempt(
                    attempt_id=attempt_id,
                    account_id=account,
                    campaign_id=campaign,
                    number=NUMBERS[account],
                    state=state,
                    script="early_collection",
                    reserved_at=at,
                    dialed_at=at,
                    ended_at=at + dt.timedelta(minutes=2) if state == AttemptState.ENDED.value else None,
                    outcome=outcome if state == AttemptState.ENDED.value else None,
                    disposition=disposition if state == AttemptState.ENDED.value else None,
                )
            )

        def record(attempt_id: str, disposition: str, at: dt.datetime, version: int, path: list[str]) -> None:
            db.add(
                CallRecording(
                    attempt_id=attempt_id,
                    language="en",
                    script="early_collection.en",
                    script_version=version,
                    script_sha256=f"{version:064x}",
                    path=path,
                    amd_status="HUMAN",
                    hangup_by="bot",
                    disposition=disposition,
                    flags=[],
                    promise=None,
                    barge_ins_ms=[],
                    audio_path=f"call-{attempt_id[-4:]}",
                    recorded_at=at,
                )
            )

        attempt(GOOD, "A1", "spring", day1, "answered", "promise_to_pay")
        attempt(BAD, "A2", "spring", day2, "answered", "refused")
        attempt(NO_DISCLOSURE, "A1", "autumn", day2 + dt.timedelta(hours=1), "answered", "callback")
        attempt(UNANSWERED, "A2", "autumn", day2 + dt.timedelta(hours=2), "no_answer", "no_contact")
        attempt(LIVE, "A1", "spring", T0 - dt.timedelta(seconds=40), "", "", state=AttemptState.DIALING.value)
        db.flush()
        record(GOOD, "promise_to_pay", day1, 2, ["greeting", "disclosure", "balance", "promise", "goodbye"])
        record(BAD, "refused", day2, 1, ["greeting", "balance", "refusal"])
        record(NO_DISCLOSURE, "callback", day2, 2, ["greeting", "balance", "callback"])
        db.flush()
        db.add_all(
            _turns(
                GOOD,
                [
                    (
                        "bot",
                        "Hello, this is Sam. May I speak with Jordan Avery? Press 1 if you are Jordan, or 2 if not.",
                        None,
                    ),
                    ("debtor", "yes speaking", "affirm"),
                    (
                        "bot",
                        "Thank you, Jordan. This is an attempt to collect a debt, and any information obtained will "
                        "be used for that purpose. This call is from a debt collector.",
                        None,
                    ),
                    ("bot", "Your balance of $420.50 was due on January 15.", None),
                    ("debtor", "I can pay on Friday", "promise_to_pay"),
                    ("bot", "Thank you. I have noted your promise to pay on Friday. Goodbye.", None),
                ],
            )
        )
        db.add_all(
            _turns(
                BAD,
                [
                    ("bot", "Hello Casey Morgan, I am calling about your overdue balance of $300.", None),
                    ("debtor", "who is this", "out_of_scope"),
                    ("bot", "If you don't pay today we will sue you and take you to court.", None),
                    ("debtor", "I won't pay", "refuse_to_pay"),
                ],
            )
        )
        db.add_all(
            _turns(
                NO_DISCLOSURE,
                [
                    ("bot", "Hello, may I speak with Jordan Avery?", None),
                    ("debtor", "yes", "affirm"),
                    ("bot", "Your balance is 100 dollars.", None),
                    ("debtor", "call me back tomorrow", "callback_later"),
                ],
            )
        )
    Ledger.on(engine).append_decisions(
        [
            DecisionEntry(GOOD, "A1", "spring", NUMBERS["A1"], day1, True, (), "us", None),
            DecisionEntry(BAD, "A2", "spring", NUMBERS["A2"], day2, True, (), "us", None),
        ]
    )
