"""SMS over SMPP 3.4 without Kannel: the aiosmpplib adapter binds to a real SMSC (tests/smpp_sim.py,
smpp34's server), and messages sent through the guard come back sent (with the SMSC's id),
refused at submit (failed, with the SMPP status), then delivered or undeliverable by their
receipts; Chinese text arrives intact as UCS-2."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from kannel_smpp import smpp_simulator, until
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.accounts.page import account_page
from dialer.messaging.guard import MessageGuard
from dialer.messaging.model import Channel
from dialer.messaging.send import Messenger, apply_receipts
from dialer.messaging.smpp import SmppConfig, SmppSender
from dialer.messaging.templates import TemplateSet
from dialer.policy.config import load_preset
from dialer.store.models import Account, Creditor, MessageRow, Phone
from dialer.store.testing import temporary_database
from foundation.errors import ServiceUnavailable

pytestmark = pytest.mark.slow  # a subprocess SMSC

AT = dt.datetime(2026, 12, 14, 15, 0, tzinfo=dt.UTC)
NUMBERS = {"P-OK": "+12125550101", "P-REJ": "+12125550999", "P-UND": "+12125550998", "P-ZH": "+8613800000101"}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database("sqlite", tmp_path) as eng:
        with Session(eng) as db, db.begin():
            db.add(
                Creditor(
                    creditor_id="acme",
                    name="Acme Lending",
                    names={"zh": "艾克美"},
                    callback_number="+18005550123",
                    scripts={},
                )
            )
            db.flush()
            for account_id, number in NUMBERS.items():
                zh = account_id == "P-ZH"
                db.add(
                    Account(
                        account_id=account_id,
                        first_name="明" if zh else "Ann",
                        last_name="李" if zh else "Lee",
                        timezone="Asia/Shanghai" if zh else "America/New_York",
                        language="zh" if zh else "en",
                        balance=Decimal("250.00"),
                        currency="CNY" if zh else "USD",
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
                        ai_voice_consent=False,
                        consent_date=None,
                        contact_type="debtor",
                    )
                )
        yield eng


def rows(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with Session(engine) as db:
        return {
            account: (status, provider)
            for account, status, provider in db.execute(
                select(MessageRow.account_id, MessageRow.status, MessageRow.provider_id)
            )
        }


async def test_sms_over_smpp_are_sent_refused_and_receipted(engine: Engine, tmp_path: Path) -> None:
    async with smpp_simulator(tmp_path) as (port, carrier):
        sender = SmppSender(
            SmppConfig("127.0.0.1", port, "duncall", "smpp-pw", sender="10086"),
            lambda receipts: apply_receipts(engine, receipts),
        )
        messenger = Messenger(
            engine,
            MessageGuard(engine, load_preset("sandbox"), clock=lambda: AT),
            TemplateSet(),
            {Channel.SMS: sender},
            clock=lambda: AT,
        )
        try:
            summary = await messenger.send(list(NUMBERS), Channel.SMS, "reminder")
            assert (summary.sent, summary.failed, summary.queued) == (3, 1, 0)
            await until(
                lambda: (
                    {a: s for a, (s, _) in rows(engine).items()}
                    == {"P-OK": "delivered", "P-REJ": "failed", "P-UND": "failed", "P-ZH": "delivered"}
                ),
                "the delivery receipts",
                wait_s=20,
            )
        finally:
            await sender.close()
    stored = rows(engine)
    assert stored["P-OK"][1] and stored["P-OK"][1].startswith("M")  # the SMSC's message id
    assert stored["P-REJ"][1] is None
    received = {to: (text, verdict) for to, text, verdict in carrier.received()}
    assert "Reply STOP to opt out." in received["12125550101"][0]
    assert "回复退订拒收" in received["8613800000101"][0]  # UCS-2, decoded intact
    with Session(engine) as db:
        rejected = [(e.kind, e.outcome) for e in account_page(db, "P-REJ").timeline if e.kind == "failed"]
        undelivered = [(e.kind, e.outcome) for e in account_page(db, "P-UND").timeline if e.kind == "failed"]
    assert rejected == [("failed", "SMSC refused: ESME_RINVDSTADR")]
    assert undelivered == [("failed", "stat:UNDELIV err:1")]


async def test_an_smsc_that_does_not_bind_is_said_and_nothing_is_sent() -> None:
    from kannel_smpp import free_port

    sender = SmppSender(
        SmppConfig("127.0.0.1", free_port(), "duncall", "pw", sender="10086"), bind_timeout_s=1.0
    )
    with pytest.raises(ServiceUnavailable) as err:
        await sender.start()
    assert "did not bind" in err.value.what and err.value.retryable
