"""Least privilege for QA: every response a QA reviewer can get carries masked identity only,
no account flags beyond the form's, no keypad digits, no promised amounts, no recording."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session
from test_console_fixtures import BAD, GOOD, NUMBERS, ConsoleEnv, make_env, seed_calls, write_wav

from dialer.guards.ledger import DecisionEntry, Ledger
from dialer.store.models.transcripts import CallRecording, TranscriptTurn
from duncall.console.roles import Role

pytestmark = pytest.mark.unit
KEYED = "1987"  # the debtor's year of birth, keyed to verify
SPOKEN = "0412"  # digits the debtor said aloud
PROMISED = "123.45"
SECRETS = (
    "Jordan",
    "Avery",
    "Casey",
    "Morgan",
    *NUMBERS.values(),
    *(n[2:] for n in NUMBERS.values()),
    KEYED,
    SPOKEN,
    PROMISED,
    "bankruptcy",
    "deceased",
    '"A1"',
    '"A2"',
    ",A1,",
    ",A2,",
)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ConsoleEnv]:
    env = make_env(tmp_path)
    seed_calls(env.engine)
    with Session(env.engine) as db, db.begin():
        db.execute(
            update(CallRecording)
            .where(CallRecording.attempt_id == GOOD)
            .values(flags=["bankruptcy"], promise={"amount": PROMISED, "date": "2026-03-06"})
        )
        db.execute(
            update(TranscriptTurn)
            .where(TranscriptTurn.attempt_id == GOOD, TranscriptTurn.seq == 1)
            .values(text=f"yes speaking, born {KEYED}, code {SPOKEN}", dtmf=KEYED)
        )
    Ledger.on(env.engine).append_decisions(
        [
            DecisionEntry(
                BAD,
                "A2",
                "spring",
                NUMBERS["A2"],
                dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC),
                False,
                ("deceased",),
                "us",
                None,
            )
        ]
    )
    write_wav(env.recordings_dir / "call-0001.wav", 0.5)
    yield env
    env.close()


def _qa_paths(env: ConsoleEnv) -> list[str]:
    fill = {"{attempt_id}": GOOD, "{account_id}": "A1", "{name}": "early_collection.en"}
    paths = []
    for path, operations in env.app.openapi()["paths"].items():
        if "get" not in operations:
            continue
        for placeholder, value in fill.items():
            path = path.replace(placeholder, value)
        paths.append(path)
    return paths


def test_no_qa_response_names_the_debtor_or_shows_flags_digits_or_amounts(env: ConsoleEnv) -> None:
    qa = env.login(Role.QA)
    supervisor = env.login(Role.SUPERVISOR)
    # The supervisor sees them all: the data is really there for QA's responses to leak.
    full = supervisor.get(f"/api/calls/{GOOD}").text + supervisor.get(f"/api/calls/{BAD}").text
    for secret in ("Jordan Avery", KEYED, SPOKEN, PROMISED, "bankruptcy", "deceased", '"A1"'):
        assert secret in full, secret
    read = 0
    for path in [*_qa_paths(env), f"/api/calls/{BAD}", f"/api/calls/{GOOD}/recording"]:
        for headers in ({}, {"Range": "bytes=1-"}):
            response = qa.get(path, headers=headers)
            assert response.status_code != 500, (path, response.status_code)
            if response.status_code == 200:
                read += 1
                assert "audio" not in response.headers.get("content-type", ""), path
            body = response.text
            # A script or the form may speak of bankruptcy; neither says anything about a debtor.
            generic = path.startswith("/api/scripts") or path == "/api/calls/qa-form"
            words = ("bankruptcy", "deceased") if generic else ()
            for secret in SECRETS:
                assert secret in words or secret not in body, (path, secret)
    assert read >= 8
    call = qa.get(f"/api/calls/{GOOD}").json()
    assert call["debtor"] == "J. A." and call["account_id"] is None
    assert call["transcript"][1]["text"] == "yes speaking, born ####, code ####"
    assert call["transcript"][1]["dtmf"] is None and call["recording_url"] is None
    assert call["record"]["account_flags"] is None and call["record"]["promise"] is None
    # The automatic QA flags the form is scored against are still there.
    assert qa.get(f"/api/calls/{BAD}").json()["qa_flags"]
    assert qa.get("/api/accounts/A1").status_code == 403
