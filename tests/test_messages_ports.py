"""The bot's "I'll text you a link": offered only when an SMS to the debtor would be allowed now
(SMS channel and payment links configured, inside the window, not opted out, under the cap), and
then sent as a guarded SMS carrying a signed payment link."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.dialogue.channels import PaymentLinkRequest
from dialer.accounts.page import account_page
from dialer.messaging.guard import MessageGuard
from dialer.messaging.links import LinkIssuer
from dialer.messaging.model import Channel, MessageStatus, Outgoing, SendResult
from dialer.messaging.send import Messenger
from dialer.messaging.templates import TemplateSet
from dialer.policy.config import load_preset
from dialer.store.models import Account, Creditor, OptOutRow, Phone
from dialer.store.testing import temporary_database
from duncall.compose.messaging import SmsPaymentLinks, call_ports

pytestmark = pytest.mark.unit


class CapturingSmsc:
    """Stands in for the SMS gateway (Kannel's own path is tested in test_messages_sms.py)."""

    channel = Channel.SMS

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, messages: Sequence[Outgoing]) -> list[SendResult]:
        self.sent += messages
        return [SendResult(m.message_id, MessageStatus.SENT) for m in messages]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database("sqlite", tmp_path) as eng:
        with Session(eng) as db, db.begin():
            db.add(
                Creditor(
                    creditor_id="acme",
                    name="Acme Lending",
                    names={},
                    callback_number="+18005550123",
                    scripts={},
                )
            )
            db.flush()
            for account_id, number in (("L-1", "+12125550101"), ("L-2", "+12125550102")):
                db.add(
                    Account(
                        account_id=account_id,
                        first_name="Ann",
                        last_name="Lee",
                        timezone="America/New_York",
                        language="en",
                        balance=Decimal("300.00"),
                        currency="USD",
                        payment_history=[],
                        creditor_id="acme",
                    )
                )
                db.flush()
                db.add(
                    Phone(
                        account_id=account_id,
                        number=number,
                        position=0,
                        phone_type="mobile",
                        ai_voice_consent=True,
                        consent_date=dt.date(2026, 1, 1),
                        contact_type="debtor",
                    )
                )
            db.add(OptOutRow(account_id="L-2", channel="sms", at=dt.datetime.now(dt.UTC), source="reply"))
        yield eng


def messenger(engine: Engine, smsc: CapturingSmsc, links: bool = True) -> Messenger:
    return Messenger(
        engine,
        MessageGuard(engine, load_preset("sandbox")),  # the window open all day: any test hour
        TemplateSet(),
        {Channel.SMS: smsc},
        links=LinkIssuer("link-secret-0123456789abcdef", "https://pay.agency.test") if links else None,
    )


async def test_a_link_is_offered_and_sent_only_when_the_sms_would_be_allowed(engine: Engine) -> None:
    smsc = CapturingSmsc()
    m = messenger(engine, smsc)
    ports = await call_ports(m, "L-1")
    assert ports.can_send_payment_link("sms")
    assert not (await call_ports(m, "L-2")).can_send_payment_link("sms")  # opted out of SMS
    assert not (await call_ports(messenger(engine, smsc, links=False), "L-1")).can_send_payment_link("sms")
    assert not (await call_ports(None, "L-1")).can_send_payment_link("sms")  # no SMS channel

    assert ports.send_payment_link(PaymentLinkRequest("L-1", Decimal("100.00"), "USD", "sms"))
    channel = ports._links  # type: ignore[attr-defined]
    assert isinstance(channel, SmsPaymentLinks)
    await asyncio.gather(*channel.tasks)
    [sms] = smsc.sent
    assert sms.address == "+12125550101"
    assert (
        "Acme Lending: as agreed, you can pay online here: https://pay.agency.test/pay/" in sms.rendered.text
    )
    assert sms.rendered.text.endswith("Reply STOP to opt out.")
    with Session(engine) as db:
        steps = [(e.channel, e.kind, e.outcome, e.disposition) for e in account_page(db, "L-1").timeline]
    assert ("sms", "message", "sent", "payment_link") in steps
    # One SMS a day (the sandbox preset's cap): the next call does not offer another link.
    assert not (await call_ports(m, "L-1")).can_send_payment_link("sms")
