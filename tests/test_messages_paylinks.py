"""Payment links end to end: a reminder e-mail delivered to a real SMTP server (aiosmtpd) carries a
signed link; Chromium opens it from the delivered message, sees the creditor, a masked balance and
the options, pays the promised amount with the record-only provider, and the promise is judged
kept; the used, a tampered and an expired link are refused."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import re
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.accounts.page import account_page
from dialer.messaging.guard import MessageGuard
from dialer.messaging.links import LinkIssuer, make_token, mask_amount, read_token
from dialer.messaging.model import Channel
from dialer.messaging.send import Messenger
from dialer.messaging.smtp import SmtpConfig, SmtpSender
from dialer.messaging.templates import TemplateSet
from dialer.payments.evaluate import evaluate_promises
from dialer.policy.config import load_preset
from dialer.store.models import Account, Creditor, MessageAddressRow, PaymentRow, Phone, PromiseRow
from dialer.store.testing import temporary_database
from duncall.console.app import create_app
from duncall.console.settings import ConsoleSettings

playwright_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")

SECRET = "payment-link-secret-0123456789abcdef"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
LINK_RE = re.compile(r"https?://\S+/pay/[\w.-]+")


@pytest.mark.unit
def test_a_token_is_refused_when_changed_or_expired() -> None:
    now = dt.datetime(2026, 12, 9, 12, tzinfo=dt.UTC)
    token = make_token(SECRET, "abc", now + dt.timedelta(hours=1))
    assert read_token(SECRET, token, now) == "abc"
    link_id, expires, signature = token.split(".")
    for forged in (
        f"abd.{expires}.{signature}",
        f"{link_id}.{int(expires) + 3600}.{signature}",
        token[:-1] + "0",
    ):
        with pytest.raises(Exception, match="not valid"):
            read_token(SECRET, forged, now)
    with pytest.raises(Exception, match="expired"):
        read_token(SECRET, token, now + dt.timedelta(hours=1))
    assert mask_amount(Decimal("1234.50")) == "*,**4.50" and mask_amount(Decimal("7.00")) == "7.00"


class Inbox:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append(parsed)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(app: object) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="console", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the console did not start within 10 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def seed(engine: Engine, due: dt.date) -> None:
    with Session(engine) as db, db.begin():
        db.add(
            Creditor(
                creditor_id="acme", name="Acme Lending", names={}, callback_number="+18005550123", scripts={}
            )
        )
        db.flush()
        db.add(
            Account(
                account_id="P-1",
                first_name="Ann",
                last_name="Lee",
                timezone="America/New_York",
                language="en",
                balance=Decimal("1234.50"),
                currency="USD",
                due_date=due,
                payment_history=[],
                creditor_id="acme",
            )
        )
        db.flush()
        db.add(
            Phone(
                account_id="P-1",
                number="+12125550100",
                position=0,
                phone_type="mobile",
                ai_voice_consent=False,
                consent_date=None,
                contact_type="debtor",
            )
        )
        db.add(
            MessageAddressRow(
                account_id="P-1", channel="email", address="ann@home.test", kind="personal", position=0
            )
        )
        db.add(
            PromiseRow(
                account_id="P-1",
                stage="early",
                promised_date=due,
                amount=Decimal("100.00"),
                currency="USD",
                created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
                channel="call",
            )
        )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database("sqlite", tmp_path) as eng:
        seed(eng, dt.date.today() + dt.timedelta(days=3))
        yield eng


@pytest.mark.browser
def test_chromium_pays_the_promised_amount_from_a_delivered_email_and_the_promise_is_kept(
    engine: Engine,
) -> None:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    app = create_app(ConsoleSettings(payment_link_secret=SECRET), engine)
    try:
        with serve(app) as base:
            issuer = LinkIssuer(SECRET, base)
            messenger = Messenger(
                engine,
                MessageGuard(engine, load_preset("sandbox")),  # the window open all day: any test hour
                TemplateSet(),
                {Channel.EMAIL: SmtpSender(SmtpConfig(host="127.0.0.1", port=smtp_port, starttls=False))},
                links=issuer,
            )
            summary = asyncio.run(messenger.send(["P-1"], Channel.EMAIL, "reminder"))
            assert summary.sent == 1
            [mail] = inbox.mails
            text = mail.get_body(preferencelist=("plain",))
            assert text is not None
            [link] = LINK_RE.findall(text.get_content())
            pw = playwright_api.sync_playwright().start()  # after the send: it runs an event loop here
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(link)
            assert page.inner_text("#creditor") == "Acme Lending"
            assert page.inner_text("#balance") == "USD *,**4.50"
            assert "USD 1,234.50" in page.inner_text("#pay-full")
            assert "USD 100.00" in page.inner_text("#pay-promise")
            page.click("#pay-promise")
            page.wait_for_selector("#paid")
            reference = page.inner_text("#reference")

            with Session(engine) as db:
                payment = db.get(PaymentRow, reference)
                assert (
                    payment is not None
                    and payment.amount == Decimal("100.00")
                    and payment.source == "webhook"
                )
            result = evaluate_promises(engine, grace_days=2, now=dt.datetime.now(dt.UTC))
            assert result is not None
            with Session(engine) as db:
                promise = db.scalars(select(PromiseRow)).one()
                assert promise.status == "kept"
                steps = [(e.channel, e.kind) for e in account_page(db, "P-1").timeline]
            assert ("email", "message") in steps and ("link", "link_visit") in steps
            assert ("link", "link_payment") in steps

            # Used once: the same link is refused, and so is a tampered one.
            page.goto(link)
            assert "has been used" in page.inner_text("#refused")
            page.goto(link[:-1] + ("0" if link[-1] != "0" else "1"))
            assert "not valid" in page.inner_text("#refused")
            # A link issued four days ago (72 h to live) has expired.
            with Session(engine) as db, db.begin():
                old = issuer.issue(db, "P-1", dt.datetime.now(dt.UTC) - dt.timedelta(days=4))
            page.goto(old)
            assert "expired" in page.inner_text("#refused")
            browser.close()
            pw.stop()
    finally:
        controller.stop()


@pytest.mark.unit
def test_the_one_click_unsubscribe_of_a_delivered_email_stops_email_for_that_debtor(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from duncall.compose.messaging import unsubscribe_url
    from foundation.settings import get_settings

    monkeypatch.setenv("DUNCALL_PAYMENT_LINK_SECRET", SECRET)
    monkeypatch.setenv("DUNCALL_PAYMENT_LINK_URL", "https://pay.agency.test")
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        messenger = Messenger(
            engine,
            MessageGuard(engine, load_preset("sandbox")),
            TemplateSet(),
            {Channel.EMAIL: SmtpSender(SmtpConfig(host="127.0.0.1", port=smtp_port, starttls=False))},
            unsubscribe_url=unsubscribe_url(get_settings()),
        )
        assert asyncio.run(messenger.send(["P-1"], Channel.EMAIL, "reminder")).sent == 1
        [mail] = inbox.mails
        [link] = re.findall(r"<(https://pay\.agency\.test/u/[^>]+)>", mail["List-Unsubscribe"])
        text = mail.get_body(preferencelist=("plain",))
        assert text is not None and link in text.get_content()  # the opt-out line carries it too
        path = link.removeprefix("https://pay.agency.test")
        with TestClient(create_app(ConsoleSettings(payment_link_secret=SECRET), engine)) as client:
            assert client.get(path[:-1] + "x").status_code == 410  # a changed token
            page = client.get(path)
            assert page.status_code == 200 and "id=unsubscribe" in page.text  # GET stops nothing
            done = client.post(path, content="List-Unsubscribe=One-Click")
            assert done.status_code == 200 and "no more e-mails" in done.text
        again = asyncio.run(messenger.send(["P-1"], Channel.EMAIL, "reminder"))
        assert "opted_out" in again.denied and len(inbox.mails) == 1
        with Session(engine) as db:
            steps = [(e.channel, e.kind) for e in account_page(db, "P-1").timeline]
        assert ("email", "opt_out") in steps
    finally:
        controller.stop()
