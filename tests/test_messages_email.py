"""E-mail reminders: templates checked with file:line, the guard deciding every message (local
window, opt-out, work address, caps) into the ledger with its channel, and the MIME a real SMTP
server (aiosmtpd with STARTTLS and AUTH, started here) receives."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ssl
import subprocess
import warnings
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.accounts.page import account_page
from dialer.guards.ledger import Ledger
from dialer.messaging.guard import MessageGuard
from dialer.messaging.model import Channel
from dialer.messaging.send import Messenger
from dialer.messaging.smtp import SmtpConfig, SmtpSender
from dialer.messaging.templates import TEMPLATES_DIR, TemplateSet, check_tree, load_template, problems
from dialer.policy.config import load_preset
from dialer.store.models import Account, Creditor, MessageAddressRow, MessageRow, OptOutRow, Phone
from dialer.store.testing import temporary_database
from foundation.errors import ConfigError

NY = "America/New_York"
# 15:00 UTC is 10:00 in New York: inside the 08:00–21:00 window.
DAYTIME = dt.datetime(2026, 12, 9, 15, 0, tzinfo=dt.UTC)
NIGHT = dt.datetime(2026, 12, 9, 7, 0, tzinfo=dt.UTC)  # 02:00 in New York


# --- templates ------------------------------------------------------------------------------------


@pytest.mark.unit
def test_shipped_templates_pass_the_checks() -> None:
    assert check_tree(TEMPLATES_DIR) == []


@pytest.mark.unit
def test_a_bad_template_is_rejected_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "reminder.email"
    path.write_text(
        "--- subject\n"  # 1
        "You owe {{ balance }}\n"  # 2: the subject shows the debt
        "--- text\n"  # 3
        "Hello {{ first_name }},\n"  # 4
        "pay now or we will call the police.\n"  # 5: forbidden phrase, and no opt-out line
        "--- html\n"  # 6
        "<p>{{ opt_out }</p>\n",  # 7: syntax error
        encoding="utf-8",
    )
    found = problems(path, path.read_text(encoding="utf-8"))
    assert f"{path}:2: the subject of an email may be read by others: it must not show balance" in found
    assert f"{path}:2: the subject of an email may be read by others: it must not say 'owe'" in found
    assert f"{path}:5: the text part lacks the opt-out line: add {{{{ opt_out }}}}" in found
    assert f"{path}:5: forbidden phrase 'police'" in found
    assert any(f.startswith(f"{path}:7: ") for f in found)
    with pytest.raises(ConfigError, match=rf"^{path}:2: .*\(and 4 more\)"):
        load_template(path)


@pytest.mark.unit
def test_an_sms_may_not_name_the_debt_and_a_missing_variable_is_an_error(tmp_path: Path) -> None:
    sms = tmp_path / "late.sms"
    sms.write_text("--- text\n您的欠款已逾期。{{ opt_out }}\n", encoding="utf-8")
    assert f"{sms}:2: the text of an sms may be read by others: it must not say '欠款'" in problems(
        sms, sms.read_text(encoding="utf-8")
    )
    ok = tmp_path / "ok.sms"
    ok.write_text("--- text\nHi {{ first_name }} {{ nickname }}. {{ opt_out }}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'nickname' is undefined"):
        load_template(ok).render({"first_name": "Ann", "opt_out": "Reply STOP to opt out."})


# --- a real SMTP server -----------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append(parsed)
        return "250 2.0.0 Ok: queued"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
async def smtp_server(certificate: tuple[Path, Path]) -> AsyncIterator[tuple[Inbox, SmtpConfig]]:
    cert, key = certificate
    inbox = Inbox()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(cert), str(key))

    def authenticate(
        server: SMTP, session: SmtpSession, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        # handled=False: aiosmtpd then answers a refusal itself (535), instead of saying nothing.
        return AuthResult(success=(data.login, data.password) == (b"collector", b"s3cret"), handled=False)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            inbox,
            hostname="mx.test",
            tls_context=tls,
            require_starttls=True,
            authenticator=authenticate,
            auth_required=True,
            enable_SMTPUTF8=True,
        ),
        "127.0.0.1",
        0,
    )
    port = server.sockets[0].getsockname()[1]
    config = SmtpConfig(
        host="127.0.0.1",
        port=port,
        starttls=True,
        username="collector",
        password="s3cret",
        ca_file=str(cert),
        sender="reminders@agency.test",
        sender_name="Agency Reminders",
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*login_data is deprecated.*")
        yield inbox, config
    server.close()
    await server.wait_closed()


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with temporary_database(request.param, tmp_path, url) as eng:
        seed(eng)
        yield eng


def seed(engine: Engine) -> None:
    with Session(engine) as db, db.begin():
        db.add(
            Creditor(
                creditor_id="acme", name="Acme Lending", names={}, callback_number="+18005550123", scripts={}
            )
        )
        for account_id, address, kind in (
            ("E-HOME", "ann@home.test", "personal"),
            ("E-WORK", "bob@employer.test", "work"),
            ("E-STOP", "cy@home.test", "personal"),
            ("E-NONE", None, None),
        ):
            db.add(
                Account(
                    account_id=account_id,
                    first_name="Ann",
                    last_name="Lee",
                    timezone=NY,
                    language="en",
                    balance=Decimal("1234.50"),
                    currency="USD",
                    due_date=dt.date(2026, 12, 12),
                    payment_history=[],
                    creditor_id="acme",
                )
            )
            db.add(
                Phone(
                    account_id=account_id,
                    number="+12125550100",
                    position=0,
                    phone_type="mobile",
                    ai_voice_consent=False,
                    consent_date=None,
                    contact_type="debtor",
                )
            )
            db.flush()  # the address rows name the account: it must exist first
            if address:
                db.add(
                    MessageAddressRow(
                        account_id=account_id, channel="email", address=address, kind=kind, position=0
                    )
                )
        db.flush()
        db.add(
            OptOutRow(account_id="E-STOP", channel="email", at=DAYTIME - dt.timedelta(days=1), source="link")
        )


def messenger(engine: Engine, config: SmtpConfig, at: dt.datetime) -> Messenger:
    guard = MessageGuard(engine, load_preset("us"), clock=lambda: at)
    return Messenger(
        engine,
        guard,
        TemplateSet(),
        {Channel.EMAIL: SmtpSender(config)},
        unsubscribe_url=lambda mid, ch: f"https://console.agency.test/u/{mid}",
        clock=lambda: at,
    )


ACCOUNTS = ["E-HOME", "E-WORK", "E-STOP", "E-NONE"]


async def test_reminder_email_reaches_only_the_allowed_debtor_with_both_parts_and_unsubscribe(
    engine: Engine, smtp_server: tuple[Inbox, SmtpConfig]
) -> None:
    inbox, config = smtp_server
    summary = await messenger(engine, config, DAYTIME).send(ACCOUNTS, Channel.EMAIL, "reminder")
    assert (summary.sent, summary.failed) == (1, 0)
    assert summary.denied == {"work_email": 1, "opted_out": 1, "no_address": 1}

    [mail] = inbox.mails
    assert mail["To"] == "ann@home.test"
    assert mail["Subject"] == "A message from Acme Lending"  # the debt is not in the subject
    assert mail.get_content_type() == "multipart/alternative"
    text_part, html_part = mail.iter_parts()
    assert (text_part.get_content_type(), html_part.get_content_type()) == ("text/plain", "text/html")
    text, html = text_part.get_content(), html_part.get_content()
    assert "USD 1,234.50" in text and "<strong>USD 1,234.50</strong>" in html
    assert "To stop e-mails from us, reply UNSUBSCRIBE or use the unsubscribe link" in text
    assert "unsubscribe link" in html
    with Session(engine) as db:
        message = db.scalars(select(MessageRow)).one()
    assert mail["List-Unsubscribe"] == (
        f"<mailto:reminders@agency.test?subject=unsubscribe%20{message.message_id}>, "
        f"<https://console.agency.test/u/{message.message_id}>"
    )
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.status == "sent" and message.account_id == "E-HOME"

    decisions = {d.account_id: d for d in Ledger(engine).decisions()}
    assert {d.channel for d in decisions.values()} == {"email"}
    assert decisions["E-HOME"].allowed and decisions["E-WORK"].reasons == ("work_email",)
    assert Ledger(engine).attempts_since(DAYTIME - dt.timedelta(days=30)) == []  # not a dial attempt

    with Session(engine) as db:
        timeline = account_page(db, "E-HOME").timeline
        denied = account_page(db, "E-STOP").timeline
    assert [(e.channel, e.kind, e.outcome) for e in timeline] == [("email", "message", "sent")]
    assert [(e.channel, e.kind, e.reasons) for e in denied] == [("email", "denied", ["opted_out"])]


async def test_no_email_outside_the_debtors_window_and_one_a_day(
    engine: Engine, smtp_server: tuple[Inbox, SmtpConfig]
) -> None:
    inbox, config = smtp_server
    night = await messenger(engine, config, NIGHT).send(["E-HOME"], Channel.EMAIL, "reminder")
    assert night.denied == {"outside_window": 1} and inbox.mails == []
    first = await messenger(engine, config, DAYTIME).send(["E-HOME"], Channel.EMAIL, "reminder")
    again = await messenger(engine, config, DAYTIME + dt.timedelta(hours=2)).send(
        ["E-HOME"], Channel.EMAIL, "reminder"
    )
    assert first.sent == 1 and again.denied == {"channel_daily_cap": 1}
    assert len(inbox.mails) == 1


async def test_a_refused_recipient_fails_that_message_and_a_wrong_password_sends_nothing(
    engine: Engine, smtp_server: tuple[Inbox, SmtpConfig]
) -> None:
    inbox, config = smtp_server
    inbox.refuse.add("ann@home.test")
    summary = await messenger(engine, config, DAYTIME).send(["E-HOME"], Channel.EMAIL, "reminder")
    assert summary.failed == 1
    with Session(engine) as db:
        message = db.scalars(select(MessageRow)).one()
    assert message.status == "failed" and message.error is not None and "550" in message.error

    from dataclasses import replace

    wrong = replace(config, password="guess")
    later = DAYTIME + dt.timedelta(days=1)
    refused = await messenger(engine, wrong, later).send(["E-STOP", "E-HOME"], Channel.EMAIL, "reminder")
    assert (refused.sent, refused.queued) == (0, 1) and inbox.mails == []
    with Session(engine) as db:
        kept = db.scalars(select(MessageRow).where(MessageRow.status == "queued")).one()
    assert kept.error is not None and "535" in kept.error
