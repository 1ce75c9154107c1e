"""Letters: the US validation notice (Reg F §1006.34) as a PDF, stored for a print-and-mail vendor.

The fields follow the CFPB's model form (Appendix B, form B-1): who the collector is and how
to reach it, the consumer, the creditor on the itemization date and the account number, the
itemization date and the debt on it, the interest, fees, payments and credits since, the
current amount, the end of the validation period, and the prompts to dispute the debt or to
ask for the original creditor's name and address.  ``validation_fields`` gathers them from
the store; ``render_validation_notice`` lays them out with fpdf2 (built-in Helvetica: Latin-1
text only, which a US notice is).  A generated letter is recorded as a ``letter`` message
(status ``queued``: ready for the vendor) on the account's timeline.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialer.store.models import PaymentRow
from dialer.store.models.messages import MessageAddressRow, MessageRow
from dialer.store.repo import get_account
from foundation.errors import InputError

VALIDATION_DAYS = 30  # §1006.34(b)(5): at least 30 days after the consumer receives the notice
MAIL_DAYS = (
    5  # §1006.34(b)(5)(i)'s assumption: received 5 days (not counting holidays, weekends) after sending
)
CFPB_URL = "www.cfpb.gov/debt-collection"


@dataclass(frozen=True, slots=True)
class ValidationNotice:
    collector_name: str
    collector_address: str
    consumer_name: str
    consumer_address: str
    creditor: str
    account_number: str  # truncated: the last four
    itemization_date: dt.date
    amount_on_itemization: Decimal
    interest: Decimal
    fees: Decimal
    payments: Decimal
    credits: Decimal
    current_amount: Decimal
    currency: str
    validation_end: dt.date
    sent_on: dt.date


def add_business_days(day: dt.date, days: int) -> dt.date:
    while days:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def validation_end(sent_on: dt.date) -> dt.date:
    """30 days after the day the notice is assumed received (5 business days after it is sent)."""
    return add_business_days(sent_on, MAIL_DAYS) + dt.timedelta(days=VALIDATION_DAYS)


def validation_fields(
    session: Session,
    account_id: str,
    *,
    collector_name: str,
    collector_address: str,
    sent_on: dt.date,
    itemization_date: dt.date | None = None,
) -> ValidationNotice:
    account = get_account(session, account_id)
    if account.currency != "USD":
        raise InputError(
            f"account {account_id} is in {account.currency}: the validation notice is for US debts",
            "send it for US accounts only",
        )
    address = session.scalars(
        select(MessageAddressRow.address).where(
            MessageAddressRow.account_id == account_id, MessageAddressRow.channel == "letter"
        )
    ).first()
    if address is None:
        raise InputError(
            f"account {account_id} has no mailing address",
            "add one with `duncall messages address ACCOUNT --post '…'`",
        )
    day = itemization_date or account.due_date
    if day is None:
        raise InputError(f"account {account_id} has no due date", "give --itemization-date")
    paid = session.scalar(
        select(func.coalesce(func.sum(PaymentRow.amount), 0)).where(
            PaymentRow.account_id == account_id,
            PaymentRow.paid_at >= dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC),
        )
    )
    payments = Decimal(paid or 0)
    current = account.balance
    return ValidationNotice(
        collector_name=collector_name,
        collector_address=collector_address,
        consumer_name=f"{account.first_name} {account.last_name}",
        consumer_address=address,
        creditor=account.creditor.name if account.creditor else "",
        account_number=account.account_id[-4:],
        itemization_date=day,
        # The store keeps the current balance; what was paid since is added back.
        amount_on_itemization=current + payments,
        interest=Decimal("0.00"),  # duncall records no interest or fees added since
        fees=Decimal("0.00"),
        payments=payments,
        credits=Decimal("0.00"),
        current_amount=current,
        currency=account.currency,
        validation_end=validation_end(sent_on),
        sent_on=sent_on,
    )


def _money(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def _date(day: dt.date) -> str:
    return day.strftime("%B %-d, %Y")


def _para(pdf: FPDF, width: float, height: float, text: str) -> None:
    # Back at the left margin of the next line: fpdf2's default leaves x at the cell's right.
    pdf.multi_cell(width, height, text, new_x="LMARGIN", new_y="NEXT")


def render_validation_notice(notice: ValidationNotice) -> bytes:
    pdf = FPDF(format="Letter")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    _para(pdf, 0, 5, f"{notice.collector_name}\n{notice.collector_address}")
    pdf.ln(4)
    _para(pdf, 0, 5, f"To: {notice.consumer_name}\n{notice.consumer_address}")
    pdf.ln(2)
    pdf.cell(0, 5, f"Date: {_date(notice.sent_on)}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", style="B", size=11)
    _para(
        pdf,
        0,
        6,
        f"{notice.collector_name} is a debt collector. We are trying to collect a debt that you owe to {notice.creditor}. We will use any information you give us to help collect the debt.",
    )
    pdf.ln(2)
    pdf.set_font("Helvetica", style="B", size=10)
    pdf.cell(0, 6, "Our information shows:", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    _para(
        pdf,
        0,
        5,
        f"You had an account from {notice.creditor} with account number ending {notice.account_number}.",
    )
    rows = [
        (f"As of {_date(notice.itemization_date)}, you owed:", _money(notice.amount_on_itemization)),
        (f"Between {_date(notice.itemization_date)} and today:", ""),
        ("You were charged this amount in interest:", "+ " + _money(notice.interest)),
        ("You were charged this amount in fees:", "+ " + _money(notice.fees)),
        (
            "You paid or were credited this amount toward the debt:",
            "- " + _money(notice.payments + notice.credits),
        ),
        ("Total amount of the debt now:", _money(notice.current_amount)),
    ]
    for label, amount in rows:
        pdf.cell(130, 6, label)
        pdf.cell(0, 6, amount, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", style="B", size=10)
    pdf.cell(0, 6, "How can you dispute the debt?", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    end = _date(notice.validation_end)
    _para(
        pdf,
        0,
        5,
        f"Call or write to us by {end}, to dispute all or part of the debt. If you do not, we will "
        "assume that our information is correct.\n"
        f"If you write to us by {end}, we must stop collection on any amount you dispute until we "
        "send you information that shows you owe the debt. You may use the form below or write to us "
        "without the form. You may also include supporting documents.",
    )
    pdf.ln(2)
    pdf.set_font("Helvetica", style="B", size=10)
    pdf.cell(0, 6, "What else can you do?", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    _para(
        pdf,
        0,
        5,
        f"Write to ask for the name and address of the original creditor, if different from the current "
        f"creditor. If you write by {end}, we must stop collection until we send you that information.\n"
        f"Go to {CFPB_URL} to learn more about your rights under federal law.",
    )
    pdf.ln(4)
    pdf.set_font("Helvetica", style="B", size=10)
    pdf.cell(0, 6, "How do you want to respond?", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    _para(
        pdf,
        0,
        5,
        "Check all that apply:\n"
        "I want to dispute the debt because I think:\n"
        "[ ] This is not my debt.\n"
        "[ ] The amount is wrong.\n"
        "[ ] Other (please describe on reverse or attach additional information).\n"
        "[ ] I want you to send me the name and address of the original creditor.\n"
        "[ ] I enclosed this amount: $__________\n"
        f"Mail this form to: {notice.collector_name}, {notice.collector_address.replace(chr(10), ', ')}",
    )
    return bytes(pdf.output())


def store_letter(
    session: Session,
    notice: ValidationNotice,
    account_id: str,
    folder: Path,
    now: dt.datetime,
    *,
    campaign_id: str | None = None,
) -> Path:
    """Write the PDF into ``folder`` (the vendor's upload folder) and put it on the account's timeline."""
    return file_letter(
        session,
        render_validation_notice(notice),
        account_id,
        folder,
        now,
        kind="validation-notice",
        sent_on=notice.sent_on,
        address=notice.consumer_address,
        stage="validation_notice",
        campaign_id=campaign_id,
    )


def file_letter(
    session: Session,
    pdf: bytes,
    account_id: str,
    folder: Path,
    now: dt.datetime,
    *,
    kind: str,
    sent_on: dt.date,
    address: str,
    stage: str,
    campaign_id: str | None,
) -> Path:
    """A rendered letter into ``folder`` and onto the account's timeline, as a queued letter message."""
    folder.mkdir(parents=True, exist_ok=True)
    message_id = str(uuid.uuid4())
    path = folder / f"{account_id}-{sent_on.isoformat()}-{kind}-{message_id[:8]}.pdf"
    path.write_bytes(pdf)
    session.add(
        MessageRow(
            message_id=message_id,
            account_id=account_id,
            channel="letter",
            address=address.replace("\n", ", ")[:254],
            stage=stage,
            campaign_id=campaign_id,
            created_at=now,
            status="queued",
            status_at=now,
            subject=path.name,
        )
    )
    return path
