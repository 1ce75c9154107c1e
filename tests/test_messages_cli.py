"""`duncall messages`: template checks, addresses, opt-outs and a guarded send to a real SMTP
server (aiosmtpd, started here), then the message on `duncall accounts show`."""

from __future__ import annotations

import datetime as dt
import io
import json
import socket
import subprocess
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from decimal import Decimal
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy.orm import Session

from dialer.store.db import open_engine
from dialer.store.models import Account, Creditor, Phone
from duncall import cli

pytestmark = pytest.mark.unit


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


class Inbox:
    def __init__(self) -> None:
        self.to: list[str] = []

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        self.to += envelope.rcpt_tos
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("DUNCALL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DUNCALL_SMTP_PORT", str(port))
    monkeypatch.setenv("DUNCALL_SMTP_STARTTLS", "0")  # a local relay; STARTTLS is in test_messages_email
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'duncall.db'}"
    engine = open_engine(url)
    with Session(engine) as s, s.begin():
        s.add(
            Creditor(
                creditor_id="acme", name="Acme Lending", names={}, callback_number="+18005550123", scripts={}
            )
        )
        s.flush()
        s.add(
            Account(
                account_id="C-1",
                first_name="Ann",
                last_name="Lee",
                timezone="America/Chicago",
                language="en",
                balance=Decimal("99.00"),
                currency="USD",
                due_date=dt.date(2026, 12, 20),
                payment_history=[],
                creditor_id="acme",
            )
        )
        s.add(
            Phone(
                account_id="C-1",
                number="+13125550100",
                position=0,
                phone_type="mobile",
                ai_voice_consent=False,
                consent_date=None,
                contact_type="debtor",
            )
        )
    engine.dispose()
    return url


def test_check_passes_the_shipped_templates_and_lists_each_problem(tmp_path: Path) -> None:
    ok = run("messages", "check")
    assert ok.returncode == 0 and "every template passes" in ok.stdout
    bad = tmp_path / "acme" / "en"
    bad.mkdir(parents=True)
    (bad / "reminder.sms").write_text("--- text\nHi {{ first_name }}, pay up.\n", encoding="utf-8")
    found = run("messages", "check", str(tmp_path))
    assert found.returncode == 2
    assert found.stdout.splitlines() == [
        f"{bad / 'reminder.sms'}:2: the text part lacks the opt-out line: add {{{{ opt_out }}}}"
    ]


def test_send_through_the_guard_then_opt_out_and_the_account_page_shows_it(
    db: str, smtp: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DUNCALL_SMTP_HOST")
    none = run("messages", "send", "--channel", "email", "--account", "C-1", "--rules", "sandbox", "--db", db)
    assert none.returncode == 2 and "no email channel is configured" in none.stderr
    monkeypatch.setenv("DUNCALL_SMTP_HOST", "127.0.0.1")

    no_address = run(
        "messages", "send", "--channel", "email", "--account", "C-1", "--rules", "sandbox", "--db", db
    )
    assert json.loads(no_address.stdout)["denied"] == {"no_address": 1}
    assert run("messages", "address", "C-1", "--email", "ann@home.test", "--db", db).returncode == 0

    # The sandbox rules keep the window open all day, so the run does not depend on the hour.
    sent = run("messages", "send", "--channel", "email", "--account", "C-1", "--rules", "sandbox", "--db", db)
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout) | {} == {
        "channel": "email",
        "stage": "reminder",
        "decided": 1,
        "sent": 1,
        "failed": 0,
        "queued": 0,
        "denied": {},
    }
    assert smtp.to == ["ann@home.test"]

    stopped = run(
        "messages", "opt-out", "C-1", "--channel", "email", "--reason", "asked on the phone", "--db", db
    )
    assert stopped.returncode == 0
    again = run(
        "messages", "send", "--channel", "email", "--account", "C-1", "--rules", "sandbox", "--db", db
    )
    assert "opted_out" in json.loads(again.stdout)["denied"] and smtp.to == ["ann@home.test"]

    shown = run("accounts", "show", "C-1", "--db", db)
    lines = [line.split() for line in shown.stdout.splitlines()]
    kinds = [(line[2], line[3]) for line in lines if len(line) > 3 and line[2] == "email"]
    assert ("email", "message") in kinds and ("email", "opt_out") in kinds and ("email", "denied") in kinds

    unknown = run("messages", "send", "--channel", "sms", "--account", "NOPE", "--db", db)
    assert unknown.returncode == 2 and "no account NOPE" in unknown.stderr
