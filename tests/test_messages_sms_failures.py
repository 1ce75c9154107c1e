"""Failed SMS for real: Kannel speaks SMPP 3.4 to an SMSC (tests/smpp_sim.py) that refuses one
number at submit (Kannel's DLR type 16, "Invalid Destination Address") and reports another
undeliverable (type 2, stat:UNDELIV).  Each report reaches the console's callback, marks the
message failed with the carrier's reason on the timeline, and after three failures in a row the
message guard refuses SMS to that number (``unreachable``) while the others still get theirs."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
from collections.abc import Iterator
from contextlib import redirect_stdout
from decimal import Decimal
from pathlib import Path

import pytest
from kannel_smpp import Carrier, console, free_port, kannel_over_smpp, until
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.accounts.page import account_page
from dialer.messaging.guard import MessageGuard
from dialer.messaging.kannel import KannelConfig, KannelSender
from dialer.messaging.model import Channel
from dialer.messaging.send import Messenger, RunSummary
from dialer.messaging.templates import TemplateSet
from dialer.policy.config import RULES_DIR, load_rules
from dialer.policy.messages import SMS_UNREACHABLE_AFTER
from dialer.store.models import Account, Creditor, MessageRow, Phone
from dialer.store.testing import temporary_database
from duncall import cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bearerbox") is None, reason="Kannel is not installed (tools/setup.sh)"),
]

NUMBERS = {"F-OK": "+12125550101", "F-REJ": "+12125550999", "F-UND": "+12125550998"}
START = dt.datetime(2026, 12, 14, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'duncall-test.db'}"
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
            for account_id, number in NUMBERS.items():
                db.add(
                    Account(
                        account_id=account_id,
                        first_name="Ann",
                        last_name="Lee",
                        timezone="America/New_York",
                        language="en",
                        balance=Decimal("250.00"),
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
                        ai_voice_consent=False,
                        consent_date=None,
                        contact_type="debtor",
                    )
                )
        yield url


def messenger(engine: Engine, config: KannelConfig, at: dt.datetime, tmp_path: Path) -> Messenger:
    # The sandbox window (any hour) without the SMS caps: one reminder a day would make this test a week long.
    text = (RULES_DIR / "sandbox.yaml").read_text(encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text(re.sub(r"sms: \{[^}]*\}", "sms: {per_day: 0, per_week: 0}", text), encoding="utf-8")
    return Messenger(
        engine,
        MessageGuard(engine, load_rules(rules), clock=lambda: at),
        TemplateSet(),
        {Channel.SMS: KannelSender(config)},
        clock=lambda: at,
    )


def statuses(engine: Engine) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    with Session(engine) as db:
        for account_id, status in db.execute(
            select(MessageRow.account_id, MessageRow.status).order_by(MessageRow.created_at)
        ):
            out.setdefault(account_id, []).append(status)
    return out


async def send_round(
    engine: Engine, config: KannelConfig, carrier: Carrier, at: dt.datetime, tmp_path: Path, round_: int
) -> RunSummary:
    summary = await messenger(engine, config, at, tmp_path).send(list(NUMBERS), Channel.SMS, "reminder")
    expected = {"F-OK": ["delivered"] * round_, "F-REJ": ["failed"] * round_, "F-UND": ["failed"] * round_}
    await until(lambda: statuses(engine) == expected, f"round {round_}'s delivery reports")
    return summary


async def test_failed_delivery_reports_mark_messages_failed_and_the_number_unreachable(
    db_url: str, tmp_path: Path
) -> None:
    from dialer.store.db import open_engine

    engine = open_engine(db_url)
    port = free_port()
    async with (
        kannel_over_smpp(tmp_path, port) as (config, carrier),
        console(engine, port, KannelSender(config)),
    ):
        for round_ in range(1, SMS_UNREACHABLE_AFTER + 1):
            summary = await send_round(
                engine, config, carrier, START + dt.timedelta(hours=round_), tmp_path, round_
            )
            # Kannel took all three: the failures come back as delivery reports, not at the hand-over.
            assert (summary.sent, dict(summary.denied)) == (3, {})
        verdicts = sorted({(to, verdict) for to, _, verdict in carrier.received()})
        assert verdicts == [
            ("12125550101", "delivered"),
            ("12125550998", "undeliverable"),
            ("12125550999", "rejected"),
        ]
        with Session(engine) as db:
            rejected = account_page(db, "F-REJ")
            undelivered = account_page(db, "F-UND")
            fine = account_page(db, "F-OK")
        failed = [e.outcome or "" for e in rejected.timeline if e.kind == "failed"]
        assert len(failed) == SMS_UNREACHABLE_AFTER
        assert all(f.startswith("16 NACK") and "Invalid Destination Address" in f for f in failed)
        undeliv = [e.outcome or "" for e in undelivered.timeline if e.kind == "failed"]
        assert len(undeliv) == SMS_UNREACHABLE_AFTER and all("stat:UNDELIV" in f for f in undeliv)
        assert [(p.sms_failures, p.sms_unreachable) for p in rejected.phones] == [(3, True)]
        with Session(engine) as db:
            errors = set(db.scalars(select(MessageRow.error).where(MessageRow.account_id == "F-REJ")))
        assert len(errors) == 1 and "Invalid Destination Address" in (errors.pop() or "")
        assert [(p.sms_failures, p.sms_unreachable) for p in fine.phones] == [(0, False)]

        # The next reminder: refused by the guard for the two failing numbers, sent to the third.
        before = len(carrier.received())
        nxt = await messenger(engine, config, START + dt.timedelta(hours=9), tmp_path).send(
            list(NUMBERS), Channel.SMS, "reminder"
        )
        assert (nxt.sent, dict(nxt.denied)) == (1, {"unreachable": 2})
        await until(lambda: len(carrier.received()) == before + 1, "the one SMS at the SMSC")
        assert carrier.received()[-1][0] == "12125550101"
        with Session(engine) as db:
            denied = [e for e in account_page(db, "F-REJ").timeline if e.kind == "denied"]
        assert [(e.channel, e.reasons) for e in denied] == [("sms", ["unreachable"])]
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["accounts", "show", "F-UND", "--db", db_url]) == 0
    assert "sms unreachable (3 failed in a row)" in out.getvalue()
    engine.dispose()
