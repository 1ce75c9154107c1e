"""The US validation notice (Reg F §1006.34, the CFPB model form's fields) made by `duncall
messages letter`, read back from the PDF by text extraction, field by field."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session

from dialer.accounts.page import account_page
from dialer.messaging.letters import validation_end
from dialer.store.db import open_engine
from dialer.store.models import Account, Creditor, PaymentRow
from duncall import cli

pytestmark = pytest.mark.unit


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


@pytest.mark.parametrize(
    ("sent", "end"),
    [
        (dt.date(2026, 12, 7), dt.date(2027, 1, 13)),  # Monday: received Monday 14th, +30 days
        (dt.date(2026, 12, 11), dt.date(2027, 1, 17)),  # Friday: received Friday 18th
    ],
)
def test_the_validation_period_ends_30_days_after_assumed_receipt(sent: dt.date, end: dt.date) -> None:
    assert validation_end(sent) == end


def test_a_us_validation_notice_carries_every_model_form_field(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'duncall.db'}"
    engine = open_engine(db)
    with Session(engine) as s, s.begin():
        s.add(
            Creditor(
                creditor_id="acme", name="Acme Lending", names={}, callback_number="+18005550123", scripts={}
            )
        )
        s.flush()
        s.add(
            Account(
                account_id="ACCT-000123",
                first_name="Ann",
                last_name="Lee",
                timezone="America/New_York",
                language="en",
                balance=Decimal("1150.00"),
                currency="USD",
                due_date=dt.date(2026, 10, 1),
                payment_history=[],
                creditor_id="acme",
            )
        )
        s.flush()
        s.add(
            PaymentRow(
                payment_id="p-1",
                account_id="ACCT-000123",
                amount=Decimal("100.00"),
                currency="USD",
                paid_at=dt.datetime(2026, 11, 2, 15, tzinfo=dt.UTC),
                received_at=dt.datetime(2026, 11, 2, 15, tzinfo=dt.UTC),
                source="file",
            )
        )
    engine.dispose()

    missing = run(
        "messages",
        "letter",
        "ACCT-000123",
        "--collector-name",
        "X",
        "--collector-address",
        "Y",
        "--out",
        str(tmp_path),
        "--db",
        db,
    )
    assert missing.returncode == 2 and "has no mailing address" in missing.stderr
    added = run(
        "messages", "address", "ACCT-000123", "--post", "12 Elm Street; Springfield, IL 62701", "--db", db
    )
    assert added.returncode == 0, added.stderr
    made = run(
        "messages", "letter", "ACCT-000123",
        "--collector-name", "Fair Recovery LLC",
        "--collector-address", "PO Box 100; Chicago, IL 60601",
        "--out", str(tmp_path / "print"),
        "--sent-on", "2026-12-07",
        "--db", db,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    [pdf] = (tmp_path / "print").glob("*.pdf")
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(pdf).pages).split())

    for field in (
        "Fair Recovery LLC PO Box 100 Chicago, IL 60601",  # the collector and its address
        "To: Ann Lee 12 Elm Street Springfield, IL 62701",  # the consumer and the mailing address
        "Fair Recovery LLC is a debt collector.",
        "a debt that you owe to Acme Lending",  # the creditor on the itemization date
        "account number ending 0123",
        "As of October 1, 2026, you owed: $1,250.00",  # itemization date and the debt then
        "You were charged this amount in interest: + $0.00",
        "You were charged this amount in fees: + $0.00",
        "You paid or were credited this amount toward the debt: - $100.00",
        "Total amount of the debt now: $1,150.00",
        "Call or write to us by January 13, 2027, to dispute all or part of the debt.",  # validation end
        "This is not my debt.",
        "The amount is wrong.",
        "I want you to send me the name and address of the original creditor.",
        "www.cfpb.gov/debt-collection",
    ):
        assert field in text, field

    with Session(open_engine(db)) as s:
        steps = [
            (e.channel, e.kind, e.outcome, e.disposition) for e in account_page(s, "ACCT-000123").timeline
        ]
    assert ("letter", "message", "queued", "validation_notice") in steps
